"""A cache that cannot lie or run code: planted, swapped, altered and stale entries; unsafe folders."""

from __future__ import annotations

import os
import pickle
import time
import zipfile

import numpy as np
import pytest

from tests.helpers import Counter
from uplift_studio.core import cache
from uplift_studio.core.analysis import AnalysisSettings, analysis_key, is_cached, run_analysis
from uplift_studio.core.settings import ModelSettings
from uplift_studio.core.simulate import simulate_campaign

FAST = AnalysisSettings(model=ModelSettings(n_estimators=10, folds=2))


@pytest.fixture
def folder(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    path.mkdir(mode=0o700)
    monkeypatch.setenv("UPLIFT_STUDIO_CACHE", str(path))
    return path


@pytest.fixture(scope="module")
def campaigns():
    return simulate_campaign(3_000, seed=1), simulate_campaign(3_000, seed=2)


@pytest.fixture
def fits(monkeypatch):
    import uplift_studio.core.analysis as analysis_module

    counter = Counter(analysis_module._analyse)
    monkeypatch.setattr(analysis_module, "_analyse", counter)
    return counter


def _entry(folder, experiment):
    return folder / f"{analysis_key(experiment, FAST)}.uplift"


def test_a_second_run_reads_the_entry_without_refitting(folder, campaigns, fits):
    first = run_analysis(campaigns[0], FAST)
    again = run_analysis(campaigns[0], FAST)
    assert fits.calls == 1 and is_cached(campaigns[0], FAST)
    assert again.at_budget(1_000.0, 2.0) == first.at_budget(1_000.0, 2.0)
    assert not again.paths["uplift"].value.flags.writeable


def test_a_planted_pickle_never_runs(folder, campaigns, fits, tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    _entry(folder, campaigns[0]).write_bytes(pickle.dumps(Payload()))
    result = run_analysis(campaigns[0], FAST)
    assert not marker.exists()
    assert fits.calls == 1 and result.fingerprint == campaigns[0].fingerprint


def test_another_data_sets_entry_under_this_key_is_not_served(folder, campaigns, fits):
    first, second = campaigns
    run_analysis(second, FAST)
    os.replace(_entry(folder, second), _entry(folder, first))
    result = run_analysis(first, FAST)
    assert fits.calls == 2 and result.fingerprint == first.fingerprint


def test_an_altered_member_is_detected(folder, campaigns, fits):
    run_analysis(campaigns[0], FAST)
    path = _entry(folder, campaigns[0])
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    target = next(name for name in members if name.endswith(".npy"))
    members[target] = members[target][:-8] + np.float64(1e9).tobytes()
    with zipfile.ZipFile(path, "w") as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    run_analysis(campaigns[0], FAST)
    assert fits.calls == 2


def test_a_code_change_misses(folder, campaigns, fits, monkeypatch):
    run_analysis(campaigns[0], FAST)
    monkeypatch.setattr(cache, "code_version", lambda: "another build")
    run_analysis(campaigns[0], FAST)
    assert fits.calls == 2


def test_the_thread_count_is_not_part_of_the_key(campaigns):
    one = AnalysisSettings(model=ModelSettings(n_estimators=10, folds=2, n_jobs=1))
    two = AnalysisSettings(model=ModelSettings(n_estimators=10, folds=2, n_jobs=2))
    assert analysis_key(campaigns[0], one) == analysis_key(campaigns[0], two)
    assert analysis_key(campaigns[0], one) != analysis_key(campaigns[1], one)


def test_a_folder_others_can_write_is_refused(folder, campaigns, fits, capsys):
    folder.chmod(0o777)
    run_analysis(campaigns[0], FAST)
    run_analysis(campaigns[0], FAST)
    assert fits.calls == 2 and list(folder.iterdir()) == []
    assert "can be written by other users" in capsys.readouterr().err


def test_stale_temporaries_are_removed_and_fresh_ones_kept(folder, campaigns):
    stale, fresh = folder / "old.uplift.tmp", folder / "new.uplift.tmp"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"half")
    hour_ago = time.time() - 2 * 3600
    os.utime(stale, (hour_ago, hour_ago))
    run_analysis(campaigns[0], FAST)
    assert not stale.exists() and fresh.exists()
    assert not [path for path in folder.iterdir() if path.name.endswith(".tmp") and path != fresh]
