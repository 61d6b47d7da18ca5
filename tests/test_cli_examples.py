import json
import subprocess
import sys

import pytest

from uplift_studio.cli import build_parser, main
from uplift_studio.cli_options import column_map
from uplift_studio.core.examples import example


def test_describe_the_bundled_example_as_written(capsys):
    assert main(["describe", "--data", "example:hillstrom"]) == 0
    out = capsys.readouterr().out
    assert "A/B readout: example:hillstrom (" in out
    assert "21,387" in out and "21,306" in out
    assert "0.8837%" in out and "0.5726%" in out
    assert "1.0772" in out and "0.6528" in out
    assert "21,307 rows with other 'segment' labels ('Mens E-Mail') were left out" in out
    assert "users are numbered by their row in the file (1 = the first data row)" in out


def test_a_flag_switches_the_arm_and_the_rest_of_the_map_stays(tmp_path, capsys):
    readout = tmp_path / "mens.json"
    assert (
        main(["describe", "--data", "example:hillstrom", "--treated-value", "Mens E-Mail", "--json", str(readout)]) == 0
    )
    out = capsys.readouterr().out
    assert "1.2531%" in out and "0.5726%" in out
    assert "0.8837%" not in out
    assert "('Womens E-Mail') were left out" in out
    treated = json.loads(readout.read_text())["treated"]
    assert treated["users"] == 21_307 and treated["conversions"] == 267


def test_a_flag_that_does_not_fit_the_example_is_a_short_error(capsys):
    assert main(["describe", "--data", "example:hillstrom", "--treated-value", "Kids E-Mail"]) == 2
    err = capsys.readouterr().err
    assert "'Kids E-Mail'" in err and "--treated-value" in err and "Traceback" not in err


def test_an_unknown_example_is_exit_2_naming_the_known_ones(capsys):
    assert main(["describe", "--data", "example:starbucks"]) == 2
    err = capsys.readouterr().err
    assert "'starbucks'" in err and "example:hillstrom" in err


def test_unset_flags_take_the_examples_map_and_are_written_back():
    args = build_parser().parse_args(["targets", "--data", "example:hillstrom", "--out", "c.csv", "--exclude", ""])
    columns = column_map(args, example("hillstrom"))
    assert (columns.treatment, columns.treated_value, columns.revenue) == ("segment", "Womens E-Mail", "spend")
    assert columns.id is None and args.id is None
    assert columns.exclude == () and args.exclude == ""  # a given flag replaces the example's list


def test_a_file_keeps_the_default_map():
    # targets --score-file reads args.id after the experiment: a file without --id still means user_id
    args = build_parser().parse_args(["targets", "--data", "campaign.csv", "--out", "c.csv"])
    columns = column_map(args)
    assert (columns.id, columns.treatment, columns.conversion, columns.revenue) == (
        "user_id",
        "treatment",
        "converted",
        "revenue",
    )
    assert args.id == "user_id" and args.exclude == "" and args.features is None


def test_the_help_names_the_examples(capsys):
    with pytest.raises(SystemExit):
        main(["describe", "--help"])
    out = capsys.readouterr().out
    assert "example:hillstrom" in out and "the example's own" in out


def test_the_example_runs_from_any_folder(tmp_path):
    # a fresh clone's user is not in the repository: the file comes from the package, not the working folder
    result = subprocess.run(
        [sys.executable, "-m", "uplift_studio.cli", "describe", "--data", "example:hillstrom"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "0.8837%" in result.stdout
