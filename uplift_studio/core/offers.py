"""Experiments with several offers (issue 12): one control label, K offer labels, and what each offer costs.

A treatment column holds a control label and any number of offer labels (all of them, or the ones named);
each offer has a contact cost (> 0) and an optional redemption cost charged only on conversion, so an
offer's expected cost for a user is ``contact + redemption * P(buy | offer, x)``. The assignment
probabilities are the design's arm shares (given, or the observed shares), checked by a sample-ratio test
per arm. Conversion, revenue, id and features are validated by :func:`uplift_studio.core.data.from_frame`
on the offers-versus-control view, so they obey exactly the single-offer rules.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import polars as pl

from uplift_studio.core.data import ID, TREATMENT, ColumnMap, Experiment, frame_fingerprint, from_frame
from uplift_studio.core.errors import DataError
from uplift_studio.core.reading import read_with_notes
from uplift_studio.core.readout import SRM_ALERT_P
from uplift_studio.core.wording import APP, CLI, Wording

ARM = "arm"
"""Canonical column of the arm received: 0 = control, ``k`` = the k-th offer of ``offers`` (1-based)."""

DEFAULT_COLUMNS = ColumnMap()

# The settings this module adds, in the CLI's and the app's words (core.wording names the single-offer ones).
_OFFER_SETTINGS = {
    "arms": ("--arms {}", "“Offers”", "LABELS"),
    "arm_cost": ("--arm-cost {}", "“Offer costs”", "'LABEL=COST,...'"),
    "redemption_cost": ("--redemption-cost {}", "“Redemption costs”", "'LABEL=COST,...'"),
    "arm_shares": ("--arm-shares {}", "“Arm shares”", "'LABEL=SHARE,...'"),
}


def setting_name(wording: Wording, setting: str, value: str | None = None) -> str:
    """How the user sets ``setting`` where they are (a flag, or an app field)."""
    if setting in wording.names:
        return wording.name(setting, value)
    cli, app, metavar = _OFFER_SETTINGS[setting]
    return (app if wording == APP else cli).format(metavar if value is None else value).strip()


@dataclass(frozen=True)
class ArmCheck:
    """One arm's sample-ratio check: its users against the design share (chi-square, that arm vs the rest)."""

    label: str
    users: int
    design_share: float
    observed_share: float
    p_value: float

    @property
    def alert(self) -> bool:
        return self.p_value < SRM_ALERT_P


@dataclass(frozen=True, eq=False)
class OfferExperiment:
    """A validated multi-offer experiment: canonical columns ``user_id, treatment`` (1 = any offer),
    ``arm``, ``converted, revenue`` and the features; per offer its costs; the design's arm shares
    (control first); ``truth`` only for simulated campaigns (per offer ``p__<offer>``, see
    :mod:`uplift_studio.core.simulate_offers`)."""

    frame: pl.DataFrame
    features: tuple[str, ...]
    offers: tuple[str, ...]
    control: str
    contact_cost: np.ndarray
    redemption_cost: np.ndarray
    arm_shares: np.ndarray
    arm_checks: tuple[ArmCheck, ...]
    source: str
    truth: pl.DataFrame | None = None
    notes: tuple[str, ...] = ()
    fingerprint: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        for array in (self.contact_cost, self.redemption_cost, self.arm_shares):
            array.flags.writeable = False
        if not self.fingerprint:
            # the costs and shares decide every expected cost and score, so they are part of the key
            digest = hashlib.sha256(frame_fingerprint(self.frame).encode())
            digest.update(repr((self.offers, self.control)).encode())
            digest.update(np.concatenate([self.contact_cost, self.redemption_cost, self.arm_shares]).tobytes())
            object.__setattr__(self, "fingerprint", digest.hexdigest()[:16])

    @property
    def n_users(self) -> int:
        return self.frame.height

    @property
    def n_offers(self) -> int:
        return len(self.offers)

    @property
    def arm(self) -> np.ndarray:
        return self.frame.get_column(ARM).to_numpy()

    @property
    def converted(self) -> np.ndarray:
        return self.frame.get_column("converted").to_numpy()

    @property
    def revenue(self) -> np.ndarray:
        return self.frame.get_column("revenue").cast(pl.Float64).to_numpy()

    @property
    def user_id(self) -> np.ndarray:
        return self.frame.get_column(ID).to_numpy()

    def single(self, offer: str) -> Experiment:
        """One offer against control as today's :class:`Experiment` (the other offers' users left out)."""
        index = self.offers.index(offer) + 1
        kept = self.frame.filter(pl.col(ARM).is_in([0, index])).drop(ARM)
        truth = None
        if self.truth is not None:
            truth = self.truth.join(kept.select(ID), on=ID, how="semi").with_columns(
                true_incremental_revenue=pl.col(f"true_incremental_revenue__{offer}")
            )
        shown = f"{self.source}, {offer!r} vs {self.control!r}"
        return Experiment(frame=kept, features=self.features, source=shown, truth=truth, notes=self.notes)


