"""The commands that read one finished analysis: ``analyze`` (which can write it to a file), ``export``,
``serve`` and ``explain``; and the fit's progress and Ctrl-C, which every fitting command shares.

``export`` and ``serve`` take ``--analysis FILE`` (written by ``analyze --out``) in place of the data
options: the analysis is read, never refitted, and the data is not needed.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from uplift_studio.cli_offers import add_offer_options, cmd_offers_export, offer_experiment_from_args, offers_requested
from uplift_studio.cli_options import analysis_settings, check_economics, experiment_from_args
from uplift_studio.core.errors import DataError

ENGINES = ("local", "streaming", "dask")
DEFAULT_SAMPLE_SIZE = 2_000_000
DEFAULT_BATCH_SIZE = 1_000_000


class Interrupted(Exception):
    """Ctrl-C reached the fit: it stops at the next fold boundary."""


CANCEL = threading.Event()


def progress(done: int, total: int) -> None:
    if CANCEL.is_set():
        raise Interrupted
    print(f"fitting models: fold {done} of {total}", file=sys.stderr, flush=True)


def analysis_from_args(args: argparse.Namespace):
    from uplift_studio.core.analysis import run_analysis

    check_economics(args)
    experiment = experiment_from_args(args)
    analysis = run_analysis(experiment, analysis_settings(args), progress=progress, use_cache=not args.no_cache)
    return experiment, analysis


def _analysis_file(args: argparse.Namespace):
    """The analysis ``--analysis`` names (no data read, nothing fitted), once the flags that would contradict
    it are ruled out."""
    from uplift_studio.core.analysis_file import read_analysis

    check_economics(args)
    if args.data is not None:
        raise DataError(
            f"--analysis {args.analysis} and --data {args.data} were both given: the analysis file already holds "
            "the results of its data. Drop --data to open the file, or drop --analysis to analyse the data."
        )
    if args.population is not None:
        raise DataError(
            f"--population with --analysis {args.analysis}: the campaign population is part of the analysis. "
            "Run `uplift-studio analyze --population N --out FILE.analysis` to write one for that population."
        )
    return read_analysis(args.analysis)


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be a whole number > 0, got {value!r}")
    return number


def cmd_analyze(args: argparse.Namespace) -> int:
    if args.engine != "local":
        from uplift_studio.cli_scale import cmd_analyze_engine

        return cmd_analyze_engine(args)
    from uplift_studio.core.analysis_file import write_analysis
    from uplift_studio.core.outputs import write_json
    from uplift_studio.core.report import format_report, report_dict

    for flag, given in (("--scheduler", args.scheduler is not None), ("--distributed-fit", args.distributed_fit)):
        if given:
            raise DataError(
                f"{flag} needs --engine dask (the engine is local: one process, in memory). Add --engine dask, "
                f"or drop {flag}."
            )
    _, analysis = analysis_from_args(args)
    print(format_report(analysis, args.budget, args.cost_per_contact))
    if args.json is not None:
        write_json(report_dict(analysis, args.budget, args.cost_per_contact), args.json)
    if args.out is not None:
        write_analysis(analysis, args.out)
        print(f"wrote the analysis to {args.out}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from uplift_studio.app.snapshot import write_snapshot

    if offers_requested(args):
        return cmd_offers_export(args, progress)
    if args.analysis is not None:
        if args.explain:
            raise DataError(
                f"--explain with --analysis {args.analysis}: the explanation fits a model on the experiment's "
                "users, which the analysis file does not hold. Export with --data FILE --explain instead."
            )
        experiment, analysis = None, _analysis_file(args)
    else:
        experiment, analysis = analysis_from_args(args)
    cost = None if analysis.per_user_cost else args.cost_per_contact
    explanation = None
    if args.explain:
        from uplift_studio.core.explain import explain
        from uplift_studio.core.selection import fit_final_selected as fitted

        explanation = explain(analysis, experiment, args.budget, cost, fitted(experiment, analysis.settings.model)[0])
    path = write_snapshot(analysis, args.out, args.budget, cost, explanation=explanation)
    print(f"wrote the snapshot to {path}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from uplift_studio.app.server import serve

    check_economics(args)
    if args.analysis is not None and offers_requested(args):
        raise DataError(
            "--analysis opens finished results; the offer flags (--offers, --arms, --arm-cost, --redemption-cost, "
            "--arm-shares) describe data to fit: use them with --data, or leave out --analysis."
        )
    if offers_requested(args):
        # read and checked here, so that bad data or costs stop the command before the server starts
        experiment = offer_experiment_from_args(args)
        for note in experiment.notes:
            print(f"note: {note}", file=sys.stderr)
        opened = {"experiment": experiment, "settings": analysis_settings(args)}
    elif args.analysis is not None:
        analysis = _analysis_file(args)
        opened = {"analysis": analysis, "analysis_file": args.analysis}
        print(
            f"note: serving the analysis in {args.analysis} without its data: the explanation (and, with per-user "
            "costs, the contact list) needs `serve --data FILE`.",
            file=sys.stderr,
        )
    else:
        opened = {"experiment": experiment_from_args(args), "settings": analysis_settings(args)}
    serve(
        **opened,
        budget=args.budget,
        cost_per_contact=args.cost_per_contact,
        port=args.port,
        address=args.address,
        show=args.show,
    )
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from uplift_studio.core.explain import explain, explanation_dict, format_explanation
    from uplift_studio.core.outputs import write_json
    from uplift_studio.core.selection import fit_final_selected as fit_final

    experiment, analysis = analysis_from_args(args)
    cost = None if analysis.per_user_cost else args.cost_per_contact
    learner = fit_final(experiment, analysis.settings.model)[0]
    explanation = explain(analysis, experiment, args.budget, cost, learner)
    print(format_explanation(explanation))
    if args.json is not None:
        write_json(explanation_dict(explanation), args.json)
    return 0


def _add_analysis_file_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--analysis",
        type=Path,
        help="open a file written by `analyze --out` instead of the data options (no data read, no refit)",
    )


def add_analysis_commands(analysis_command) -> None:
    """The parsers of ``analyze``, ``explain``, ``export`` and ``serve``; ``analysis_command(name, help,
    handler)`` makes a sub-parser with the data and economics options."""
    analyze = analysis_command(
        "analyze", "the analysis (the report's figures), optionally saved to a file", cmd_analyze
    )
    analyze.add_argument("--out", type=Path, help="also write the finished analysis (.analysis) for serve/export")
    analyze.add_argument("--json", type=Path, help="also write the report's JSON (design section 7)")
    scale = analyze.add_argument_group("engine (for data larger than memory)")
    scale.add_argument("--engine", choices=ENGINES, default="local", help="where it runs (default %(default)s)")
    scale.add_argument("--scheduler", metavar="ADDRESS", help="dask scheduler, tcp://host:port (only with dask)")
    scale.add_argument(
        "--distributed-fit", action="store_true", help="train with XGBoost's Dask interface (only with dask)"
    )
    scale.add_argument(
        "--sample-size",
        type=_positive,
        default=DEFAULT_SAMPLE_SIZE,
        metavar="N",
        help="users in the stratified sample the models are fitted on (default %(default)s)",
    )
    scale.add_argument(
        "--batch-size",
        type=_positive,
        default=DEFAULT_BATCH_SIZE,
        metavar="N",
        help="rows per batch (default %(default)s)",
    )
    scale.add_argument("--partitions", type=_positive, metavar="N", help="partitions (default: the engine's own)")

    explain = analysis_command("explain", "uplift drivers, who is contacted, and a targeting rule", cmd_explain)
    explain.add_argument("--json", type=Path, help="also write drivers, profiles, rule and values as JSON")
    export = analysis_command("export", "the executive snapshot: one offline HTML file", cmd_export)
    export.add_argument("--out", type=Path, required=True, help="snapshot file (.html)")
    export.add_argument(
        "--explain", action="store_true", help="add the drivers, profiles and targeting rule at the budget"
    )
    _add_analysis_file_option(export)
    add_offer_options(export)
    serve = analysis_command("serve", "the analyst's app in the browser", cmd_serve)
    serve.add_argument("--port", type=int, default=5006, help="port (default %(default)s)")
    serve.add_argument("--show", action="store_true", help="open a browser tab")
    serve.add_argument(
        "--address", default="127.0.0.1", help="interface to listen on (default %(default)s: this machine only)"
    )
    _add_analysis_file_option(serve)
    add_offer_options(serve, evaluation=False)
