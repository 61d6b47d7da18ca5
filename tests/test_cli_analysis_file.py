"""``analyze --out run.analysis`` writes the finished analysis to one safe file; ``export --analysis`` and
``serve --analysis`` open it without the data or a refit; a file that is not one, was altered or comes from
other code is exit 2 with the fix."""

from __future__ import annotations

import json
import re
import sys
import types
import zipfile

import pytest

import uplift_studio.core.analysis as analysis_module
from uplift_studio.cli import main
from uplift_studio.core import analysis_file
from uplift_studio.core.analysis_file import read_analysis, write_analysis
from uplift_studio.core.errors import DataError

FAST = ["--users", "3000", "--seed", "5", "--n-estimators", "10", "--folds", "2"]
ECONOMICS = ["--budget", "1000", "--cost-per-contact", "2.5"]
AGAIN = "run `uplift-studio analyze"
# the snapshot's two dates: when the analysis was fitted (subtitle and manifest) and when it was exported
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")


@pytest.fixture(scope="module")
def analysis_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("analysis") / "run.analysis"
    assert main(["analyze", *FAST, *ECONOMICS, "--out", str(path)]) == 0
    return path


def _no_fit(monkeypatch):
    def no_fit(*args, **kwargs):
        raise AssertionError("the models were fitted")

    monkeypatch.setattr(analysis_module, "_analyse", no_fit)


def test_analyze_prints_the_report_and_writes_the_file(analysis_path, capsys, tmp_path):
    assert analysis_path.is_file() and zipfile.is_zipfile(analysis_path)
    assert [path.name for path in analysis_path.parent.iterdir()] == ["run.analysis"]  # no temporary left
    assert main(["report", *FAST, *ECONOMICS]) == 0
    report = capsys.readouterr().out
    assert main(["analyze", *FAST, *ECONOMICS]) == 0  # without --out: the report alone
    assert capsys.readouterr().out == report
    again, report_json = tmp_path / "again.analysis", tmp_path / "report.json"
    assert main(["analyze", *FAST, *ECONOMICS, "--out", str(again), "--json", str(report_json)]) == 0
    assert capsys.readouterr().out == report + f"wrote the analysis to {again}\n"
    assert json.loads(report_json.read_text())["budget"] == 1000.0
    opened = read_analysis(again)
    assert opened.settings.model.n_estimators == 10 and opened.n_users == 3000
    assert opened.at_budget(1000.0, 2.5)["uplift"].incremental_revenue == pytest.approx(
        read_analysis(analysis_path).at_budget(1000.0, 2.5)["uplift"].incremental_revenue
    )
    assert f"${opened.at_budget(1000.0, 2.5)['uplift'].incremental_revenue:,.0f}" in report


def test_export_from_the_file_equals_a_direct_export(analysis_path, tmp_path, capsys, monkeypatch):
    direct, opened = tmp_path / "direct.html", tmp_path / "opened.html"
    # --no-cache: the direct export fits again rather than read the entry `analyze` left in the disk cache
    assert main(["export", *FAST, *ECONOMICS, "--no-cache", "--out", str(direct)]) == 0
    _no_fit(monkeypatch)
    assert main(["export", "--analysis", str(analysis_path), *ECONOMICS, "--out", str(opened)]) == 0
    assert f"wrote the snapshot to {opened}" in capsys.readouterr().out
    # Found by comparing the two files character by character: they differ only in these dates. "Exported" is
    # the time of each export; "analysed" (subtitle and manifest) is the time of each fit, and the direct export
    # fitted anew. Bokeh's random document ids and counter model ids need no normalising: the snapshot
    # renumbers them (snapshot_file), so nothing else may differ.
    direct_page, opened_page = direct.read_text(), opened.read_text()
    assert len(TIMESTAMP.findall(opened_page)) == 3
    assert TIMESTAMP.sub("<date>", opened_page) == TIMESTAMP.sub("<date>", direct_page)


def test_the_file_reads_back_with_every_figure(analysis_path):
    from uplift_studio.cli import build_parser
    from uplift_studio.cli_options import analysis_settings
    from uplift_studio.core.analysis import run_analysis
    from uplift_studio.core.simulate import simulate_campaign

    args = build_parser().parse_args(["analyze", *FAST])
    fitted = run_analysis(simulate_campaign(3000, seed=5), analysis_settings(args))
    opened = read_analysis(analysis_path)
    assert opened.settings == fitted.settings and opened.fingerprint == fitted.fingerprint
    for budget in (10.0, 1000.0, 7000.0):
        assert opened.at_budget(budget, 2.5) == fitted.at_budget(budget, 2.5)
    assert not opened.scores.uplift.flags.writeable  # frozen arrays stay frozen


