"""``explain`` at 150,000 users beyond the cached fit: the final model, contributions, profiles and the
depth-2 search timed separately, medians of a few runs, and the rule's value beside the model's.

Run: OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_explain.py   (goal: everything under 10 s)
The bare baseline in the same run is one XGBoost ``predict`` of the uplift model's two classifiers on every
user: what scoring the campaign costs anyway.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from uplift_studio.core.analysis import run_analysis
from uplift_studio.core.crossfit import fit_final
from uplift_studio.core.drivers import CONTRIBUTION_SAMPLE, sample_rows, uplift_contributions
from uplift_studio.core.explain import explain, held_out_outcomes
from uplift_studio.core.features import encode
from uplift_studio.core.policytree import PairTables, bin_features, rule_under_budget
from uplift_studio.core.profiles import profile
from uplift_studio.core.simulate import simulate_campaign

BUDGET, COST = 100_000.0, 2.0
REPEATS = 3


def timed(function) -> tuple[float, object]:
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, value


def median_of(function) -> float:
    return statistics.median(timed(function)[0] for _ in range(REPEATS))


def main() -> None:
    experiment = simulate_campaign()
    analysis = run_analysis(experiment)  # the cached fit: not part of what is measured
    fit_seconds, learner = timed(lambda: fit_final(experiment, analysis.settings.model))
    mask = analysis.scores.evaluation
    held_out = experiment.frame.filter(mask)
    matrix = encode(experiment.frame, list(learner.feature_names_in_), learner.categories_)

    def bare_predict() -> None:
        learner.treated_classifier_.predict_proba(matrix)
        learner.control_classifier_.predict_proba(matrix)

    rows = sample_rows(experiment.n_users, CONTRIBUTION_SAMPLE, 7)
    gamma = held_out_outcomes(analysis, experiment).gamma
    cost = np.full(held_out.height, COST)
    binned = bin_features(held_out, experiment.features, gamma)
    tables = PairTables(binned.codes, gamma, cost)
    contacted = analysis.scores.expected_incremental_revenue[mask] > np.quantile(
        analysis.scores.expected_incremental_revenue[mask], 2 / 3
    )
    parts = {
        "bare predict, 2 classifiers x 150,000 users": bare_predict,
        f"contributions ({CONTRIBUTION_SAMPLE:,} users, 2 models)": lambda: uplift_contributions(
            learner, experiment.frame[rows]
        ),
        "profiles (contacted + 4 segments)": lambda: [
            profile("group", held_out, experiment.features, contacted) for _ in range(5)
        ],
        "binning + pair tables": lambda: PairTables(
            bin_features(held_out, experiment.features, gamma).codes, gamma, cost
        ),
        "depth-2 search at the budget's shadow price": lambda: rule_under_budget(
            tables, binned.codes, cost, BUDGET / analysis.scale
        ),
    }
    print(f"final model fit (3 XGBoost models, all users): {fit_seconds:.2f} s")
    for name, function in parts.items():
        print(f"{name:<48} median {median_of(function):6.2f} s")
    total, result = timed(lambda: explain(analysis, experiment, BUDGET, COST, learner))
    print(f"explain() in all (3 searches: all users and the two cross-fitting halves): {total:.2f} s")
    print(f"final fit + explain: {fit_seconds + total:.2f} s (goal < 10 s)")
    rule, model = result.rule_value, result.model_value
    print(
        f"rule (cross-fitted) ${rule.incremental_revenue:,.0f} [{rule.ci_low:,.0f}, {rule.ci_high:,.0f}] for "
        f"${rule.spend:,.0f}; model at the same spend ${model.incremental_revenue:,.0f} "
        f"[{model.ci_low:,.0f}, {model.ci_high:,.0f}]; share {rule.incremental_revenue / model.incremental_revenue:.1%}"
    )
    print("top drivers:", ", ".join(result.ranking["feature"].head(5).to_list()))


if __name__ == "__main__":
    main()
