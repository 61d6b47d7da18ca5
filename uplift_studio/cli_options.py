"""The command line's shared flags (simulation, data, economics and models) and their reading into the core's
experiment and settings, for every ``uplift-studio`` command that takes them."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from uplift_studio.core.data import ColumnMap, Experiment, load_experiment
from uplift_studio.core.errors import DataError
from uplift_studio.core.simulate import DEFAULT_SEED, DEFAULT_TREATED_SHARE, DEFAULT_USERS, simulate_campaign


def _split(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(part.strip() for part in value.split(",") if part.strip())


def add_simulation_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("simulated campaign")
    group.add_argument("--users", type=int, default=DEFAULT_USERS, help="users to simulate (default %(default)s)")
    group.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default %(default)s)")
    group.add_argument(
        "--treated-share",
        type=float,
        default=DEFAULT_TREATED_SHARE,
        help="share of users contacted in the experiment (default %(default)s)",
    )


def add_data_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data (without --data: the simulated campaign)")
    group.add_argument("--data", type=Path, help="experiment file: .csv, .csv.gz or .parquet")
    group.add_argument("--treatment", default="treatment", help="treatment column (default %(default)s)")
    group.add_argument("--treated-value", help="label of the treated arm when the column is not 0/1")
    group.add_argument("--control-value", help="label of the control arm when the column is not 0/1")
    group.add_argument("--conversion", default="converted", help="conversion column (default %(default)s)")
    group.add_argument("--revenue", default="revenue", help="revenue column (default %(default)s)")
    group.add_argument("--id", default="user_id", help="id column (default %(default)s; absent: row numbers)")
    group.add_argument("--cost", help="per-user contact cost column (optional)")
    group.add_argument("--features", help="comma-separated feature columns (default: every other column)")
    group.add_argument("--exclude", help="comma-separated columns that are not features (e.g. other outcomes)")
    group.add_argument(
        "--revenue-per-conversion",
        type=float,
        help="value of one conversion when the file has no revenue column",
    )
    add_simulation_options(parser)


def experiment_from_args(args: argparse.Namespace) -> Experiment:
    """The experiment the data options name: a file, or the simulated campaign."""
    if args.seed < 0:
        raise DataError(f"--seed must be a whole number >= 0, got {args.seed}.")
    if args.data is None:
        if args.users < 2:
            raise DataError(f"--users must be at least 2, got {args.users}.")
        if not 0.0 < args.treated_share < 1.0:
            raise DataError(f"--treated-share must be strictly between 0 and 1, got {args.treated_share}.")
        return simulate_campaign(args.users, args.treated_share, args.seed)
    columns = ColumnMap(
        id=args.id,
        treatment=args.treatment,
        treated_value=args.treated_value,
        control_value=args.control_value,
        conversion=args.conversion,
        revenue=args.revenue,
        cost=args.cost,
        features=_split(args.features),
        exclude=_split(args.exclude) or (),
    )
    return load_experiment(args.data, columns, revenue_per_conversion=args.revenue_per_conversion)


def add_economics_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("economics and models")
    group.add_argument("--budget", type=float, default=100_000.0, help="campaign budget in $ (default %(default)s)")
    group.add_argument(
        "--cost-per-contact", type=float, default=2.0, help="cost of one contact in $ (default %(default)s)"
    )
    group.add_argument("--population", type=int, help="users the campaign targets (default: the experiment's size)")
    group.add_argument("--folds", type=int, default=5, help="cross-fitting folds (default %(default)s)")
    group.add_argument("--holdout", type=float, help="evaluate on one held-out share instead of K folds (e.g. 0.3)")
    group.add_argument("--n-estimators", type=int, help="boosting rounds per model (default: the measured default)")
    group.add_argument(
        "--learner",
        choices=("t", "x", "dr"),
        default="t",
        help="uplift learner: t (one model per arm), x (X-learner), dr (DR-learner); default %(default)s",
    )
    group.add_argument("--no-cache", action="store_true", help="recompute instead of reading the disk cache")


def analysis_settings(args: argparse.Namespace):
    from uplift_studio.core.analysis import AnalysisSettings
    from uplift_studio.core.settings import ModelSettings

    model = {"folds": args.folds, "holdout": args.holdout, "seed": args.seed, "learner": args.learner}
    if args.n_estimators is not None:
        model["n_estimators"] = args.n_estimators
    try:
        return AnalysisSettings(model=ModelSettings(**model), population=args.population)
    except (TypeError, ValueError) as exc:
        raise DataError(f"bad model setting: {exc}") from exc


def check_economics(args: argparse.Namespace) -> None:
    for flag, value in (("--budget", args.budget), ("--cost-per-contact", args.cost_per_contact)):
        if not np.isfinite(value) or value <= 0:
            raise DataError(f"{flag} must be a positive amount, got {value}.")
    if args.population is not None and args.population <= 0:
        raise DataError(f"--population must be a positive number of users, got {args.population}.")