def _rewrite(source, target, change):
    """A copy of the zip ``source`` whose members pass through ``change(name, payload)``: a valid archive, its
    CRCs right, so only the manifest's hashes can tell."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for name in original.namelist():
            copy.writestr(name, change(name, original.read(name)))


def test_a_tampered_file_is_exit_2(analysis_path, tmp_path, capsys, monkeypatch):
    _no_fit(monkeypatch)
    tampered = tmp_path / "tampered.analysis"

    def change(name, payload):  # the last byte of every array member, flipped
        return payload[:-1] + bytes([payload[-1] ^ 0xFF]) if name.endswith(".npy") else payload

    _rewrite(analysis_path, tampered, change)
    assert main(["export", "--analysis", str(tampered), "--out", str(tmp_path / "s.html")]) == 2
    err = capsys.readouterr().err
    assert f"{tampered}: the file was changed or damaged" in err and AGAIN in err.lower()
    assert "Traceback" not in err and not (tmp_path / "s.html").exists()
    # a byte changed in place: zip's own CRC check fails first, with the same message
    flipped = tmp_path / "flipped.analysis"
    data = bytearray(analysis_path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    flipped.write_bytes(bytes(data))
    with pytest.raises(DataError, match="changed or damaged"):
        read_analysis(flipped)


def test_a_file_that_is_not_an_analysis_is_exit_2(analysis_path, tmp_path, capsys):
    text = tmp_path / "campaign.analysis"
    text.write_text("user_id,treatment\n1,0\n")
    assert main(["export", "--analysis", str(text), "--out", str(tmp_path / "s.html")]) == 2
    err = capsys.readouterr().err
    assert f"{text}: not an analysis file" in err and AGAIN in err.lower() and "Traceback" not in err
    # a results store of another kind (a disk-cache entry's header), its hashes intact
    from uplift_studio.core import store

    other = tmp_path / "entry.analysis"
    store.dump({"a": 1}, other, {"kind": "analysis", "code": "x"})
    with pytest.raises(DataError, match="not an analysis file .*kind 'analysis'"):
        read_analysis(other)
    with pytest.raises(DataError, match="no such file"):
        read_analysis(tmp_path / "missing.analysis")


def test_a_file_from_other_code_is_exit_2(analysis_path, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(analysis_file, "code_version", lambda: "0" * 64)
    assert main(["export", "--analysis", str(analysis_path), "--out", str(tmp_path / "s.html")]) == 2
    err = capsys.readouterr().err
    assert "another build of uplift-studio" in err and AGAIN in err.lower()


def test_only_analyses_are_written(tmp_path):
    with pytest.raises(DataError, match="ends with .analysis"):
        write_analysis(read_analysis, tmp_path / "x.json")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["export", "--analysis", "{file}", "--data", "x.csv", "--out", "{tmp}/s.html"], "were both given"),
        (["serve", "--analysis", "{file}", "--data", "x.csv"], "were both given"),
        (["export", "--analysis", "{file}", "--explain", "--out", "{tmp}/s.html"], "Export with --data FILE"),
        (["export", "--analysis", "{file}", "--population", "9", "--out", "{tmp}/s.html"], "part of the analysis"),
        (["analyze", "--out", "{tmp}/run.json"], "End the name with .analysis"),
        (["analyze", "--out", "{tmp}/missing/run.analysis"], "does not exist"),
        (["analyze", "--scheduler", "tcp://127.0.0.1:8786"], "--scheduler needs --engine dask"),
        (["analyze", "--distributed-fit"], "--distributed-fit needs --engine dask"),
    ],
)
def test_contradictions_are_exit_2_before_any_work(analysis_path, tmp_path, capsys, monkeypatch, arguments, message):
    _no_fit(monkeypatch)
    import uplift_studio.app.server as server

    monkeypatch.setattr(server, "serve", lambda *a, **k: pytest.fail("served"))
    command = [part.replace("{tmp}", str(tmp_path)).replace("{file}", str(analysis_path)) for part in arguments]
    assert main(command) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_other_engines_are_handed_to_cli_scale(monkeypatch, tmp_path):
    _no_fit(monkeypatch)
    seen = {}
    fake = types.ModuleType("uplift_studio.cli_scale")
    fake.cmd_analyze_engine = lambda args: 0 if seen.setdefault("args", args) else 1
    monkeypatch.setitem(sys.modules, "uplift_studio.cli_scale", fake)
    out = tmp_path / "big.analysis"
    command = ["analyze", "--engine", "dask", "--scheduler", "tcp://h:1", "--distributed-fit", "--out", str(out)]
    assert main(command) == 0
    args = seen["args"]
    assert (args.engine, args.scheduler, args.distributed_fit, args.out) == ("dask", "tcp://h:1", True, out)
    assert (args.sample_size, args.batch_size, args.partitions) == (2_000_000, 1_000_000, None)
    seen.clear()
    assert main(["analyze", "--engine", "streaming", "--batch-size", "5000", "--partitions", "4"]) == 0
    assert (seen["args"].engine, seen["args"].batch_size, seen["args"].partitions) == ("streaming", 5000, 4)


def test_serve_opens_the_file_without_the_data(analysis_path, monkeypatch, capsys):
    import uplift_studio.app.server as server

    _no_fit(monkeypatch)
    calls = []
    monkeypatch.setattr(server, "serve", lambda **options: calls.append(options))
    assert main(["serve", "--analysis", str(analysis_path), "--budget", "1500", "--port", "0"]) == 0
    (options,) = calls
    assert options["analysis_file"] == analysis_path and "experiment" not in options
    assert options["analysis"].at_budget(1500.0) == read_analysis(analysis_path).at_budget(1500.0)
    assert (options["budget"], options["port"]) == (1500.0, 0)
    assert "without its data" in capsys.readouterr().err
