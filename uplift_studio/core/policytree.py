"""A targeting rule a person can apply: the best depth-2 decision tree on doubly robust scores, found by
exact search over binned features (Athey and Wager, "Policy learning with observational data",
Econometrica 2021; grf-labs' policytree), with each contact's cost charged at the budget's shadow price.

A contact of user i is worth ``Gamma_i - lambda * c_i``: ``Gamma_i`` the user's doubly robust (AIPW) score of
the incremental revenue of a contact, ``c_i`` its cost, and ``lambda`` the shadow price chosen so that the
rule spends about the budget. Features are cut into at most 64 quantile bins (categories ordered by their
mean score, so that a threshold on the order is the best subset split for two actions); a split sends codes
``<= t`` left. Every sum a search needs is a 2-D histogram per pair of features, built once; a new price is
then array arithmetic on 64 x 64 tables, which makes the bisection on the price cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from uplift_studio.core.features import is_categorical

MAX_BINS = 64
# bisection steps on the shadow price: 2**-20 of the bracket, far finer than a tree can follow
PRICE_STEPS = 20


@dataclass(frozen=True)
class BinnedFeatures:
    """Codes ``0..bins-1`` per user and feature, and for each feature the text of each code's upper edge."""

    names: tuple[str, ...]
    codes: np.ndarray  # (n_users, n_features) int64
    edges: tuple[tuple[str, ...], ...]  # per feature, per code: what "<= this code" means in words
    categorical: tuple[bool, ...]


def bin_features(
    frame: pl.DataFrame,
    names: tuple[str, ...],
    score: np.ndarray,
    fit_rows: np.ndarray | None = None,
    bins: int = MAX_BINS,
) -> BinnedFeatures:
    """Quantile codes for numbers (missing values count as the lowest bin), mean-score order for categories.

    Cuts and orders are learnt on ``fit_rows`` only (a boolean mask; default every row), so that the codes of
    the other rows carry nothing of their outcomes; a level unseen there takes the lowest code.
    """
    fit = np.ones(frame.height, dtype=bool) if fit_rows is None else np.asarray(fit_rows, dtype=bool)
    columns, edges, categorical = [], [], []
    for name in names:
        column = frame.get_column(name)
        if is_categorical(column.dtype):
            text = column.cast(pl.String).fill_null("(missing)")
            order = (
                pl.DataFrame({"level": text.filter(pl.Series(fit)), "score": score[fit]})
                .group_by("level")
                .agg(pl.col("score").mean())
                .sort("score", "level")
            )
            levels = order["level"].to_list()
            codes = text.replace_strict(levels, list(range(len(levels))), default=0, return_dtype=pl.Int64)
            columns.append(codes.to_numpy())
            edges.append(tuple(levels))
            categorical.append(True)
            continue
        values = column.cast(pl.Float64).to_numpy()
        present = ~np.isnan(values)
        known = values[present & fit]
        cuts = np.unique(np.quantile(known, np.linspace(0, 1, bins + 1)[1:-1])) if known.size else np.array([])
        codes = np.where(present, np.searchsorted(cuts, values, side="left"), 0)
        columns.append(codes.astype(np.int64))
        edges.append(tuple(f"{cut:.4g}" for cut in cuts))
        categorical.append(False)
    return BinnedFeatures(tuple(names), np.column_stack(columns), tuple(edges), tuple(categorical))


def describe_split(binned: BinnedFeatures, split: Split) -> str:
    """The left side of a split in words: ``recency_days <= 45 (or missing)`` or ``channel in {web, app}``."""
    name, edges = binned.names[split.feature], binned.edges[split.feature]
    if binned.categorical[split.feature]:
        return f"{name} in {{{', '.join(edges[: split.threshold + 1])}}}"
    if split.threshold >= len(edges):
        return f"{name}: any value"
    return f"{name} <= {edges[split.threshold]} (or missing)"


@dataclass(frozen=True)
class Split:
    feature: int
    threshold: int  # codes <= threshold go left


@dataclass(frozen=True)
class Rule:
    """A depth-2 tree: the root split, each side's split, and whether each of the four leaves is contacted
    (leaves in order left-left, left-right, right-left, right-right)."""

    root: Split
    left: Split
    right: Split
    contact: tuple[bool, bool, bool, bool]

    def leaf(self, codes: np.ndarray) -> np.ndarray:
        """The leaf (0..3) of each user."""
        go_right = codes[:, self.root.feature] > self.root.threshold
        second = np.where(
            go_right,
            codes[:, self.right.feature] > self.right.threshold,
            codes[:, self.left.feature] > self.left.threshold,
        )
        return go_right.astype(np.int64) * 2 + second.astype(np.int64)

    def contacts(self, codes: np.ndarray) -> np.ndarray:
        return np.asarray(self.contact)[self.leaf(codes)]