def parse_amounts(text: str | None, setting: str, wording: Wording = CLI) -> dict[str, float]:
    """``"Mens E-Mail=0.10,Womens E-Mail=0.12"`` as ``{label: amount}`` (labels trimmed)."""
    if text is None or not text.strip():
        return {}
    amounts: dict[str, float] = {}
    for part in text.split(","):
        label, equals, amount = part.rpartition("=")
        label = label.strip()
        if not equals or not label:
            raise DataError(
                f"{setting_name(wording, setting)}: {part.strip()!r} is not LABEL=AMOUNT. Write e.g. "
                f"{setting_name(wording, setting, repr('Mens E-Mail=0.10,Womens E-Mail=0.12'))}."
            )
        try:
            value = float(amount)
        except ValueError:
            raise DataError(
                f"{setting_name(wording, setting)}: the amount {amount.strip()!r} of {label!r} is not a number."
            ) from None
        if label in amounts:
            raise DataError(f"{setting_name(wording, setting)}: {label!r} is given twice; give each label once.")
        amounts[label] = value
    return amounts


def _offers(labels: pl.Series, arms, control: str, column: str, source: str, wording: Wording) -> tuple[str, ...]:
    present = labels.unique().sort().to_list()
    shown = ", ".join(repr(v) for v in present[:8])
    if control not in present:
        raise DataError(
            f"{source}: column {column!r} (treatment) has no control label {control!r} "
            f"({setting_name(wording, 'control_value')}). Its labels are: {shown}."
        )
    if arms is None:
        offers = tuple(label for label in present if label != control)
    else:
        offers = tuple(dict.fromkeys(label.strip() for label in arms if label.strip()))
        for label in offers:
            if label == control:
                raise DataError(
                    f"{source}: {label!r} is the control label; leave it out of {setting_name(wording, 'arms')}."
                )
            if label not in present:
                raise DataError(
                    f"{source}: column {column!r} (treatment) has no offer label {label!r} "
                    f"({setting_name(wording, 'arms')}). Its labels are: {shown} (compared after trimming spaces)."
                )
    if not offers:
        raise DataError(
            f"{source}: column {column!r} (treatment) holds only the control label {control!r}; an offer analysis "
            f"needs at least one offer label besides it."
        )
    return offers


