"""The data step: an uploaded file's columns and first rows, its roles picked from its own columns and
labels, and a check in the app's words, before anything is fitted.

An upload is only read (the reader's checks: duplicate names, not-gzip, placeholders, separators); the
mapping is validated when the analyst presses "Check the data" or "Fit models", never against default
column names the file was not written for.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import panel as pn
import param
import polars as pl

from uplift_studio.app import markup
from uplift_studio.app.state import NO_COST, NO_ID, NO_LABELS, NO_REVENUE, DataSource, table_from_bytes
from uplift_studio.core.data import ColumnMap, Experiment
from uplift_studio.core.mapping import PREVIEW_ROWS, ColumnSummary, labels, suggest, summarise

_KINDS = {True: "0/1", False: ""}
_CELL_CHARACTERS = 40


@dataclass(frozen=True)
class FileOutline:
    """What the data step keeps of an uploaded file: its summary, first rows and each column's labels (not
    the file itself, which stays as bytes on the data source)."""

    name: str
    rows: int
    columns: tuple[ColumnSummary, ...]
    first_rows: tuple[tuple[str, ...], ...]
    labels: dict[str, tuple[str, ...]]
    notes: tuple[str, ...]

    @classmethod
    def of(cls, name: str, frame: pl.DataFrame, notes: tuple[str, ...]) -> FileOutline:
        head = frame.head(PREVIEW_ROWS)
        first_rows = tuple(
            tuple("" if value is None else str(value)[:_CELL_CHARACTERS] for value in row) for row in head.iter_rows()
        )
        return cls(
            name=name,
            rows=frame.height,
            columns=summarise(frame),
            first_rows=first_rows,
            labels={column: labels(frame, column) for column in frame.columns},
            notes=notes,
        )

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]


def _kind(column: ColumnSummary) -> str:
    if column.binary:
        return "0/1"
    if column.numeric:
        return "number"
    return f"{column.distinct:,} labels"


def preview_html(outline: FileOutline) -> str:
    columns = [
        {"name": c.name, "dtype": c.dtype, "distinct": f"{c.distinct:,}", "kind": _kind(c)} for c in outline.columns
    ]
    return markup.render(
        "preview.html",
        name=outline.name,
        rows=f"{outline.rows:,}",
        columns=columns,
        first_rows=outline.first_rows,
        notes=outline.notes,
    )


def checked_html(experiment: Experiment, data: DataSource, *, fitted: bool = False) -> str:
    treated = int(experiment.treatment.sum())
    return markup.render(
        "checked.html",
        name=experiment.source,
        users=f"{experiment.n_users:,}",
        treated=f"{treated:,}",
        control=f"{experiment.n_users - treated:,}",
        treated_label=data.treated_value or "1",
        control_label=data.control_value or "0",
        features=len(experiment.features),
        feature_names=", ".join(experiment.features),
        notes=experiment.notes,
        fitted=fitted,
    )


class DataStep(pn.viewable.Viewer):
    """The mapping form over a :class:`DataSource`, filled from the uploaded file."""

    outline = param.ClassSelector(class_=FileOutline, default=None, allow_None=True, doc="The uploaded file.")
    check = param.Event(label="Check the data", doc="Validate the file with this mapping.")

    def __init__(self, data: DataSource, **params) -> None:
        super().__init__(**params)
        self.data = data
        self._checked: str | None = None  # the fingerprint of the data last checked
        self.preview_pane = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[markup.CSS, _PREVIEW_CSS])
        self.checked_pane = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[markup.CSS])
        fields = data.param
        self.widgets = {
            "treatment_column": pn.widgets.Select.from_param(fields.treatment_column, label="Treatment column"),
            "treated_value": pn.widgets.Select.from_param(fields.treated_value, label="Treated label"),
            "control_value": pn.widgets.Select.from_param(fields.control_value, label="Control label"),
            "conversion_column": pn.widgets.Select.from_param(fields.conversion_column, label="Conversion column"),
            "revenue_column": pn.widgets.Select.from_param(fields.revenue_column, label="Revenue column"),
            "id_column": pn.widgets.Select.from_param(fields.id_column, label="Id column"),
            "cost_column": pn.widgets.Select.from_param(fields.cost_column, label="Cost column"),
            "expected_treated_share": pn.widgets.FloatInput.from_param(
                fields.expected_treated_share, label="Designed treated share"
            ),
            "exclude_columns": pn.widgets.MultiChoice.from_param(
                fields.exclude_columns, label="Not features", placeholder="e.g. outcomes measured after the contact"
            ),
        }
        for field, widget in self.widgets.items():
            widget.param.update(sizing_mode="stretch_width", css_classes=[f"field-{field}"])
        self.check_button = pn.widgets.Button.from_param(
            self.param.check, color="default", sizing_mode="stretch_width", css_classes=["check-data"]
        )
        self.form = pn.Column(*self.widgets.values(), self.check_button, sizing_mode="stretch_width")
        self.form.visible = self.param.outline.rx.is_not(None)
        data.param.watch(self._offer_labels, "treatment_column")

    def __panel__(self) -> pn.viewable.Viewable:
        return self.form

    def load(self, content: bytes, name: str, columns: ColumnMap | None = None) -> FileOutline:
        """Read an upload (a :class:`DataError` leaves everything as it was) and fill the form from it: with
        ``columns`` (a bundled example's own map), else with a guess from the file's names and values."""
        frame, notes = table_from_bytes(content, name)
        outline = FileOutline.of(name, frame, notes)
        guess = columns or suggest(frame)
        columns = outline.names
        fields = self.data.param
        # the choices first, each applied at once: a Select whose options change resets its value to the first
        # option, so values set in the same batch would be overwritten by those resets
        fields.treatment_column.objects = columns
        fields.conversion_column.objects = columns
        fields.revenue_column.objects = {NO_REVENUE: "", **{c: c for c in columns}}
        fields.id_column.objects = {NO_ID: "", **{c: c for c in columns}}
        fields.cost_column.objects = {NO_COST: "", **{c: c for c in columns}}
        # Bokeh's MultiChoice (Choices.js, allowHTML) renders its labels as HTML: a column name is shown as text
        fields.exclude_columns.objects = {html.escape(c): c for c in columns}
        self.outline = outline
        self.data.param.update(
            file_bytes=content,
            file_name=name,
            treatment_column=guess.treatment or columns[0],
            conversion_column=guess.conversion or columns[0],
            revenue_column=guess.revenue or "",
            id_column=guess.id or "",
            cost_column=guess.cost or "",
            exclude_columns=list(guess.exclude),
        )
        self._offer_labels(treated=guess.treated_value, control=guess.control_value)
        self.preview_pane.object = preview_html(outline)
        self.checked_pane.object = ""
        return outline

    def _offer_labels(self, *_events, treated: str | None = None, control: str | None = None) -> None:
        """The arms to pick from: the chosen treatment column's own labels (none when it is coded 0/1)."""
        if self.outline is None:
            return
        arms = self.outline.labels.get(self.data.treatment_column, ())
        coded = {label.lower() for label in arms} <= {"0", "1", "true", "false", "yes", "no", "0.0", "1.0"}
        choices = {NO_LABELS: ""} if coded else {label: label for label in arms}
        fields = self.data.param
        fields.treated_value.objects = choices
        fields.control_value.objects = choices
        if coded or not arms:
            self.data.param.update(treated_value="", control_value="")
            return
        control = control if control in arms else arms[-1]
        treated = treated if treated in arms and treated != control else next(a for a in arms if a != control)
        self.data.param.update(treated_value=treated, control_value=control)

    def show_checked(self, experiment: Experiment) -> None:
        self._checked = experiment.fingerprint
        self.checked_pane.object = checked_html(experiment, self.data)

    def show_fitted(self, experiment: Experiment | None) -> None:
        """The checked file's summary, once results of that same data are on screen, says so: it no longer
        asks for a fit that has been done."""
        if experiment is not None and self._checked == experiment.fingerprint:
            self.checked_pane.object = checked_html(experiment, self.data, fitted=True)


_PREVIEW_CSS = """
.preview-scroll { overflow-x: auto; max-width: 100%; }
table.preview-table th, table.preview-table td { text-align: left; font-size: 12px; }
table.preview-table th small { color: #52606d; font-weight: normal; }
.checked { font-size: 13px; color: #102a43; background: #eef7ee; border: 1px solid #b7dfb9; border-radius: 6px;
           padding: 6px 10px; }
"""
