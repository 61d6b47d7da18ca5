"""The persuadability view on Hillstrom's e-mail experiment (women's e-mail vs none, spend as revenue):
segment effects from the held-out users' actual outcomes, and the view's warning exactly when they do not
back the labels. Skipped when the shared data folder is absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from uplift_studio.core.analysis import AnalysisSettings, run_analysis
from uplift_studio.core.data import ColumnMap, load_experiment
from uplift_studio.core.segments import SEGMENTS, classify, persuadable_evidence
from uplift_studio.core.settings import ModelSettings
from uplift_studio.core.stats import Z95

HILLSTROM = Path("/work/shared/data/hillstrom.csv.gz")
pytestmark = pytest.mark.skipif(not HILLSTROM.exists(), reason=f"{HILLSTROM} is absent")
COLUMNS = ColumnMap(
    treatment="segment",
    treated_value="Womens E-Mail",
    control_value="No E-Mail",
    conversion="conversion",
    revenue="spend",
    exclude=("visit",),
)


@pytest.fixture(scope="module")
def hillstrom():
    experiment = load_experiment(HILLSTROM, COLUMNS)
    model = ModelSettings(n_estimators=20, folds=3, n_jobs=2)
    return experiment, run_analysis(experiment, AnalysisSettings(model=model), use_cache=False)


def test_segment_effects_are_the_held_out_users_treated_minus_control(hillstrom):
    experiment, analysis = hillstrom
    mask = analysis.scores.evaluation
    codes = classify(analysis.scores.p_control[mask], analysis.scores.p_treated[mask], analysis.thresholds)
    treated, spend = experiment.treatment[mask] == 1, experiment.revenue[mask].astype(np.float64)
    for code, row in enumerate(analysis.segments.iter_rows(named=True)):
        assert row["segment"] == SEGMENTS[code]
        members = codes == code
        assert row["users"] == members.sum()
        t, c = spend[members & treated], spend[members & ~treated]
        if t.size < 2 or c.size < 2:
            continue
        assert row["uplift"] == pytest.approx(t.mean() - c.mean())
        se = np.sqrt(t.var(ddof=1) / t.size + c.var(ddof=1) / c.size)
        assert row["ci_high"] - row["ci_low"] == pytest.approx(2 * Z95 * se)


def test_the_view_labels_effects_and_warns_exactly_when_the_data_disagree(hillstrom):
    holoviews = pytest.importorskip("holoviews")
    from uplift_studio.app import plots

    _, analysis = hillstrom
    note, warning = plots.persuadability_notes(analysis)
    evidence = persuadable_evidence(analysis.segments)
    assert (warning is None) == evidence.supported
    # a segment with a higher observed effect is named, not hidden
    assert ("show a higher observed effect than the persuadables" in note) == bool(evidence.higher)
    for name in evidence.higher:
        assert f"{name}s show a higher" in note.lower() or f"{name}s and " in note.lower()
    overlay = plots.persuadability_quadrants(analysis)
    labels = [e for e in overlay if isinstance(e, holoviews.Labels)]
    top = float(analysis.density.x_edges[-1])
    for label in labels:
        text = label.dimension_values("text")[0]
        assert "observed" in text and "95% interval" in text
        x, y = label.dimension_values("p_control")[0], label.dimension_values("p_treated")[0]
        assert 0 < x < top and 0 < y < top
