import json

import polars as pl
import pytest

from tests.helpers import shared_file
from uplift_studio.cli import main

FAST = ["--users", "6000", "--seed", "3", "--n-estimators", "40", "--folds", "3"]
SECTION_7 = {
    "n_users",
    "population",
    "treated_share",
    "budget",
    "cost_per_contact",
    "contacts",
    "spend",
    "strategies",
    "truth",
    "metrics",
    "settings",
    "versions",
}


def test_report_json_has_design_section_7_keys(tmp_path, capsys):
    path = tmp_path / "r.json"
    assert main(["report", *FAST, "--budget", "4000", "--json", str(path)]) == 0
    report = json.loads(path.read_text())
    assert SECTION_7 <= set(report)
    assert set(report["strategies"]) == {"random", "probability", "uplift", "oracle"}
    for figures in report["strategies"].values():
        # section 7's six keys, plus (added, never renamed) each strategy's own contacts and spend
        assert set(figures) == {
            "incremental_revenue",
            "ci_low",
            "ci_high",
            "incremental_conversions",
            "roi",
            "net",
            "contacts",
            "spend",
        }
        assert figures["roi"] == pytest.approx(figures["incremental_revenue"] / report["spend"])
        assert figures["net"] == pytest.approx(figures["incremental_revenue"] - report["spend"])
        assert figures["ci_low"] < figures["incremental_revenue"] < figures["ci_high"]
    assert set(report["truth"]) == set(report["strategies"])
    assert set(report["metrics"]["uplift"]) == {"qini_coefficient", "auuc"}
    assert report["settings"]["model"]["seed"] == 3 and report["settings"]["model"]["folds"] == 3
    assert {"uplift_studio", "xgboost", "polars"} <= set(report["versions"])
    assert report["contacts"] == 2000 and report["spend"] == 4000
    out = capsys.readouterr().out
    assert "uplift" in out and "95% interval" in out and "Break-even budget" in out


def test_budget_below_one_contact_writes_valid_json_and_says_so(tmp_path, capsys):
    path = tmp_path / "r.json"
    assert main(["report", *FAST, "--budget", "1", "--json", str(path)]) == 0
    report = json.loads(path.read_text())  # strict JSON: no NaN
    assert report["contacts"] == 0 and report["strategies"]["uplift"]["roi"] is None
    assert "does not pay for a single contact" in capsys.readouterr().out


def test_negative_seed_is_exit_2(capsys):
    assert main(["simulate", "--seed", "-1", "--users", "100", "--out", "x.parquet"]) == 2
    assert "--seed must be" in capsys.readouterr().err


def test_targets_lists_contacts_in_order_within_budget(tmp_path):
    out = tmp_path / "contacts.csv"
    assert main(["targets", *FAST, "--budget", "1000", "--cost-per-contact", "2.5", "--out", str(out)]) == 0
    contacts = pl.read_csv(out)
    assert contacts.height == 400
    assert contacts["cumulative_spend"].max() <= 1000
    assert contacts["score"].is_sorted(descending=True)
    assert contacts["rank"].to_list() == list(range(1, 401))
    assert contacts["user_id"].n_unique() == 400


def test_targets_scores_new_customers_with_the_final_models(tmp_path):
    new = tmp_path / "new.parquet"
    assert main(["simulate", "--users", "500", "--seed", "99", "--out", str(new)]) == 0
    out = tmp_path / "contacts.csv"
    assert main(["targets", *FAST, "--budget", "100", "--out", str(out), "--score-file", str(new)]) == 0
    contacts = pl.read_csv(out)
    assert contacts.height == 50
    assert set(contacts["user_id"]) <= set(pl.read_parquet(new)["user_id"])


def test_targets_warns_about_labels_the_models_never_saw(tmp_path, capsys):
    new = tmp_path / "new.parquet"
    assert main(["simulate", "--users", "300", "--seed", "98", "--out", str(new)]) == 0
    customers = pl.read_parquet(new).with_columns(channel=pl.lit("carrier pigeon"))
    customers.write_parquet(new)
    code = main(["targets", *FAST, "--budget", "100", "--out", str(tmp_path / "c.csv"), "--score-file", str(new)])
    err = capsys.readouterr().err
    assert code == 0
    assert "300 rows of 'channel' hold labels the experiment never had ('carrier pigeon')" in err


