"""The CLI under failed writes, bad output paths and interrupts: exit 2 or 130, one line, nothing half-written."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time

import pytest

from uplift_studio.cli import build_parser, main

CLI = [sys.executable, "-m", "uplift_studio.cli"]
SMALL = ["--users", "3000", "--seed", "2", "--n-estimators", "10", "--folds", "2", "--no-cache"]


def _limited(limit_bytes: int):
    def apply() -> None:
        # the kernel sends SIGXFSZ at the limit; ignored, the write fails with EFBIG like a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return apply


@pytest.mark.parametrize(
    ("command", "name"),
    [
        (["targets", *SMALL, "--budget", "1000000"], "contacts.csv"),
        (["score", *SMALL], "scores.parquet"),
        (["export", *SMALL], "snapshot.html"),
        (["simulate", "--users", "20000"], "campaign.csv"),
    ],
    ids=["targets", "score", "export", "simulate"],
)
def test_a_write_over_the_size_limit_leaves_the_old_file_and_no_partial_one(tmp_path, command, name):
    out = tmp_path / name
    out.write_text("the analyst's previous file\n")
    result = subprocess.run(
        [*CLI, *command, "--out", str(out)],
        capture_output=True,
        text=True,
        preexec_fn=_limited(20_000),
        cwd=tmp_path,
        env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},
        timeout=300,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"{out}: cannot write" in result.stderr and "free space" in result.stderr
    assert out.read_text() == "the analyst's previous file\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == [name]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["targets", "--out", "{tmp}/contacts.txt"], "unknown output type. End the name with .csv or .parquet"),
        (["score", "--out", "{tmp}/missing/scores.csv"], "does not exist"),
        (["export", "--out", "{tmp}/snapshot.csv"], "End the name with .html or .htm"),
        (["report", "--json", "{tmp}"], "unknown output type"),
        (["simulate", "--out", "{tmp}/c.csv", "--truth", "{tmp}/t.json"], "--truth"),
    ],
)
def test_outputs_are_checked_before_any_work(tmp_path, capsys, monkeypatch, arguments, message):
    import uplift_studio.core.analysis as analysis_module

    def no_fit(*args, **kwargs):
        raise AssertionError("the models were fitted before the output path was checked")

    monkeypatch.setattr(analysis_module, "_analyse", no_fit)
    code = main([part.replace("{tmp}", str(tmp_path)) for part in arguments])
    assert code == 2
    assert message in capsys.readouterr().err


def test_a_read_only_folder_is_refused_up_front(tmp_path, capsys):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        assert main(["targets", "--out", str(folder / "c.csv")]) == 2
        assert "not writable" in capsys.readouterr().err
    finally:
        folder.chmod(0o700)


def test_describe_of_two_users_is_a_clear_error(capsys):
    assert main(["describe", "--users", "2"]) == 2
    err = capsys.readouterr().err
    assert "at least 2 users in each arm" in err and "Traceback" not in err


def test_serve_listens_on_this_machine_only_unless_told():
    assert build_parser().parse_args(["serve"]).address == "127.0.0.1"
    assert build_parser().parse_args(["serve", "--address", "0.0.0.0"]).address == "0.0.0.0"


def _interrupt_once(tmp_path, delay: float) -> subprocess.CompletedProcess:
    out = tmp_path / f"report-{delay}.json"
    process = subprocess.Popen(
        [*CLI, "report", "--users", "20000", "--folds", "5", "--no-cache", "--json", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},
    )
    # wait for the fit to have started (its first line), then interrupt after the delay
    first = process.stderr.readline()
    assert first.startswith("fitting models"), first
    time.sleep(delay)  # the delay is what is being varied, not a wait for a condition
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, first + stderr)


def test_ten_interrupts_during_a_fit_exit_130_without_traceback_or_abort(tmp_path):
    interrupted = 0
    for delay in (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8):
        result = _interrupt_once(tmp_path, delay)
        if result.returncode == 0:
            continue  # the fit finished before the signal: nothing to interrupt
        interrupted += 1
        assert result.returncode == 130, (delay, result.stderr)
        assert "interrupted" in result.stderr
        assert "Traceback" not in result.stderr and "double free" not in result.stderr, result.stderr
    assert interrupted >= 7  # the signals did land during the fit
    assert not [path for path in tmp_path.iterdir() if path.name.endswith(".tmp")]
