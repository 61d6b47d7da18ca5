r"""Automatic, honest learner selection (``learner="auto"``): nested cross-fitting.

Candidates are every learner (T, X, DR) x outcome target (the order value model, or revenue fitted
directly) at the settings' own tree size; with ``tree_grid``, also one level shallower and one deeper
(depth d - 1, d, d + 1, with rounds scaled so that the shallower trees get more of them: 100, 75 and 50
rounds for the default depth 3 and 75 rounds). For each
outer fold of :mod:`uplift_studio.core.crossfit`, the candidates are compared on its **training part only**:
a stratified sample of at most :data:`SELECTION_USERS` of those users is split into :data:`INNER_FOLDS`
inner folds, every candidate is fitted on all but one and scores it, and the candidate with the highest
revenue Qini of those inner out-of-fold scores wins. The winner is then fitted on the whole training part
and scores the outer held-out fold, so no reported figure comes from a user who took part in the choice.

Work is shared: every candidate uses the same inner folds and seeds, and for one tree size and one inner
fold a single fit of the per-arm models (conversion, order value and revenue) serves all six learners and
targets: the X- and DR-learners' effect stages are fitted on top of it, and the order-value candidates reuse
the revenue candidates' conversion effect models (the seeds are those each learner would draw itself, so
every candidate's scores are bit for bit those of the learner fitted on its own; a test checks).

The criterion is the revenue Qini coefficient: it is the figure the report shows, and it needs no model
of its own (a DR loss needs outcome models on the validation users, whose errors it then inherits).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from uplift_studio.core.crossfit import (
    Design,
    Progress,
    Scores,
    assemble_scores,
    cross_fit,
    design,
    fit_and_score,
    fit_final,
    fold_outputs,
)
from uplift_studio.core.data import Experiment
from uplift_studio.core.errors import DataError
from uplift_studio.core.metrics import qini_area, qini_auc_score
from uplift_studio.core.settings import LEARNER_NAMES, LEARNERS, ModelSettings
from uplift_studio.core.stats import Z95

if TYPE_CHECKING:
    from uplift_studio.core.tlearner import TLearner

TARGETS = ("order_value", "revenue")
# The inner comparison's noise, not its breadth, decided what auto was worth (README, "How the numbers are made"):
# the tree-size grid's 18 candidates on 20,000-user samples scored Spearman 0.807/0.813/0.811 with the true
# incremental revenue (simulated seeds 3/5/9), the 6 candidates at the own size on 40,000-user samples
# 0.819/0.820/0.829 in 20 s instead of 28 s, with Hillstrom and Starbucks within noise either way. So the
# grid is opt-in and a large campaign's training part is sampled to 40,000 users.
SELECTION_USERS = 40_000
INNER_FOLDS = 2
SEED_LIMIT = np.iinfo(np.int32).max


@dataclass(frozen=True)
class Candidate:
    """One learner x target x tree size."""

    learner: str
    value_model: str
    max_depth: int
    n_estimators: int

    @property
    def name(self) -> str:
        return f"{self.learner}/{self.value_model}/depth {self.max_depth} x {self.n_estimators}"

    @property
    def label(self) -> str:
        target = "order value model" if self.value_model == "order_value" else "revenue directly"
        return f"{LEARNER_NAMES[self.learner]}, {target}, depth {self.max_depth} x {self.n_estimators} rounds"

    def settings(self, base: ModelSettings) -> ModelSettings:
        return replace(
            base,
            learner=self.learner,
            value_model=self.value_model,
            max_depth=self.max_depth,
            n_estimators=self.n_estimators,
        )


def tree_sizes(settings: ModelSettings) -> tuple[tuple[int, int], ...]:
    """(depth, rounds): the settings' own; with ``tree_grid``, then one level shallower and one deeper, each
    level less depth with a third more rounds (the measured defaults: depth 2 did best at about 100 rounds,
    depth 4 at fewer than 75)."""
    depth, rounds = settings.max_depth, settings.n_estimators
    sizes = [(depth, rounds)]
    if not settings.tree_grid:
        return tuple(sizes)
    for other in (depth - 1, depth + 1):
        if other >= 1:
            sizes.append((other, max(1, round(rounds * (1 + (depth - other) / 3)))))
    return tuple(sizes)


def candidates(settings: ModelSettings) -> tuple[Candidate, ...]:
    """Every candidate, the settings' own tree size first; a tie goes to the first."""
    return tuple(
        Candidate(learner, target, depth, rounds)
        for depth, rounds in tree_sizes(settings)
        for learner in LEARNERS
        for target in TARGETS
    )


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class Selection:
    """Which candidate won in each outer fold, and the evidence.

    ``inner_qini[f, c]``: candidate ``c``'s revenue Qini on the inner folds of outer fold ``f``'s training
    part (what chose). ``qini[c]``: its Qini on every held-out user, each scored by the candidate's inner
    models of that user's fold (fitted on the selection sample, so on equal footing with
    ``selected_qini``, the same for the candidate each fold chose); ``difference_se[c]``: the standard error
    of ``qini[c] - selected_qini``, paired on the same users. ``refit_qini`` is the reported model's (the
    winners refitted on whole training parts), with the SE of its difference from ``selected_qini``.
    """

    candidates: tuple[str, ...]
    labels: tuple[str, ...]
    chosen: np.ndarray
    inner_qini: np.ndarray
    selection_users: np.ndarray
    qini: np.ndarray
    difference_se: np.ndarray
    selected_qini: float
    refit_qini: float
    refit_difference_se: float

    def __post_init__(self) -> None:
        for name in ("chosen", "inner_qini", "selection_users", "qini", "difference_se"):
            _read_only(getattr(self, name))

    @property
    def chosen_names(self) -> tuple[str, ...]:
        return tuple(self.candidates[index] for index in self.chosen)

    def interval(self, index: int) -> tuple[float, float]:
        """95% interval of candidate ``index``'s Qini minus the selected one's."""
        difference = float(self.qini[index] - self.selected_qini)
        half = Z95 * float(self.difference_se[index])
        return difference - half, difference + half

    def as_dict(self) -> dict:
        rows = []
        for index, name in enumerate(self.candidates):
            low, high = self.interval(index)
            rows.append(
                {
                    "candidate": name,
                    "label": self.labels[index],
                    "qini_coefficient": float(self.qini[index]),
                    "minus_selected": float(self.qini[index] - self.selected_qini),
                    "minus_selected_se": float(self.difference_se[index]),
                    "minus_selected_ci_low": low,
                    "minus_selected_ci_high": high,
                    "inner_qini": [float(value) for value in self.inner_qini[:, index]],
                    "chosen_in_folds": [int(f) for f in np.flatnonzero(self.chosen == index)],
                }
            )
        return {
            "method": "nested cross-fitting: revenue Qini on inner folds of each training part only",
            "chosen": list(self.chosen_names),
            "selection_users": [int(value) for value in self.selection_users],
            "selected_qini_coefficient": self.selected_qini,
            "refit_qini_coefficient": self.refit_qini,
            "refit_minus_selected_se": self.refit_difference_se,
            "candidates": rows,
        }


