"""The ``uplift-studio`` command (design section 6).

Every bad input ends as one or two lines on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from uplift_studio.core.data import ColumnMap, DataWarning, Experiment, load_experiment
from uplift_studio.core.errors import DataError
from uplift_studio.core.readout import ab_readout, format_readout
from uplift_studio.core.simulate import DEFAULT_SEED, DEFAULT_TREATED_SHARE, DEFAULT_USERS, simulate_campaign

EXIT_BAD_INPUT = 2


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


def _unwritable(path: Path, exc: OSError) -> DataError:
    return DataError(f"{path}: cannot write ({exc.strerror}). Check that the folder exists and is writable.")


def write_frame(frame: pl.DataFrame, path: Path) -> None:
    name = path.name.lower()
    try:
        if name.endswith(".parquet"):
            frame.write_parquet(path)
        elif name.endswith(".csv"):
            frame.write_csv(path)
        else:
            raise DataError(f"{path}: unknown output type. End the name with .parquet or .csv.")
    except OSError as exc:
        raise _unwritable(path, exc) from exc


def write_json(payload: dict, path: Path) -> None:
    try:
        path.write_text(json.dumps(payload, indent=2, default=float) + "\n")
    except OSError as exc:
        raise _unwritable(path, exc) from exc


def cmd_simulate(args: argparse.Namespace) -> int:
    experiment = experiment_from_args(args)
    write_frame(experiment.frame, args.out)
    if args.truth is not None:
        write_frame(experiment.truth, args.truth)
    print(f"wrote {experiment.n_users:,} users to {args.out}" + (f", truth to {args.truth}" if args.truth else ""))
    return 0


def cmd_describe(args: argparse.Namespace) -> int:
    readout = ab_readout(experiment_from_args(args), args.expected_treated_share)
    print(format_readout(readout))
    if readout.srm_alert:
        print(
            f"warning: sample ratio mismatch (p = {readout.srm_p_value:.2g}); see the readout above.",
            file=sys.stderr,
        )
    if args.json is not None:
        write_json(readout.to_dict(), args.json)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="uplift-studio",
        description="Decide whom a campaign should contact under a budget, and prove the money it makes.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    simulate = commands.add_parser("simulate", help="write a simulated randomized campaign")
    add_simulation_options(simulate)
    simulate.add_argument("--out", type=Path, required=True, help="experiment file (.parquet or .csv)")
    simulate.add_argument("--truth", type=Path, help="ground-truth file, keyed by user_id (.parquet or .csv)")
    simulate.set_defaults(handler=cmd_simulate, data=None)

    describe = commands.add_parser("describe", help="the A/B readout: arms, rates, effects, sample-ratio check")
    add_data_options(describe)
    describe.add_argument(
        "--expected-treated-share",
        type=float,
        default=DEFAULT_TREATED_SHARE,
        help="designed treated share for the sample-ratio check (default %(default)s)",
    )
    describe.add_argument("--json", type=Path, help="also write the readout as JSON")
    describe.set_defaults(handler=cmd_describe)
    return parser


def run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        # Data warnings are part of the readout's notes; print them once, plainly, not as Python warnings.
        warnings.simplefilter("ignore", DataWarning)
        return args.handler(args)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(argv)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
