"""The app's settings as typed, bounded ``param`` classes: where the data comes from, the economics of the
campaign, which strategies to show, and the model settings behind "Fit models".

Only :class:`DataSource` and :class:`ModelChoice` decide an analysis (and key its cache); the economics and
the strategies shown are read from a finished analysis at slider speed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import tempfile
from pathlib import Path

import param
import polars as pl

from uplift_studio.core.analysis import DEFAULT_BUDGET, DEFAULT_COST_PER_CONTACT, AnalysisSettings
from uplift_studio.core.data import ColumnMap, Experiment, from_frame
from uplift_studio.core.errors import DataError
from uplift_studio.core.reading import read_with_notes
from uplift_studio.core.simulate import DEFAULT_SEED, DEFAULT_TREATED_SHARE, DEFAULT_USERS, simulate_campaign
from uplift_studio.core.wording import APP

STRATEGY_NAMES = ("random", "probability", "uplift", "oracle")
MAX_BUDGET = 500_000.0  # 5x the default budget; an analysis whose full campaign costs more extends it
FILE_TYPES = (".csv", ".csv.gz", ".parquet", ".pq")
UPLOAD_LIMIT_MB = 200  # refused in the browser above this, before a byte is sent
NO_LABELS = "(none: coded 0/1 or yes/no)"
NO_REVENUE = "(none: value per conversion)"
NO_ID = "(none: number the rows)"
NO_COST = "(none: one cost per contact)"
MAPPING_FIELDS = (
    "treatment_column",
    "treated_value",
    "control_value",
    "conversion_column",
    "revenue_column",
    "id_column",
    "cost_column",
    "exclude_columns",
)


class DataSource(param.Parameterized):
    """The experiment to analyse: the simulated campaign, or an uploaded CSV/Parquet file and the mapping of
    its columns to roles (design section 2)."""

    source = param.Selector(
        default="simulated",
        objects=["simulated", "file"],
        doc="Analyse the built-in simulated campaign (with its ground truth) or the uploaded file.",
    )
    users = param.Integer(
        default=DEFAULT_USERS,
        bounds=(1_000, 5_000_000),
        softbounds=(5_000, 1_000_000),
        doc="Users in the simulated campaign.",
    )
    treated_share = param.Number(
        default=DEFAULT_TREATED_SHARE,
        bounds=(0.05, 0.95),
        step=0.05,
        doc="Share of the simulated users who were contacted in the experiment.",
    )
    seed = param.Integer(default=DEFAULT_SEED, bounds=(0, 2**31 - 1), doc="Random seed of the simulated campaign.")

    expected_treated_share = param.Number(
        default=0.5,
        bounds=(0.01, 0.99),
        step=0.05,
        label="Designed treated share",
        doc="Share of the file's users the experiment's design put in the treated arm (the sample-ratio check).",
    )
    file_bytes = param.Bytes(default=None, allow_None=True, precedence=-1, doc="Content of the uploaded file.")
    file_name = param.String(
        default="", precedence=-1, doc="Name of the uploaded file (its ending decides the format)."
    )
    # the mapping: Selectors whose choices the data step fills from the uploaded file's own columns and
    # labels; "" is the "none" choice; any value is accepted so that a setting can precede its file
    treatment_column = param.Selector(
        default="treatment", objects=["treatment"], check_on_set=False, doc="Column saying who was contacted."
    )
    treated_value = param.Selector(
        default="",
        objects={NO_LABELS: ""},
        check_on_set=False,
        doc="Label of the contacted arm when the treatment column is not 0/1.",
    )
    control_value = param.Selector(
        default="",
        objects={NO_LABELS: ""},
        check_on_set=False,
        doc="Label of the control arm when the treatment column is not 0/1.",
    )
    conversion_column = param.Selector(
        default="converted",
        objects=["converted"],
        check_on_set=False,
        doc="Column saying who bought (0/1, yes/no, true/false).",
    )
    revenue_column = param.Selector(
        default="revenue",
        objects=["revenue"],
        check_on_set=False,
        doc="Column with each user's revenue; with none, the value per conversion is used.",
    )
    id_column = param.Selector(
        default="user_id",
        objects=["user_id"],
        check_on_set=False,
        doc="Column with a unique user id (none: users are numbered by their row in the file).",
    )
    cost_column = param.Selector(
        default="",
        objects={NO_COST: ""},
        check_on_set=False,
        doc="Column with each user's contact cost (none: one cost per contact for everyone).",
    )
    exclude_columns = param.ListSelector(
        default=[],
        objects=[],
        check_on_set=False,
        doc="Columns that are not features, e.g. other outcomes measured after the contact (Hillstrom's "
        "visit): a post-treatment column would leak the outcome into the models.",
    )

    @param.depends("source", watch=True, on_init=True)
    def _show_relevant_fields(self) -> None:
        # the form shows the simulation's settings or the file's column mapping, not both
        simulated = self.source == "simulated"
        for name in ("users", "treated_share", "seed"):
            self.param[name].precedence = 1 if simulated else -1
        for name in MAPPING_FIELDS:
            self.param[name].precedence = 2 if self.source == "file" else -1

    def column_map(self) -> ColumnMap:
        return ColumnMap(
            id=self.id_column.strip() or None,
            treatment=self.treatment_column.strip(),
            treated_value=self.treated_value.strip() or None,
            control_value=self.control_value.strip() or None,
            conversion=self.conversion_column.strip(),
            revenue=self.revenue_column.strip() or None,
            cost=self.cost_column.strip() or None,
            exclude=tuple(name.strip() for name in self.exclude_columns if name.strip()),
        )

    def key(self, revenue_per_conversion: float | None = None) -> tuple:
        """What decides the experiment: small and hashable (a file by its content hash, never by its frame)."""
        if self.source == "simulated":
            return ("simulated", self.users, round(self.treated_share, 6), self.seed)
        if not self.file_bytes:
            raise DataError(
                "no file uploaded yet: upload a CSV or Parquet experiment, or choose the simulated campaign."
            )
        digest = hashlib.sha256(self.file_bytes).hexdigest()
        return ("file", digest, self.file_name, self.column_map(), revenue_per_conversion)

    def experiment(self, revenue_per_conversion: float | None = None) -> Experiment:
        """Build and validate the experiment; every problem with the file is a :class:`DataError`."""
        if self.source == "simulated":
            return simulate_campaign(self.users, self.treated_share, self.seed)
        if not self.file_bytes:
            raise DataError(
                "no file uploaded yet: upload a CSV or Parquet experiment, or choose the simulated campaign."
            )
        return experiment_from_bytes(self.file_bytes, self.file_name, self.column_map(), revenue_per_conversion)


def table_from_bytes(content: bytes, file_name: str) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """An uploaded file through the core's own reader (its checks and notes), named as the user named it."""
    name = Path(file_name or "upload").name
    if not content:
        raise DataError(f"{name}: the file is empty. Upload the experiment with one row per user.")
    if not name.lower().endswith(FILE_TYPES):
        raise DataError(f"{name}: unknown file type. Upload a .csv, .csv.gz or .parquet file.")
    # the core reads from a path; a private temporary folder keeps the user's name for its ending
    with tempfile.TemporaryDirectory(prefix="uplift_upload_") as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        return read_with_notes(path, shown=name, wording=APP)


