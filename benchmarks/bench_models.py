"""Cross-fitting time at 150,000 users, and its overhead over the same XGBoost fits done by hand.

Run: python benchmarks/bench_models.py [--repeats 7]

"ours" is ``cross_fit`` on the default simulated campaign with the default settings: 5 folds, and in each
fold two classifiers (one per arm) and the order-value regressor (on converters), then the predictions
for the held-out fold. "plain" is the same models made by hand in the same process: for the same folds
and the same rows, ``xgboost.XGBClassifier`` (the two arms) and ``xgboost.XGBRegressor`` (order value) with
the same parameters and thread count, fitted and asked for the same predictions. Plain models get a
ready-made float32 matrix (categories already coded, rows already sliced, outside the timer), so the
ratio charges the wrapper with everything it adds: validation, data conversion from Polars, categorical
coding, fold logic and the smearing factor. Runs come in back-to-back pairs (which goes first alternates)
so that the load of a shared machine hits both; the ratios are of the best times, the least disturbed,
and the median of the pairs' ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import numpy as np
from sklearn.model_selection import StratifiedKFold
from xgboost import XGBClassifier, XGBRegressor

from uplift_studio.core.crossfit import cross_fit
from uplift_studio.core.features import category_levels, encode
from uplift_studio.core.settings import ModelSettings
from uplift_studio.core.simulate import simulate_campaign


def plain_folds(matrix, converted, treatment, revenue, settings, feature_types):
    """The same fits and predictions as ``cross_fit``, on pre-sliced numpy arrays, ready to time."""
    folds = StratifiedKFold(n_splits=settings.folds, shuffle=True, random_state=settings.seed)
    work = []
    for train, test in folds.split(matrix, treatment.astype(np.int64) * 2 + converted):
        treated = train[treatment[train] == 1]
        control = train[treatment[train] == 0]
        buyers = train[converted[train] == 1]
        work.append(
            (
                (matrix[treated], converted[treated]),
                (matrix[control], converted[control]),
                (matrix[buyers], np.log1p(revenue[buyers])),
                matrix[test],
            )
        )
    params = dict(settings.xgboost_params(), feature_types=feature_types)

    def run() -> None:
        for index, (treated, control, buyers, test) in enumerate(work):
            for offset, (X, y) in enumerate((treated, control)):
                model = XGBClassifier(objective="binary:logistic", random_state=index * 3 + offset, **params)
                model.fit(X, y).predict_proba(test)
            value = XGBRegressor(objective="reg:squarederror", random_state=index * 3 + 2, **params)
            value.fit(*buyers).predict(test)

    return run


@contextlib.contextmanager
def xgboost_clock():
    """Time spent inside XGBoost's fit and predict calls, whoever makes them (patched for this block only).

    Within one run, total minus this is the wrapper's own time: a figure that load on a shared machine
    barely moves, unlike the ratio of two runs.
    """
    spent = {"seconds": 0.0}
    patched = [
        (XGBClassifier, "fit"),
        (XGBClassifier, "predict_proba"),
        (XGBRegressor, "fit"),
        (XGBRegressor, "predict"),
    ]
    originals = [(cls, name, cls.__dict__.get(name)) for cls, name in patched]

    def clocked(method):
        def run(self, *args, **kwargs):
            start = time.perf_counter()
            try:
                return method(self, *args, **kwargs)
            finally:
                spent["seconds"] += time.perf_counter() - start

        return run

    for cls, name in patched:
        setattr(cls, name, clocked(getattr(cls, name)))
    try:
        yield spent
    finally:
        for cls, name, original in originals:
            if original is None:
                delattr(cls, name)
            else:
                setattr(cls, name, original)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    experiment = simulate_campaign()
    settings = ModelSettings()
    frame = experiment.frame
    features = list(experiment.features)
    categories = category_levels(frame.select(features))
    matrix = encode(frame, features, categories)
    feature_types = ["c" if name in categories else "q" for name in features]
    plain = plain_folds(
        matrix,
        frame["converted"].to_numpy(),
        frame["treatment"].to_numpy(),
        frame["revenue"].to_numpy(),
        settings,
        feature_types,
    )

    cross_fit(simulate_campaign(5_000, seed=1), settings)  # warm up imports and thread pools
    plain()

    def timed(run) -> float:
        start = time.perf_counter()
        run()
        return time.perf_counter() - start

    ours_times, plain_times = [], []
    for repeat in range(args.repeats):
        # Alternate which goes first, so that a slow drift of the machine's load favours neither.
        if repeat % 2 == 0:
            ours_times.append(timed(lambda: cross_fit(experiment, settings)))
            plain_times.append(timed(plain))
        else:
            plain_times.append(timed(plain))
            ours_times.append(timed(lambda: cross_fit(experiment, settings)))
    paired = [ours / plain for ours, plain in zip(ours_times, plain_times, strict=True)]
    wrapper = []
    for _ in range(3):
        with xgboost_clock() as inside:
            total = timed(lambda: cross_fit(experiment, settings))
        wrapper.append((total - inside["seconds"], inside["seconds"]))
    own, inside_xgboost = min(wrapper)

    models = settings.folds * 3
    print(
        f"campaign: {frame.height:,} users, {len(features)} features ({len(categories)} categorical); "
        f"{settings.folds} folds x 3 models = {models} fits of {settings.n_estimators} rounds, "
        f"depth {settings.max_depth}, {settings.threads} threads"
    )
    print(
        f"cross_fit (fit + predict, all strategies): best {min(ours_times):.2f} s, "
        f"median {statistics.median(ours_times):.2f} s over {args.repeats} runs"
    )
    print(
        f"plain XGBoost, same {models} models on the same rows: best {min(plain_times):.2f} s, "
        f"median {statistics.median(plain_times):.2f} s"
    )
    print(
        f"ratio cross_fit / plain: {min(ours_times) / min(plain_times):.3f} (best / best), "
        f"{statistics.median(paired):.3f} (median of {args.repeats} back-to-back pairs); goal <= 1.05"
    )
    print(
        f"cross_fit's own time outside XGBoost fit/predict calls: {own * 1000:.0f} ms = "
        f"{own / inside_xgboost:.1%} of the {inside_xgboost:.2f} s inside them (best of 3 runs; the 5 "
        "in-sample predictions for the smearing factor count as inside)"
    )


if __name__ == "__main__":
    main()
