"""The observed projection against the simulator's truth: unbiased, and its 95% interval covers ~95%.

For each seed a campaign of 20,000 users is simulated and four rankings (fixed functions of the truth, so
nothing is fitted) are projected to a population of 150,000 at one budget. The truth of a contact set is
the sum of its users' true incremental revenue, scaled to the population exactly as the projection is
(P / n, linear within a tie group cut by the budget).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from uplift_studio.core import budget as bu
from uplift_studio.core import curve as cv
from uplift_studio.core.curve import targeting_order
from uplift_studio.core.path import curve_path
from uplift_studio.core.simulate import simulate_campaign

N_SEEDS = 300
N_USERS = 20_000
POPULATION = 150_000
COST_PER_CONTACT = 2.0
BUDGET = 75_000.0  # 37,500 contacts of 150,000: the top quarter, depth 5,000 of the 20,000
STRATEGIES = ("oracle", "noisy oracle", "probability", "random")


def strategy_scores(truth: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1_000_000 + seed)
    value = truth["true_incremental_revenue"]
    return {
        "oracle": value,
        "noisy oracle": value + rng.normal(0.0, value.std(), value.size),
        "probability": truth["p_treated"],
        "random": rng.random(value.size),
    }


def true_projection(curve: cv.Curve, score: np.ndarray, true_value: np.ndarray, depth: float) -> float:
    """Sum of the true value of the users the projection counts at ``depth``, times P / n."""
    ordered = np.concatenate([[0.0], np.cumsum(true_value[targeting_order(score)])])
    return float(np.interp(depth, curve.k, ordered[curve.k])) * POPULATION / N_USERS


@pytest.fixture(scope="module")
def errors_and_coverage() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    errors = {name: np.empty(N_SEEDS) for name in STRATEGIES}
    covered = {name: np.empty(N_SEEDS, dtype=bool) for name in STRATEGIES}
    for seed in range(N_SEEDS):
        experiment = simulate_campaign(N_USERS, seed=seed)
        outcome = experiment.column("revenue")
        treatment = experiment.column("treatment")
        truth = {
            column: experiment.truth.get_column(column).to_numpy()
            for column in ("true_incremental_revenue", "p_treated")
        }
        for name, score in strategy_scores(truth, seed).items():
            curve = cv.build_curve(outcome, score, treatment)
            path = curve_path(name, curve)
            result = bu.at_budget(path, BUDGET, cost_per_contact=COST_PER_CONTACT, population=POPULATION)
            true_value = true_projection(curve, score, truth["true_incremental_revenue"], result.depth)
            errors[name][seed] = result.incremental_revenue - true_value
            covered[name][seed] = result.ci_low <= true_value <= result.ci_high
    return {name: (errors[name], covered[name]) for name in STRATEGIES}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_projected_revenue_is_unbiased_for_the_truth(
    errors_and_coverage: dict[str, tuple[np.ndarray, np.ndarray]], strategy: str
) -> None:
    errors, _ = errors_and_coverage[strategy]
    standard_error = errors.std(ddof=1) / math.sqrt(errors.size)
    assert abs(errors.mean()) < 3 * standard_error


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_95_percent_interval_covers_the_truth(
    errors_and_coverage: dict[str, tuple[np.ndarray, np.ndarray]], strategy: str
) -> None:
    # Over 300 seeds a true 95% rate has SD 1.3%: [0.90, 0.98] is -3.9 to +2.4 SD around it. The SE is
    # Neyman's, conservative by the spread of the effect within the contacted set, so rankings that gather
    # very different effects (the oracles) cover a little above 95% (0.967 and 0.973 at these seeds).
    _, covered = errors_and_coverage[strategy]
    assert 0.90 <= covered.mean() <= 0.98
