"""The command line with several offers (issue 12): Hillstrom's two e-mails, the simulated three-offer
campaign, per-user scores per offer, the contact list with the offer each customer gets, and errors."""

from __future__ import annotations

import json

import polars as pl
import pytest

from uplift_studio.cli import main

FAST = ["--folds", "2", "--n-estimators", "20"]
HILLSTROM = ["--data", "example:hillstrom", "--arms", "Mens E-Mail,Womens E-Mail"]
COSTS = ["--arm-cost", "Mens E-Mail=0.10,Womens E-Mail=0.12"]
KEYS = {"incremental_revenue", "ci_low", "ci_high", "spend", "spend_ci_low", "spend_ci_high", "contacts", "roi"}


@pytest.fixture(scope="module")
def hillstrom_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("hillstrom") / "report.json"
    assert main(["report", *HILLSTROM, *COSTS, "--budget", "3000", *FAST, "--json", str(out)]) == 0
    return json.loads(out.read_text())


def test_hillstrom_with_both_e_mails_reports_the_allocation_against_each(hillstrom_report):
    offers = hillstrom_report["offers"]
    assert set(offers) == {"allocation", "Mens E-Mail", "Womens E-Mail", "random_offer", "cheapest_offer"}
    for entry in offers.values():
        assert KEYS <= set(entry)
        assert entry["ci_low"] < entry["incremental_revenue"] < entry["ci_high"]
    allocation = offers["allocation"]
    assert sum(allocation["contacts_by_offer"].values()) == pytest.approx(allocation["contacts"], abs=2)
    # contact costs only: the spend is known, and the budget buys it exactly
    assert allocation["spend"] == pytest.approx(3000.0)
    assert allocation["spend_ci_low"] == pytest.approx(allocation["spend_ci_high"])
    difference = hillstrom_report["difference_vs_best_offer"]
    assert difference["offer"] in ("Mens E-Mail", "Womens E-Mail")
    assert difference["ci_low"] < difference["estimate"] < difference["ci_high"]
    assert [arm["arm"] for arm in hillstrom_report["arms"]["sample_ratio"]] == [
        "No E-Mail",
        "Mens E-Mail",
        "Womens E-Mail",
    ]


