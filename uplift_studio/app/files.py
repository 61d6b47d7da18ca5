"""The files of a session: an upload read into the data step and checked, and the downloads (the contact
list and the snapshot), each failing with a notice that keeps what the analyst had."""

from __future__ import annotations

import html
import importlib.util
import io

import panel as pn
import param
import polars as pl

from uplift_studio.app.notify import catch_and_notify
from uplift_studio.app.state import experiment_from_bytes
from uplift_studio.core.contacts import contact_list
from uplift_studio.core.data import Experiment
from uplift_studio.core.errors import DataError
from uplift_studio.core.examples import example

NOTIFICATION_MS = 12_000


class FileControls(param.Parameterized):
    """Upload, check and download handlers (the dashboard provides the widgets and the panes)."""

    @catch_and_notify
    def _on_upload(self, event: param.parameterized.Event) -> None:
        if not event.new:  # the file was removed from the drop area: the data stays as it is
            return
        name, content = list(event.new.items())[-1]  # one file at a time: the newest
        # a text file arrives decoded (UTF-8); the readers want its bytes, which encoding gives back exactly
        content = content.encode() if isinstance(content, str) else content
        # read first: a file the reader refuses changes nothing (the form, the source and the results stay)
        outline = self.data_step.load(content, name)
        self.data.source = "file"
        self.notify_success(
            f"{outline.name}: {outline.rows:,} rows and {len(outline.columns)} columns read. Check the columns "
            "picked for each role, then press Check the data."
        )

    @catch_and_notify
    def use_example(self, name: str = "hillstrom") -> None:
        """Load a bundled public experiment into the data step, mapped as it should be read."""
        chosen = example(name)
        outline = self.data_step.load(chosen.path.read_bytes(), chosen.filename, chosen.columns)
        self.data.source = "file"
        self.notify_success(
            f"{outline.name}: {outline.rows:,} rows read and mapped as the example is read. Press Check the data "
            "or Fit models."
        )

    @catch_and_notify
    def _on_check(self) -> Experiment:
        """Validate the uploaded file with the form's mapping, in the app's words."""
        data = self.data
        if not data.file_bytes:
            raise DataError("no file uploaded yet: upload a CSV or Parquet experiment first.")
        experiment = experiment_from_bytes(
            data.file_bytes, data.file_name, data.column_map(), self.revenue_per_conversion
        )
        data.source = "file"
        self.data_step.show_checked(experiment)
        treated = int(experiment.treatment.sum())
        self.notify_success(
            f"{experiment.source}: {experiment.n_users:,} users ({treated:,} contacted, "
            f"{len(experiment.features)} features) ready. Press Fit models."
        )
        return experiment

    def notify_success(self, message: str) -> None:
        self.status_pane.object = html.escape(message)
        if pn.state.notifications is not None:
            # Notyf writes its message as HTML: file names, columns and labels come from the user's file
            pn.state.notifications.success(html.escape(message), duration=NOTIFICATION_MS)

    def notify_error(self, message: str) -> None:
        self.last_error = message
        self.status_pane.object = f'<span style="color:#b2182b">{html.escape(message)}</span>'
        if pn.state.notifications is not None:
            # an error stays until closed: it says what to fix, and a loaded page must not lose it before it is read
            pn.state.notifications.error(html.escape(message), duration=0)

    def notify_info(self, message: str) -> None:
        if pn.state.notifications is not None:
            pn.state.notifications.info(html.escape(message), duration=NOTIFICATION_MS)

    def _download_row(self) -> pn.Row:
        contacts = pn.widgets.FileDownload(
            callback=self.contact_file,
            filename="contacts.csv",
            label="Download contact list",
            color="success",
            width=230,
        )
        return pn.Row(contacts, self._snapshot_button())

    def _snapshot_button(self) -> pn.viewable.Viewable:
        if importlib.util.find_spec("uplift_studio.app.snapshot") is None:
            return pn.widgets.Button(name="Download snapshot (not available)", disabled=True, width=260)
        return pn.widgets.FileDownload(
            callback=self.snapshot_file, filename="uplift_snapshot.html", label="Download snapshot", width=230
        )

    def contact_list(self) -> pl.DataFrame:
        """The experiment's users to contact under the budget, in targeting order (the core's one builder)."""
        analysis = self.analysis
        if analysis is None:
            raise DataError("no results yet: press Fit models first.")
        if not analysis.per_user_views:
            raise DataError(
                "these results are per-bin tables from the streaming or Dask engine: they hold no user's score. "
                "Write the contact list where the data is: `uplift-studio targets --data FILE --out contacts.csv`."
            )
        if analysis.per_user_cost and self._experiment is None:  # e.g. `serve --analysis`: no data, no costs
            raise DataError(
                "the contact list ranks users by their own contact costs, which are in the data, and these results "
                "were opened without it: run `uplift-studio serve --data FILE` (or Fit models on it) for the list."
            )
        return contact_list(analysis.scored_users(self._experiment), self._budget(), cost_per_contact=self._cost())

    @catch_and_notify
    def contact_file(self) -> io.StringIO:
        buffer = io.StringIO()
        self.contact_list().write_csv(buffer)
        buffer.seek(0)
        return buffer

    @catch_and_notify
    def snapshot_file(self) -> io.StringIO:
        from uplift_studio.app.snapshot import snapshot_html  # optional module, built by the snapshot work

        if self.analysis is None:
            raise DataError("no results yet: press Fit models first.")
        return io.StringIO(snapshot_html(self.analysis, self._budget(), self._cost()))