def test_targets_score_file_without_the_features_is_exit_2(tmp_path, capsys):
    new = tmp_path / "new.csv"
    pl.DataFrame({"user_id": [1, 2], "age": [30, 40]}).write_csv(new)
    code = main(["targets", *FAST, "--budget", "100", "--out", str(tmp_path / "c.csv"), "--score-file", str(new)])
    err = capsys.readouterr().err
    assert code == 2 and "'recency_days'" in err and "Traceback" not in err


@pytest.mark.parametrize("flags", [["--budget", "0"], ["--budget", "-5"], ["--cost-per-contact", "0"]])
def test_bad_economics_is_exit_2(flags, capsys):
    assert main(["report", *FAST, *flags]) == 2
    assert "must be a positive amount" in capsys.readouterr().err


def test_score_writes_every_strategy_per_user(tmp_path):
    out = tmp_path / "scores.parquet"
    assert main(["score", *FAST, "--out", str(out)]) == 0
    scores = pl.read_parquet(out)
    assert scores.height == 6000
    assert {
        "user_id",
        "treatment",
        "converted",
        "revenue",
        "uplift",
        "p_treated",
        "p_control",
        "expected_incremental_revenue",
        "random",
        "oracle",
    } <= set(scores.columns)
    assert scores["fold"].min() == 0


def test_report_on_hillstrom(capsys):
    path = shared_file("hillstrom.csv.gz")
    flags = [
        "--treatment",
        "segment",
        "--treated-value",
        "Womens E-Mail",
        "--control-value",
        "No E-Mail",
        "--conversion",
        "conversion",
        "--revenue",
        "spend",
        "--exclude",
        "visit",
    ]
    assert main(["report", "--data", str(path), *flags, "--cost-per-contact", "0.10", "--budget", "1000"]) == 0
    out = capsys.readouterr().out
    assert "oracle" not in out and "uplift" in out and "42,693 users" in out


def test_report_on_starbucks(capsys):
    path = shared_file("starbucks_promo_training.csv.gz")
    flags = [
        "--id",
        "ID",
        "--treatment",
        "Promotion",
        "--treated-value",
        "Yes",
        "--control-value",
        "No",
        "--conversion",
        "purchase",
        "--revenue-per-conversion",
        "10",
        "--cost-per-contact",
        "0.15",
    ]
    assert main(["report", "--data", str(path), *flags, "--budget", "2000"]) == 0
    out = capsys.readouterr().out
    assert "84,534 users" in out and "Conversion probability" in out


def test_explain_prints_drivers_profiles_and_a_rule_and_writes_its_json(tmp_path, capsys):
    path = tmp_path / "explain.json"
    assert main(["explain", *FAST, "--budget", "3000", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Uplift drivers" in out and "Contacted users" in out and "Targeting rule" in out
    payload = json.loads(path.read_text())
    assert {"drivers", "profiles", "rule", "rule_value", "model_value"} <= set(payload)
    assert len(payload["drivers"]) == 5 and payload["drivers"][0]["bins"]
    assert payload["rule_value"]["spend"] <= 3000


@pytest.mark.parametrize("learner", ["x", "dr"])
def test_the_learner_is_chosen_on_the_command_line_and_reported(learner, tmp_path, capsys):
    path = tmp_path / "r.json"
    assert main(["report", *FAST, "--learner", learner, "--no-cache", "--json", str(path)]) == 0
    report = json.loads(path.read_text())
    assert report["settings"]["model"]["learner"] == f"{learner}_learner_xgboost"
    default = tmp_path / "t.json"
    assert main(["report", *FAST, "--no-cache", "--json", str(default)]) == 0
    t_learner = json.loads(default.read_text())
    # another learner, other uplift scores; the same per-arm models, so the same probability ranking
    assert report["strategies"]["uplift"] != t_learner["strategies"]["uplift"]
    assert report["strategies"]["probability"] == t_learner["strategies"]["probability"]


def test_an_unknown_learner_is_exit_2(capsys):
    with pytest.raises(SystemExit) as exited:  # argparse's own refusal of a value outside the choices
        main(["report", *FAST, "--learner", "s"])
    assert exited.value.code == 2
    assert "--learner: invalid choice: 's'" in capsys.readouterr().err