def _costs(
    offers: tuple[str, ...],
    contact: Mapping[str, float],
    redemption: Mapping[str, float],
    default_contact: float | None,
    notes: list[str],
    wording: Wording,
) -> tuple[np.ndarray, np.ndarray]:
    for setting, given in (("arm_cost", contact), ("redemption_cost", redemption)):
        unknown = [label for label in given if label not in offers]
        if unknown:
            raise DataError(
                f"{setting_name(wording, setting)} names {', '.join(map(repr, unknown))}, which is not an offer of "
                f"this analysis ({', '.join(map(repr, offers))}). Use the offer labels as the file spells them."
            )
    missing = [label for label in offers if label not in contact]
    if missing and default_contact is None:
        raise DataError(
            f"no contact cost for {', '.join(map(repr, missing))}. Give every offer its cost "
            f"{wording.verb} {setting_name(wording, 'arm_cost')}."
        )
    if missing:
        notes.append(
            f"{', '.join(map(repr, missing))} cost the one cost per contact (${default_contact:,.2f}): "
            f"no cost was given for {'it' if len(missing) == 1 else 'them'} in {setting_name(wording, 'arm_cost')}."
        )
    contact_cost = np.array([contact.get(label, default_contact) for label in offers], dtype=np.float64)
    redemption_cost = np.array([redemption.get(label, 0.0) for label in offers], dtype=np.float64)
    for label, value in zip(offers, contact_cost, strict=True):
        if not (np.isfinite(value) and value > 0):
            raise DataError(
                f"{setting_name(wording, 'arm_cost')}: the contact cost of {label!r} must be a finite amount > 0, "
                f"got {value!r}. Even a cheap channel has some cost per contact."
            )
    for label, value in zip(offers, redemption_cost, strict=True):
        if not (np.isfinite(value) and value >= 0):
            raise DataError(
                f"{setting_name(wording, 'redemption_cost')}: the redemption cost of {label!r} must be a finite "
                f"amount >= 0, got {value!r}."
            )
    return contact_cost, redemption_cost


def arm_checks(counts: np.ndarray, shares: np.ndarray, labels: tuple[str, ...]) -> tuple[ArmCheck, ...]:
    """Per arm, Pearson's chi-square (1 dof) of its users against the rest at the design share."""
    total = float(counts.sum())
    checks = []
    for label, count, share in zip(labels, counts, shares, strict=True):
        expected = np.array([share, 1.0 - share]) * total
        observed = np.array([count, total - count], dtype=np.float64)
        chi2 = float(np.sum((observed - expected) ** 2 / expected))
        # the chi-square survival function at 1 dof is erfc(sqrt(x / 2)): exact, and no scipy.stats import
        # (1.2 s) on the app's warm start, which asks whether its experiment is one of several offers
        p_value = math.erfc(math.sqrt(chi2 / 2.0))
        checks.append(ArmCheck(label, int(count), float(share), float(count / total), p_value))
    return tuple(checks)


def _shares(
    counts: np.ndarray, given: Mapping[str, float] | None, labels: tuple[str, ...], notes: list[str], wording: Wording
) -> np.ndarray:
    if not given:
        notes.append(
            "the arm shares (assignment probabilities) are the observed ones; give the design's "
            f"{wording.verb} {setting_name(wording, 'arm_shares')} to check the split against it."
        )
        return counts / counts.sum()
    unknown = [label for label in given if label not in labels]
    missing = [label for label in labels if label not in given]
    if unknown or missing:
        raise DataError(
            f"{setting_name(wording, 'arm_shares')} must give a share to each arm of the analysis "
            f"({', '.join(map(repr, labels))}); "
            + (f"unknown: {', '.join(map(repr, unknown))}; " if unknown else "")
            + (f"missing: {', '.join(map(repr, missing))}." if missing else "")
        )
    shares = np.array([given[label] for label in labels], dtype=np.float64)
    if not np.all((shares > 0) & (shares < 1)) or abs(shares.sum() - 1.0) > 1e-6:
        raise DataError(
            f"{setting_name(wording, 'arm_shares')}: each share must be between 0 and 1 and they must add up to 1 "
            f"over the arms analysed; got {dict(zip(labels, shares.tolist(), strict=True))}."
        )
    return shares


