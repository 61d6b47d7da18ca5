"""Scale past one machine's memory: figures and ratios in one run.

1. Evaluation of 100,000,000 users with given scores, streamed from Parquet: the bin-table reducer (one
   strategy's table and the outcome table) against a bare ``np.histogram`` pass over the same batches, with
   each one's peak RSS (goal: at most 2 GiB).
2. A 20,000,000-user campaign end to end with ``--engine streaming``: chunked simulation, a fit on a
   stratified sample, every user scored and evaluated; peak RSS (goal: at most 4 GiB) and wall time.
3. Local (streaming, one process) against Dask (LocalCluster, 2 workers) on 10,000,000 users: the time
   ratio, and whether the bin tables are identical.

Each step runs in its own process so that its peak RSS is its own (``os.wait4``). Run with
``OMP_WAIT_POLICY=PASSIVE`` on a shared machine (XGBoost's OpenMP threads spin otherwise).
Usage: ``python benchmarks/bench_scale.py [--users-eval 100000000] [--users-e2e 20000000] [--users-dask 10000000]
[--folder /tmp/uplift_scale]``; smaller numbers make a quick run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

GIB = 2.0**30
CHUNK = 5_000_000


def _child(arguments: list[str]) -> tuple[dict, float, float]:
    """Run this script's step in a fresh process: (its JSON output, its wall time, its peak RSS in GiB)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, __file__, *arguments], stdout=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    output = process.stdout.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"step {arguments[0]} failed: {output}")
    return json.loads(output.strip().splitlines()[-1]), wall, usage.ru_maxrss * 1024 / GIB


# --- steps (each in its own process) ------------------------------------------------------------------------


def write_scores(path: str, users: int) -> dict:
    """A scored experiment: score, treatment, converted, revenue; written chunk by chunk."""
    import polars as pl
    import pyarrow.parquet as pq

    rng = np.random.default_rng(20261202)
    writer = None
    for start in range(0, users, CHUNK):
        n = min(CHUNK, users - start)
        treatment = (rng.random(n) < 0.5).astype(np.int8)
        score = rng.normal(size=n)
        converted = (rng.random(n) < 0.04 + 0.02 * treatment * (score > 0)).astype(np.int8)
        revenue = np.round(converted * rng.gamma(2.0, 50.0, n), 2)
        table = pl.DataFrame({"score": score, "treatment": treatment, "converted": converted, "revenue": revenue})
        table = table.to_arrow()
        writer = writer or pq.ParquetWriter(path + ".tmp", table.schema, compression="zstd")
        writer.write_table(table)
    writer.close()
    os.replace(path + ".tmp", path)
    return {"users": users}


def _batches(path: str):
    import polars as pl

    yield from pl.scan_parquet(path).collect_batches(chunk_size=CHUNK)


def _edges(path: str) -> tuple[np.ndarray, np.ndarray]:
    """The score's and the outcome's bin edges, from the first 2,000,000 users (as the engines take them from
    the training sample)."""
    import polars as pl

    from uplift_studio.core.binstats import quantile_edges

    head = pl.scan_parquet(path).head(2_000_000).collect()
    revenue = head["revenue"].to_numpy()
    outcome = np.concatenate([[0.0], quantile_edges(revenue[revenue > 0])])
    return quantile_edges(head["score"].to_numpy()), outcome


def evaluate_reducer(path: str) -> dict:
    from uplift_studio.core.binstats import accumulate, outcome_keys
    from uplift_studio.core.scale_result import ScaleSettings, build_result

    edges, outcome_edges = _edges(path)
    tables = None
    for batch in _batches(path):
        columns = [batch[name].to_numpy() for name in ("treatment", "converted", "revenue")]
        part = {
            "uplift": accumulate(batch["score"].to_numpy(), edges, *columns),
            "outcome": accumulate(outcome_keys(columns[2]), outcome_edges, *columns),
        }
        tables = part if tables is None else {name: tables[name] + part[name] for name in tables}
    result = build_result(
        tables,
        source=path,
        engine="streaming",
        sample_users=0,
        per_user_cost=False,
        settings=ScaleSettings(bins=edges.size + 1),
        notes=(),
        versions={},
        seed=7,
    )
    at = result.at_budget(2_000_000.0, 1.0)["uplift"]
    return {
        "users": result.n_users,
        "revenue_at_2m": at.incremental_revenue,
        "qini": result.metrics["uplift"]["qini_coefficient"],
    }


def evaluate_histogram(path: str) -> dict:
    """The bare baseline: one np.histogram of the score per batch (counts only), over the same batches."""
    edges, _ = _edges(path)
    bounds = np.concatenate([[-np.inf], edges, [np.inf]])
    counts = np.zeros(edges.size + 1, dtype=np.int64)
    for batch in _batches(path):
        counts += np.histogram(batch["score"].to_numpy(), bins=bounds)[0]
    return {"users": int(counts.sum())}


def simulate(path: str, users: int) -> dict:
    from uplift_studio.core.simulate_chunks import write_campaign

    write_campaign(Path(path), users, 0.5, 7)
    return {"users": users}


