"""Real experiments shipped inside the package, so that a fresh clone or a plain ``pip install`` has one to
analyse: each is a file under ``uplift_studio/examples`` with the column map that fits it.

The CLI names one as ``--data example:hillstrom``; the app reads ``example("hillstrom").path.read_bytes()``
and maps its columns with ``.columns``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from uplift_studio.core.data import ColumnMap, Experiment, load_experiment
from uplift_studio.core.errors import DataError

PREFIX = "example:"


@dataclass(frozen=True)
class Example:
    """A bundled experiment: its file, the column map that reads it, what it is and whom to credit."""

    name: str
    filename: str
    columns: ColumnMap
    description: str
    credit: str

    @property
    def path(self) -> Traversable:
        """The bundled file, found through importlib.resources so that a wheel, an editable install and a
        zipped package all resolve it (``.read_bytes()`` works on each)."""
        return resources.files("uplift_studio") / "examples" / self.filename

    @property
    def spec(self) -> str:
        """How the CLI names it: ``example:<name>``."""
        return f"{PREFIX}{self.name}"


EXAMPLES: dict[str, Example] = {
    example.name: example
    for example in (
        Example(
            name="hillstrom",
            filename="hillstrom.csv.gz",
            columns=ColumnMap(
                # the file has no customer id: users are numbered by their row in it (1 = the first data row)
                id=None,
                treatment="segment",
                treated_value="Womens E-Mail",
                control_value="No E-Mail",
                conversion="conversion",
                revenue="spend",
                # a visit happens after the e-mail: as a feature it would leak the outcome into the models
                exclude=("visit",),
            ),
            description=(
                "64,000 recent customers randomly sent a men's e-mail, a women's e-mail or no e-mail; visits, "
                "conversions and spend over the next two weeks."
            ),
            credit="Kevin Hillstrom, MineThatData E-Mail Analytics Challenge (2008).",
        ),
    )
}


def example(name: str) -> Example:
    """The bundled example of that name; an unknown name is a DataError listing the known ones."""
    key = name.strip().lower()
    if key not in EXAMPLES:
        known = ", ".join(f"{PREFIX}{known}" for known in EXAMPLES)
        raise DataError(f"there is no bundled example {name!r}. Name one of: {known}, or give a file's path.")
    return EXAMPLES[key]


def parse_example(spec: str) -> Example | None:
    """The example a data spec such as ``example:hillstrom`` names, or None when the spec is a file path."""
    if not spec.lower().startswith(PREFIX):
        return None
    return example(spec[len(PREFIX) :])


def load_example(chosen: Example, columns: ColumnMap | None = None, **options) -> Experiment:
    """The example read as an experiment (with its own column map unless ``columns`` is given); its source
    names both the spec and the bundled file, the file its row numbers refer to."""
    bundled = chosen.path
    with resources.as_file(bundled) as path:
        experiment = load_experiment(path, chosen.columns if columns is None else columns, **options)
    # from a zipped install, as_file's copy is gone by now: name the file inside the package instead
    shown = bundled if isinstance(bundled, Path) else f"uplift_studio/examples/{chosen.filename}"
    return replace(experiment, source=f"{chosen.spec} ({shown})")
