import json
import subprocess
import sys

import polars as pl
import pytest

from tests.core.test_data import BAD_INPUTS, GOOD, make_bad, write
from tests.helpers import shared_file
from uplift_studio.cli import main
from uplift_studio.core.simulate import TRUTH_COLUMNS


def mapping_flags(mapping):
    flags = ["--treatment", mapping.treatment, "--conversion", mapping.conversion, "--id", mapping.id]
    flags += ["--revenue", mapping.revenue] if mapping.revenue else []
    if mapping.treated_value is not None:
        flags += ["--treated-value", mapping.treated_value]
    if mapping.control_value is not None:
        flags += ["--control-value", mapping.control_value]
    return flags


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_exit_2_with_a_short_message_and_no_traceback(tmp_path, capsys, case):
    content, mapping, fragments = BAD_INPUTS[case]
    path = make_bad(tmp_path, content)
    code = main(["describe", "--data", str(path), *mapping_flags(mapping)])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert 1 <= len(err.strip().splitlines()) <= 2
    assert err.startswith("error: ")
    assert fragments[0] in err


def test_a_real_process_exits_2_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "uplift_studio.cli", "describe", "--data", str(tmp_path / "missing.csv")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "missing.csv: file not found" in result.stderr


def test_simulate_writes_the_default_campaign_and_its_truth_apart(tmp_path):
    out, truth = tmp_path / "c.parquet", tmp_path / "t.parquet"
    assert main(["simulate", "--users", "150000", "--seed", "7", "--out", str(out), "--truth", str(truth)]) == 0
    campaign, true = pl.read_parquet(out), pl.read_parquet(truth)
    assert campaign.height == 150_000
    assert abs(campaign["treatment"].mean() - 0.5) <= 0.005
    assert set(true["segment"].unique()) == {"persuadable", "sure thing", "lost cause", "sleeping dog"}
    assert not (set(TRUTH_COLUMNS) - {"user_id"}) & set(campaign.columns)
    again = tmp_path / "again.parquet"
    main(["simulate", "--users", "150000", "--seed", "7", "--out", str(again)])
    assert pl.read_parquet(again).equals(campaign)


def test_simulated_file_goes_through_the_same_path_as_a_real_one(tmp_path, capsys):
    out = tmp_path / "c.csv"
    assert main(["simulate", "--users", "2000", "--out", str(out)]) == 0
    assert main(["describe", "--data", str(out), "--json", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["treated"]["users"] + report["control"]["users"] == 2000
    assert "Effect on revenue per user" in capsys.readouterr().out


def test_describe_json_and_mismatch_warning(tmp_path, capsys):
    path = write(tmp_path, GOOD.with_columns(arm=pl.Series(["mail"] * 4 + ["none"] * 2)))
    flags = ["--treatment", "arm", "--treated-value", "mail", "--control-value", "none"]
    flags += ["--conversion", "bought", "--revenue", "spend", "--id", "customer"]
    assert main(["describe", "--data", str(path), *flags, "--expected-treated-share", "0.5"]) == 0
    assert main(["describe", "--data", str(path), *flags, "--expected-treated-share", "1.5"]) == 2


def test_unwritable_output_is_a_clear_error(tmp_path, capsys):
    code = main(["simulate", "--users", "100", "--out", str(tmp_path / "no" / "such" / "dir.parquet")])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


def test_readme_hillstrom_example(capsys):
    path = shared_file("hillstrom.csv.gz")
    flags = ["--treatment", "segment", "--treated-value", "Womens E-Mail", "--control-value", "No E-Mail"]
    assert main(["describe", "--data", str(path), *flags, "--conversion", "conversion", "--revenue", "spend"]) == 0
    out = capsys.readouterr().out
    assert "0.8837%" in out and "0.5726%" in out
    assert "1.0772" in out and "0.6528" in out