def offers_from_frame(
    raw: pl.DataFrame,
    columns: ColumnMap = DEFAULT_COLUMNS,
    *,
    arms: tuple[str, ...] | None = None,
    contact_cost: Mapping[str, float] | None = None,
    redemption_cost: Mapping[str, float] | None = None,
    default_contact_cost: float | None = None,
    arm_shares: Mapping[str, float] | None = None,
    source: str = "data",
    revenue_per_conversion: float | None = None,
    wording: Wording = CLI,
) -> OfferExperiment:
    """Validate a multi-offer frame (the user's column names) into an :class:`OfferExperiment`.

    ``columns.control_value`` names the control label (``treated_value`` is not used); ``arms`` the offers
    (default: every other label); offers without a ``contact_cost`` entry cost ``default_contact_cost``.
    """
    column = columns.treatment
    if column not in raw.columns:
        raise DataError(
            f"{source}: the treatment column {column!r} is not in the file. Its columns are: "
            f"{', '.join(raw.columns)}. Name it {wording.where('treatment')}."
        )
    if columns.control_value is None:
        raise DataError(
            f"{source}: name the control label of column {column!r} {wording.where('control_value')} (the arm "
            "that got no offer)."
        )
    series = raw.get_column(column)
    if series.null_count():
        raise DataError(
            f"{source}: column {column!r} (treatment) has {series.null_count()} empty values. Every user must be in "
            "an offer's group or the control group; drop or fill those rows."
        )
    if ARM in raw.columns and column != ARM:
        raise DataError(f"{source}: column {ARM!r} is a reserved name in an offer analysis; rename it in the file.")
    labels = series.cast(pl.String).str.strip_chars()
    control = columns.control_value.strip()
    offers = _offers(labels, arms, control, column, source, wording)
    notes: list[str] = []
    keep = labels.is_in([control, *offers])
    dropped = raw.height - int(keep.sum())
    if dropped:
        others = labels.filter(~keep).unique().sort().head(5).to_list()
        notes.append(
            f"{dropped:,} rows with other {column!r} labels ({', '.join(map(repr, others))}) were left out: the "
            f"analysis compares {', '.join(map(repr, offers))} with {control!r}."
        )
    contact, redemption = _costs(
        offers, contact_cost or {}, redemption_cost or {}, default_contact_cost, notes, wording
    )
    code = pl.Series(np.zeros(raw.height, dtype=np.int8))
    for index, label in enumerate(offers, start=1):
        code = pl.select(pl.when(labels == label).then(index).otherwise(code).cast(pl.Int8)).to_series()
    kept = raw.with_columns(code.alias(column)).filter(keep)
    arm = kept.get_column(column)
    binary = kept.with_columns((arm > 0).cast(pl.Int8).alias(column))
    single = from_frame(
        binary,
        replace(columns, treated_value=None, control_value=None),
        source=source,
        revenue_per_conversion=revenue_per_conversion,
        wording=wording,
    )
    frame = single.frame.insert_column(single.frame.columns.index(TREATMENT) + 1, arm.alias(ARM))
    all_labels = (control, *offers)
    counts = np.bincount(arm.to_numpy(), minlength=len(all_labels)).astype(np.float64)
    shares = _shares(counts, arm_shares, all_labels, notes, wording)
    checks = arm_checks(counts, shares, all_labels)
    for check in checks:
        if check.alert and arm_shares:
            notes.append(
                f"sample ratio mismatch: {check.label!r} has {check.users:,} users ({check.observed_share:.2%}) "
                f"against a design share of {check.design_share:.2%} (p = {check.p_value:.2g}); check the "
                "assignment before trusting the estimates."
            )
    return OfferExperiment(
        frame=frame,
        features=single.features,
        offers=offers,
        control=control,
        contact_cost=contact,
        redemption_cost=redemption,
        arm_shares=shares,
        arm_checks=checks,
        source=source,
        notes=tuple(notes) + single.notes,
    )


def load_offer_experiment(path: str | Path, columns: ColumnMap = DEFAULT_COLUMNS, **options) -> OfferExperiment:
    """Read a CSV (optionally .gz) or Parquet file and validate it with :func:`offers_from_frame`."""
    path = Path(path)
    raw, notes = read_with_notes(path, wording=options.get("wording", CLI))
    experiment = offers_from_frame(raw, columns, source=options.pop("source", str(path)), **options)
    return replace(experiment, notes=notes + experiment.notes) if notes else experiment
