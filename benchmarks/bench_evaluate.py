"""Curve construction against a bare sort, its peak memory, and the budget slider's read time.

Run: python benchmarks/bench_evaluate.py

- build_curve at 1e5, 1e6 and 1e7 users (revenue outcome, 0/1 int8 treatment, continuous float64 scores,
  so nearly every user is its own tie group: the worst case for size), best of several interleaved runs,
  and its ratio to the bare minimum over the same arrays: one stable ``np.argsort`` of the negated score
  plus ``np.cumsum`` of the outcome and of the treatment (goal: at most 1.6x).
- Peak extra memory of build_curve at 1e7 users, as tracemalloc reports it (numpy reports its buffers to
  tracemalloc), the returned Curve included (goal: at most 1 GiB).
- Median time of ``budget.at_budget`` on a spend path over 1,000 random budgets at 150,000 and 10,000,000 users.
- Median time of ``Analysis.at_budget`` (every strategy, truth included: what one slider tick reads) over
  1,000 random budgets: at 150,000 users on the real default analysis (fitted once, then read from the disk
  cache), and at 10,000,000 users on the same Analysis with its four paths (truth included) replaced by
  10,000,000-user ones (a full fit at that size is not what is measured here: the read is).
"""

from __future__ import annotations

import dataclasses
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

from uplift_studio.core import budget
from uplift_studio.core.analysis import Analysis, run_analysis
from uplift_studio.core.curve import build_curve
from uplift_studio.core.path import SpendPath, curve_path
from uplift_studio.core.simulate import simulate_campaign

COST_PER_CONTACT = 2.0


def make_experiment(n_users: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A randomized experiment whose effect grows with the score (revenue ~ 10% buyers at ~$100)."""
    rng = np.random.default_rng(seed)
    score = rng.random(n_users)
    treatment = (rng.random(n_users) < 0.5).astype(np.int8)
    p_buy = 0.05 + 0.05 * score * treatment
    converted = rng.random(n_users) < p_buy
    revenue = np.where(converted, rng.gamma(4.0, 25.0, n_users), 0.0)
    return {"outcome": revenue, "score": score, "treatment": treatment, "conversions": converted}


def best_time(function: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def bare_sort_and_sums(data: dict[str, np.ndarray]) -> None:
    np.argsort(-data["score"], kind="stable")
    np.cumsum(data["outcome"])
    np.cumsum(data["treatment"], dtype=np.int64)


def curve_construction(n_users: int, rounds: int) -> tuple[float, float]:
    """Best build_curve time and best bare time, measured alternately so that load affects both alike."""
    data = make_experiment(n_users)
    build = bare = float("inf")
    for _ in range(rounds):
        build = min(build, best_time(lambda: build_curve(data["outcome"], data["score"], data["treatment"]), 1))
        bare = min(bare, best_time(lambda: bare_sort_and_sums(data), 1))
    return build, bare


def peak_memory(n_users: int, with_conversions: bool) -> float:
    """Peak extra MiB allocated while building one curve (the returned curve included)."""
    data = make_experiment(n_users)
    conversions = data["conversions"] if with_conversions else None
    tracemalloc.start()
    curve = build_curve(data["outcome"], data["score"], data["treatment"], conversions=conversions)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del curve
    return peak / 2**20


def slider_read_ms(path: SpendPath, n_budgets: int = 1_000, seed: int = 1) -> float:
    """Median milliseconds of at_budget over random budgets up to the cost of contacting everyone."""
    budgets = np.random.default_rng(seed).uniform(1.0, path.n * COST_PER_CONTACT * 1.1, n_budgets)
    times = np.empty(n_budgets)
    for i, amount in enumerate(budgets):
        start = time.perf_counter()
        budget.at_budget(path, float(amount), cost_per_contact=COST_PER_CONTACT)
        times[i] = time.perf_counter() - start
    return float(np.median(times)) * 1e3


def analysis_read_ms(analysis: Analysis, n_budgets: int = 1_000, seed: int = 2) -> float:
    """Median milliseconds of Analysis.at_budget (all strategies) over random budgets."""
    top = analysis.max_budget(COST_PER_CONTACT) * 1.1
    budgets = np.random.default_rng(seed).uniform(1.0, top, n_budgets)
    times = np.empty(n_budgets)
    for i, amount in enumerate(budgets):
        start = time.perf_counter()
        analysis.at_budget(float(amount), COST_PER_CONTACT)
        times[i] = time.perf_counter() - start
    return float(np.median(times)) * 1e3


def scaled_analysis(analysis: Analysis, n_users: int) -> Analysis:
    """The same Analysis with every strategy's path (and truth) rebuilt on ``n_users`` synthetic users."""
    data = make_experiment(n_users)
    rng = np.random.default_rng(3)
    paths = {}
    for name in analysis.strategies:
        score = data["score"] if name != "random" else rng.random(n_users)
        curve = build_curve(data["outcome"], score, data["treatment"], conversions=data["conversions"])
        paths[name] = curve_path(name, curve, np.linspace(0.0, 1.0, curve.k.size))
    return dataclasses.replace(analysis, paths=paths, n_users=n_users, n_evaluation=n_users, population=n_users)


def main() -> None:
    build_curve(*(make_experiment(1_000)[key] for key in ("outcome", "score", "treatment")))  # warm up
    print("build_curve (revenue outcome, continuous scores) vs bare stable argsort + cumsums")
    for n_users, rounds in ((100_000, 30), (1_000_000, 10), (10_000_000, 3)):
        build, bare = curve_construction(n_users, rounds)
        print(
            f"  {n_users:>10,} users: build {build * 1e3:9.1f} ms   bare {bare * 1e3:9.1f} ms   "
            f"ratio {build / bare:.2f}"
        )
    print(
        f"peak extra memory at 10,000,000 users: {peak_memory(10_000_000, False):,.0f} MiB "
        f"(with conversions: {peak_memory(10_000_000, True):,.0f} MiB)"
    )
    for n_users in (150_000, 10_000_000):
        data = make_experiment(n_users)
        curve = build_curve(data["outcome"], data["score"], data["treatment"], conversions=data["conversions"])
        read_ms = slider_read_ms(curve_path("uplift", curve))
        print(f"at_budget median over 1,000 random budgets, {n_users:>10,} users: {read_ms:.3f} ms")
    analysis = run_analysis(simulate_campaign())
    print(f"Analysis.at_budget (4 strategies) median,     150,000 users: {analysis_read_ms(analysis):.3f} ms")
    large = scaled_analysis(analysis, 10_000_000)
    print(f"Analysis.at_budget (4 strategies) median,  10,000,000 users: {analysis_read_ms(large):.3f} ms")


if __name__ == "__main__":
    main()
