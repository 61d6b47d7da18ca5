"""The spend path: one shape for the result of every strategy (design section 8).

A path is a list of steps in targeting order; at each step it holds the cumulative contacts, spend,
observed incremental revenue and its variance (and incremental conversions, and on simulated data the
true value). It is exact at the steps and linear between them, as grf-labs' maq reads its (spend, gain,
std. error) path. A single-offer ranking's steps are its tie-group boundaries; a multi-offer allocation or
a policy rule gives other steps, and everything downstream (the budget projection, frontier, break-even,
the app, the snapshot, the CLI) reads paths through this module's three reads: at a depth, at a spend,
and over a grid. A read is a binary search and a few array reads: no sort and no pass over the users.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from uplift_studio.core.curve import Curve
from uplift_studio.core.errors import DataError
from uplift_studio.core.stats import interval

_Read = float | np.ndarray


@dataclass(frozen=True)
class PathPoint:
    """A path read at some positions (floats for a scalar read, else arrays), in evaluation units."""

    contacts: _Read
    spend: _Read
    value: _Read
    se: _Read
    conversions: _Read | None
    truth: _Read | None

    @property
    def ci_low(self) -> _Read:
        return interval(self.value, self.se)[0]

    @property
    def ci_high(self) -> _Read:
        return interval(self.value, self.se)[1]


@dataclass(frozen=True, eq=False)
class SpendPath:
    """Steps of a strategy in evaluation units (evaluation users and their cost, not the campaign's).

    ``contacts`` and ``spend`` are non-decreasing and start at 0. ``value`` is the observed incremental
    revenue of contacting everyone up to the step, ``variance`` its sampling variance; ``conversions`` the
    incremental conversions and ``truth`` the true expected incremental revenue (simulation) when known.
    ``unit_cost`` says that ``spend`` counts contacts (one cost per contact, applied when projecting).
    Between steps the value, the standard error and the rest are linear in the depth.

    ``by_spend`` says that a budget is read on the spend axis, contacts fractional within a step, rather than
    as whole contacts down the depth: needed where contacts stay flat while spend grows (an allocation's
    upgrades, which a depth cannot tell apart). Left as None, the steps decide: True iff some step adds
    spend and no contact.
    """

    strategy: str
    contacts: np.ndarray
    spend: np.ndarray
    value: np.ndarray
    variance: np.ndarray
    conversions: np.ndarray | None
    truth: np.ndarray | None
    unit_cost: bool
    by_spend: bool | None = None

    def __post_init__(self) -> None:
        for name in ("contacts", "spend", "value", "variance", "conversions", "truth"):
            array = getattr(self, name)
            if array is not None:
                if array.shape != self.contacts.shape:
                    raise DataError(f"the path's {name} has {array.shape[0]} steps, contacts {self.contacts.shape[0]}")
                array.flags.writeable = False
        if self.by_spend is None:  # once here, so that a read stays a binary search
            upgrades = (np.diff(self.contacts) == 0) & (np.diff(self.spend) > 0)
            object.__setattr__(self, "by_spend", bool(np.any(upgrades)))

    @property
    def n(self) -> float:
        """Contacts at the last step: every evaluation user the path can reach."""
        return float(self.contacts[-1])

    @property
    def total_spend(self) -> float:
        return float(self.spend[-1])

    @property
    def se(self) -> np.ndarray:
        """Standard error of the value at every step."""
        return np.sqrt(self.variance)

    def at_depth(self, depth: npt.ArrayLike) -> PathPoint:
        """The path after ``depth`` contacts (scalar or array, in ``[0, n]``), linear between steps."""
        depths = np.asarray(depth, dtype=np.float64)
        if not np.all(np.isfinite(depths)) or np.any(depths < 0) or np.any(depths > self.n):
            raise DataError(
                f"depth must be a number of users between 0 and n = {self.n:g}; got {depth!r}. "
                "Use a share of the users times n."
            )
        return self._read(depths, _step_after_contacts(self.contacts, np.atleast_1d(depths)), self.contacts)

    def at_spend(self, spend: npt.ArrayLike) -> PathPoint:
        """The path once ``spend`` is spent (scalar or array >= 0; everyone beyond the total spend)."""
        spends = np.asarray(spend, dtype=np.float64)
        if not np.all(np.isfinite(spends)) or np.any(spends < 0):
            raise DataError(f"spend must be a finite amount >= 0; got {spend!r}.")
        clipped = np.minimum(spends, self.total_spend)
        upper = np.searchsorted(self.spend, np.atleast_1d(clipped), side="left")
        return self._read(clipped, upper, self.spend)

    def over(self, positions: npt.ArrayLike, *, by: str = "spend") -> PathPoint:
        """The path over a grid of spends (``by="spend"``) or depths (``by="depth"``): arrays, one per position."""
        grid = np.atleast_1d(np.asarray(positions, dtype=np.float64))
        if by == "spend":
            return self.at_spend(grid)
        if by == "depth":
            return self.at_depth(grid)
        raise DataError(f"by must be 'spend' or 'depth'; got {by!r}.")

    def _read(self, positions: np.ndarray, upper: np.ndarray, axis: np.ndarray) -> PathPoint:
        scalar = positions.ndim == 0
        at = np.atleast_1d(positions)
        upper = np.clip(upper, 1, self.contacts.size - 1)
        lower = upper - 1
        start, stop = axis[lower], axis[upper]
        width = stop - start
        weight = np.divide(at - start, width, out=np.zeros(at.shape), where=width > 0)
        weight = np.clip(weight, 0.0, 1.0)

        def linear(values: np.ndarray | None) -> _Read | None:
            if values is None:
                return None
            read = values[lower] + weight * (values[upper] - values[lower])
            return float(read[0]) if scalar else read

        se = np.sqrt(self.variance[lower]), np.sqrt(self.variance[upper])
        se_read = se[0] + weight * (se[1] - se[0])
        return PathPoint(
            contacts=linear(self.contacts),
            spend=linear(self.spend),
            value=linear(self.value),
            se=float(se_read[0]) if scalar else se_read,
            conversions=linear(self.conversions),
            truth=linear(self.truth),
        )

    def marginal_ratio(self, contacts: npt.ArrayLike) -> np.ndarray:
        """Value per unit of spend on the step that the next contact after ``contacts`` falls in (NaN past
        the last step or on a step that costs nothing)."""
        depths = np.atleast_1d(np.asarray(contacts, dtype=np.float64))
        step = _step_after_contacts(self.contacts, depths, side="right")
        last = self.contacts.size - 1
        upper = np.minimum(step, last)
        gain = self.value[upper] - self.value[upper - 1]
        cost = self.spend[upper] - self.spend[upper - 1]
        return np.divide(gain, cost, out=np.full(depths.shape, np.nan), where=(step <= last) & (cost > 0))

    def marginal_ratio_at_spend(self, spend: npt.ArrayLike) -> np.ndarray:
        """Value per unit of spend on the step that the next unit of spend after ``spend`` falls in (NaN past
        the last step): the marginal read of a path read by spend."""
        spends = np.atleast_1d(np.asarray(spend, dtype=np.float64))
        step = np.searchsorted(self.spend, spends, side="right")
        last = self.contacts.size - 1
        upper = np.clip(step, 1, last)
        gain = self.value[upper] - self.value[upper - 1]
        cost = self.spend[upper] - self.spend[upper - 1]
        return np.divide(gain, cost, out=np.full(spends.shape, np.nan), where=(step <= last) & (cost > 0))


def _step_after_contacts(contacts: np.ndarray, depths: np.ndarray, side: str = "left") -> np.ndarray:
    """``np.searchsorted(contacts, depths, side)`` for real depths, searching integers when steps are whole.

    Searching the int64 steps with float depths would first cast all of them to float: an O(n) copy on
    the slider's path. For integer steps, ``k >= d`` iff ``k >= ceil(d)`` and ``k > d`` iff ``k > floor(d)``.
    """
    if contacts.dtype.kind != "i":
        return np.searchsorted(contacts, depths, side=side)
    rounded = np.ceil(depths) if side == "left" else np.floor(depths)
    return np.searchsorted(contacts, rounded.astype(np.int64), side=side)


def curve_path(strategy: str, curve: Curve, truth: np.ndarray | None = None) -> SpendPath:
    """The spend path of a single-offer ranking: its tie-group boundaries are the steps.

    ``truth`` is the cumulative true incremental revenue at the boundaries (simulation), if known.
    """
    se = curve.se_points()
    return SpendPath(
        strategy=strategy,
        contacts=curve.k,
        spend=curve.cost_points(),
        value=curve.uplift_points(),
        variance=se * se,
        conversions=curve.conversion_points(),
        truth=truth,
        unit_cost=curve.cum_cost is None,
    )