def _family(fitted: Design, rows: np.ndarray, settings: ModelSettings, seed: int) -> dict[tuple[str, str], object]:
    """Every learner x target at one tree size, fitted on ``rows`` from one fit of the per-arm models."""
    from sklearn.utils.validation import check_random_state

    from uplift_studio.core.metalearners import DRLearner, XLearner
    from uplift_studio.core.tlearner import TLearner, Training, boosters

    classifier, regressor = boosters(settings.xgboost_params())
    arguments = {"classifier": classifier, "regressor": regressor, "value_model": "revenue", "random_state": seed}
    base = TLearner(**arguments).fit_matrix(
        fitted.matrix, rows, fitted.features, fitted.categories, fitted.bought, fitted.arm, fitted.revenue
    )
    treated, control = rows[fitted.arm[rows] == 1], rows[fitted.arm[rows] == 0]
    training = Training(
        fitted.matrix,
        rows,
        treated,
        control,
        np.take(fitted.matrix, treated, axis=0),
        np.take(fitted.matrix, control, axis=0),
        fitted.bought,
        fitted.arm,
        fitted.revenue,
    )
    family = {("t", "revenue"): base}
    for name, kind in (("x", XLearner), ("dr", DRLearner)):
        learner = kind(**arguments)
        vars(learner).update({key: value for key, value in vars(base).items() if key.endswith("_")})
        rng = check_random_state(seed)
        rng.randint(SEED_LIMIT, size=5)  # the draws fit_matrix makes for the per-arm models before the effects
        learner._fit_effects(training, classifier, regressor, rng)
        family[(name, "revenue")] = learner
    for (name, _), learner in list(family.items()):
        # the conversion effect models were fitted with the seeds the order-value learner draws: reuse them
        twin = copy.copy(learner)
        twin.value_model = "order_value"
        family[(name, "order_value")] = twin
    return family


