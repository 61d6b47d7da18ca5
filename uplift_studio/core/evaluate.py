"""Observed evaluation of a ranking on a randomized experiment: uplift and Qini curves, intervals,
coefficients, deciles and off-policy values (design section 3).

Every figure comes from actual outcomes of out-of-sample users. Users with equal scores form one tie
group and curves have points only at tie-group boundaries (linearly interpolated between them), so a
ranking never gains from the order of equal scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from uplift_studio.core.errors import DataError

Z95 = 1.959963984540054
"""Two-sided 95% normal quantile used for every interval (``U +- Z95 * SE``)."""

_Depth = float | npt.NDArray[np.float64]


# ---------------------------------------------------------------------------------------------------------
# Validation


def _as_float_array(name: str, values: npt.ArrayLike, fix: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise DataError(f"{name} must be one-dimensional (one value per user); got shape {array.shape}.")
    finite = np.isfinite(array)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise DataError(
            f"{name} has {bad.size} non-finite value(s) (first at row {bad[0]}: {array[bad[0]].item()}); {fix}."
        )
    return array


def _as_binary(name: str, values: npt.ArrayLike, fix: str) -> np.ndarray:
    """Return ``values`` as a bool/int8 array of 0/1 without copying bool or int8 input."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise DataError(f"{name} must be one-dimensional (one value per user); got shape {array.shape}.")
    if array.dtype == np.bool_ or array.size == 0:
        return array.astype(np.bool_, copy=False)
    if array.dtype.kind in "iu":
        # min/max are two cheap reductions; a full (a != 0) & (a != 1) mask would cost more memory
        if array.min() >= 0 and array.max() <= 1:
            return array.astype(np.int8, copy=False)
    elif array.dtype.kind == "f":
        if np.all((array == 0) | (array == 1)):
            return array.astype(np.int8)
    else:
        raise DataError(f"{name} must be numeric 0/1 or bool; got dtype {array.dtype}. {fix}.")
    bad = np.flatnonzero((array != 0) & (array != 1))
    raise DataError(
        f"{name} must be 0/1; found {bad.size} other value(s) (first at row {bad[0]}: {array[bad[0]].item()!r}). {fix}."
    )


def _check_lengths(n: int, **arrays: np.ndarray | None) -> None:
    for name, array in arrays.items():
        if array is not None and array.shape[0] != n:
            raise DataError(
                f"{name} has {array.shape[0]} values but outcome has {n}; pass one value per user, aligned row by row."
            )


def _check_both_arms(n_treated: int, n: int) -> None:
    if n == 0:
        raise DataError("no users to evaluate; pass at least one treated and one control user.")
    if n_treated == 0 or n_treated == n:
        missing = "treated (1)" if n_treated == 0 else "control (0)"
        raise DataError(
            f"treatment has no {missing} users among the {n} given; an uplift needs both arms of the experiment."
        )


# ---------------------------------------------------------------------------------------------------------
# The curve


@dataclass(frozen=True)
class CurvePoint:
    """The uplift curve read at some depths (scalars for a scalar depth, else arrays)."""

    depth: _Depth
    uplift: _Depth
    se: _Depth
    incremental_conversions: _Depth | None

    @property
    def ci_low(self) -> _Depth:
        return self.uplift - Z95 * self.se

    @property
    def ci_high(self) -> _Depth:
        return self.uplift + Z95 * self.se


