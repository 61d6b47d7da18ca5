"""``fit --save`` and ``targets --model``: the saved models score new customers as a refit does; every bad
model file, schema or flag is exit 2 with one clear line, checked before any work where it can be."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile

import polars as pl
import pytest

from uplift_studio.cli import main
from uplift_studio.core.simulate import simulate_campaign

FAST = ["--n-estimators", "10"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_model")
    experiment, new = folder / "experiment.csv", folder / "new.csv"
    simulate_campaign(3_000, seed=4).frame.write_csv(experiment)
    # new customers: the features, their own ids and a per-customer cost, no outcomes
    customers = simulate_campaign(600, seed=9).frame.drop("treatment", "converted", "revenue")
    customers.with_columns((pl.col("user_id") + 10_000).alias("user_id")).write_csv(new)
    return folder, experiment, new


@pytest.fixture(scope="module")
def model(files):
    folder, experiment, _ = files
    path = folder / "model.uplift"
    assert main(["fit", "--data", str(experiment), *FAST, "--learner", "x", "--save", str(path)]) == 0
    return path


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err
    return lines[0]


def test_a_saved_model_gives_the_same_contact_list_as_a_refit(files, model, tmp_path):
    _, experiment, new = files
    saved, refit = tmp_path / "saved.csv", tmp_path / "refit.csv"
    assert (
        main(["targets", "--model", str(model), "--score-file", str(new), "--budget", "300", "--out", str(saved)]) == 0
    )
    flags = ["--data", str(experiment), *FAST, "--learner", "x", "--score-file", str(new)]
    assert main(["targets", *flags, "--budget", "300", "--out", str(refit)]) == 0
    contacts = pl.read_csv(saved)
    assert contacts.equals(pl.read_csv(refit))
    assert contacts.height == 150 and contacts["user_id"].min() > 10_000


def test_costs_and_ids_by_flag_with_a_saved_model(files, model, tmp_path):
    _, _, new = files
    costly = tmp_path / "costly.csv"
    pl.read_csv(new).with_columns(pl.lit(5.0).alias("price"), pl.col("user_id").alias("customer")).drop(
        "user_id"
    ).write_csv(costly)
    out = tmp_path / "c.csv"
    flags = ["--model", str(model), "--score-file", str(costly), "--cost", "price", "--id", "customer"]
    assert main(["targets", *flags, "--budget", "100", "--out", str(out)]) == 0
    contacts = pl.read_csv(out)
    assert contacts.height == 20 and (contacts["contact_cost"] == 5.0).all()


def test_save_is_checked_before_any_fit(files, tmp_path, capsys, monkeypatch):
    import uplift_studio.core.crossfit as crossfit

    def never(*args, **kwargs):
        raise AssertionError("fitted before checking --save")

    monkeypatch.setattr(crossfit, "fit_final", never)
    _, experiment, _ = files
    for path, message in (
        (tmp_path / "model.zip", "--save .*unknown output type. End the name with .uplift"),
        (tmp_path / "missing" / "m.uplift", "--save .*the folder .* does not exist"),
    ):
        assert main(["fit", "--data", str(experiment), "--save", str(path)]) == 2
        assert re.search(message, _error(capsys))


def test_a_missing_feature_column_is_exit_2(files, model, tmp_path, capsys):
    short = tmp_path / "short.csv"
    pl.read_csv(files[2]).drop("email_open_rate").write_csv(short)
    code = main(["targets", "--model", str(model), "--score-file", str(short), "--out", str(tmp_path / "c.csv")])
    assert code == 2
    assert "'email_open_rate' of the saved model are missing" in _error(capsys)


def test_a_column_of_the_wrong_type_is_exit_2(files, model, tmp_path, capsys):
    wrong = tmp_path / "wrong.csv"
    pl.read_csv(files[2]).with_columns(pl.lit("high").alias("frequency_12m")).write_csv(wrong)
    code = main(["targets", "--model", str(model), "--score-file", str(wrong), "--out", str(tmp_path / "c.csv")])
    assert code == 2
    assert "column 'frequency_12m' holds String values, but the model was fitted on numbers" in _error(capsys)


def _rewritten(model, target, member=None, manifest_change=None):
    with zipfile.ZipFile(model) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    if member is not None:
        members[member] = members[member].replace(b'"base_score"', b'"base_scorE"')
    if manifest_change is not None:
        manifest = json.loads(members["manifest.json"])
        manifest_change(manifest)
        members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(target, "w") as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    return target


def test_a_tampered_model_file_is_exit_2(files, model, tmp_path, capsys):
    tampered = _rewritten(model, tmp_path / "t.uplift", member="control_effect.json")
    code = main(["targets", "--model", str(tampered), "--score-file", str(files[2]), "--out", str(tmp_path / "c.csv")])
    assert code == 2
    assert "member 'control_effect.json' does not match its SHA-256" in _error(capsys)
    assert not (tmp_path / "c.csv").exists()


def test_an_incompatible_format_version_is_exit_2(files, model, tmp_path, capsys):
    old = _rewritten(model, tmp_path / "o.uplift", manifest_change=lambda m: m.update(format_version=0))
    code = main(["targets", "--model", str(old), "--score-file", str(files[2]), "--out", str(tmp_path / "c.csv")])
    assert code == 2
    assert "format version 0, but this uplift-studio reads version 1" in _error(capsys)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "give the new customers to score with --score-file"),
        (["--score-file", "new.csv", "--data", "experiment.csv"], "were both given"),
        (["--score-file", "new.csv", "--model", "absent.uplift"], "absent.uplift: no such file"),
    ],
)
def test_model_flags_that_cannot_work_are_exit_2(files, model, tmp_path, capsys, extra, message):
    folder = files[0]
    arguments = ["targets", "--model", str(model), *extra, "--out", str(tmp_path / "c.csv")]
    arguments = [
        str(folder / part) if part.endswith((".csv", ".uplift")) and "/" not in part else part for part in arguments
    ]
    assert main(arguments) == 2
    assert message in _error(capsys)


def test_a_real_process_refuses_a_tampered_file_without_traceback(files, model, tmp_path):
    tampered = _rewritten(model, tmp_path / "t.uplift", member="treated_classifier.json")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "uplift_studio.cli",
            "targets",
            "--model",
            str(tampered),
            "--score-file",
            str(files[2]),
            "--out",
            str(tmp_path / "c.csv"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "does not match its SHA-256" in result.stderr


def test_the_tree_grid_without_the_automatic_choice_is_exit_2(files, tmp_path, capsys):
    experiment = files[1]
    arguments = ["report", "--data", str(experiment), *FAST, "--tree-grid", "--learner", "x"]
    assert main(arguments) == 2
    assert "--tree-grid goes with --learner auto" in _error(capsys)
