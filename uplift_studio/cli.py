"""The ``uplift-studio`` command (design section 6).

Every bad input ends as one or two lines on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

from uplift_studio.cli_analysis import CANCEL, Interrupted, add_analysis_commands, analysis_from_args
from uplift_studio.cli_analysis import progress as _progress
from uplift_studio.cli_offers import (
    add_offer_options,
    cmd_offers_report,
    cmd_offers_score,
    cmd_offers_simulate,
    cmd_offers_targets,
    offers_requested,
)
from uplift_studio.cli_options import (
    add_data_options,
    add_economics_options,
    add_fit_options,
    add_saved_model_option,
    add_simulation_options,
    analysis_settings,
    check_economics,
    check_simulation,
    experiment_from_args,
    model_settings,
)
from uplift_studio.core.data import COST, ID, DataWarning
from uplift_studio.core.errors import DataError
from uplift_studio.core.model_file import MODEL_TYPES
from uplift_studio.core.outputs import (
    ANALYSIS_TYPES,
    FRAME_TYPES,
    HTML_TYPES,
    JSON_TYPES,
    check_output,
    write_frame,
    write_json,
)
from uplift_studio.core.reading import read_table
from uplift_studio.core.readout import ab_readout, format_readout
from uplift_studio.core.simulate import DEFAULT_TREATED_SHARE

EXIT_BAD_INPUT = 2


def cmd_simulate(args: argparse.Namespace) -> int:
    if args.offers:
        return cmd_offers_simulate(args)
    from uplift_studio.core.simulate_chunks import CHUNK, write_campaign

    if args.users > CHUNK:
        # past one chunk, the campaign is written chunk by chunk: memory stays that of one chunk
        check_simulation(args)
        write_campaign(args.out, args.users, args.treated_share, args.seed, truth=args.truth)
        users = args.users
    else:
        experiment = experiment_from_args(args)
        write_frame(experiment.frame, args.out)
        if args.truth is not None:
            write_frame(experiment.truth, args.truth)
        users = experiment.n_users
    print(f"wrote {users:,} users to {args.out}" + (f", truth to {args.truth}" if args.truth else ""))
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


def cmd_score(args: argparse.Namespace) -> int:
    from uplift_studio.core.analysis import run_analysis
    from uplift_studio.core.data import CONVERTED, REVENUE, TREATMENT

    if offers_requested(args):
        return cmd_offers_score(args, _progress)
    experiment = experiment_from_args(args)
    analysis = run_analysis(experiment, analysis_settings(args), progress=_progress, use_cache=not args.no_cache)
    outcomes = experiment.frame.select(ID, TREATMENT, CONVERTED, REVENUE)
    scores = analysis.scores.to_frame().drop(ID)
    write_frame(outcomes.hstack(scores), args.out)
    print(f"wrote out-of-sample scores of {analysis.n_evaluation:,} users to {args.out}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from uplift_studio.core.report import format_report, report_dict

    if offers_requested(args):
        return cmd_offers_report(args, _progress)
    _, analysis = analysis_from_args(args)
    print(format_report(analysis, args.budget, args.cost_per_contact))
    if args.json is not None:
        write_json(report_dict(analysis, args.budget, args.cost_per_contact), args.json)
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    from uplift_studio.core.analysis import versions
    from uplift_studio.core.model_file import save_model
    from uplift_studio.core.selection import fit_final_selected

    experiment = experiment_from_args(args)
    settings = model_settings(args)
    # with --learner auto, the model chosen on inner folds of all users, and its settings (what the file records)
    learner, settings = fit_final_selected(experiment, settings, progress=_progress)
    # the column map as read (an example's own, or the flags): targets --model reads ids and costs by it
    save_model(args.save, learner, experiment, settings, id_column=args.id, cost_column=args.cost, versions=versions())
    print(
        f"wrote the {settings.learner_name} fitted on all {experiment.n_users:,} users "
        f"({len(experiment.features)} features) to {args.save}"
    )
    return 0


def cmd_targets(args: argparse.Namespace) -> int:
    from uplift_studio.core.contacts import contact_list

    if offers_requested(args):
        return cmd_offers_targets(args, _progress)
    check_economics(args)
    if args.model is not None:
        scored = _scored_with_model(args)
    else:
        scored = _scored_by_fitting(args)
    per_user = COST in scored.columns
    contacts = contact_list(scored, args.budget, cost_per_contact=None if per_user else args.cost_per_contact)
    write_frame(contacts, args.out)
    spend = float(contacts["cumulative_spend"][-1]) if contacts.height else 0.0
    print(
        f"wrote {contacts.height:,} contacts (spend ${spend:,.2f} of ${args.budget:,.2f}) to {args.out}"
        + (" - the budget covers everyone" if contacts.height == scored.height else "")
    )
    return 0


def _scored_by_fitting(args: argparse.Namespace) -> pl.DataFrame:
    from uplift_studio.core.selection import fit_final_selected as fit_final

    experiment = experiment_from_args(args)
    for note in experiment.notes:  # e.g. ids that are row numbers: the list must be read against its file
        print(f"note: {note}", file=sys.stderr)
    if args.score_file is None:
        from uplift_studio.core.analysis import run_analysis

        analysis = run_analysis(experiment, analysis_settings(args), progress=_progress, use_cache=not args.no_cache)
        return analysis.scored_users(experiment)
    customers = read_table(args.score_file)
    missing = [name for name in experiment.features if name not in customers.columns]
    if missing:
        raise DataError(
            f"{args.score_file}: the feature column(s) {', '.join(map(repr, missing))} of the experiment are "
            "missing. New customers need the same features the models were trained on."
        )
    learner = fit_final(experiment, analysis_settings(args).model, progress=_progress)[0]
    _warn_unseen_levels(customers, learner.categories_, args.score_file)
    scores = learner.score_frame(customers.select(experiment.features))
    return _with_ids_and_costs(scores, customers, args.score_file, args.id, args.cost)


def _scored_with_model(args: argparse.Namespace) -> pl.DataFrame:
    """New customers scored by a saved model: no data options, no fit."""
    from uplift_studio.core.model_file import load_model

    if args.score_file is None:
        raise DataError(
            f"--model {args.model}: give the new customers to score with --score-file FILE (a saved model scores "
            "new customers; for the experiment's own users run targets without --model)."
        )
    if args.data is not None:
        raise DataError(
            f"--model {args.model} and --data {args.data} were both given: the saved model replaces the fit on "
            "--data. Drop --data to score with the saved model, or drop --model to fit on the data."
        )
    saved = load_model(args.model)
    customers = read_table(args.score_file)
    scores = saved.score_frame(customers, args.score_file)
    _warn_unseen_levels(customers, saved.info.categories, args.score_file)
    # ids and costs by the flags if given, else by the column map the model was fitted with
    id_column = args.id if args.id is not None else saved.info.id_column
    cost_column = args.cost if args.cost is not None else saved.info.cost_column
    return _with_ids_and_costs(scores, customers, args.score_file, id_column, cost_column)


def _with_ids_and_costs(
    scores: pl.DataFrame, customers: pl.DataFrame, source: Path, id_column: str | None, cost_column: str | None
) -> pl.DataFrame:
    ids = (
        customers.get_column(id_column)
        if id_column is not None and id_column in customers.columns
        else pl.Series(np.arange(1, customers.height + 1))
    )
    scored = scores.insert_column(0, ids.alias(ID))
    if cost_column is None:
        return scored
    if cost_column not in customers.columns:
        raise DataError(f"{source}: the cost column {cost_column!r} is missing.")
    if not customers.schema[cost_column].is_numeric():
        raise DataError(
            f"{source}: the cost column {cost_column!r} is not numeric (type "
            f"{customers.schema[cost_column]}). Give every customer a contact cost as a number > 0."
        )
    return scored.insert_column(1, customers.get_column(cost_column).cast(pl.Float64).alias(COST))


def _warn_unseen_levels(customers: pl.DataFrame, categories: dict, source: Path) -> None:
    """New customers whose label the models never saw are scored as if the label were missing: say so."""
    for name, levels in categories.items():
        labels = customers.get_column(name).cast(pl.String)
        unseen = labels.filter(labels.is_not_null() & ~labels.is_in(list(levels)))
        if unseen.len():
            examples = ", ".join(repr(v) for v in unseen.unique(maintain_order=True).head(3).to_list())
            print(
                f"warning: {source}: {unseen.len():,} rows of {name!r} hold labels the experiment never had "
                f"({examples}); they are scored as if {name!r} were missing.",
                file=sys.stderr,
            )


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
    simulate.add_argument("--offers", action="store_true", help="the three-offer campaign (E-mail, Letter, Discount)")
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

    def analysis_command(name: str, help_text: str, handler) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        add_data_options(sub)
        add_economics_options(sub)
        sub.set_defaults(handler=handler)
        return sub

    score = analysis_command("score", "out-of-sample scores per user, every strategy", cmd_score)
    score.add_argument("--out", type=Path, required=True, help="scores file (.parquet or .csv)")
    add_offer_options(score)
    report = analysis_command("report", "strategies compared under the budget, with intervals", cmd_report)
    report.add_argument("--json", type=Path, help="also write design section 7's JSON")
    add_offer_options(report)
    targets = analysis_command("targets", "the customers to contact under the budget, in order", cmd_targets)
    targets.add_argument("--out", type=Path, required=True, help="contact list (.csv or .parquet)")
    targets.add_argument("--score-file", type=Path, help="new customers to score with the final models")
    add_offer_options(targets)
    add_saved_model_option(targets)
    fit = commands.add_parser("fit", help="fit the final models on all users and save them for targets --model")
    add_data_options(fit)
    add_fit_options(fit)
    fit.set_defaults(handler=cmd_fit)
    add_analysis_commands(analysis_command)
    return parser


# which flag names an output, and the file types it takes (export's --out is the HTML snapshot, analyze's the
# analysis file)
_OUTPUTS = (("out", "--out"), ("truth", "--truth"), ("json", "--json"), ("save", "--save"))


def check_outputs(args: argparse.Namespace) -> None:
    """Every output path checked before any data is read or any model fitted."""
    for attribute, flag in _OUTPUTS:
        path = getattr(args, attribute, None)
        if path is None:
            continue
        if attribute == "json":
            types = JSON_TYPES
        elif attribute == "save":
            types = MODEL_TYPES
        elif args.command == "export":
            types = HTML_TYPES
        elif args.command == "analyze":
            types = ANALYSIS_TYPES
        else:
            types = FRAME_TYPES
        check_output(path, types, flag)


def run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_outputs(args)
    with warnings.catch_warnings():
        # Data warnings are part of the readout's notes; print them once, plainly, not as Python warnings.
        warnings.simplefilter("ignore", DataWarning)
        return args.handler(args)


def _in_worker(argv: Sequence[str] | None, last_step: bool = False) -> int:
    """Run the command in a worker thread: Python delivers Ctrl-C to the main thread only, so it never lands
    inside XGBoost's data callbacks (where it gave tracebacks and native aborts). The main thread waits; on
    Ctrl-C the fit stops at its next fold and nothing half-written is left (outputs are renamed in whole)."""
    outcome: dict[str, object] = {}
    # an Event, not Thread.join: Ctrl-C inside join marks a running thread as stopped (CPython 3.11's
    # bpo-45274 handling), so a second join returned at once and os._exit cut an output's write short
    finished = threading.Event()

    def work() -> None:
        try:
            outcome["code"] = _guarded(lambda: run(argv))
        except BaseException as exc:  # handed to the main thread
            outcome["error"] = exc
        finally:
            finished.set()

    CANCEL.clear()
    worker = threading.Thread(target=work, name="uplift-studio-command", daemon=True)
    worker.start()
    try:
        while not finished.wait(0.2):
            pass
        if last_step:
            # the work is done and the process ends next: a Ctrl-C now would land in the interpreter's shutdown,
            # which restores the default handler first and dies of the signal (exit -2, seen once in 10
            # interrupts); ignored, the exit is 0. Not when called in-process (tests): Ctrl-C must still work.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    except KeyboardInterrupt:
        CANCEL.set()
        print("interrupted", file=sys.stderr, flush=True)
        try:
            finished.wait(60.0)
        except KeyboardInterrupt:
            pass
        sys.stdout.flush()
        sys.stderr.flush()
        # leave without the interpreter's shutdown: native thread pools torn down while XGBoost's threads
        # wind down gave "terminate called without an active exception" aborts; the worker has stopped at
        # its fold boundary and removed its temporaries, so nothing is left to clean
        os._exit(130)
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return int(outcome["code"])  # type: ignore[call-overload]


def _guarded(command) -> int:
    try:
        return command()
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Interrupted:
        return 130


def _restart_on_the_system_allocator(arguments: list[str]) -> None:
    """A long-running server returns closed sessions' memory only on the system allocator (see
    ``server_hygiene.system_allocator_command``): replace this process by one that runs on it."""
    from uplift_studio.app.server_hygiene import SYSTEM_ALLOCATOR, system_allocator_command

    command = system_allocator_command(arguments)
    if command is not None:
        sys.stdout.flush()
        os.execve(command[0], command, {**os.environ, **SYSTEM_ALLOCATOR})


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments[:1] == ["serve"]:
        if argv is None:  # the command line's server, not a call in-process (tests): it may restart itself
            _restart_on_the_system_allocator(arguments)
        try:
            return _guarded(lambda: run(arguments))
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
    return _in_worker(arguments, last_step=argv is None)


if __name__ == "__main__":
    sys.exit(main())
