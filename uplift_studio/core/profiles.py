"""Who a group of users is: how the users a strategy contacts (or a predicted segment) differ from the rest.

Numeric features: the group's and the others' means and medians, and the standardized difference
``(mean_group - mean_rest) / sqrt((var_group + var_rest) / 2)`` (Cohen's d with the two variances pooled
equally, so a large group does not dominate it). Categorical features: the level most over-represented in
the group, with its share in the group and among the others. The most distinguishing traits (largest
absolute standardized difference; for a level, the difference of shares over its binomial spread) are put in
one sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from uplift_studio.core.features import is_categorical

TRAITS_IN_SENTENCE = 3


@dataclass(frozen=True)
class Trait:
    feature: str
    kind: str  # "numeric" or "level"
    group_mean: float | None
    rest_mean: float | None
    group_median: float | None
    rest_median: float | None
    level: str | None
    group_share: float | None
    rest_share: float | None
    standardized_difference: float


@dataclass(frozen=True)
class Profile:
    """How ``name`` (``users`` of them) differs from the other users, most distinguishing trait first."""

    name: str
    users: int
    traits: tuple[Trait, ...]

    @property
    def sentence(self) -> str:
        phrases = [_phrase(trait) for trait in self.traits[:TRAITS_IN_SENTENCE]]
        phrases = [phrase for phrase in phrases if phrase]
        if not phrases:
            return f"{self.name} ({self.users:,}) look like everyone else on every feature."
        return f"{self.name} ({self.users:,}) " + _join(phrases) + " than everyone else."


def _join(phrases: list[str]) -> str:
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def _phrase(trait: Trait) -> str:
    name = trait.feature.replace("_", " ")
    if trait.kind == "level":
        return f"are more often {name} {trait.level} ({trait.group_share:.0%} against {trait.rest_share:.0%})"
    group, rest = trait.group_mean, trait.rest_mean
    if group is None or rest is None or not np.isfinite(group) or not np.isfinite(rest):
        return ""
    if group > 0 and rest > 0:
        ratio = group / rest
        if ratio >= 1.5:
            return f"have {ratio:.1f}x the {name}"
        if ratio <= 1 / 1.5:
            return f"have {1 / ratio:.1f}x less {name}"
        change = ratio - 1.0
        return f"have {abs(change):.0%} {'more' if change > 0 else 'less'} {name}"
    return f"have a {'higher' if group > rest else 'lower'} {name} ({group:.3g} against {rest:.3g})"


def _numeric(feature: str, values: pl.Series, group: pl.Series) -> Trait | None:
    frame = pl.DataFrame({"x": values.cast(pl.Float64), "g": group})
    stats = frame.group_by("g").agg(
        mean=pl.col("x").mean(), median=pl.col("x").median(), var=pl.col("x").var(), n=pl.col("x").count()
    )
    inside = stats.filter(pl.col("g")).to_dicts()
    outside = stats.filter(~pl.col("g")).to_dicts()
    if not inside or not outside or inside[0]["n"] < 2 or outside[0]["n"] < 2:
        return None
    a, b = inside[0], outside[0]
    spread = np.sqrt(((a["var"] or 0.0) + (b["var"] or 0.0)) / 2.0)
    difference = (a["mean"] - b["mean"]) / spread if spread > 0 else 0.0
    return Trait(
        feature, "numeric", a["mean"], b["mean"], a["median"], b["median"], None, None, None, float(difference)
    )


def _level(feature: str, values: pl.Series, group: pl.Series) -> Trait | None:
    frame = pl.DataFrame({"x": values.cast(pl.String).fill_null("(missing)"), "g": group})
    size_in, size_out = int(group.sum()), int((~group).sum())
    if size_in == 0 or size_out == 0:
        return None
    shares = (
        frame.group_by("x")
        .agg(inside=pl.col("g").sum() / size_in, outside=(~pl.col("g")).sum() / size_out)
        .with_columns(
            spread=(
                (pl.col("inside") * (1 - pl.col("inside")) / size_in)
                + (pl.col("outside") * (1 - pl.col("outside")) / size_out)
            ).sqrt()
        )
        .with_columns(score=(pl.col("inside") - pl.col("outside")) / pl.col("spread").clip(lower_bound=1e-12))
        .sort("score", descending=True)
    )
    top = shares.row(0, named=True)
    # a standardized difference comparable to a numeric one: the share gap over the share's own spread
    pooled = np.sqrt((top["inside"] * (1 - top["inside"]) + top["outside"] * (1 - top["outside"])) / 2.0)
    difference = (top["inside"] - top["outside"]) / pooled if pooled > 0 else 0.0
    return Trait(
        feature, "level", None, None, None, None, str(top["x"]), top["inside"], top["outside"], float(difference)
    )


def profile(name: str, frame: pl.DataFrame, features: tuple[str, ...], in_group: np.ndarray) -> Profile:
    """The profile of the users with ``in_group`` True among ``frame``'s rows."""
    group = pl.Series("g", np.asarray(in_group, dtype=bool))
    traits = []
    for feature in features:
        values = frame.get_column(feature)
        trait = _level(feature, values, group) if is_categorical(values.dtype) else _numeric(feature, values, group)
        if trait is not None:
            traits.append(trait)
    traits.sort(key=lambda trait: -abs(trait.standardized_difference))
    return Profile(name, int(group.sum()), tuple(traits))
