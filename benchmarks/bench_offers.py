"""The allocation path for 1,000,000 users x 4 offers, against one ``np.argsort`` of its 4,000,000 hull slopes
in the same run (issue 12's goal: at most 2x), and its peak memory.

Every offer of every user is made a corner of its hull (random positive increments of cost, random falling
slopes, then the offers shuffled per user), so the path has exactly 4,000,000 steps: the hardest case for
the sort. "The path" is what the budget reads: the hull, the one sort, the tie groups, and the cumulative
expected spend, value and contacts at the boundaries. The machine may be shared: the path and the reference
alternate, and the ratio of each pair is printed with their median, in wall and in CPU time.

Run: OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_offers.py
Peak memory is the peak of Python-tracked allocations (numpy buffers are counted by tracemalloc) and the
process's peak RSS.
"""

from __future__ import annotations

import resource
import time
import tracemalloc

import numpy as np

from uplift_studio.core.allocation import allocation_steps, hull

USERS, OFFERS = 1_000_000, 4
REPEATS = 5


def problem(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    run = rng.uniform(0.05, 1.0, (USERS, OFFERS))
    slope = np.sort(rng.uniform(0.1, 10.0, (USERS, OFFERS)), axis=1)[:, ::-1]
    cost, value = np.cumsum(run, axis=1), np.cumsum(run * slope, axis=1)
    shuffle = np.argsort(rng.random((USERS, OFFERS)), axis=1)
    return np.take_along_axis(value, shuffle, 1), np.take_along_axis(cost, shuffle, 1)


def build_path(value: np.ndarray, cost: np.ndarray):
    steps = allocation_steps(value, cost)
    return steps, steps.cumulative(steps.cost_step), steps.cumulative(steps.value_step), steps.contacts()


def timed(work) -> tuple[float, float]:
    """Wall and CPU seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    value, cost = problem()
    steps, spend, gain, _ = build_path(value, cost)
    assert steps.size == USERS * OFFERS, steps.size
    slopes = hull(value, cost)[1].reshape(-1)  # the same 4,000,000 slopes, as the hull leaves them
    # the path and the reference alternate, so that a burst of load on the shared machine hits both; the
    # ratio is the median of the paired ratios
    paths, sorts = [], []
    for _ in range(REPEATS):
        paths.append(timed(lambda: build_path(value, cost)))
        sorts.append(timed(lambda: np.argsort(slopes)))
    path_wall, path_cpu = (float(np.median(column)) for column in zip(*paths, strict=True))
    sort_wall, sort_cpu = (float(np.median(column)) for column in zip(*sorts, strict=True))
    ratios = [path[0] / reference[0] for path, reference in zip(paths, sorts, strict=True)]
    cpu_ratios = [path[1] / reference[1] for path, reference in zip(paths, sorts, strict=True)]
    print(
        f"allocation path, {USERS:,} users x {OFFERS} offers ({steps.size:,} hull steps, {steps.ends.size - 1:,} "
        f"tie groups): {path_wall:.3f} s wall, {path_cpu:.3f} s CPU (median of {REPEATS})"
    )
    print(f"one np.argsort of the {slopes.size:,} hull slopes: {sort_wall:.3f} s wall, {sort_cpu:.3f} s CPU")
    print(
        f"ratio: {np.median(ratios):.2f}x wall (each repeat: {', '.join(f'{r:.2f}' for r in ratios)}), "
        f"{np.median(cpu_ratios):.2f}x CPU (goal: at most 2x)"
    )
    sort_only = np.median([timed(lambda: np.sort(slopes))[0] for _ in range(REPEATS)])
    print(f"for scale, one np.sort of the slopes (values only; the path sorts packed int64 keys): {sort_only:.3f} s")
    print(f"path end: spend {spend[-1]:,.0f}, value {gain[-1]:,.0f}")
    del steps, spend, gain
    tracemalloc.start()
    build_path(value, cost)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    inputs = (value.nbytes + cost.nbytes) / 2**20
    print(
        f"peak memory of the path: {peak / 2**20:,.0f} MiB traced (inputs {inputs:,.0f} MiB not counted), "
        f"{rss_mib:,.0f} MiB peak RSS"
    )


if __name__ == "__main__":
    main()
