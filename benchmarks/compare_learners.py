"""The learners side by side on the same folds: revenue Qini of the out-of-sample score, with paired intervals.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/compare_learners.py [--data-dir ../shared/data] [--boot 300]

Data: simulated campaigns (150,000 users; seeds 3 and 5, neither the default 7 nor the tuning seed 11) and,
when ``--data-dir`` holds them, Hillstrom (men's and women's e-mail against none, revenue ``spend``,
``visit`` left out) and Starbucks (promotion, $10 a purchase). Every learner (T, X, DR; the order value model
and revenue fitted directly) is cross-fitted with the same 5 folds and seed, so the users and folds are the
same for all; the interval of "learner minus T" resamples users (a paired bootstrap of both Qini
coefficients on the same draw). On simulated data the Spearman correlation with the true incremental revenue
is printed too.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from uplift_studio.core.crossfit import cross_fit
from uplift_studio.core.data import ColumnMap, load_experiment
from uplift_studio.core.metrics import qini_auc_score
from uplift_studio.core.settings import ModelSettings
from uplift_studio.core.simulate import simulate_campaign

CANDIDATES = [(learner, value) for learner in ("t", "x", "dr") for value in ("order_value", "revenue")]


def data_sets(folder: Path | None):
    for seed in (3, 5):
        yield f"simulated, seed {seed}", simulate_campaign(150_000, seed=seed)
    if folder is None:
        return
    hillstrom = folder / "hillstrom.csv.gz"
    if hillstrom.exists():
        for arm in ("Mens E-Mail", "Womens E-Mail"):
            columns = ColumnMap(
                treatment="segment",
                treated_value=arm,
                control_value="No E-Mail",
                conversion="conversion",
                revenue="spend",
                exclude=("visit",),
            )
            yield f"Hillstrom {arm}", load_experiment(hillstrom, columns)
    starbucks = folder / "starbucks_promo_training.csv.gz"
    if starbucks.exists():
        columns = ColumnMap(treatment="Promotion", treated_value="Yes", control_value="No", conversion="purchase")
        yield "Starbucks", load_experiment(starbucks, columns, revenue_per_conversion=10.0)


def paired_qini(revenue, treatment, scores: dict[str, np.ndarray], boot: int, seed: int = 0):
    """Qini of each score, and per score the bootstrap draws of (score - T) on the same resampled users."""
    rng = np.random.default_rng(seed)
    n = revenue.shape[0]
    point = {name: qini_auc_score(revenue, score, treatment) for name, score in scores.items()}
    draws = {name: [] for name in scores}
    for _ in range(boot):
        rows = rng.integers(0, n, n)
        base = qini_auc_score(revenue[rows], scores["t/order_value"][rows], treatment[rows])
        for name, score in scores.items():
            draws[name].append(qini_auc_score(revenue[rows], score[rows], treatment[rows]) - base)
    return point, {name: np.percentile(values, [2.5, 97.5]) for name, values in draws.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--boot", type=int, default=300)
    args = parser.parse_args()
    folder = args.data_dir if args.data_dir.exists() else None
    for name, experiment in data_sets(folder):
        revenue = experiment.revenue
        treatment = experiment.treatment
        scores, seconds, spearman = {}, {}, {}
        for learner, value in CANDIDATES:
            key = f"{learner}/{value}"
            start = time.perf_counter()
            fitted = cross_fit(experiment, ModelSettings(learner=learner, value_model=value))
            seconds[key] = time.perf_counter() - start
            scores[key] = fitted.expected_incremental_revenue
            if fitted.oracle is not None:
                spearman[key] = spearmanr(fitted.expected_incremental_revenue, fitted.oracle).statistic
        point, intervals = paired_qini(revenue, treatment, scores, args.boot)
        print(f"\n{name}: {experiment.n_users:,} users, revenue Qini (out of sample, 5 folds, seed 7)")
        for key in scores:
            low, high = intervals[key]
            extra = f", Spearman with the truth {spearman[key]:.3f}" if key in spearman else ""
            print(
                f"  {key:16s} Qini {point[key]:+.4f}  minus T: {point[key] - point['t/order_value']:+.4f} "
                f"[{low:+.4f}, {high:+.4f}]  cross-fit {seconds[key]:.1f} s{extra}"
            )


if __name__ == "__main__":
    main()