class _Comparison(NamedTuple):
    """One training part's inner comparison: its selection sample, inner folds and their fits' seeds."""

    sample: np.ndarray
    splits: tuple[tuple[np.ndarray, np.ndarray], ...]
    fit_seeds: tuple[int, ...]
    test: np.ndarray


def _prepare(fitted: Design, train: np.ndarray, test: np.ndarray, seed: np.random.SeedSequence) -> _Comparison:
    from sklearn.model_selection import StratifiedKFold, train_test_split

    sample_seed, *fit_seeds = (int(value) for value in seed.generate_state(1 + INNER_FOLDS))
    strata = fitted.strata
    sample = train
    if train.shape[0] > SELECTION_USERS:
        sample = np.sort(
            train_test_split(train, train_size=SELECTION_USERS, stratify=strata[train], random_state=sample_seed)[0]
        )
    counts = np.bincount(strata[sample], minlength=4)
    if counts.min() < 2 * INNER_FOLDS:
        raise DataError(
            f"too few users to choose a learner automatically: a training part has {counts.min()} user(s) in one "
            f"of its arm x outcome groups (control non-buyers, control buyers, treated non-buyers, treated buyers: "
            f"{counts.tolist()}), and the inner folds need {2 * INNER_FOLDS}; use more data, fewer folds, or "
            "choose the learner (--learner t)"
        )
    splitter = StratifiedKFold(n_splits=INNER_FOLDS, shuffle=True, random_state=sample_seed % SEED_LIMIT)
    splits = tuple(splitter.split(sample, strata[sample]))
    return _Comparison(sample, splits, tuple(seed % SEED_LIMIT for seed in fit_seeds), test)


def _family_scores(
    fitted: Design, settings: ModelSettings, comparison: _Comparison, size: tuple[int, int], split: int
) -> dict[int, np.ndarray]:
    """One family's scores (candidate index: scores of the inner fold's held-out users, then of the outer
    test users). One thread per model: a worker of :func:`_compare` runs one family."""
    depth, rounds = size
    size_settings = replace(settings, max_depth=depth, n_estimators=rounds, n_jobs=1)
    fit_part, score_part = comparison.splits[split]
    family = _family(fitted, comparison.sample[fit_part], size_settings, comparison.fit_seeds[split])
    # one matrix and one prediction of the shared per-arm models for every candidate of the family
    rows = np.concatenate([comparison.sample[score_part], comparison.test])
    matrix = np.take(fitted.matrix, rows, axis=0)
    shared = family[("t", "revenue")].predict_matrix(matrix)
    # each learner's uplift and revenue effect once (what predict_matrix returns, without predicting the
    # per-arm models again); its order-value twin is that uplift times the shared order value
    effects = {"t": (shared.uplift, shared.expected_incremental_revenue)}
    for name in ("x", "dr"):
        effects[name] = family[(name, "revenue")]._effects(
            matrix, shared.p_treated, shared.p_control, shared.order_value
        )
    scores = {}
    for index, option in enumerate(candidates(settings)):
        if (option.max_depth, option.n_estimators) == size:
            uplift, revenue_effect = effects[option.learner]
            scores[index] = revenue_effect if option.value_model == "revenue" else uplift * shared.order_value
    return scores


