"""Mergeable bin statistics, the user-id hash and the stratified sample: exact small cases and invariants."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from uplift_studio.core import binstats, userhash
from uplift_studio.core.curve import build_curve
from uplift_studio.core.errors import DataError
from uplift_studio.core.metrics import _area_above_random, _sklift_qini_values, _sklift_uplift_values, perfect_curves
from uplift_studio.core.sampling import SampleSketch, in_sample, stratum


def _fnv1a(data: bytes) -> int:
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) % 2**64
    return value


def test_text_ids_hash_with_fnv1a_then_splitmix():
    ids = ["a", "héllo", "", "user_12345", "Zz"]
    expected = userhash.splitmix64(np.array([_fnv1a(s.encode()) for s in ids], dtype=np.uint64))
    assert np.array_equal(userhash.hash_ids(pl.Series(ids)), expected)


def test_the_hash_is_fixed_for_good():
    # a change here reshuffles every fold and sample of every engine: the values are the contract (ids 0 and 1
    # give SplitMix64's published first outputs for seeds 0 and 1, 0xE220A8397B1DCDAF and 0x910A2DEC89025CC1)
    assert userhash.hash_ids(np.array([0, 1, 2, -1])).tolist() == [
        16294208416658607535,
        10451216379200822465,
        10905525725756348110,
        16490336266968443936,
    ]
    assert userhash.hash_ids(pl.Series(["user_1"])).tolist() == [7282558165638202387]


def test_draws_and_folds_are_uniform_and_independent():
    hashes = userhash.hash_ids(np.arange(1, 200_001))
    draws = userhash.uniform(hashes, userhash.SALT_SAMPLE)
    fold = userhash.folds(hashes, 5)
    # each fold's share is 0.2 with SE sqrt(0.2*0.8/200000) = 0.0009: 4 SE
    assert np.all(np.abs(np.bincount(fold) / hashes.size - 0.2) < 0.0036)
    # a fold says nothing about the draw: its mean is 0.5 in every fold (SE 0.29/sqrt(40000) = 0.0014)
    for index in range(5):
        assert abs(draws[fold == index].mean() - 0.5) < 0.006
    assert np.all((draws >= 0) & (draws < 1))


def test_an_id_without_a_value_is_refused():
    with pytest.raises(DataError, match="empty values"):
        userhash.hash_ids(pl.Series([1, None, 3]))


def _experiment(n: int, seed: int):
    rng = np.random.default_rng(seed)
    treatment = rng.integers(0, 2, n)
    converted = (rng.random(n) < 0.05 + 0.03 * treatment).astype(np.int8)
    revenue = np.round(converted * rng.gamma(2.0, 50.0, n), 2)
    score = rng.normal(size=n) + converted * treatment * 0.5
    return score, treatment, converted, revenue


def test_tables_merge_by_addition_to_the_same_integers_in_any_split():
    score, treatment, converted, revenue = _experiment(30_000, 1)
    edges = binstats.quantile_edges(score[:5_000], 256)
    whole = binstats.accumulate(score, edges, treatment, converted, revenue)
    order = np.random.default_rng(2).permutation(score.size)
    pieces = [order[:7], order[7:10_000], order[10_000:]]
    parts = [binstats.accumulate(score[p], edges, treatment[p], converted[p], revenue[p]) for p in pieces]
    assert (parts[2] + parts[0] + parts[1]).equals(whole)
    assert whole.users == 30_000
    assert int(whole.sums[:, :, 1].sum()) == int(converted.sum())
    assert whole.as_float()[:, :, 2].sum() == pytest.approx(revenue.sum(), abs=1e-3)


def test_a_tiny_table_by_hand():
    score = np.array([0.9, 0.9, 0.5, 0.1])
    table = binstats.accumulate(score, np.array([0.3, 0.7]), np.array([1, 0, 1, 0]), [1, 0, 1, 1], [10.0, 0, 4, 2])
    # bins in targeting order: {0.9, 0.9}, {0.5}, {0.1}; arms (control, treated)
    assert table.sums[:, :, 0].tolist() == [[1, 1], [0, 1], [1, 0]]
    curve = binstats.binned_curve(table)
    assert curve.k.tolist() == [0, 2, 3, 4]
    assert curve.sum_t.tolist() == [0.0, 10.0, 14.0, 14.0]
    assert curve.sum_c.tolist() == [0.0, 0.0, 0.0, 2.0]
    # U(4) = (14/2 - 2/2) * 4
    assert curve.uplift_points()[-1] == pytest.approx(24.0)


def test_the_binned_curve_is_exact_at_edges_and_close_between():
    score, treatment, converted, revenue = _experiment(200_000, 3)
    edges = binstats.quantile_edges(score[:40_000])
    binned = binstats.binned_curve(binstats.accumulate(score, edges, treatment, converted, revenue))
    exact = build_curve(revenue, score, treatment, conversions=converted)
    at_edges = np.searchsorted(exact.k, binned.k)
    assert np.array_equal(exact.k[at_edges], binned.k)
    # the fixed-point grid (2^-20 per user) is all that separates them at the edges
    assert np.max(np.abs(exact.uplift_points()[at_edges] - binned.uplift_points())) < 1e-3
    assert np.allclose(exact.se_points()[at_edges], binned.se_points(), rtol=1e-6, atol=1e-6)
    se = exact.se_points()
    between = np.interp(exact.k, binned.k, binned.uplift_points())
    gap = np.abs(exact.uplift_points() - between) / np.where(se > 0, se, np.inf)
    # Between edges the exact curve is a random walk pinned at both edges (a Brownian bridge): its distance
    # from the chord is about sqrt(w/k) SE at depth k for bins of w users, so the largest gaps sit in the
    # first bins and no binning bounds the maximum; over the depths the budget reads, 99% are within 0.2 SE.
    assert np.quantile(gap, 0.99) < 0.2
    assert np.median(gap) < 0.05
    deep = exact.k > 0.05 * exact.n
    assert gap[deep].max() < 0.2


def test_the_perfect_curves_from_an_outcome_table_match_the_exact_ones():
    _, treatment, converted, revenue = _experiment(100_000, 4)
    edges = np.concatenate([[0.0], binstats.quantile_edges(revenue[revenue > 0])])
    table = binstats.accumulate(binstats.outcome_keys(revenue), edges, treatment, converted, revenue)
    uplift, qini = binstats.perfect_binned_curves(table)
    exact_uplift, exact_qini = perfect_curves(revenue, treatment)
    for binned, exact, values in (
        (uplift, exact_uplift, _sklift_uplift_values),
        (qini, exact_qini, _sklift_qini_values),
    ):
        assert _area_above_random(binned, values(binned)) == pytest.approx(
            _area_above_random(exact, values(exact)), rel=1e-5
        )


def test_tables_of_other_edges_do_not_merge():
    a = binstats.BinTable.empty(np.array([0.5]))
    with pytest.raises(DataError, match="different edges"):
        a + binstats.BinTable.empty(np.array([0.4]))


def test_the_sample_is_stratified_exact_and_order_free():
    n = 50_000
    rng = np.random.default_rng(5)
    treatment, converted = rng.integers(0, 2, n), (rng.random(n) < 0.1).astype(int)
    draws = userhash.uniform(userhash.hash_ids(np.arange(n)), userhash.SALT_SAMPLE)
    strata = stratum(treatment, converted)
    whole = SampleSketch.of(draws, strata, 5_000)
    halves = SampleSketch.of(draws[n // 3 :], strata[n // 3 :], 5_000) + SampleSketch.of(
        draws[: n // 3], strata[: n // 3], 5_000
    )
    assert np.array_equal(whole.thresholds(5_000), halves.thresholds(5_000))
    chosen = in_sample(draws, strata, whole.thresholds(5_000))
    assert chosen.sum() == 5_000
    counts = np.bincount(strata, minlength=4)
    taken = np.bincount(strata[chosen], minlength=4)
    assert np.all(np.abs(taken - 5_000 * counts / n) <= 1)