def analyze(path: str, engine: str, sample: int, out: str) -> dict:
    from uplift_studio.core.batches import FileSource
    from uplift_studio.core.data import ColumnMap
    from uplift_studio.core.engine import EngineSettings
    from uplift_studio.core.settings import ModelSettings
    from uplift_studio.core.store import dump
    from uplift_studio.core.streaming import plan_for, run_streaming

    source = FileSource(Path(path))
    plan = plan_for(source, ColumnMap())
    settings = EngineSettings(sample_size=sample, batch_size=1_000_000)
    if engine == "dask":
        from uplift_studio.core.engine_dask import run_dask

        result = run_dask(source, plan, ModelSettings(), settings)
    else:
        result = run_streaming(source, plan, ModelSettings(), settings)
    dump(result.tables, Path(out), {"kind": "bench-tables"})
    at = result.at_budget(100_000.0, 2.0)["uplift"]
    return {"users": result.n_users, "uplift_at_100k": at.incremental_revenue, "ci": [at.ci_low, at.ci_high]}


STEPS = {
    "write_scores": write_scores,
    "reducer": evaluate_reducer,
    "histogram": evaluate_histogram,
    "simulate": simulate,
    "analyze": analyze,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users-eval", type=int, default=100_000_000)
    parser.add_argument("--users-e2e", type=int, default=20_000_000)
    parser.add_argument("--users-dask", type=int, default=10_000_000)
    parser.add_argument("--sample", type=int, default=1_000_000, help="training sample of the end-to-end runs")
    parser.add_argument("--folder", type=Path, default=Path("/tmp/uplift_scale"))
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    print(f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}, {os.cpu_count()} cores")

    scores = args.folder / f"scores_{args.users_eval}.parquet"
    if not scores.exists():
        _, wall, _ = _child(["write_scores", str(scores), str(args.users_eval)])
        print(f"wrote {args.users_eval:,} scored users ({scores.stat().st_size / GIB:.2f} GiB Parquet) in {wall:.0f} s")
    base, base_wall, base_rss = _child(["histogram", str(scores)])
    ours, wall, rss = _child(["reducer", str(scores)])
    assert ours["users"] == base["users"] == args.users_eval
    print(
        f"1. evaluation of {args.users_eval:,} users from Parquet: {wall:.1f} s "
        f"({args.users_eval / wall / 1e6:.1f} M rows/s), "
        f"peak RSS {rss:.2f} GiB (goal <= 2); bare np.histogram pass {base_wall:.1f} s "
        f"({args.users_eval / base_wall / 1e6:.1f} M rows/s, {base_rss:.2f} GiB): ratio {wall / base_wall:.2f}x; "
        f"Qini {ours['qini']:.4f}"
    )

    campaign = args.folder / f"campaign_{args.users_e2e}.parquet"
    start = time.perf_counter()
    _, sim_wall, sim_rss = _child(["simulate", str(campaign), str(args.users_e2e)])
    result, fit_wall, fit_rss = _child(
        ["analyze", str(campaign), "streaming", str(args.sample), str(args.folder / "e2e.tables")]
    )
    total = time.perf_counter() - start
    print(
        f"2. {args.users_e2e:,}-user campaign with --engine streaming: simulate {sim_wall:.0f} s "
        f"(peak {sim_rss:.2f} GiB), "
        f"analyze {fit_wall:.0f} s on a {args.sample:,}-user sample (peak {fit_rss:.2f} GiB; goal <= 4); "
        f"end to end {total:.0f} s; uplift at $100k: ${result['uplift_at_100k']:,.0f} "
        f"[{result['ci'][0]:,.0f}, {result['ci'][1]:,.0f}]"
    )

    dask_campaign = args.folder / f"campaign_{args.users_dask}.parquet"
    if not dask_campaign.exists():
        _child(["simulate", str(dask_campaign), str(args.users_dask)])
    sample = str(min(args.sample, args.users_dask // 10))
    local, local_wall, local_rss = _child(
        ["analyze", str(dask_campaign), "streaming", sample, str(args.folder / "local.tables")]
    )
    dask, dask_wall, dask_rss = _child(
        ["analyze", str(dask_campaign), "dask", sample, str(args.folder / "dask.tables")]
    )
    from uplift_studio.core.store import load

    same = _tables_equal(
        load(args.folder / "local.tables", {"kind": "bench-tables"}),
        load(args.folder / "dask.tables", {"kind": "bench-tables"}),
    )
    print(
        f"3. {args.users_dask:,} users, {sample}-user sample: local (streaming) {local_wall:.0f} s, Dask LocalCluster "
        f"(2 workers) {dask_wall:.0f} s: ratio {dask_wall / local_wall:.2f}x; identical bin tables: {same}; "
        f"client peak RSS local {local_rss:.2f} GiB, Dask client {dask_rss:.2f} GiB"
    )


def _tables_equal(first: dict, second: dict) -> bool:
    return set(first) == set(second) and all(first[name].equals(second[name]) for name in first)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in STEPS:
        step, *rest = sys.argv[1:]
        function = STEPS[step]
        converted = [int(value) if value.isdigit() else value for value in rest]
        print(json.dumps(function(*converted)))
    else:
        main()