def _compare(fitted: Design, settings: ModelSettings, comparison: _Comparison) -> tuple[np.ndarray, np.ndarray, int]:
    """The candidates' inner revenue Qini on the comparison's sample, their mean inner-model score of its test
    users, and the sample size.

    The families (one per tree size x inner fold) are independent fits on a few thousand users, where one
    XGBoost thread per model does more than two (measured on 2 cores: a family took 0.91 s on one thread,
    1.16 s on two), so they run side by side, one per core; each has its own seeds and one thread, so the
    numbers do not depend on how many run at once or in which order they finish."""
    from concurrent.futures import ThreadPoolExecutor

    jobs = [(size, split) for size in tree_sizes(settings) for split in range(INNER_FOLDS)]
    with ThreadPoolExecutor(max_workers=max(1, min(settings.threads, len(jobs)))) as pool:
        results = list(pool.map(lambda job: _family_scores(fitted, settings, comparison, *job), jobs))
    count = len(candidates(settings))
    inner = np.full((count, comparison.sample.shape[0]), np.nan)
    outer = np.zeros((count, comparison.test.shape[0]))
    for (_, split), scores in zip(jobs, results, strict=True):
        held_out = comparison.splits[split][1]
        for index, value in scores.items():
            inner[index, held_out] = value[: held_out.shape[0]]
            outer[index] += value[held_out.shape[0] :] / INNER_FOLDS
    revenue, arm = fitted.revenue[comparison.sample], fitted.arm[comparison.sample]
    qini = np.array([qini_auc_score(revenue, score, arm) for score in inner])
    return qini, outer, int(comparison.sample.shape[0])


def _winner(qini: np.ndarray) -> int:
    return int(np.argmax(np.where(np.isfinite(qini), qini, -np.inf)))


def _selection_seeds(settings: ModelSettings, count: int) -> list[np.random.SeedSequence]:
    # the third child of the settings' seed: the first two draw the folds' random scores and learner seeds
    return np.random.SeedSequence(settings.seed).spawn(3)[2].spawn(count)


def choose_on_all(fitted: Design, settings: ModelSettings) -> ModelSettings:
    """The candidate that wins on inner folds of all users: the model to fit on everyone and save."""
    rows = np.arange(fitted.matrix.shape[0])
    seed = _selection_seeds(settings, len(fitted.splits) + 1)[-1]
    qini, _, _ = _compare(fitted, settings, _prepare(fitted, rows, rows[:0], seed))
    return candidates(settings)[_winner(qini)].settings(settings)


def select_folds(
    fitted: Design, settings: ModelSettings, progress: Progress | None = None
) -> tuple[dict[str, np.ndarray], Selection]:
    """The outer folds' scores from each fold's winner (refitted on the training part), and the record."""
    options = candidates(settings)
    n = fitted.matrix.shape[0]
    outputs = fold_outputs(n)
    candidate_scores = np.full((len(options), n), np.nan)
    seeds = _selection_seeds(settings, len(fitted.splits) + 1)
    chosen, inner_qini, sample_sizes = [], [], []
    for index, (train, test) in enumerate(fitted.splits):
        qini, outer, users = _compare(fitted, settings, _prepare(fitted, train, test, seeds[index]))
        winner = _winner(qini)
        candidate_scores[:, test] = outer
        fit_and_score(fitted, options[winner].settings(settings), index, outputs)
        chosen.append(winner)
        inner_qini.append(qini)
        sample_sizes.append(users)
        if progress is not None:
            progress(index + 1, len(fitted.splits))
    chosen = np.array(chosen, dtype=np.int64)
    evaluation = np.zeros(n, dtype=bool)
    selected = np.full(n, np.nan)
    for index, (_, test) in enumerate(fitted.splits):
        evaluation[test] = True
        selected[test] = candidate_scores[chosen[index], test]
    revenue, arm = fitted.revenue[evaluation], fitted.arm[evaluation]
    refit = outputs["expected_incremental_revenue"][evaluation]
    scores = candidate_scores[:, evaluation]
    selected = selected[evaluation]
    qini = np.array([qini_auc_score(revenue, score, arm) for score in scores])
    selected_qini = qini_auc_score(revenue, selected, arm)
    influence = QiniInfluence(revenue, arm)
    base = influence.terms(selected)
    differences = np.array([influence.se(influence.terms(score) - base) for score in scores])
    selection = Selection(
        candidates=tuple(option.name for option in options),
        labels=tuple(option.label for option in options),
        chosen=chosen,
        inner_qini=np.array(inner_qini),
        selection_users=np.array(sample_sizes, dtype=np.int64),
        qini=qini,
        difference_se=differences,
        selected_qini=float(selected_qini),
        refit_qini=float(qini_auc_score(revenue, refit, arm)),
        refit_difference_se=influence.se(influence.terms(refit) - base),
    )
    return outputs, selection


