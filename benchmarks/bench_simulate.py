"""Simulation throughput (users per second) at 150,000 and 10,000,000 users, and peak memory at 10,000,000.

Run: python benchmarks/bench_simulate.py
Peak memory is the peak of Python-tracked allocations (numpy and polars buffers allocated through
Python are counted by tracemalloc; polars' own Rust allocations are not), plus the process's peak RSS.
"""

from __future__ import annotations

import resource
import time
import tracemalloc

from uplift_studio.core.simulate import simulate_campaign


def throughput(n_users: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        simulate_campaign(n_users, seed=7)
        best = min(best, time.perf_counter() - start)
    return n_users / best


def main() -> None:
    simulate_campaign(10_000, seed=1)  # warm imports and polars' thread pool
    small = throughput(150_000, repeats=5)
    print(f"simulate 150,000 users: {small:,.0f} users/s (best of 5)")
    tracemalloc.start()
    large = throughput(10_000_000, repeats=1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"simulate 10,000,000 users: {large:,.0f} users/s")
    print(f"peak memory at 10,000,000 users: {peak / 2**20:,.0f} MiB traced, {rss_mib:,.0f} MiB peak RSS")


if __name__ == "__main__":
    main()
