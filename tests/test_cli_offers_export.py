"""``export`` with several offers (issue 12): the snapshot of the offer analysis, and the flags it refuses."""

from __future__ import annotations

from uplift_studio.cli import main

FAST = ["--folds", "2", "--n-estimators", "8"]


def test_export_writes_the_offers_snapshot(tmp_path, capsys):
    out = tmp_path / "offers.html"
    assert main(["export", "--offers", "--users", "1500", "--budget", "400", *FAST, "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert "snapshot_offer_mix" in page and "Who gets which offer at $400" in page
    assert "wrote the snapshot of 3 offers" in capsys.readouterr().out


def test_export_with_offers_refuses_an_analysis_file(tmp_path, capsys):
    out = tmp_path / "offers.html"
    code = main(["export", "--offers", "--analysis", str(tmp_path / "x.analysis"), "--out", str(out)])
    assert code == 2
    assert "--analysis is for one offer against control" in capsys.readouterr().err
    assert not out.exists()
