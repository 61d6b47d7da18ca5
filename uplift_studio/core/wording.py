"""How an error names the setting that fixes it, in the words of where the user is.

The core's checks are the same for the command line and the app, but a fix reads "name it with --treatment
COLUMN" in a terminal and "choose it in Treatment column" in the app's data step. Each check asks its
:class:`Wording` for the phrase; the CLI's is the default.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SETTINGS = (
    "treatment",
    "treated_value",
    "control_value",
    "conversion",
    "revenue",
    "revenue_per_conversion",
    "id",
    "cost",
    "exclude",
    "features",
    "data",
)


@dataclass(frozen=True)
class Wording:
    """``names[setting]`` is how the user sets it, ``{}`` standing for the value (a metavar when none is
    given); ``verb`` joins a fix to it ("with", "in")."""

    names: dict[str, str] = field(hash=False)
    verb: str

    def where(self, setting: str, value: str | None = None) -> str:
        """The phrase that points at a setting, e.g. 'with --exclude age' or 'in “Not features”'."""
        return f"{self.verb} {self.name(setting, value)}"

    def name(self, setting: str, value: str | None = None) -> str:
        shown = _METAVARS.get(setting, "COLUMN") if value is None else value
        return self.names[setting].format(shown).strip()


_METAVARS = {
    "treated_value": "LABEL",
    "control_value": "LABEL",
    "revenue_per_conversion": "VALUE",
    "exclude": "COLUMNS",
    "features": "COLUMNS",
    "data": "",
}


CLI = Wording(
    names={
        "treatment": "--treatment {}",
        "treated_value": "--treated-value {}",
        "control_value": "--control-value {}",
        "conversion": "--conversion {}",
        "revenue": "--revenue {}",
        "revenue_per_conversion": "--revenue-per-conversion {}",
        "id": "--id {}",
        "cost": "--cost {}",
        "exclude": "--exclude {}",
        "features": "--features {}",
        "data": "--data {}",
    },
    verb="with",
)

APP = Wording(
    names={
        "treatment": "“Treatment column”",
        "treated_value": "“Treated label”",
        "control_value": "“Control label”",
        "conversion": "“Conversion column”",
        "revenue": "“Revenue column”",
        "revenue_per_conversion": "“Value per conversion ($)”",
        "id": "“Id column”",
        "cost": "“Cost column”",
        "exclude": "“Not features”",
        "features": "“Not features”",
        "data": "the upload",
    },
    verb="in",
)
