"""Persuadability segments: observed effects per segment and whether they back the labels."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from uplift_studio.core.analysis import AnalysisSettings, run_analysis
from uplift_studio.core.segments import SEGMENTS, classify, persuadable_evidence, segment_table
from uplift_studio.core.settings import ModelSettings
from uplift_studio.core.simulate import simulate_campaign
from uplift_studio.core.stats import Z95


def _table(rows: dict[str, tuple[float, float, int]]) -> pl.DataFrame:
    """A segment table from (uplift, se, users) per segment."""
    return pl.DataFrame(
        {
            "segment": list(rows),
            "users": [r[2] for r in rows.values()],
            "uplift": [r[0] for r in rows.values()],
            "ci_low": [r[0] - Z95 * r[1] for r in rows.values()],
            "ci_high": [r[0] + Z95 * r[1] for r in rows.values()],
        }
    )


def test_segment_table_is_treated_minus_control_per_segment():
    codes = np.array([0, 0, 0, 0, 2, 2, 2, 2], dtype=np.int8)
    treatment = np.array([1, 1, 0, 0, 1, 1, 0, 0])
    outcome = np.array([10.0, 6.0, 1.0, 3.0, 0.0, 2.0, 2.0, 4.0])
    table = segment_table(codes, treatment, outcome)
    persuadable = table.filter(pl.col("segment") == "persuadable").row(0, named=True)
    assert persuadable["uplift"] == pytest.approx(8.0 - 2.0)
    se = math.sqrt(8.0 / 2 + 2.0 / 2)  # sample variances 8 and 2, two users per arm
    assert (persuadable["ci_low"], persuadable["ci_high"]) == pytest.approx((6.0 - Z95 * se, 6.0 + Z95 * se))
    lost = table.filter(pl.col("segment") == "lost cause").row(0, named=True)
    assert lost["uplift"] == pytest.approx(1.0 - 3.0)
    assert table.filter(pl.col("users") == 0)["segment"].to_list() == ["sure thing", "sleeping dog"]


def test_evidence_against_the_rest_post_stratified():
    table = _table({"persuadable": (5.0, 1.0, 100), "lost cause": (1.0, 1.0, 300), "sleeping dog": (-2.0, 2.0, 100)})
    evidence = persuadable_evidence(table)
    rest, rest_se = 0.75 * 1.0 + 0.25 * -2.0, math.hypot(0.75 * 1.0, 0.25 * 2.0)
    assert evidence.rest_uplift == pytest.approx(rest)
    half = Z95 * math.hypot(1.0, rest_se)
    assert (evidence.difference_low, evidence.difference_high) == pytest.approx((5 - rest - half, 5 - rest + half))
    assert evidence.supported and evidence.above == () and evidence.higher == ()


def test_evidence_names_segments_above_the_persuadables():
    # Hillstrom's reading in the issue: lost causes and sure things above the persuadables
    noisy = _table(
        {"persuadable": (0.57, 0.15, 30_000), "sure thing": (0.66, 0.4, 3_000), "lost cause": (1.0, 0.3, 5_000)}
    )
    evidence = persuadable_evidence(noisy)
    assert not evidence.supported and evidence.higher == ("sure thing", "lost cause") and evidence.above == ()
    clear = _table({"persuadable": (0.5, 0.05, 30_000), "lost cause": (2.0, 0.1, 30_000)})
    assert persuadable_evidence(clear).above == ("lost cause",) and not persuadable_evidence(clear).supported


def test_evidence_without_an_observed_persuadable_effect_supports_nothing():
    table = _table({"persuadable": (float("nan"), float("nan"), 3), "lost cause": (1.0, 1.0, 300)})
    evidence = persuadable_evidence(table)
    assert not evidence.supported and math.isnan(evidence.difference_low)


@pytest.fixture(scope="module")
def simulated():
    experiment = simulate_campaign(30_000, seed=11)
    model = ModelSettings(n_estimators=40, folds=3, n_jobs=2)
    return experiment, run_analysis(experiment, AnalysisSettings(model=model), use_cache=False)


def test_on_the_simulator_persuadables_come_out_on_top(simulated):
    experiment, analysis = simulated
    table = analysis.segments
    evidence = persuadable_evidence(table)
    assert evidence.supported, evidence
    effects = dict(zip(table["segment"], table["uplift"], strict=True))
    # above the two large segments outright (sure things are few, their interval is wide)
    assert effects["persuadable"] > effects["lost cause"] and effects["persuadable"] > effects["sleeping dog"]
    # and the observed effect is unbiased for the truth: the predicted persuadables' mean true effect
    mask = analysis.scores.evaluation
    codes = classify(analysis.scores.p_control[mask], analysis.scores.p_treated[mask], analysis.thresholds)
    truth = experiment.truth["true_incremental_revenue"].to_numpy()[mask]
    row = table.filter(pl.col("segment") == "persuadable").row(0, named=True)
    se = (row["ci_high"] - row["ci_low"]) / (2 * Z95)
    assert abs(row["uplift"] - truth[codes == 0].mean()) < 3 * se
    true_means = [truth[codes == code].mean() for code in range(len(SEGMENTS)) if (codes == code).any()]
    assert truth[codes == 0].mean() == max(true_means)