def experiment_from_bytes(
    content: bytes, file_name: str, columns: ColumnMap, revenue_per_conversion: float | None = None
) -> Experiment:
    """An uploaded file read and validated with its mapping; every problem is a :class:`DataError` in the
    app's words (its fields, not command-line flags)."""
    raw, notes = table_from_bytes(content, file_name)
    experiment = from_frame(
        raw,
        columns,
        source=Path(file_name or "upload").name,
        revenue_per_conversion=revenue_per_conversion,
        wording=APP,
    )
    return dataclasses.replace(experiment, notes=notes + experiment.notes) if notes else experiment


class Economics(param.Parameterized):
    """The campaign's budget and costs, and the strategies to compare: read from a finished analysis."""

    budget = param.Number(
        default=DEFAULT_BUDGET,
        # no upper bound: a typed budget beyond the slider's end is clamped with a notice, not dropped
        bounds=(0.0, None),
        softbounds=(0.0, MAX_BUDGET),
        step=1_000.0,
        doc="Money available for the campaign's contacts, in the currency of the revenue.",
    )
    cost_per_contact = param.Number(
        default=DEFAULT_COST_PER_CONTACT,
        bounds=(0.01, 1_000.0),
        softbounds=(0.1, 50.0),
        step=0.1,
        doc="Cost of contacting one customer (ignored when the data has a per-user cost column).",
    )
    revenue_per_conversion = param.Number(
        default=None,
        allow_None=True,
        bounds=(0.0, None),
        inclusive_bounds=(False, True),
        doc="Value of one conversion, used only when the data has no revenue column.",
    )
    strategies = param.ListSelector(
        default=list(STRATEGY_NAMES),
        objects=list(STRATEGY_NAMES),
        doc="Targeting strategies to draw: random order, conversion probability, the uplift model, and the oracle "
        "(the true value, simulated data only).",
    )


