"""Every frozen result of the core survives copy.copy, copy.deepcopy and a pickle round trip unchanged."""

from __future__ import annotations

import copy
import dataclasses
import importlib
import pickle
import pkgutil

import numpy as np
import polars as pl
import pytest

import uplift_studio.core as core
from uplift_studio.core.budget import economics
from uplift_studio.core.contacts import contacts_under_budget
from uplift_studio.core.crossfit import fit_final
from uplift_studio.core.curve import build_curve
from uplift_studio.core.data import ColumnMap
from uplift_studio.core.examples import example
from uplift_studio.core.explain import explain_at, prepare_explanation
from uplift_studio.core.mapping import summarise
from uplift_studio.core.metrics import bootstrap_uplift
from uplift_studio.core.policy import policy_value_ipw
from uplift_studio.core.readout import ab_readout
from uplift_studio.core.segments import persuadable_evidence
from uplift_studio.core.tlearner import Prediction, Training
from uplift_studio.core.wording import CLI


def _same(left, right) -> bool:
    """Field-by-field equality that understands arrays, frames and nested dataclasses."""
    if dataclasses.is_dataclass(left) and not isinstance(left, type):
        return type(left) is type(right) and all(
            _same(getattr(left, spec.name), getattr(right, spec.name)) for spec in dataclasses.fields(left)
        )
    if isinstance(left, np.ndarray):
        same_type = isinstance(right, np.ndarray) and left.dtype == right.dtype
        if same_type and left.dtype == object:  # names (a learner's feature_names_in_): NaN has no meaning there
            return left.tolist() == right.tolist()
        return same_type and np.array_equal(left, right, equal_nan=True)
    if isinstance(left, pl.DataFrame):
        return isinstance(right, pl.DataFrame) and left.equals(right, null_equal=True)
    if isinstance(left, dict):
        return isinstance(right, dict) and left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, tuple | list):
        return type(left) is type(right) and len(left) == len(right) and all(map(_same, left, right))
    if hasattr(left, "get_booster") and not left.__sklearn_is_fitted__():  # a learner's unfitted template
        return (
            type(left) is type(right)
            and not right.__sklearn_is_fitted__()
            and _same(left.get_params(), right.get_params())
        )
    if hasattr(left, "get_booster"):  # a fitted XGBoost model: the same trees, byte for byte
        raw = "json"
        return type(left) is type(right) and left.get_booster().save_raw(raw) == right.get_booster().save_raw(raw)
    if type(left).__module__.startswith("uplift_studio") and hasattr(left, "__dict__"):
        return type(left) is type(right) and _same(vars(left), vars(right))
    if isinstance(left, float) and np.isnan(left):
        return isinstance(right, float) and np.isnan(right)
    return left == right


def _frozen_dataclasses() -> set[type]:
    found = set()
    for info in pkgutil.iter_modules(core.__path__, "uplift_studio.core."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and value.__module__ == info.name
                and dataclasses.is_dataclass(value)
                and value.__dataclass_params__.frozen
            ):
                found.add(value)
    return found


