"""One analysis per (data, model settings) per process, shared by every browser session.

Fits run one at a time in a worker thread (XGBoost already uses every core); each job reports its progress
(folds done of total) to the sessions that wait on it, and says early whether the disk cache answers it.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from uplift_studio.core.analysis import Analysis, AnalysisSettings, is_cached, run_analysis
from uplift_studio.core.data import Experiment
from uplift_studio.core.errors import DataError

if TYPE_CHECKING:  # the core's offers read scipy.stats: imported on first use, not at start-up
    from uplift_studio.core.offers import OfferExperiment

log = logging.getLogger(__name__)

ExperimentFactory = Callable[[], Experiment]


class FitCancelled(DataError):
    """A fit stopped on request."""


class AnalysisJob:
    """A fit under way or done, with its progress (folds done of total) for every session that waits on it."""

    def __init__(self, key: Hashable) -> None:
        self.key = key
        self.future: Future[Analysis] = Future()
        self.experiment: Experiment | None = None
        self.done = 0
        self.total = 0
        # set once the data is built and the disk cache looked up: a hit finishes in a fraction of a second
        self.cache_checked = threading.Event()
        self.cache_hit = False
        self.cancelled = threading.Event()
        self._listeners: list[Callable[[int, int], None]] = []
        self._done_listeners: list[tuple[Callable[[int, int], None], Callable[[], None]]] = []
        self._lock = threading.Lock()
        self.future.add_done_callback(self._notify_done)

    def cancel(self) -> None:
        """Stop the fit at its next fold boundary (every session waiting on it is told)."""
        self.cancelled.set()

    def report(self, done: int, total: int) -> None:
        if self.cancelled.is_set():
            raise FitCancelled("the fit was cancelled; press Fit models to start it again.")
        with self._lock:
            self.done, self.total = done, total
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(done, total)
            except Exception:  # a closed session must not stop the fit
                log.debug("progress listener failed", exc_info=True)

    def subscribe(self, on_progress: Callable[[int, int], None], on_done: Callable[[], None]) -> object:
        """Follow the fit; returns a token for :meth:`unsubscribe`.

        The done callback is kept in our own list, not given to ``Future.add_done_callback``: a finished
        future keeps its callbacks for its whole life, and a job kept in ``_JOBS`` would then hold every
        session (dashboard, document) that ever waited on it."""
        token = (on_progress, on_done)
        with self._lock:
            if not self.future.done():
                self._listeners.append(on_progress)
                self._done_listeners.append(token)
                return token
        on_done()  # already finished: no need to keep anything
        return token

    def unsubscribe(self, token: object) -> None:
        """Forget a session's callbacks (its page closed): the job must not keep the session alive."""
        with self._lock:
            if token in self._done_listeners:
                self._done_listeners.remove(token)
                self._listeners.remove(token[0])

    def _notify_done(self, _future: Future) -> None:
        with self._lock:
            listeners, self._done_listeners, self._listeners = self._done_listeners, [], []
        for _, on_done in listeners:
            try:
                on_done()
            except Exception:  # a closed session must not stop the others being told
                log.debug("done listener failed", exc_info=True)

    @property
    def succeeded(self) -> bool:
        return self.future.done() and self.future.exception() is None


_JOBS: OrderedDict[Hashable, AnalysisJob] = OrderedDict()
_JOBS_LOCK = threading.Lock()
_KEPT_ANALYSES = 6  # finished analyses kept in memory (each holds the per-user scores: ~10 MB at 150k users)
# one fit at a time: XGBoost already uses every core, and two fits would only slow each other down
WARM_START_WAIT = 10.0  # seconds; a cache read takes well under one, a fit is never waited for here
_EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="uplift-fit")
# data building and disk-cache reads never queue behind another session's fit
_READER = ThreadPoolExecutor(max_workers=2, thread_name_prefix="uplift-read")