@dataclass(frozen=True, eq=False)
class Curve:
    """Cumulative statistics of the evaluation users sorted by score descending, at tie-group boundaries.

    All arrays have length ``m + 1`` (``m`` tie groups) and start with a 0 point: ``k[0] = 0`` and
    ``k[-1] = n``. Entry ``j`` sums the users of the first ``j`` tie groups. ``conv_t``/``conv_c`` are
    None when no conversions were given; ``cum_cost`` is None when costs are uniform (the ranking is then
    by score; with per-user costs it is by score per unit of cost). Arrays are read-only; the treated and
    control sums may be the real and imaginary parts of one complex array (strided views).
    """

    k: np.ndarray
    n_t: np.ndarray
    n_c: np.ndarray
    sum_t: np.ndarray
    sum_c: np.ndarray
    sumsq_t: np.ndarray
    sumsq_c: np.ndarray
    conv_t: np.ndarray | None = None
    conv_c: np.ndarray | None = None
    cum_cost: np.ndarray | None = None

    @property
    def n(self) -> int:
        """Number of evaluation users."""
        return int(self.k[-1])

    @property
    def total_uplift(self) -> float:
        """The observed total effect ``(mean_T - mean_C) * n``: where every uplift curve ends."""
        last = np.array([self.k.size - 1])
        return float(_uplift(self.k[last], self.n_t[last], self.n_c[last], self.sum_t[last], self.sum_c[last])[0])

    # -- full curves (O(m): for plots and areas, not for the slider) -------------------------------------

    def uplift_points(self) -> np.ndarray:
        """``U(k) = (R_T/N_T - R_C/N_C) * k`` at every boundary, 0 while ``N_T`` or ``N_C`` is 0."""
        return _uplift(self.k, self.n_t, self.n_c, self.sum_t, self.sum_c)

    def qini_points(self) -> np.ndarray:
        """``Q(k) = R_T - R_C * N_T / N_C`` at every boundary, 0 while ``N_C`` is 0."""
        ratio = np.divide(self.n_t, self.n_c, out=np.zeros(self.k.shape), where=self.n_c > 0)
        return np.where(self.n_c > 0, self.sum_t - self.sum_c * ratio, 0.0)

    def se_points(self) -> np.ndarray:
        """Standard error of ``U(k)`` at every boundary: ``k * sqrt(var_T/N_T + var_C/N_C)``.

        Variances are sample variances (ddof=1) of the outcome among the top-k users of each arm, from the
        cumulative sums and squares. An arm with a single user in the top k carries no spread information,
        so its variance is taken as that arm's variance over all n users (a plug-in that keeps the interval
        finite); the SE is 0 while an arm is empty, where ``U`` is 0 by convention rather than estimated.
        """
        return _uplift_se(self, np.arange(self.k.size))

    def conversion_points(self) -> np.ndarray | None:
        """Incremental conversions ``(C_T/N_T - C_C/N_C) * k`` at every boundary, or None."""
        if self.conv_t is None or self.conv_c is None:
            return None
        return _uplift(self.k, self.n_t, self.n_c, self.conv_t, self.conv_c)

    # -- reads at any depth (binary search + a few array reads: the budget slider's hot path) ------------

    def at(self, depth: npt.ArrayLike) -> CurvePoint:
        """``U``, its SE and incremental conversions at real depths in ``[0, n]`` (scalar or array).

        Values are linearly interpolated between the two tie-group boundaries around each depth.
        """
        depths = np.asarray(depth, dtype=np.float64)
        if not np.all(np.isfinite(depths)) or np.any(depths < 0) or np.any(depths > self.n):
            raise DataError(
                f"depth must be a number of users between 0 and n = {self.n}; got {depth!r}. "
                "Use a share of the users times n."
            )
        return self._at(depths)

    def _at(self, depths: np.ndarray) -> CurvePoint:
        scalar = depths.ndim == 0
        d = np.atleast_1d(depths)
        upper = np.clip(_boundary_after(self.k, d), 1, self.k.size - 1)
        ends = np.stack([upper - 1, upper])
        k_ends = self.k[ends]
        weight = (d - k_ends[0]) / (k_ends[1] - k_ends[0])

        def interpolate(values: np.ndarray) -> np.ndarray:
            return values[0] + weight * (values[1] - values[0])

        n_t, n_c = self.n_t[ends], self.n_c[ends]
        uplift = interpolate(_uplift(k_ends, n_t, n_c, self.sum_t[ends], self.sum_c[ends]))
        se = interpolate(_uplift_se(self, ends))
        conversions = None
        if self.conv_t is not None and self.conv_c is not None:
            conversions = interpolate(_uplift(k_ends, n_t, n_c, self.conv_t[ends], self.conv_c[ends]))
        if scalar:
            return CurvePoint(
                float(d[0]),
                float(uplift[0]),
                float(se[0]),
                None if conversions is None else float(conversions[0]),
            )
        return CurvePoint(d, uplift, se, conversions)

    def interpolate(self, values: np.ndarray, depth: npt.ArrayLike) -> _Depth:
        """Any array aligned with the boundaries (one value per entry of ``k``) read at real depths.

        Linear between boundaries, by binary search: ``np.interp(depth, curve.k, values)`` gives the same
        numbers but first casts all of ``k`` to float, an O(n) copy on every call.
        """
        depths = np.asarray(depth, dtype=np.float64)
        result = _interpolate_at_depths(self.k, np.asarray(values), np.atleast_1d(depths))
        return float(result[0]) if depths.ndim == 0 else result

    def at_cost(self, spend: npt.ArrayLike) -> _Depth:
        """Depth (evaluation users) at which the cumulative evaluation cost reaches ``spend``.

        Linear between boundaries (a tie group's cost is spread evenly over its users); ``n`` beyond the
        cost of everyone.
        """
        if self.cum_cost is None:
            raise DataError(
                "this curve has uniform costs (no per-user cost was given to build_curve); the depth for a "
                "spend is spend / cost_per_contact."
            )
        spends = np.asarray(spend, dtype=np.float64)
        if not np.all(np.isfinite(spends)) or np.any(spends < 0):
            raise DataError(f"spend must be a finite amount >= 0; got {spend!r}.")
        depth = self._depth_at_cost(np.atleast_1d(spends))
        return float(depth[0]) if spends.ndim == 0 else depth

    def _depth_at_cost(self, spends: np.ndarray) -> np.ndarray:
        assert self.cum_cost is not None
        return _interpolate(spends, self.cum_cost, self.k)

    def _cost_at_depth(self, depths: np.ndarray) -> np.ndarray:
        assert self.cum_cost is not None
        return _interpolate_at_depths(self.k, self.cum_cost, depths)


def _interpolate_at_depths(k: np.ndarray, values: np.ndarray, depths: np.ndarray) -> np.ndarray:
    upper = np.clip(_boundary_after(k, depths), 1, k.size - 1)
    k0, k1 = k[upper - 1], k[upper]
    return values[upper - 1] + (depths - k0) / (k1 - k0) * (values[upper] - values[upper - 1])