@pytest.fixture(scope="module")
def results(small_campaign, tmp_path_factory):
    from uplift_studio.core.analysis import AnalysisSettings, run_analysis
    from uplift_studio.core.model_file import load_model, save_model
    from uplift_studio.core.selection import candidates, cross_fit_selected
    from uplift_studio.core.settings import ModelSettings

    analysis = run_analysis(
        small_campaign, AnalysisSettings(model=ModelSettings(n_estimators=10, folds=2)), use_cache=False
    )
    view = analysis.view(2_000.0, 2.0)
    outcome, treatment = small_campaign.revenue, small_campaign.treatment
    score = analysis.scores.expected_incremental_revenue
    readout = ab_readout(small_campaign)
    path = analysis.paths["uplift"]
    final = fit_final(small_campaign, analysis.settings.model)
    ground = prepare_explanation(analysis, small_campaign, final)
    explanation = explain_at(ground, analysis, small_campaign, 2_000.0, 2.0)
    model_path = tmp_path_factory.mktemp("model") / "model.uplift"
    settings = analysis.settings.model
    save_model(model_path, final, small_campaign, settings, id_column="user_id", cost_column=None, versions={})
    model_info = load_model(model_path).info
    return [
        ground,
        ground.held_out,
        explanation,
        explanation.drivers[0],
        explanation.drivers[0].bins[0],
        explanation.profiles[0],
        explanation.profiles[0].traits[0],
        explanation.rule,
        explanation.rule.root,
        explanation.binned,
        explanation.rule_value,
        analysis,
        analysis.settings,
        analysis.settings.model,
        analysis.scores,
        analysis.density,
        analysis.thresholds,
        path,
        path.at_depth(100.0),
        view,
        view.uplift,
        build_curve(outcome, score, treatment),
        contacts_under_budget(score, 100.0, cost_per_contact=2.0),
        bootstrap_uplift(outcome, score, treatment, [100.0], n_boot=2),
        policy_value_ipw(outcome, treatment, score > np.median(score)),
        readout,
        readout.treated,
        readout.revenue_effect,
        Prediction(*(np.arange(3.0) for _ in range(5))),
        Training(*(np.arange(3) for _ in range(9))),
        small_campaign,
        ColumnMap(),
        economics(path, 2.0, None),
        analysis.rankings,
        view.uplift_minus_probability,
        example("hillstrom"),
        summarise(small_campaign.frame)[0],
        CLI,
        analysis.calibration,
        analysis.calibration.blp,
        model_info,
        model_info.schema[0],
        persuadable_evidence(analysis.segments),
        *_offer_results(),
        *_scale_results(small_campaign.frame, tmp_path_factory.mktemp("scale")),
        candidates(settings)[0],
        cross_fit_selected(small_campaign, ModelSettings(learner="auto", folds=2, max_depth=1, n_estimators=3))[1],
    ]


def _offer_results() -> list:
    from uplift_studio.core.offers_analysis import run_offer_analysis
    from uplift_studio.core.offers_eval import read_at_spend
    from uplift_studio.core.offers_models import fit_final_offers
    from uplift_studio.core.settings import ModelSettings
    from uplift_studio.core.simulate_offers import simulated_offers

    experiment = simulated_offers(2_000, seed=1)
    settings = ModelSettings(n_estimators=5, folds=2)
    offers = run_offer_analysis(experiment, settings)
    allocation = offers.paths["allocation"]
    return [
        experiment,
        experiment.arm_checks[0],
        offers,
        offers.scores,
        offers.arm_scores,
        allocation,
        allocation.steps,
        read_at_spend(allocation, 100.0),
        offers.result("allocation", 1_000.0),
        offers.difference_vs_best_offer(1_000.0),
        fit_final_offers(experiment, settings),
    ]


def _scale_results(frame: pl.DataFrame, folder) -> list:
    from uplift_studio.core.batches import FileSource, FrameSource
    from uplift_studio.core.engine import EngineSettings, fit_sample, ordered_sample, sample_of, sketch_of
    from uplift_studio.core.settings import ModelSettings
    from uplift_studio.core.streaming import plan_for, run_streaming

    source = FrameSource(frame)
    plan = plan_for(source, ColumnMap())
    settings, engine = ModelSettings(n_estimators=5, folds=2), EngineSettings(sample_size=1_000, batch_size=1_000)
    sketch = sketch_of(frame, plan, engine.sample_size)
    sample = ordered_sample([sample_of(frame, plan, sketch.thresholds(engine.sample_size))])
    result = run_streaming(source, plan, settings, engine)
    return [
        source,
        FileSource(folder / "campaign.parquet"),
        plan,
        engine,
        sketch,
        fit_sample(sample, plan, settings, engine),
        result,
        result.settings,
        result.tables["uplift"],
    ]


def test_every_frozen_result_is_covered(results):
    assert _frozen_dataclasses() - {type(result) for result in results} == set()


@pytest.mark.parametrize(
    "round_trip",
    [copy.copy, copy.deepcopy, lambda value: pickle.loads(pickle.dumps(value))],
    ids=["copy", "deepcopy", "pickle"],
)
def test_round_trips_keep_every_field(results, round_trip):
    for result in results:
        again = round_trip(result)
        assert _same(again, result), type(result).__name__


def test_the_comparison_sees_a_difference(results):
    path = next(result for result in results if type(result).__name__ == "SpendPath")
    changed = dataclasses.replace(path, value=path.value + 1.0)
    assert not _same(changed, path)
