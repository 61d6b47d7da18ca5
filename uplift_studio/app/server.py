"""Entry points: the dashboard of one session (``build_dashboard``, what ``launch.py`` serves) and the
server of ``uplift-studio serve``."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import panel as pn
from panel.io.resources import LOCAL_DIST

from uplift_studio.app import server_hygiene
from uplift_studio.app.dashboard import TITLE, Dashboard
from uplift_studio.app.jobs import WARM_START_WAIT, ExperimentFactory, Provided, analysis_job, provide_finished
from uplift_studio.app.panes import complete_on_load
from uplift_studio.app.state import UPLOAD_LIMIT_MB
from uplift_studio.core.analysis import DEFAULT_BUDGET, DEFAULT_COST_PER_CONTACT, Analysis, AnalysisSettings
from uplift_studio.core.data import Experiment


def build_dashboard(
    analysis: Analysis | None = None,
    *,
    experiment: Experiment | ExperimentFactory | Provided | None = None,
    settings: AnalysisSettings | None = None,
    budget: float = DEFAULT_BUDGET,
    cost_per_contact: float = DEFAULT_COST_PER_CONTACT,
    revenue_per_conversion: float | None = None,
    autofit: bool = True,
    **params,
) -> Dashboard:
    """The dashboard of one session.

    ``analysis`` shows finished results at once (tests, scripts). Without it the data is ``experiment`` (an
    :class:`Experiment` or a zero-argument factory, e.g. the CLI's ``--data``) or else the data form's default,
    the simulated campaign; in a served session the fit then starts when the page has loaded, unless
    another session already has the same analysis in memory. ``params`` set any other parameter.
    """
    pn.extension("filedropper", notifications=True)
    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
        serve_css_locally(pn.state.curdoc)
    dashboard = Dashboard(
        analysis,
        experiment=experiment,
        settings=settings,
        budget=budget,
        cost_per_contact=cost_per_contact,
        revenue_per_conversion=revenue_per_conversion,
        **params,
    )
    served = pn.state.curdoc is not None and pn.state.curdoc.session_context is not None
    if served:
        complete_on_load(dashboard.sidebar, keep=2)  # the economics first, then the data and model settings
        pn.state.on_session_destroyed(server_hygiene.session_closed)
        try:
            server_hygiene.install(asyncio.get_running_loop())
        except RuntimeError:  # a session built off the loop (a test's server thread): nothing to install on
            pass
    if autofit and served and dashboard.analysis is None:
        job = dashboard.prefetch()  # the fit (or the disk-cache read) runs while the browser loads the page
        if job is not None and job.cache_checked.wait(WARM_START_WAIT) and job.cache_hit:
            # a warm disk cache answers in a fraction of a second: wait for it, so that the first page the
            # browser receives already holds the numbers instead of an empty frame and a later update
            job.future.exception(timeout=WARM_START_WAIT)
        if job is not None and job.future.done():
            dashboard._finish(job, defer_views=True)
        else:
            pn.state.onload(dashboard.start_fit)
    return dashboard


def serve_css_locally(document) -> None:
    """Point the session's style sheets at this server's own copy of Panel's files, never its CDN.

    Panel sets the ``dist_url`` its models' style sheets are patched with only when it renders the page's
    HTML. A session that Bokeh creates from a websocket (its page's session had expired before the browser
    connected, as under load) never gets it, and every style sheet then loads from cdn.holoviz.org: an
    offline app would lose its styles, and every app would call the internet."""
    rel_path = pn.state.rel_path
    document._template_variables.setdefault("dist_url", f"{rel_path}/{LOCAL_DIST}" if rel_path else LOCAL_DIST)


def serve(
    experiment: Experiment | ExperimentFactory | None = None,
    *,
    analysis: Analysis | None = None,
    analysis_file: str | Path | None = None,
    settings: AnalysisSettings | None = None,
    budget: float = DEFAULT_BUDGET,
    cost_per_contact: float = DEFAULT_COST_PER_CONTACT,
    revenue_per_conversion: float | None = None,
    upload_limit_mb: int = UPLOAD_LIMIT_MB,
    port: int = 5006,
    address: str | None = None,
    show: bool = False,
    threaded: bool = False,
    **server_options,
):
    """Serve the app (what ``uplift-studio serve`` calls); blocks unless ``threaded=True``.

    ``experiment`` is an :class:`Experiment`, a zero-argument function returning one, or None for the
    simulated campaign of the data form. Its fit starts at once in the background, before any browser
    connects, and every session shares it. Or ``analysis``, finished results (``serve --analysis``, read from
    ``analysis_file``): every session opens on them, with no data and no fit. Returns what ``panel.serve``
    returns (a server, or its thread).
    """
    if analysis is not None and experiment is not None:
        raise ValueError("serve takes an experiment or a finished analysis, not both")
    provided = Provided(experiment) if experiment is not None else None
    if analysis is not None:
        analysis = opened_from_file(analysis, analysis_file)
        settings = analysis.settings
        provided = provide_finished(analysis, analysis.source)
    elif provided is not None:
        key = (provided.key, settings or AnalysisSettings())
        analysis_job(key, provided.get, settings or AnalysisSettings())

    def app() -> pn.template.BootstrapTemplate:
        dashboard = build_dashboard(
            analysis,  # None unless finished results were given: then every session opens on them at once
            experiment=provided,  # one experiment and one key per process, whichever session asks
            settings=settings,
            budget=budget,
            cost_per_contact=cost_per_contact,
            revenue_per_conversion=revenue_per_conversion,
            upload_limit_mb=upload_limit_mb,
        )
        return dashboard.__panel__()

    # uploads arrive in 10 MB chunks; a message above Bokeh's default limit (20 MB) would end the session
    server_options.setdefault("websocket_max_message_size", max(upload_limit_mb, UPLOAD_LIMIT_MB) * 2**20)
    return pn.serve(
        {"/": app},
        port=port,
        address=address,
        show=show,
        threaded=threaded,
        title=TITLE,
        **server_options,
    )


def opened_from_file(analysis: Analysis, path: str | Path | None) -> Analysis:
    """``analysis`` with a data line that says where it was read from (the numbers are the same)."""
    name = Path(path).name if path is not None else "an analysis file"
    return dataclasses.replace(analysis, source=f"{analysis.source} (analysis read from {name})")