def test_the_simulated_offer_campaign_reports_the_oracle_and_the_truth(tmp_path, capsys):
    out = tmp_path / "report.json"
    code = main(["report", "--offers", "--users", "8000", "--seed", "3", "--budget", "3000", *FAST, "--json", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert "oracle" in report["offers"]
    for entry in report["offers"].values():
        assert entry["true_incremental_revenue"] is not None
    # the discount's redemptions are measured: the spend has an interval of its own
    discount = report["offers"]["Discount"]
    assert discount["spend_ci_low"] < discount["spend"] < discount["spend_ci_high"]
    assert "oracle (true values)" in capsys.readouterr().out


def test_simulate_offers_writes_labels_and_the_truth_and_reads_back(tmp_path):
    data, truth = tmp_path / "offers.parquet", tmp_path / "truth.parquet"
    assert main(["simulate", "--offers", "--users", "3000", "--out", str(data), "--truth", str(truth)]) == 0
    frame = pl.read_parquet(data)
    assert set(frame["offer"].unique()) == {"No offer", "E-mail", "Letter", "Discount"}
    assert {"p__Discount", "true_incremental_revenue__Letter"} <= set(pl.read_parquet(truth).columns)
    scores = tmp_path / "scores.csv"
    flags = ["--data", str(data), "--treatment", "offer", "--control-value", "No offer"]
    costs = ["--arm-cost", "E-mail=0.1,Letter=0.6,Discount=0.5", "--redemption-cost", "Discount=10"]
    assert main(["score", *flags, *costs, *FAST, "--out", str(scores)]) == 0
    written = pl.read_csv(scores)
    for offer in ("E-mail", "Letter", "Discount"):
        assert f"eir__{offer}" in written.columns and f"cost__{offer}" in written.columns
    # the expected cost of the discount is its contact plus the redemption times the modelled conversion
    assert (written["cost__Discount"] > 0.5).all() and (written["cost__E-mail"] == 0.1).all()
    assert set(written["treatment"].unique()) == {"No offer", "E-mail", "Letter", "Discount"}


def test_targets_name_the_offer_each_customer_gets(tmp_path):
    data = tmp_path / "offers.parquet"
    assert main(["simulate", "--offers", "--users", "3000", "--out", str(data)]) == 0
    flags = ["--data", str(data), "--treatment", "offer", "--control-value", "No offer", "--arm-cost", "E-mail=0.1"]
    flags += ["--cost-per-contact", "0.5", "--budget", "150", *FAST]
    out = tmp_path / "contacts.csv"
    assert main(["targets", *flags, "--out", str(out)]) == 0
    contacts = pl.read_csv(out)
    assert contacts.columns == ["rank", "user_id", "offer", "expected_value", "expected_cost", "cumulative_spend"]
    assert contacts["user_id"].is_unique().all()
    assert contacts["cumulative_spend"][-1] <= 150.0
    assert set(contacts["offer"].unique()) <= {"E-mail", "Letter", "Discount"}
    # new customers: the same columns, scored by models fitted on every user
    customers = tmp_path / "new.csv"
    pl.read_parquet(data).drop("offer", "converted", "revenue").head(500).write_csv(customers)
    out_new = tmp_path / "new_contacts.csv"
    assert main(["targets", *flags, "--score-file", str(customers), "--out", str(out_new)]) == 0
    assert pl.read_csv(out_new)["cumulative_spend"][-1] <= 150.0


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--arms", "Mens E-Mail,Kids E-Mail"], "no offer label 'Kids E-Mail'"),
        (["--arm-cost", "Mens E-Mail:0.10"], "is not LABEL=AMOUNT"),
        (["--arm-cost", "Mens=0.10"], "'Mens', which is not an offer"),
        (["--arm-cost", "Mens E-Mail=0"], "must be a finite amount > 0"),
        (["--redemption-cost", "Womens E-Mail=-1"], "redemption cost of 'Womens E-Mail'"),
        (["--arms", "No E-Mail"], "is the control label"),
        (["--arm-shares", "No E-Mail=0.5,Mens E-Mail=0.5"], "missing: 'Womens E-Mail'"),
    ],
)
def test_bad_offer_settings_are_exit_2_naming_the_label_and_the_fix(capsys, flags, fragment):
    assert main(["report", "--data", "example:hillstrom", *flags, *FAST]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert fragment in err


def test_serve_opens_an_offer_file_with_its_costs_and_checks_them_before_it_serves(tmp_path, monkeypatch, capsys):
    import uplift_studio.app.server as server
    from uplift_studio.core.offers import OfferExperiment

    calls = []
    monkeypatch.setattr(server, "serve", lambda **options: calls.append(options))
    data = tmp_path / "offers.csv"
    assert main(["simulate", "--offers", "--users", "600", "--seed", "2", "--out", str(data)]) == 0
    arms = ["--data", str(data), "--treatment", "offer", "--control-value", "No offer"]
    costs = ["--arm-cost", "E-mail=0.1,Letter=0.8,Discount=0.5", "--redemption-cost", "Discount=5"]
    assert main(["serve", *arms, *costs, "--budget", "200", "--port", "0"]) == 0
    (options,) = calls
    experiment = options["experiment"]

    def offer_costs(experiment):
        return experiment.offers, experiment.contact_cost.tolist(), experiment.redemption_cost.tolist()

    assert isinstance(experiment, OfferExperiment)
    assert sorted(experiment.offers) == ["Discount", "E-mail", "Letter"]
    costs = {offer: (contact, redemption) for offer, contact, redemption in zip(*offer_costs(experiment), strict=True)}
    assert costs == {"E-mail": (0.1, 0.0), "Letter": (0.8, 0.0), "Discount": (0.5, 5.0)}
    assert (options["budget"], options["port"]) == (200.0, 0)
    assert "note: the arm shares" in capsys.readouterr().err
    # a bad cost or label is the command line's error, before any server starts
    assert main(["serve", *arms, "--arm-cost", "E-mail=cheap", "--port", "0"]) == 2
    assert "--arm-cost" in capsys.readouterr().err
    assert main(["serve", *arms, "--arms", "E-mail,Postcard", "--port", "0"]) == 2
    assert "Postcard" in capsys.readouterr().err
    assert main(["serve", "--analysis", str(tmp_path / "x.analysis"), "--arms", "E-mail", "--port", "0"]) == 2
    assert "use them with --data" in capsys.readouterr().err
    assert len(calls) == 1
