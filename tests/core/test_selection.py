"""Automatic learner selection (nested cross-fitting): honest under no effect, deterministic, shared work exact."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from uplift_studio.core import selection
from uplift_studio.core.crossfit import cross_fit, design, make_learner
from uplift_studio.core.data import CONVERTED, REVENUE, TREATMENT, Experiment
from uplift_studio.core.errors import DataError
from uplift_studio.core.metrics import qini_auc_score
from uplift_studio.core.selection import cross_fit_selected, fit_final_selected
from uplift_studio.core.settings import ModelSettings
from uplift_studio.core.simulate import simulate_campaign

# small and fast: two outer folds, depth 1 and 2 (so 12 candidates), a few rounds, one thread per model
# with the tree-size grid: two sizes of tiny trees, 12 candidates (the widest choice is the one to keep honest)
FAST_AUTO = ModelSettings(learner="auto", folds=2, max_depth=1, n_estimators=4, n_jobs=1, tree_grid=True)
# one held-out half per campaign: each campaign is one choice on one training part, then one evaluation
HONESTY = replace(FAST_AUTO, holdout=0.5)


def _no_effect(experiment: Experiment, seed: int) -> Experiment:
    """The same users with each arm's (conversion, revenue) pairs drawn again from that arm, with replacement:
    outcomes independent of every feature, so no effect anywhere. A strict permutation would also make the
    held-out users' outcomes depend negatively on the training users' (a fixed pool: what one part draws,
    the other cannot), which pushes any honest out-of-sample Qini below 0; draws with replacement do not."""
    frame = experiment.frame.with_row_index("_row")
    rng = np.random.default_rng(seed)
    parts = []
    for arm in (0, 1):
        group = frame.filter(pl.col(TREATMENT) == arm)
        drawn = group.select(CONVERTED, REVENUE)[rng.integers(0, group.height, group.height)]
        parts.append(group.drop(CONVERTED, REVENUE).hstack(drawn))
    shuffled = pl.concat(parts).sort("_row").drop("_row").select(experiment.frame.columns)
    return Experiment(frame=shuffled, features=experiment.features, source=f"{experiment.source}, no effect")


def test_the_candidates_span_learners_and_targets_and_with_the_grid_tree_sizes():
    every_learner_and_target = {
        (learner, target) for learner in ("t", "x", "dr") for target in ("order_value", "revenue")
    }
    options = selection.candidates(ModelSettings())
    assert len(options) == 6 and {(o.learner, o.value_model) for o in options} == every_learner_and_target
    assert {(o.max_depth, o.n_estimators) for o in options} == {(3, 75)}
    grid = ModelSettings(tree_grid=True)
    options = selection.candidates(grid)
    assert len(options) == 18 and len({option.name for option in options}) == 18
    assert {(o.max_depth, o.n_estimators) for o in options} == {(3, 75), (2, 100), (4, 50)}
    assert {(o.learner, o.value_model) for o in options} == every_learner_and_target
    # the settings' own model first, so that a tie keeps it
    assert options[0].settings(grid) == grid
    assert selection.tree_sizes(ModelSettings(max_depth=1, n_estimators=4, tree_grid=True)) == ((1, 4), (2, 3))


def test_shared_fits_score_exactly_as_each_learner_fitted_alone():
    experiment = simulate_campaign(2_000, seed=5)
    settings = ModelSettings(n_estimators=6, folds=2, n_jobs=1)
    fitted = design(experiment, settings)
    train, test = fitted.splits[0]
    family = selection._family(fitted, train, settings, 123)
    assert len(family) == 6
    for (learner, target), shared in family.items():
        alone = make_learner(
            selection.Candidate(learner, target, settings.max_depth, settings.n_estimators).settings(settings),
            random_state=123,
        ).fit_matrix(
            fitted.matrix, train, fitted.features, fitted.categories, fitted.bought, fitted.arm, fitted.revenue
        )
        matrix = fitted.matrix[test]
        assert np.array_equal(
            shared.predict_matrix(matrix).expected_incremental_revenue,
            alone.predict_matrix(matrix).expected_incremental_revenue,
        ), (learner, target)


def test_a_familys_scores_are_each_candidates_own_predictions():
    experiment = simulate_campaign(2_000, seed=5)
    settings = ModelSettings(n_estimators=6, folds=2, n_jobs=1)
    fitted = design(experiment, settings)
    train, test = fitted.splits[0]
    comparison = selection._prepare(fitted, train, test, np.random.SeedSequence(9))
    size = (settings.max_depth, settings.n_estimators)
    scores = selection._family_scores(fitted, settings, comparison, size, 0)
    family = selection._family(fitted, comparison.sample[comparison.splits[0][0]], settings, comparison.fit_seeds[0])
    matrix = fitted.matrix[np.concatenate([comparison.sample[comparison.splits[0][1]], test])]
    options = selection.candidates(settings)
    assert {options[index].max_depth for index in scores} == {settings.max_depth} and len(scores) == 6
    for index, value in scores.items():
        learner = family[(options[index].learner, options[index].value_model)]
        assert np.array_equal(value, learner.predict_matrix(matrix).expected_incremental_revenue), options[index]


def test_selection_is_honest_under_no_effect_and_peeking_at_the_evaluation_folds_is_not():
    """30 small campaigns with the outcomes redrawn within each arm: every true effect is 0, so an honest
    procedure's reported Qini averages 0; picking the candidate with the best Qini on the evaluation users
    themselves reports the luckiest of 12 noisy rankings. About 50 s on 2 busy cores."""
    reported, peeked = [], []
    for seed in range(30):
        experiment = _no_effect(simulate_campaign(1_200, seed=100 + seed), seed)
        scores, chosen = cross_fit_selected(experiment, HONESTY)
        mask = scores.evaluation
        qini = qini_auc_score(
            experiment.revenue[mask], scores.expected_incremental_revenue[mask], experiment.treatment[mask]
        )
        assert qini == pytest.approx(chosen.refit_qini)
        reported.append(qini)
        peeked.append(float(np.nanmax(chosen.qini)))
    reported, peeked = np.array(reported), np.array(peeked)
    se = reported.std(ddof=1) / np.sqrt(reported.size)
    assert abs(reported.mean()) < 2 * se, (reported.mean(), se)
    peek_se = peeked.std(ddof=1) / np.sqrt(peeked.size)
    assert peeked.mean() > 4 * peek_se, (peeked.mean(), peek_se)
    difference = peeked - reported
    assert difference.mean() > 3 * difference.std(ddof=1) / np.sqrt(difference.size)


def test_the_same_seed_makes_the_same_choice_and_scores():
    experiment = simulate_campaign(2_000, seed=3)
    first_scores, first = cross_fit_selected(experiment, FAST_AUTO)
    again_scores, again = cross_fit_selected(experiment, FAST_AUTO)
    assert first.chosen_names == again.chosen_names
    assert np.array_equal(first.inner_qini, again.inner_qini)
    assert np.array_equal(first.qini, again.qini)
    assert np.array_equal(first_scores.expected_incremental_revenue, again_scores.expected_incremental_revenue)
    with pytest.raises(DataError, match="a choice among learners"):  # the plain cross-fit never chooses
        cross_fit(experiment, FAST_AUTO)


def test_the_numbers_do_not_depend_on_how_many_families_run_at_once():
    experiment = simulate_campaign(2_000, seed=3)
    one_scores, one = cross_fit_selected(experiment, FAST_AUTO)  # one worker, the families in turn
    two_scores, two = cross_fit_selected(experiment, replace(FAST_AUTO, n_jobs=2))  # two side by side
    assert one.chosen_names == two.chosen_names
    assert np.array_equal(one.inner_qini, two.inner_qini) and np.array_equal(one.qini, two.qini)
    assert np.array_equal(one_scores.expected_incremental_revenue, two_scores.expected_incremental_revenue)


def test_each_fold_scores_with_its_winner_refitted_on_the_training_part():
    experiment = simulate_campaign(2_000, seed=3)
    scores, chosen = cross_fit_selected(experiment, FAST_AUTO)
    assert chosen.inner_qini.shape == (2, 12) and chosen.chosen.shape == (2,)
    for fold, winner in enumerate(chosen.chosen):
        assert winner == int(np.nanargmax(chosen.inner_qini[fold]))
        # the winner's settings, cross-fitted plainly with the same folds and seeds, give this fold's scores
        options = selection.candidates(FAST_AUTO)
        plain = cross_fit(experiment, options[winner].settings(FAST_AUTO))
        rows = scores.fold == fold
        assert np.array_equal(plain.expected_incremental_revenue[rows], scores.expected_incremental_revenue[rows])
    report = chosen.as_dict()
    assert report["chosen"] == list(chosen.chosen_names) and len(report["candidates"]) == 12
    assert report["candidates"][0]["inner_qini"] == [float(v) for v in chosen.inner_qini[:, 0]]


def test_the_paired_se_matches_a_paired_bootstrap_that_sorts_again():
    rng = np.random.default_rng(0)
    n = 4_000
    arm = rng.integers(0, 2, n)
    signal = rng.normal(size=n)
    revenue = np.where(rng.random(n) < 0.1 + 0.05 * arm * (signal > 0), rng.gamma(2.0, 20.0, n), 0.0)
    first, second = signal + rng.normal(size=n), rng.normal(size=n)
    influence = selection.QiniInfluence(revenue, arm)
    se = influence.se(influence.terms(first) - influence.terms(second))
    draws = []
    for _ in range(300):
        rows = rng.integers(0, n, n)
        draws.append(
            qini_auc_score(revenue[rows], first[rows], arm[rows])
            - qini_auc_score(revenue[rows], second[rows], arm[rows])
        )
    assert se == pytest.approx(np.std(draws, ddof=1), rel=0.2)


def test_the_final_model_is_the_candidate_chosen_on_all_users():
    experiment = simulate_campaign(2_000, seed=3)
    learner, chosen = fit_final_selected(experiment, FAST_AUTO)
    assert chosen.learner in ("t", "x", "dr") and chosen in [
        o.settings(FAST_AUTO) for o in selection.candidates(FAST_AUTO)
    ]
    assert type(learner).__name__ == {"t": "TLearner", "x": "XLearner", "dr": "DRLearner"}[chosen.learner]
    assert learner.value_model == chosen.value_model


def test_too_few_buyers_for_inner_folds_is_a_clear_error():
    experiment = simulate_campaign(160, seed=1)
    with pytest.raises(DataError, match="choose a learner automatically"):
        cross_fit_selected(experiment, FAST_AUTO)


def test_an_automatic_analysis_round_trips_through_the_disk_cache_and_reaches_the_report(tmp_path, monkeypatch):
    from uplift_studio.core.analysis import AnalysisSettings, is_cached, run_analysis
    from uplift_studio.core.report import format_report, report_dict

    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("UPLIFT_STUDIO_CACHE", str(folder))
    experiment = simulate_campaign(2_000, seed=3)
    settings = AnalysisSettings(model=FAST_AUTO)
    first = run_analysis(experiment, settings)
    assert is_cached(experiment, settings)
    again = run_analysis(experiment, settings)
    assert again is not first and again.selection is not first.selection
    for name in ("chosen", "inner_qini", "selection_users", "qini", "difference_se"):
        stored = getattr(again.selection, name)
        assert np.array_equal(stored, getattr(first.selection, name)) and not stored.flags.writeable
    assert again.selection.chosen_names == first.selection.chosen_names
    assert again.metrics["uplift"]["qini_coefficient"] == pytest.approx(first.selection.refit_qini)

    model = report_dict(again, 1_000.0, 2.0)["model"]
    assert model["learner"] == "auto" and model["chosen"] == list(first.selection.chosen_names)
    rows = model["selection"]["candidates"]
    assert len(rows) == 12 and sum(len(row["chosen_in_folds"]) for row in rows) == 2
    for row in rows:
        assert row["minus_selected_ci_low"] <= row["minus_selected"] <= row["minus_selected_ci_high"]
    table = format_report(again, 1_000.0, 2.0)
    assert "Model chosen automatically" in table and table.count("<- chosen") == len(set(first.selection.chosen))

    plain = run_analysis(experiment, AnalysisSettings(model=replace(FAST_AUTO, learner="t")), use_cache=False)
    plain_model = report_dict(plain, 1_000.0, 2.0)["model"]
    assert plain.selection is None and plain_model["selection"] is None and plain_model["learner"] == "t"
    assert "Model chosen automatically" not in format_report(plain, 1_000.0, 2.0)
