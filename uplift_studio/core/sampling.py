"""The training sample of a large experiment: stratified on arm x conversion, drawn from the user-id hash.

Each stratum (control/treated x bought/did not) gets its share of the sample in proportion to its size, and
takes its users with the smallest hash draws. That is a uniform random sample within each stratum, the same
whatever the order of the rows or how they are split into batches and partitions: a pass keeps, per stratum,
only the smallest draws seen so far (a bottom-k sketch, which merges like the bin tables do).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from uplift_studio.core.errors import DataError

STRATA = 4  # treatment * 2 + converted


def stratum(treatment: np.ndarray, converted: np.ndarray) -> np.ndarray:
    return np.asarray(treatment, dtype=np.int64) * 2 + np.asarray(converted, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class SampleSketch:
    """Per stratum: how many users were seen, and the ``capacity`` smallest draws among them."""

    capacity: int
    counts: np.ndarray  # int64, per stratum
    smallest: tuple[np.ndarray, ...]  # per stratum, ascending

    @classmethod
    def of(cls, draws: np.ndarray, strata: np.ndarray, capacity: int) -> SampleSketch:
        counts = np.bincount(strata, minlength=STRATA).astype(np.int64)
        smallest = tuple(_smallest(draws[strata == s], capacity) for s in range(STRATA))
        return cls(capacity, counts, smallest)

    def __add__(self, other: SampleSketch) -> SampleSketch:
        smallest = tuple(
            _smallest(np.concatenate([mine, theirs]), self.capacity)
            for mine, theirs in zip(self.smallest, other.smallest, strict=True)
        )
        return SampleSketch(self.capacity, self.counts + other.counts, smallest)

    def thresholds(self, size: int) -> np.ndarray:
        """Per stratum, the largest draw that is in a sample of ``size`` users (-1 for none)."""
        total = int(self.counts.sum())
        if total == 0:
            raise DataError("the data holds no users of the compared arms.")
        wanted = _allocation(min(size, total), self.counts)
        limits = np.full(STRATA, -1.0)
        for s in range(STRATA):
            if wanted[s] > 0:
                limits[s] = self.smallest[s][wanted[s] - 1]
        return limits


def _smallest(values: np.ndarray, capacity: int) -> np.ndarray:
    if values.size > capacity:
        values = np.partition(values, capacity - 1)[:capacity]
    return np.sort(values)


def _allocation(size: int, counts: np.ndarray) -> np.ndarray:
    """Proportional allocation of ``size`` over strata by largest remainder (ties to the lower stratum)."""
    exact = size * counts / counts.sum()
    wanted = np.floor(exact).astype(np.int64)
    remainder = exact - wanted
    for s in np.argsort(-remainder, kind="stable")[: size - int(wanted.sum())]:
        wanted[s] += 1
    return np.minimum(wanted, counts)


def in_sample(draws: np.ndarray, strata: np.ndarray, limits: np.ndarray) -> np.ndarray:
    """Whether each user is in the sample: their draw is at most their stratum's threshold."""
    return draws <= limits[strata]