def analysis_job(key: Hashable, experiment: ExperimentFactory, settings: AnalysisSettings) -> AnalysisJob:
    """The job for ``key``: the finished or running one if any (a failed one is retried), else a new fit."""
    with _JOBS_LOCK:
        job = _JOBS.get(key)
        if job is not None and not (job.future.done() and not job.succeeded):
            _JOBS.move_to_end(key)
            return job
        job = AnalysisJob(key)
        _JOBS[key] = job
        finished = [k for k, j in _JOBS.items() if j.future.done() and k != key]
        for stale in finished[: max(len(finished) - _KEPT_ANALYSES, 0)]:
            del _JOBS[stale]
    _READER.submit(_prepare, job, experiment, settings)
    return job


def finished_analysis(key: Hashable) -> AnalysisJob | None:
    with _JOBS_LOCK:
        job = _JOBS.get(key)
    return job if job is not None and job.succeeded else None


def _prepare(job: AnalysisJob, experiment: ExperimentFactory, settings: AnalysisSettings) -> None:
    """Build the data and answer from the disk cache when it can; only a real fit goes to the fit worker."""
    try:
        job.report(0, settings.model.folds if settings.model.holdout is None else 1)
        job.experiment = experiment()
        # several offers (issue 12): no disk cache of their own, always the fit worker
        job.cache_hit = not _is_offers(job.experiment) and is_cached(job.experiment, settings)
        job.cache_checked.set()
        if job.cache_hit:
            job.future.set_result(run_analysis(job.experiment, settings))
            return
    except BaseException as error:  # handed to the sessions, which notify
        job.cache_checked.set()
        job.future.set_exception(error)
        return
    _EXECUTOR.submit(_fit, job, settings)


def _fit(job: AnalysisJob, settings: AnalysisSettings) -> None:
    try:
        if _is_offers(job.experiment):
            from uplift_studio.core.offers_analysis import run_offer_analysis

            population = settings.population
            result = run_offer_analysis(job.experiment, settings.model, population=population, progress=job.report)
            job.future.set_result(result)
            return
        job.future.set_result(run_analysis(job.experiment, settings, progress=job.report))
    except BaseException as error:  # handed to the sessions, which notify
        job.future.set_exception(error)


def _is_offers(experiment) -> bool:
    """An experiment of several offers (the core's offers imported here, on first use, not at start-up)."""
    from uplift_studio.core.offers import OfferExperiment

    return isinstance(experiment, OfferExperiment)


class Provided:
    """An experiment given by the caller (the CLI's ``--data``, one offer or several): built once per process,
    on first use when it is a factory."""

    def __init__(self, experiment: Experiment | OfferExperiment | ExperimentFactory) -> None:
        made = hasattr(experiment, "fingerprint")  # a finished experiment, else a factory of one
        if not made and not callable(experiment):
            raise TypeError(f"an experiment or a function that makes one, not {type(experiment).__name__}")
        self._value = experiment if made else None
        self._factory = None if made else experiment
        self._lock = threading.Lock()
        token = experiment.fingerprint if made else id(experiment)
        self.key = ("provided", token, getattr(experiment, "source", None))

    def get(self) -> Experiment | OfferExperiment:
        with self._lock:
            if self._value is None:
                self._value = self._factory()
            return self._value


class _WithoutData:
    """The experiment behind an analysis opened from a file: not there, and saying so if a fit asks for it."""

    def __init__(self, source: str) -> None:
        self.source = source

    def __call__(self) -> Experiment:
        raise DataError(
            f"{self.source}: these results were opened without their data, so there is nothing to fit again. "
            "Fit the simulated campaign or an uploaded file here, or run `uplift-studio serve --data FILE`."
        )


def provide_finished(analysis: Analysis, source: str) -> Provided:
    """A finished analysis handed in (``serve --analysis``), shared as a done fit: "Fit models" on it finds
    it finished (with the analysis's own settings), and any other settings say that the data is not here."""
    provided = Provided(_WithoutData(source))
    job = AnalysisJob((provided.key, analysis.settings))
    job.cache_hit = True
    job.cache_checked.set()
    job.future.set_result(analysis)
    with _JOBS_LOCK:
        _JOBS[job.key] = job
    return provided