def _boundary_after(k: np.ndarray, depths: np.ndarray, side: str = "left") -> np.ndarray:
    """``np.searchsorted(k, depths, side)`` for real depths, searching with integers.

    Searching the int64 ``k`` with float depths would first cast all of ``k`` to float: an O(n) copy on
    the slider's path. For integer ``k``, ``k >= d`` iff ``k >= ceil(d)`` and ``k > d`` iff
    ``k > floor(d)``.
    """
    if side == "left":
        return np.searchsorted(k, np.ceil(depths).astype(np.int64), side="left")
    return np.searchsorted(k, np.floor(depths).astype(np.int64), side="right")


def _interpolate(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """``np.interp`` for increasing float64 ``xp`` by binary search only (np.interp casts ``fp`` to
    float64 first, an O(n) copy for the int64 depths); clamps outside ``[xp[0], xp[-1]]``."""
    upper = np.clip(np.searchsorted(xp, x, side="left"), 1, xp.size - 1)
    x0, x1 = xp[upper - 1], xp[upper]
    weight = np.clip((x - x0) / (x1 - x0), 0.0, 1.0)
    return fp[upper - 1] + weight * (fp[upper] - fp[upper - 1])


def _uplift(k, n_t, n_c, sum_t, sum_c) -> np.ndarray:
    both = (n_t > 0) & (n_c > 0)
    mean_t = np.divide(sum_t, n_t, out=np.zeros(np.shape(k)), where=both)
    mean_c = np.divide(sum_c, n_c, out=np.zeros(np.shape(k)), where=both)
    return (mean_t - mean_c) * k


def _arm_variance(count: np.ndarray, total: np.ndarray, total_sq: np.ndarray, fallback: float) -> np.ndarray:
    variance = np.full(np.shape(count), fallback)
    enough = count >= 2
    np.divide(total_sq - total * total / np.maximum(count, 1), count - 1.0, out=variance, where=enough)
    # rounding in sumsq - sum^2/n can dip a hair below 0 for near-constant outcomes
    return np.maximum(variance, 0.0)


def _full_arm_variances(curve: Curve) -> tuple[float, float]:
    last = np.array([curve.k.size - 1])
    var_t = _arm_variance(curve.n_t[last], curve.sum_t[last], curve.sumsq_t[last], np.nan)[0]
    var_c = _arm_variance(curve.n_c[last], curve.sum_c[last], curve.sumsq_c[last], np.nan)[0]
    return float(var_t), float(var_c)


def _uplift_se(curve: Curve, index: np.ndarray) -> np.ndarray:
    full_t, full_c = _full_arm_variances(curve)
    n_t, n_c = curve.n_t[index], curve.n_c[index]
    var_t = _arm_variance(n_t, curve.sum_t[index], curve.sumsq_t[index], full_t)
    var_c = _arm_variance(n_c, curve.sum_c[index], curve.sumsq_c[index], full_c)
    both = (n_t > 0) & (n_c > 0)
    spread = np.zeros(np.shape(index))
    np.divide(var_t, n_t, out=spread, where=both)
    spread += np.divide(var_c, n_c, out=np.zeros(np.shape(index)), where=both)
    return curve.k[index] * np.sqrt(spread)


def _readonly(*arrays: np.ndarray | None) -> None:
    for array in arrays:
        if array is not None:
            array.flags.writeable = False


def _sorted_pairs(
    score: np.ndarray, costs: np.ndarray | None, bits: tuple[np.ndarray, ...] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """Users in targeting order as complex pairs ``(-key, row * 2**len(bits) + bits)``.

    The key is the score, or the score per unit of cost. Sorting the pairs orders by key with ties in row
    order, which is exactly a stable argsort on ``-key`` (the pairs are distinct, so any sort gives this one
    order), and it is a direct sort: faster than an argsort's indirect comparisons, and it leaves the sorted
    keys in place for tie detection. The low bits (0/1 arrays) ride along, so they need no random-access
    gather afterwards. Rows and bits are exact in the float64 imaginary part for up to 2**50 users.

    Returns ``(buffer, tags)``: the pairs are ``buffer[1:]`` (``buffer[0]`` is spare, so the caller can
    reuse the buffer for cumulative sums with a leading 0), and ``tags`` is the int64 buffer the tags were
    built in, handed back so the caller can reuse memory that is already mapped.
    """
    n = score.shape[0]
    buffer = np.empty(n + 1, dtype=np.complex128)
    pairs = buffer[1:]
    if costs is None:
        np.negative(score, out=pairs.real)
    else:
        np.divide(score, costs, out=pairs.real)
        if not np.all(np.isfinite(pairs.real)):
            raise DataError("score / cost overflows for some users; rescale the scores or the costs.")
        np.negative(pairs.real, out=pairs.real)
    tags = np.arange(n, dtype=np.int64)
    np.left_shift(tags, len(bits), out=tags)
    for position, bit in enumerate(bits):
        np.bitwise_or(tags, np.left_shift(bit, position, dtype=np.int8) if position else bit, out=tags)
    pairs.imag = tags
    pairs.sort()
    return buffer, tags


class _BoundarySums:
    """Cumulative sums over the users in targeting order, read at the tie-group boundaries ``k``.

    Buffers are ``n + 1`` long with a leading 0, so the sums at the boundaries are one take of ``k``. When
    every score is distinct (``k`` is 0..n) the buffer itself is the result and no take is needed (the
    spare buffer then becomes the first complex result); otherwise the spare buffer is the scratch that
    serves every statistic in turn.
    """

    def __init__(self, k: np.ndarray, n: int, spare: np.ndarray) -> None:
        # spare: an (n+1)-long complex buffer whose pages are already mapped; fresh large arrays cost
        # page faults that are a sizeable share of the whole build at 1e7 users
        self.k = k
        self.n = n
        self.all_distinct = k.size == n + 1
        self._scratch = None if self.all_distinct else spare
        self._spare: np.ndarray | None = spare if self.all_distinct else None

    def buffer(self, dtype: type) -> np.ndarray:
        """An (n+1)-long buffer with buffer[0] = 0; the caller fills buffer[1:]."""
        if self._scratch is not None:
            buffer = self._scratch.view(dtype)[: self.n + 1]
        elif dtype is np.complex128 and self._spare is not None:
            buffer, self._spare = self._spare, None
        else:
            buffer = np.empty(self.n + 1, dtype=dtype)
        buffer[0] = 0
        return buffer

    def read(self, buffer: np.ndarray) -> np.ndarray:
        np.cumsum(buffer[1:], out=buffer[1:])
        return buffer if self.all_distinct else buffer[self.k]


def _split_by_arm(values: np.ndarray, treated: np.ndarray, out: np.ndarray) -> None:
    """Write ``values`` of treated users to ``out.real`` and of control users to ``out.imag`` (others 0).

    The two arms share one complex array because a float cumsum is bound by the latency of each addition,
    and a complex cumsum runs the two arms' additions side by side.
    """
    np.multiply(values, treated, out=out.real)
    # y - y*t is exact (y or 0), so the control part needs no second mask
    np.subtract(values, out.real, out=out.imag)


def build_curve(
    outcome: npt.ArrayLike,
    score: npt.ArrayLike,
    treatment: npt.ArrayLike,
    *,
    conversions: npt.ArrayLike | None = None,
    cost: npt.ArrayLike | None = None,
) -> Curve:
    """Build the :class:`Curve` of ``score`` on the experiment (``outcome``, ``treatment`` 0/1).

    Users are ranked by score descending, or by score per unit of cost when per-user ``cost`` (> 0) is
    given; ties keep row order. ``conversions`` (0/1) adds incremental conversions. One sort (see
    ``_sorted_pairs``), one gather of the outcome (and of the cost), and cumulative sums read at the
    tie-group boundaries.
    """
    outcome = _as_float_array("outcome", outcome, "fill or drop those users")
    n = outcome.shape[0]
    score = _as_float_array("score", score, "drop those users or give them a score")
    treatment = _as_binary("treatment", treatment, "map the treated label to 1 and the control label to 0")
    converted = None
    if conversions is not None:
        converted = _as_binary("conversions", conversions, "pass converted as 0/1 (or bool)")
    costs = None
    if cost is not None:
        costs = _as_float_array("cost", cost, "give every user a contact cost > 0")
    _check_lengths(n, score=score, treatment=treatment, conversions=converted, cost=costs)
    if costs is not None and np.any(costs <= 0):
        bad = np.flatnonzero(costs <= 0)
        raise DataError(
            f"cost must be > 0 for every user; found {bad.size} value(s) <= 0 (first at row {bad[0]}: "
            f"{costs[bad[0]].item()}). Give free contacts a small positive cost or leave them out."
        )
    _check_both_arms(int(np.count_nonzero(treatment)), n)

    buffer, tags = _sorted_pairs(score, costs, (treatment,) if converted is None else (treatment, converted))
    pairs = buffer[1:]
    # a boundary closes each tie group; flatnonzero of the mask gives k = [0, ends..., n] in one pass
    boundary = np.empty(n + 1, dtype=np.bool_)
    boundary[0] = boundary[n] = True
    np.not_equal(pairs.real[1:], pairs.real[:-1], out=boundary[1:n])
    k = np.flatnonzero(boundary)
    del boundary
    np.copyto(tags, pairs.imag, casting="unsafe")
    del pairs
    sums = _BoundarySums(k, n, buffer)

    counts = sums.buffer(np.int64)
    np.bitwise_and(tags, 1, out=counts[1:])
    treated = counts[1:].astype(np.bool_)
    n_t = sums.read(counts)
    del counts

    conv_t = conv_c = None
    if converted is not None:
        counts = sums.buffer(np.int64)
        np.right_shift(tags, 1, out=counts[1:])
        np.bitwise_and(counts[1:], 1, out=counts[1:])
        conversions_all = sums.read(counts)
        counts = sums.buffer(np.int64)
        np.right_shift(tags, 1, out=counts[1:])
        np.bitwise_and(counts[1:], tags, out=counts[1:])
        np.bitwise_and(counts[1:], 1, out=counts[1:])
        conversions_treated = sums.read(counts)
        conv_c = (conversions_all - conversions_treated).astype(np.float64)
        conv_t = conversions_treated.astype(np.float64)
        del counts, conversions_all, conversions_treated
    rows = np.right_shift(tags, 2 if converted is not None else 1, out=tags)

    cum_cost = None
    if costs is not None:
        spend = sums.buffer(np.float64)
        # mode="clip" skips take's bounds-check buffering; the rows are valid by construction
        np.take(costs, rows, out=spend[1:], mode="clip")
        cum_cost = sums.read(spend)
        del spend

    values_buffer = np.empty(n + 1, dtype=np.float64)
    values = values_buffer[1:]
    np.take(outcome, rows, out=values, mode="clip")
    del rows, tags
    squares = sums.buffer(np.complex128)
    _split_by_arm(values, treated, squares[1:])
    np.square(squares.real, out=squares.real)
    np.square(squares.imag, out=squares.imag)
    squares = sums.read(squares)
    totals = sums.buffer(np.complex128)
    _split_by_arm(values, treated, totals[1:])
    del values, treated
    totals = sums.read(totals)
    if sums.all_distinct:
        # the outcomes are summed: their buffer has exactly the size of n_c, so n_c costs no new memory
        n_c = np.subtract(k, n_t, out=values_buffer.view(np.int64))
    else:
        n_c = k - n_t
    del values_buffer
    sum_t, sum_c, sumsq_t, sumsq_c = totals.real, totals.imag, squares.real, squares.imag
    del sums, totals, squares

    _readonly(k, n_t, n_c, sum_t, sum_c, sumsq_t, sumsq_c, conv_t, conv_c, cum_cost)
    return Curve(k, n_t, n_c, sum_t, sum_c, sumsq_t, sumsq_c, conv_t, conv_c, cum_cost)


# ---------------------------------------------------------------------------------------------------------
# Bootstrap reference


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """Stratified bootstrap of ``U`` at fixed depths: ``replicates`` is ``n_boot x len(depths)``."""

    depths: np.ndarray
    uplift: np.ndarray
    replicates: np.ndarray

    @property
    def se(self) -> np.ndarray:
        return self.replicates.std(axis=0, ddof=1)


def bootstrap_uplift(
    outcome: npt.ArrayLike,
    score: npt.ArrayLike,
    treatment: npt.ArrayLike,
    depths: npt.ArrayLike,
    *,
    n_boot: int = 200,
    seed: int = 0,
) -> BootstrapResult:
    """``U`` at ``depths`` (users) on ``n_boot`` stratified resamples: the reference for the analytic SE.

    Treated and control users are resampled separately with replacement, so each replicate keeps the
    experiment's arm sizes (and n, so a depth means the same share in every replicate), as the analytic SE
    conditions on them. Each replicate is a full curve (a duplicated user ties with itself).
    """
    outcome = _as_float_array("outcome", outcome, "fill or drop those users")
    score = _as_float_array("score", score, "drop those users or give them a score")
    treatment = _as_binary("treatment", treatment, "map the treated label to 1 and the control label to 0")
    _check_lengths(outcome.shape[0], score=score, treatment=treatment)
    if n_boot < 2:
        raise DataError(f"n_boot must be at least 2 to estimate a spread; got {n_boot}.")
    curve = build_curve(outcome, score, treatment)
    points = np.asarray(depths, dtype=np.float64)
    uplift = np.atleast_1d(curve.at(points).uplift)
    treated_rows = np.flatnonzero(treatment)
    control_rows = np.flatnonzero(treatment == 0)
    rng = np.random.default_rng(seed)
    replicates = np.empty((n_boot, uplift.size))
    for replicate in range(n_boot):
        rows = np.concatenate(
            [
                treated_rows[rng.integers(0, treated_rows.size, treated_rows.size)],
                control_rows[rng.integers(0, control_rows.size, control_rows.size)],
            ]
        )
        resampled = build_curve(outcome[rows], score[rows], treatment[rows])
        replicates[replicate] = resampled._at(np.atleast_1d(points)).uplift
    return BootstrapResult(np.atleast_1d(points), uplift, replicates)


# ---------------------------------------------------------------------------------------------------------
# Coefficients (scikit-uplift's normalisation)


def _area(k: np.ndarray, values: np.ndarray) -> float:
    """Trapezoid area under the points ``(k, values)`` (what sklearn.metrics.auc computes)."""
    return float(np.sum(np.diff(k) * (values[1:] + values[:-1])) / 2.0)


def _sklift_uplift_values(curve: Curve) -> np.ndarray:
    # scikit-uplift takes an empty arm's mean as 0 (so U = mean_T * k while N_C = 0), not U = 0
    mean_t = np.divide(curve.sum_t, curve.n_t, out=np.zeros(curve.k.shape), where=curve.n_t > 0)
    mean_c = np.divide(curve.sum_c, curve.n_c, out=np.zeros(curve.k.shape), where=curve.n_c > 0)
    return (mean_t - mean_c) * curve.k


def _sklift_qini_values(curve: Curve) -> np.ndarray:
    # scikit-uplift takes N_T / N_C as 0 while N_C = 0 (so Q = R_T there)
    ratio = np.divide(curve.n_t, curve.n_c, out=np.zeros(curve.k.shape), where=curve.n_c > 0)
    return curve.sum_t - curve.sum_c * ratio


def _area_above_random(curve: Curve, values: np.ndarray) -> float:
    """Area between the curve and the random line from (0, 0) to (n, value at n)."""
    return _area(curve.k, values) - 0.5 * curve.n * float(values[-1])


def _is_binary(values: np.ndarray) -> bool:
    return bool(np.all((values == 0) | (values == 1)))


def _perfect_uplift_score(outcome: np.ndarray, treatment: np.ndarray) -> np.ndarray:
    """scikit-uplift's perfect uplift ranking, extended from 0/1 to any outcome >= 0.

    For a 0/1 outcome it is exactly sklift's ``2 * (y == t) + (y if CR > TN else t)``: treated responders,
    then control non-responders, then control responders before treated non-responders when control
    responders (CR) outnumber treated non-responders (TN), else the reverse. For other outcomes a
    responder is a user with outcome > 0, and within a group treated responders come by outcome
    descending and control responders by outcome ascending (the order that helps the curve most).
    """
    treated = treatment.astype(bool)
    responder = outcome > 0
    control_responders = int(np.count_nonzero(responder & ~treated))
    treated_non_responders = int(np.count_nonzero(~responder & treated))
    group = np.where(treated, np.where(responder, 3.0, 0.0), np.where(responder, 0.0, 2.0))
    if control_responders > treated_non_responders:
        group[responder & ~treated] = 1.0
    else:
        group[~responder & treated] = 1.0
    if _is_binary(outcome):
        return group
    # groups are spaced wider than any within-group offset, so the offset only orders inside a group
    spacing = 2.0 * float(np.max(np.abs(outcome))) + 2.0
    within = np.where(treated, outcome, -outcome)
    return group * spacing + within


def perfect_uplift_curve(outcome: npt.ArrayLike, treatment: npt.ArrayLike) -> Curve:
    """The curve of the best possible ranking of the observed data (see ``_perfect_uplift_score``)."""
    outcome = _as_float_array("outcome", outcome, "fill or drop those users")
    treatment = _as_binary("treatment", treatment, "map the treated label to 1 and the control label to 0")
    _check_lengths(outcome.shape[0], treatment=treatment)
    return build_curve(outcome, _perfect_uplift_score(outcome, treatment), treatment)


def perfect_qini_curve(outcome: npt.ArrayLike, treatment: npt.ArrayLike) -> Curve:
    """The curve of scikit-uplift's perfect Qini ranking with negative effects: score ``y * (2t - 1)``.

    Treated users with the largest outcomes first, control users with the largest outcomes last.
    """
    outcome = _as_float_array("outcome", outcome, "fill or drop those users")
    treatment = _as_binary("treatment", treatment, "map the treated label to 1 and the control label to 0")
    _check_lengths(outcome.shape[0], treatment=treatment)
    return build_curve(outcome, outcome * (2.0 * treatment - 1.0), treatment)


def uplift_area(outcome: npt.ArrayLike, score: npt.ArrayLike, treatment: npt.ArrayLike) -> float:
    """Area between the uplift curve and the random line (outcome x users): ``uplift_auc_score``'s numerator.

    Trapezoids over the tie-group boundaries, with scikit-uplift's curve (an empty arm's mean is 0).
    """
    curve = build_curve(outcome, score, treatment)
    return _area_above_random(curve, _sklift_uplift_values(curve))


def qini_area(outcome: npt.ArrayLike, score: npt.ArrayLike, treatment: npt.ArrayLike) -> float:
    """Area between the Qini curve and the random line (outcome x users): ``qini_auc_score``'s numerator.

    Trapezoids over the tie-group boundaries, with scikit-uplift's curve (``N_T / N_C`` is 0 while
    ``N_C`` is 0, so ``Q = R_T`` there).
    """
    curve = build_curve(outcome, score, treatment)
    return _area_above_random(curve, _sklift_qini_values(curve))


def _ratio(actual: float, perfect: float) -> float:
    # a perfect ranking no better than random (e.g. a constant outcome) leaves the coefficient undefined
    return actual / perfect if perfect != 0 else float("nan")


def uplift_auc_score(outcome: npt.ArrayLike, score: npt.ArrayLike, treatment: npt.ArrayLike) -> float:
    """Normalised area under the uplift curve, as scikit-uplift's ``uplift_auc_score``.

    ``(A(score) - A_random) / (A(perfect) - A_random)`` where ``A`` is the trapezoid area under the uplift
    curve ``U(k) = (R_T/N_T - R_C/N_C) * k`` over the tie-group boundaries (k in users, from 0 to n),
    ``A_random = n * U(n) / 2`` is the area under the straight line from (0, 0) to (n, U(n)), and the
    perfect curve ranks the observed users as sklift's ``perfect_uplift_curve`` does (see
    ``_perfect_uplift_score``; identical for a 0/1 outcome, extended to revenue). As in sklift, an empty
    arm's mean is taken as 0 in these curves (``Curve.uplift_points`` takes ``U = 0`` instead; the two
    differ only over a top prefix that lacks one arm). 1 is the perfect ranking, about 0 a random one; NaN
    when the perfect ranking is no better than random.
    """
    outcome = _as_float_array("outcome", outcome, "fill or drop those users")
    treatment = _as_binary("treatment", treatment, "map the treated label to 1 and the control label to 0")
    actual = build_curve(outcome, score, treatment)
    perfect = perfect_uplift_curve(outcome, treatment)
    return _ratio(
        _area_above_random(actual, _sklift_uplift_values(actual)),
        _area_above_random(perfect, _sklift_uplift_values(perfect)),
    )


def qini_auc_score(
    outcome: npt.ArrayLike, score: npt.ArrayLike, treatment: npt.ArrayLike, *, negative_effect: bool = True
) -> float:
    """Qini coefficient, as scikit-uplift's ``qini_auc_score``.

    ``(A(score) - A_random) / (A(perfect) - A_random)`` where ``A`` is the trapezoid area under the Qini
    curve ``Q(k) = R_T - R_C * N_T / N_C`` over the tie-group boundaries (k in users, from 0 to n) and
    ``A_random = n * Q(n) / 2``. With ``negative_effect=True`` (the default) the perfect curve is that of
    the score ``y * (2t - 1)`` (treated users with the largest outcomes first, control users with the
    largest outcomes last); with ``False`` (0/1 outcome only) it is sklift's three points
    ``(0, 0), (Q(n), Q(n)), (n, Q(n))``: every incremental responder first, nobody the contact puts off.
    As in sklift, ``N_T / N_C`` is taken as 0 while ``N_C`` is 0 (``Curve.qini_points`` takes ``Q = 0``
    there). 1 is the perfect ranking, about 0 a random one; NaN when the perfect ranking is no better than
    random.
    """
    outcome = _as_float_array("outcome", outcome, "fill or drop those users")
    treatment = _as_binary("treatment", treatment, "map the treated label to 1 and the control label to 0")
    actual = build_curve(outcome, score, treatment)
    actual_area = _area_above_random(actual, _sklift_qini_values(actual))
    if negative_effect:
        perfect = perfect_qini_curve(outcome, treatment)
        return _ratio(actual_area, _area_above_random(perfect, _sklift_qini_values(perfect)))
    if not _is_binary(outcome):
        raise DataError(
            "qini_auc_score(negative_effect=False) counts incremental responders, so it needs a 0/1 "
            "outcome; use negative_effect=True for revenue."
        )
    n = actual.n
    total = float(_sklift_qini_values(actual)[-1])
    perfect_area = _area(np.array([0.0, total, n]), np.array([0.0, total, total])) - 0.5 * n * total
    return _ratio(actual_area, perfect_area)


# ---------------------------------------------------------------------------------------------------------
# Deciles


def decile_table(curve: Curve, n_bins: int = 10) -> pl.DataFrame:
    """Observed uplift per score bin (deciles by default), from the curve's cumulative sums.

    Bin edges sit at depths ``j * n / n_bins``; the cumulative sums are linearly interpolated there, so a
    tie group cut by an edge is shared between the two bins in proportion (its expected split under a
    random order within the tie), and counts can be fractional. Per bin: treated/control counts and mean
    outcomes, ``uplift = mean_T - mean_C`` with ``se = sqrt(var_T/n_T + var_C/n_C)`` (sample variances,
    NaN below 2 users in an arm) and its 95% interval, ``incremental_outcome = uplift * users``, and the
    cumulative capture: the running sum of ``incremental_outcome`` over its total across bins.
    """
    if not isinstance(n_bins, int | np.integer) or n_bins < 1 or n_bins > curve.n:
        raise DataError(f"n_bins must be a whole number between 1 and n = {curve.n}; got {n_bins!r}.")
    edges = np.linspace(0.0, curve.n, n_bins + 1)

    def per_bin(cumulative: np.ndarray) -> np.ndarray:
        return np.diff(np.interp(edges, curve.k, cumulative))

    n_t, n_c = per_bin(curve.n_t), per_bin(curve.n_c)
    sum_t, sum_c = per_bin(curve.sum_t), per_bin(curve.sum_c)
    sumsq_t, sumsq_c = per_bin(curve.sumsq_t), per_bin(curve.sumsq_c)
    # bins are few, so plain divisions with NaN where an arm is empty are clearer than masked ones
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_t = np.where(n_t > 0, sum_t / n_t, np.nan)
        mean_c = np.where(n_c > 0, sum_c / n_c, np.nan)
        var_t = np.where(n_t >= 2, np.maximum(sumsq_t - sum_t * mean_t, 0.0) / (n_t - 1), np.nan)
        var_c = np.where(n_c >= 2, np.maximum(sumsq_c - sum_c * mean_c, 0.0) / (n_c - 1), np.nan)
        uplift = mean_t - mean_c
        se = np.sqrt(var_t / n_t + var_c / n_c)
    users = np.diff(edges)
    incremental = uplift * users
    cumulative = np.cumsum(incremental)
    total = cumulative[-1]
    capture = cumulative / total if np.isfinite(total) and total != 0 else np.full(n_bins, np.nan)
    return pl.DataFrame(
        {
            "bin": np.arange(1, n_bins + 1),
            "users": users,
            "n_treated": n_t,
            "n_control": n_c,
            "mean_treated": mean_t,
            "mean_control": mean_c,
            "uplift": uplift,
            "uplift_se": se,
            "uplift_ci_low": uplift - Z95 * se,
            "uplift_ci_high": uplift + Z95 * se,
            "incremental_outcome": incremental,
            "cumulative_incremental_outcome": cumulative,
            "cumulative_capture": capture,
        },
        nan_to_null=True,
    )


# ---------------------------------------------------------------------------------------------------------
# Off-policy value of a contact rule


@dataclass(frozen=True)
class PolicyValue:
    """Estimated incremental outcome of contacting the users of a contact rule, with its 95% interval."""

    estimate: float
    se: float
    contacts: int
    method: str

    @property
    def ci_low(self) -> float:
        return self.estimate - Z95 * self.se

    @property
    def ci_high(self) -> float:
        return self.estimate + Z95 * self.se


def _policy_inputs(
    outcome: npt.ArrayLike, treatment: npt.ArrayLike, contact: npt.ArrayLike, propensity: npt.ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | float]:
    outcome = _as_float_array("outcome", outcome, "fill or drop those users")
    treatment = _as_binary("treatment", treatment, "map the treated label to 1 and the control label to 0")
    contact = _as_binary("contact", contact, "pass the contact rule as a boolean mask, one entry per user")
    _check_lengths(outcome.shape[0], treatment=treatment, contact=contact)
    n_treated = int(np.count_nonzero(treatment))
    _check_both_arms(n_treated, outcome.shape[0])
    if propensity is None:
        return outcome, treatment.astype(np.float64), contact.astype(bool), n_treated / outcome.shape[0]
    share = np.asarray(propensity, dtype=np.float64)
    if share.ndim not in (0, 1) or (share.ndim == 1 and share.shape[0] != outcome.shape[0]):
        raise DataError(
            f"propensity must be one number or one value per user ({outcome.shape[0]}); got shape {share.shape}."
        )
    if not np.all((share > 0) & (share < 1)):
        raise DataError(
            "propensity (the probability of being treated) must be strictly between 0 and 1 for every user; "
            "users who could only be in one arm carry no information on the effect, so leave them out."
        )
    return outcome, treatment.astype(np.float64), contact.astype(bool), share if share.ndim else float(share)


def _policy_value(per_user_effect: np.ndarray, contact: np.ndarray, method: str) -> PolicyValue:
    # V = sum over the contacted of an unbiased per-user effect; assignments are independent, so its
    # variance is the sum of the per-user variances, estimated (conservatively) by s * sample variance
    contacted = per_user_effect[contact]
    contacts = contacted.size
    estimate = float(contacted.sum())
    se = float(np.sqrt(contacts * contacted.var(ddof=1))) if contacts >= 2 else float("nan")
    return PolicyValue(estimate, se, contacts, method)


def policy_value_ipw(
    outcome: npt.ArrayLike,
    treatment: npt.ArrayLike,
    contact: npt.ArrayLike,
    propensity: npt.ArrayLike | None = None,
) -> PolicyValue:
    """Incremental outcome of contacting the users in ``contact`` (a boolean mask), by inverse propensity.

    ``V = sum over contacted i of [t_i y_i / e_i - (1 - t_i) y_i / (1 - e_i)]``, the sum of the contacted
    users' treated-minus-untreated potential outcomes, with ``e`` the probability of treatment (default:
    the observed treated share, right for a randomized experiment). SE from the per-user terms' spread.
    """
    y, t, contact, e = _policy_inputs(outcome, treatment, contact, propensity)
    effect = t * y / e - (1.0 - t) * y / (1.0 - e)
    return _policy_value(effect, contact, "ipw")


def policy_value_dr(
    outcome: npt.ArrayLike,
    treatment: npt.ArrayLike,
    contact: npt.ArrayLike,
    mu_treated: npt.ArrayLike,
    mu_control: npt.ArrayLike,
    propensity: npt.ArrayLike | None = None,
) -> PolicyValue:
    """Doubly robust incremental outcome of contacting the users in ``contact`` (a boolean mask).

    ``V = sum over contacted i of [mu1_i - mu0_i + t_i (y_i - mu1_i) / e_i - (1 - t_i)(y_i - mu0_i) /
    (1 - e_i)]`` with out-of-sample predictions ``mu1``/``mu0`` of the outcome with and without contact
    (the AIPW estimator: unbiased if either the models or the propensity are right, and tighter than IPW
    when the models are good).
    """
    y, t, contact, e = _policy_inputs(outcome, treatment, contact, propensity)
    mu1 = _as_float_array("mu_treated", mu_treated, "predict the outcome with contact for every user")
    mu0 = _as_float_array("mu_control", mu_control, "predict the outcome without contact for every user")
    _check_lengths(y.shape[0], mu_treated=mu1, mu_control=mu0)
    effect = mu1 - mu0 + t * (y - mu1) / e - (1.0 - t) * (y - mu0) / (1.0 - e)
    return _policy_value(effect, contact, "dr")
