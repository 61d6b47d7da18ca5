"""The one full-size run: the default campaign (150,000 users, seed 7, $100,000, $2 a contact)."""

import json
from pathlib import Path

import pytest

from uplift_studio.cli import main

pytestmark = pytest.mark.slow


def test_default_report_ranks_uplift_over_probability_over_random(default_analysis, tmp_path, capsys):
    # default_analysis fills the session cache, so the command below reads it instead of refitting.
    path = tmp_path / "report.json"
    assert main(["report", "--json", str(path)]) == 0
    report = json.loads(path.read_text())
    roi = {name: figures["roi"] for name, figures in report["strategies"].items()}
    assert roi["uplift"] > roi["probability"] > roi["random"]
    # The observed ranking must also hold for the truth the simulator knows.
    truth = {name: figures["incremental_revenue"] for name, figures in report["truth"].items()}
    assert truth["oracle"] >= truth["uplift"] > truth["probability"] > truth["random"]
    assert report["contacts"] == 50_000 and report["spend"] == 100_000
    table = _readme_default_report()
    out = capsys.readouterr().out
    assert len(table) == 5 and all(line in out for line in table), "README's default report differs from the run"


def _readme_default_report() -> list[str]:
    """The strategy table the README prints for the default campaign (header and one row per strategy)."""
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = text.split("`uplift-studio report`:", 1)[1].split("```", 2)[1]
    return [line.rstrip() for line in block.strip().splitlines() if line.strip()]
