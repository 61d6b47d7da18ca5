"""The command line's shared flags (simulation, data, economics and models) and their reading into the core's
experiment and settings, for every ``uplift-studio`` command that takes them."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from uplift_studio.core.data import ColumnMap, Experiment, load_experiment
from uplift_studio.core.errors import DataError
from uplift_studio.core.examples import EXAMPLES, Example, load_example, parse_example
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


# The mapping flags (each named as the ColumnMap field it sets); a flag the user did not give takes its value from
# the example's map (--data example:NAME) or from the default map.
_MAPPING_FLAGS = (
    "treatment",
    "treated_value",
    "control_value",
    "conversion",
    "revenue",
    "id",
    "cost",
    "features",
    "exclude",
)
_LISTS = ("features", "exclude")
_FROM_EXAMPLE = "; with --data example:NAME, the example's own"


def add_data_options(parser: argparse.ArgumentParser) -> None:
    default = ColumnMap()
    group = parser.add_argument_group(
        "data (without --data: the simulated campaign; with --data example:NAME, a bundled real experiment whose "
        "column map fills every mapping flag not given)"
    )
    group.add_argument(
        "--data",
        type=Path,
        help="experiment file: .csv, .csv.gz or .parquet; or a bundled example: "
        + ", ".join(f"example:{name}" for name in EXAMPLES),
    )
    group.add_argument("--treatment", help=f"treatment column (default {default.treatment}{_FROM_EXAMPLE})")
    group.add_argument("--treated-value", help=f"label of the treated arm when the column is not 0/1{_FROM_EXAMPLE}")
    group.add_argument("--control-value", help=f"label of the control arm when the column is not 0/1{_FROM_EXAMPLE}")
    group.add_argument("--conversion", help=f"conversion column (default {default.conversion}{_FROM_EXAMPLE})")
    group.add_argument("--revenue", help=f"revenue column (default {default.revenue}{_FROM_EXAMPLE})")
    group.add_argument(
        "--id", help=f"id column (default {default.id}; absent: row numbers, 1 = the first data row{_FROM_EXAMPLE})"
    )
    group.add_argument("--cost", help=f"per-user contact cost column (optional{_FROM_EXAMPLE})")
    group.add_argument(
        "--features", help=f"comma-separated feature columns (default: every other column{_FROM_EXAMPLE})"
    )
    group.add_argument(
        "--exclude",
        help=f"comma-separated columns that are not features, e.g. other outcomes{_FROM_EXAMPLE}, which this "
        "flag replaces",
    )
    group.add_argument(
        "--revenue-per-conversion",
        type=float,
        help="value of one conversion when the file has no revenue column",
    )
    add_simulation_options(parser)


def column_map(args: argparse.Namespace, chosen: Example | None = None) -> ColumnMap:
    """The map the flags give, every flag not given taken from ``chosen``'s map (or the default map); it is
    written back into ``args`` so that later readers (``targets --score-file`` reads ``--id`` and ``--cost``)
    see the same map as the experiment."""
    given = {field: getattr(args, field, None) for field in _MAPPING_FLAGS}
    given = {field: _split(value) if field in _LISTS else value for field, value in given.items() if value is not None}
    columns = replace(ColumnMap() if chosen is None else chosen.columns, **given)
    for field in _MAPPING_FLAGS:
        value = getattr(columns, field)
        setattr(args, field, ",".join(value) if field in _LISTS and value is not None else value)
    return columns


def check_simulation(args: argparse.Namespace) -> None:
    if args.seed < 0:
        raise DataError(f"--seed must be a whole number >= 0, got {args.seed}.")
    if args.users < 2:
        raise DataError(f"--users must be at least 2, got {args.users}.")
    if not 0.0 < args.treated_share < 1.0:
        raise DataError(f"--treated-share must be strictly between 0 and 1, got {args.treated_share}.")


def experiment_from_args(args: argparse.Namespace) -> Experiment:
    """The experiment the data options name: a file, a bundled example (``example:NAME``), or the simulated
    campaign."""
    if args.seed < 0:
        raise DataError(f"--seed must be a whole number >= 0, got {args.seed}.")
    chosen = None if args.data is None else parse_example(str(args.data))
    columns = column_map(args, chosen)
    if args.data is None:
        check_simulation(args)
        return simulate_campaign(args.users, args.treated_share, args.seed)
    if chosen is not None:
        return load_example(chosen, columns, revenue_per_conversion=args.revenue_per_conversion)
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
    _add_learner_flags(group)
    group.add_argument("--no-cache", action="store_true", help="recompute instead of reading the disk cache")


def _add_learner_flags(group) -> None:
    group.add_argument("--n-estimators", type=int, help="boosting rounds per model (default: the measured default)")
    group.add_argument(
        "--learner",
        choices=("t", "x", "dr", "auto"),
        default="t",
        help="uplift learner: t (one model per arm), x (X-learner), dr (DR-learner), or auto (each fold chooses "
        "a learner and target on its training part only: nested cross-fitting); default %(default)s",
    )
    group.add_argument(
        "--tree-grid",
        action="store_true",
        help="with --learner auto, also try trees one level shallower and one deeper (18 candidates, not 6: "
        "measured, a noisier choice and 3x the selection time)",
    )


def add_fit_options(parser: argparse.ArgumentParser) -> None:
    """``fit``'s own flags: the learner and where to save it (the model seed is ``--seed``)."""
    group = parser.add_argument_group("models")
    _add_learner_flags(group)
    group.add_argument(
        "--save",
        type=Path,
        required=True,
        help="model file to write (.uplift): the final models fitted on all users, for targets --model",
    )


def add_saved_model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        type=Path,
        help="score --score-file with a model file written by `fit --save` instead of fitting (no data options)",
    )


def model_settings(args: argparse.Namespace):
    """The model settings the flags give; a command without a flag (``fit`` has no --folds) keeps the default."""
    from uplift_studio.core.settings import ModelSettings

    model = {"seed": args.seed, "learner": args.learner}
    if getattr(args, "tree_grid", False):
        if args.learner != "auto":
            raise DataError("--tree-grid goes with --learner auto (it widens the automatic choice).")
        model["tree_grid"] = True
    for flag in ("folds", "holdout", "n_estimators"):
        value = getattr(args, flag, None)
        if value is not None:
            model[flag] = value
    try:
        return ModelSettings(**model)
    except (TypeError, ValueError) as exc:
        raise DataError(f"bad model setting: {exc}") from exc


def analysis_settings(args: argparse.Namespace):
    from uplift_studio.core.analysis import AnalysisSettings

    try:
        return AnalysisSettings(model=model_settings(args), population=args.population)
    except (TypeError, ValueError) as exc:
        raise DataError(f"bad model setting: {exc}") from exc


def check_economics(args: argparse.Namespace) -> None:
    for flag, value in (("--budget", args.budget), ("--cost-per-contact", args.cost_per_contact)):
        if not np.isfinite(value) or value <= 0:
            raise DataError(f"{flag} must be a positive amount, got {value}.")
    if args.population is not None and args.population <= 0:
        raise DataError(f"--population must be a positive number of users, got {args.population}.")