# as ModelSettings names them
MODEL_FIELDS = ("learner", "tree_grid", "n_estimators", "learning_rate", "max_depth", "folds", "seed")


class ModelChoice(param.Parameterized):
    """The learner and its settings: changing them needs "Fit models" again."""

    learner = param.Selector(
        default="t",
        objects={"T-learner": "t", "X-learner": "x", "DR-learner": "dr", "Automatic (nested)": "auto"},
        doc="T: one model per arm; X: effects imputed across arms; DR: doubly robust pseudo-outcomes.",
    )

    tree_grid = param.Boolean(
        default=False,
        label="Automatic: also try other tree sizes",
        doc="With the automatic choice, also compare trees one level shallower and one deeper (a noisier choice).",
    )
    n_estimators = param.Integer(default=75, bounds=(5, 2_000), softbounds=(10, 500), doc="Boosting rounds per model.")
    learning_rate = param.Number(
        default=0.05, bounds=(0.001, 1.0), softbounds=(0.01, 0.3), doc="XGBoost learning rate."
    )
    max_depth = param.Integer(default=3, bounds=(1, 12), doc="Depth of each tree.")
    folds = param.Integer(
        default=5, bounds=(2, 20), softbounds=(2, 10), doc="Cross-fitting folds: every user is scored out of sample."
    )
    seed = param.Integer(default=7, bounds=(0, 2**31 - 1), doc="Seed of the folds, the models and the random strategy.")

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._grid_for_auto_only()

    @param.depends("learner", watch=True)
    def _grid_for_auto_only(self) -> None:
        # the form greys the box out (Panel shows a constant parameter as a disabled widget) for other learners
        self.param.tree_grid.constant = self.learner != "auto"

    def settings(self, base: AnalysisSettings | None = None) -> AnalysisSettings:
        """These values over ``base`` (whose other settings, e.g. threads or the population, are kept)."""
        base = base or AnalysisSettings()
        values = {name: getattr(self, name) for name in MODEL_FIELDS}
        # the grid widens only the automatic choice: another learner with it ticked is the same fit (one cache entry)
        values["tree_grid"] = values["tree_grid"] and values["learner"] == "auto"
        model = dataclasses.replace(base.model, **values)
        return dataclasses.replace(base, model=model)

    @classmethod
    def from_settings(cls, settings: AnalysisSettings, **params) -> ModelChoice:
        return cls(**{name: getattr(settings.model, name) for name in MODEL_FIELDS}, **params)