class PairTables:
    """For every ordered pair of features (j, k), the sums of score and cost per (code_j, code_k) cell."""

    def __init__(self, codes: np.ndarray, score: np.ndarray, cost: np.ndarray) -> None:
        self.n_features = codes.shape[1]
        self.bins = int(codes.max()) + 1 if codes.size else 1
        cells = self.bins * self.bins
        shape = (self.n_features, self.n_features, self.bins, self.bins)
        self.score, self.cost = np.zeros(shape), np.zeros(shape)
        for j in range(self.n_features):
            for k in range(j, self.n_features):
                cell = codes[:, j] * self.bins + codes[:, k]
                self.score[j, k] = np.bincount(cell, weights=score, minlength=cells).reshape(self.bins, self.bins)
                self.cost[j, k] = np.bincount(cell, weights=cost, minlength=cells).reshape(self.bins, self.bins)
                # the table of (k, j) is the same cells seen the other way round
                self.score[k, j], self.cost[k, j] = self.score[j, k].T, self.cost[j, k].T

    def best(self, price: float) -> Rule:
        """The depth-2 tree with the largest total of ``score - price * cost`` over its contacted leaves."""
        reward = self.score - price * self.cost  # [j, k, code_j, code_k]
        left = np.cumsum(reward, axis=2)  # [j, k, t, b]: users with code_j <= t, in code b of feature k
        right = left[:, :, -1:, :] - left
        left_value, right_value = _best_second_split(left), _best_second_split(right)
        # the last root threshold leaves the right side empty: a depth-1 tree, which the children can express
        total = (left_value.max(axis=1) + right_value.max(axis=1))[:, :-1]
        j, t = (int(i) for i in np.unravel_index(int(np.argmax(total)), total.shape))
        contact, splits = [], []
        for side, value in ((left, left_value), (right, right_value)):
            k = int(np.argmax(value[j, :, t]))
            cells = side[j, k, t]
            below = np.cumsum(cells)
            s = int(np.argmax(np.maximum(below, 0.0) + np.maximum(below[-1] - below, 0.0)))
            contact += [bool(below[s] > 0), bool(below[-1] - below[s] > 0)]
            splits.append(Split(k, s))
        return Rule(Split(j, t), splits[0], splits[1], (contact[0], contact[1], contact[2], contact[3]))


def _best_second_split(side: np.ndarray) -> np.ndarray:
    """For each (j, k, t): the best value of one split on feature k of the side's users.

    ``side[j, k, t, b]`` sums the reward of the side's users (root feature j at threshold t) in code b of
    feature k; a split at s contacts either part when its sum is positive. Not splitting is never better
    than the best split (``max(a, 0) + max(b, 0) >= max(a + b, 0)``), and s = last code is "no split".
    """
    below = np.cumsum(side, axis=3)
    above = below[..., -1:] - below
    np.maximum(below, 0.0, out=below)
    np.maximum(above, 0.0, out=above)
    below += above
    return below.max(axis=3)


def rule_under_budget(
    tables: PairTables, codes: np.ndarray, cost: np.ndarray, budget: float, *, near: float | None = None
) -> tuple[Rule, float]:
    """The tree at the lowest shadow price whose contacts cost at most ``budget`` (bisection on the price),
    and that price. A price of 0 contacts wherever the score is positive; prices rise until the spend fits.
    ``near``, a price known to be close (the full data's, for a half of it), narrows the first bracket."""

    def fits(price: float) -> bool:
        return float(cost[tables.best(price).contacts(codes)].sum()) <= budget

    if fits(0.0):
        return tables.best(0.0), 0.0
    low, high, steps = 0.0, 1.0, PRICE_STEPS
    if near is not None and near > 0:
        low, high, steps = near / 2.0, near * 2.0, PRICE_STEPS // 2
        if fits(low):
            low = 0.0
    while not fits(high) and high < 1e12:
        low, high = high, high * 4.0
    for _ in range(steps):
        middle = (low + high) / 2.0
        if fits(middle):
            high = middle
        else:
            low = middle
    return tables.best(high), high