class QiniInfluence:
    """Per-user influence terms of the Qini coefficient, for paired standard errors of differences.

    With the treated-to-control ratio fixed at the sample's ``rho``, the Qini area above the random line is
    ``sum_i z_i (n / 2 - r_i)`` with ``z_i = y_i (t_i - rho (1 - t_i))`` and ``r_i`` the rank of user i by
    score: a V-statistic whose influence function is ``z_i (1/2 - F(s_i)) + E_j[z_j (1/2 - 1{s_j < s_i})]``
    (F the share of users scored above). The SE of a difference of two scores' coefficients, paired on the
    same users, is the spread of the difference of their terms over sqrt(n), scaled by the best ranking's
    area (held fixed, as in :func:`uplift_studio.core.metrics.coefficient_intervals`). A test checks it
    against a paired bootstrap that resamples users and sorts again.
    """

    def __init__(self, revenue: np.ndarray, arm: np.ndarray) -> None:
        treated = arm.astype(bool)
        self.n = revenue.shape[0]
        rho = np.count_nonzero(treated) / max(np.count_nonzero(~treated), 1)
        self.z = np.where(treated, revenue, -rho * revenue)
        self.normaliser = qini_area(revenue, revenue * (2.0 * arm - 1.0), arm)

    def terms(self, score: np.ndarray) -> np.ndarray:
        order = np.argsort(-score, kind="stable")
        z = self.z[order]
        above = np.arange(self.n) / self.n  # share of users ranked above each one
        below = (z.sum() - np.cumsum(z)) / self.n  # (1/n) sum of z over users ranked below
        terms = np.empty(self.n)
        terms[order] = z * (0.5 - above) + 0.5 * z.mean() - below
        return terms

    def se(self, terms: np.ndarray) -> float:
        """SE of the coefficient whose (or whose difference's) influence terms these are."""
        if self.normaliser == 0:
            return float("nan")
        return float(np.std(terms, ddof=1) / np.sqrt(self.n) * self.n**2 / abs(self.normaliser))


def cross_fit_selected(
    experiment: Experiment,
    settings: ModelSettings = ModelSettings(),  # noqa: B008 - frozen, so a shared default is safe
    progress: Progress | None = None,
) -> tuple[Scores, Selection | None]:
    """:func:`cross_fit`, and the record of the automatic choice (None unless ``settings.learner`` is auto):
    each outer fold's model is chosen on inner folds of its training part alone."""
    if settings.learner != "auto":
        return cross_fit(experiment, settings, progress), None
    fitted = design(experiment, settings)
    outputs, selection = select_folds(fitted, settings, progress)
    return assemble_scores(experiment, fitted, outputs), selection


def fit_final_selected(
    experiment: Experiment,
    settings: ModelSettings = ModelSettings(),  # noqa: B008 - frozen, so a shared default is safe
    progress: Progress | None = None,
) -> tuple[TLearner, ModelSettings]:
    """:func:`fit_final` and the settings of the learner it fitted: with ``learner="auto"``, the candidate
    chosen on inner folds of all users (what a model file must record), else ``settings`` itself."""
    if settings.learner == "auto":
        settings = choose_on_all(design(experiment, settings), settings)
    return fit_final(experiment, settings, progress), settings
