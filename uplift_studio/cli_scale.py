"""``uplift-studio analyze --engine streaming|dask``: the analysis of a file too large for memory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from uplift_studio.cli_options import check_economics, column_map, model_settings
from uplift_studio.core.errors import DataError
from uplift_studio.core.examples import parse_example
from uplift_studio.core.outputs import write_json


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _source(args: argparse.Namespace):
    from uplift_studio.core.batches import FileSource

    if args.data is None:
        raise DataError(
            f"--engine {args.engine} reads a file: write the simulated campaign first (uplift-studio simulate "
            "--users 20000000 --out campaign.parquet) and pass it with --data."
        )
    if parse_example(str(args.data)) is not None:
        raise DataError(
            f"--engine {args.engine} needs an id column, and the bundled examples have none; "
            "use the local engine (leave out --engine) for them."
        )
    return FileSource(Path(args.data))


def scale_result_from_args(args: argparse.Namespace):
    """Run the engine the flags name on the file they name."""
    from uplift_studio.core.engine import EngineSettings
    from uplift_studio.core.streaming import plan_for, run_streaming

    check_economics(args)
    if args.engine != "dask" and (args.scheduler is not None or args.distributed_fit or args.partitions):
        raise DataError("--scheduler, --distributed-fit and --partitions go with --engine dask.")
    source = _source(args)
    settings = model_settings(args)
    engine = EngineSettings(sample_size=args.sample_size, batch_size=args.batch_size)
    plan = plan_for(source, column_map(args), args.revenue_per_conversion)
    if args.engine == "streaming":
        return run_streaming(source, plan, settings, engine, population=args.population, say=_say)
    from uplift_studio.core.engine_dask import run_dask

    return run_dask(
        source,
        plan,
        settings,
        engine,
        scheduler=args.scheduler,
        partitions=args.partitions,
        distributed_fit=args.distributed_fit,
        population=args.population,
        say=_say,
    )


def cmd_analyze_engine(args: argparse.Namespace) -> int:
    from uplift_studio.core.scale_report import format_scale_report, scale_report_dict

    result = scale_result_from_args(args)
    cost = None if result.per_user_cost else args.cost_per_contact
    print(format_scale_report(result, args.budget, cost))
    if getattr(args, "json", None) is not None:
        write_json(scale_report_dict(result, args.budget, cost), args.json)
    if args.out is not None:
        from uplift_studio.core.analysis_file import write_analysis

        write_analysis(result, args.out)
        print(f"wrote the analysis to {args.out}")
    return 0
