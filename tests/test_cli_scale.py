"""``analyze --engine streaming|dask`` from the command line: the report, the analysis file and its snapshot."""

from __future__ import annotations

import json

import pytest

from uplift_studio.cli import main
from uplift_studio.core.analysis_file import read_analysis
from uplift_studio.core.formats import format_money
from uplift_studio.core.scale_result import ScaleResult

pytestmark = pytest.mark.scale

FAST = ["--n-estimators", "10", "--folds", "3", "--sample-size", "2000", "--batch-size", "1500"]
ECONOMICS = ["--budget", "2000", "--cost-per-contact", "2"]


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scale_cli")
    path = folder / "campaign.parquet"
    assert main(["simulate", "--users", "4000", "--seed", "9", "--out", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def streamed(campaign):
    out = campaign.parent / "streamed.analysis"
    assert (
        main(["analyze", "--engine", "streaming", "--data", str(campaign), *FAST, *ECONOMICS, "--out", str(out)]) == 0
    )
    return out


def test_streaming_reports_and_writes_a_file_that_exports_a_snapshot(streamed, capsys, tmp_path):
    result = read_analysis(streamed)
    assert isinstance(result, ScaleResult) and result.n_users == 4000 and result.sample_users == 2000
    uplift = result.at_budget(2000.0, 2.0)["uplift"]
    snapshot = tmp_path / "snapshot.html"
    assert main(["export", "--analysis", str(streamed), *ECONOMICS, "--out", str(snapshot)]) == 0
    html = snapshot.read_text()
    assert format_money(uplift.incremental_revenue) in html
    assert "Computed by the streaming engine from per-score-bin tables" in html
    assert "cdn.bokeh.org" not in html and "https://" not in html.split("<body")[0]


def test_the_json_report_keeps_section_7s_keys(campaign, tmp_path, capsys):
    report = tmp_path / "report.json"
    code = main(["analyze", "--engine", "streaming", "--data", str(campaign), *FAST, *ECONOMICS, "--json", str(report)])
    assert code == 0
    payload = json.loads(report.read_text())
    assert {"n_users", "population", "budget", "strategies", "metrics", "settings", "versions"} <= set(payload)
    assert set(payload["strategies"]) == {"random", "probability", "uplift"}
    out = capsys.readouterr().out
    assert "streaming engine" in out and "stratified sample of 2,000" in out


def test_dask_on_a_local_cluster_gives_the_streaming_tables(campaign, streamed, tmp_path):
    out = tmp_path / "dask.analysis"
    code = main(
        [
            "analyze",
            "--engine",
            "dask",
            "--partitions",
            "3",
            "--data",
            str(campaign),
            *FAST,
            *ECONOMICS,
            "--out",
            str(out),
        ]
    )
    assert code == 0
    by_dask, by_streaming = read_analysis(out), read_analysis(streamed)
    assert by_dask.fingerprint == by_streaming.fingerprint
    assert all(by_dask.tables[name].equals(by_streaming.tables[name]) for name in by_streaming.tables)


def test_bad_engine_input_is_exit_2(campaign, streamed, tmp_path, capsys):
    cases = [
        (["analyze", "--engine", "streaming", *ECONOMICS], "reads a file"),
        (["analyze", "--engine", "streaming", "--data", "example:hillstrom"], "needs an id column"),
        (["analyze", "--engine", "streaming", "--data", str(campaign), "--scheduler", "tcp://127.0.0.1:1"], "go with"),
        (["analyze", "--engine", "dask", "--data", str(campaign), "--scheduler", "localhost:8786"], "an address"),
        (["analyze", "--engine", "streaming", "--data", str(campaign), "--learner", "auto"], "one learner"),
        (["analyze", "--engine", "streaming", "--data", str(tmp_path / "missing.parquet")], "no such file"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        assert message in capsys.readouterr().err, argv


def test_a_campaign_past_one_chunk_is_written_in_chunks(tmp_path, monkeypatch):
    import uplift_studio.core.simulate_chunks as chunks

    monkeypatch.setattr(chunks, "CHUNK", 1_000)
    out, truth = tmp_path / "big.csv", tmp_path / "truth.parquet"
    assert main(["simulate", "--users", "2500", "--seed", "4", "--out", str(out), "--truth", str(truth)]) == 0
    import polars as pl

    written = pl.read_csv(out)
    assert written.height == 2500 and written["user_id"].is_unique().all()
    assert pl.read_parquet(truth)["user_id"].to_list() == written["user_id"].to_list()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["big.csv", "truth.parquet"]  # no temporaries


def test_a_distributed_fit_keeps_xgboosts_rank_lines_off_the_terminal(campaign, tmp_path):
    """Every worker of ``xgboost.dask`` logged "Task [...] got rank N" per model straight to its stderr (about 30
    lines a run); the command's own progress lines are all that is left."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "uplift_studio.cli", "analyze", "--engine", "dask", "--distributed-fit"]
    command += ["--data", str(campaign), *FAST, *ECONOMICS]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stderr.splitlines()
    assert not [line for line in lines if "got rank" in line or not line.strip()], result.stderr[-2000:]
    # the command's own progress, in order (a warning of the cluster's, if any, may sit between them)
    progress = [line for line in lines if line.startswith("pass ")]
    assert progress == [
        "pass 1 of 3: the strata and the sample, over 4 partitions on 2 workers",
        "pass 2 of 3: fitting 3 folds on a sample of 2,000 users across the workers",
        "pass 3 of 3: scoring and tabulating every partition",
    ]
    assert "dask engine" in result.stdout
