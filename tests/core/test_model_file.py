"""Saved models: every learner round-trips to the same scores; bad schema, versions and tampering are refused."""

from __future__ import annotations

import json
import os
import pickle
import zipfile

import numpy as np
import polars as pl
import pytest

from uplift_studio.core.analysis import versions
from uplift_studio.core.crossfit import fit_final
from uplift_studio.core.data import ColumnMap
from uplift_studio.core.errors import DataError
from uplift_studio.core.model_file import FORMAT_VERSION, MANIFEST, load_model, model_attributes, save_model
from uplift_studio.core.settings import LEARNERS, VALUE_MODELS, ModelSettings
from uplift_studio.core.simulate import simulate_campaign

FAST = ModelSettings(n_estimators=8, seed=3)


@pytest.fixture(scope="module")
def campaign():
    return simulate_campaign(3_000, seed=5)


@pytest.fixture(scope="module")
def new_customers():
    return simulate_campaign(400, seed=6).frame


@pytest.fixture(scope="module")
def saved(campaign, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.uplift"
    learner = fit_final(campaign, FAST)
    save_model(path, learner, campaign, FAST, id_column="user_id", cost_column=None, versions=versions())
    return path, learner


def _save(learner, campaign, settings, path):
    save_model(path, learner, campaign, settings, id_column="user_id", cost_column=None, versions=versions())
    return path


def _rewrite(source, target, change_manifest=None, change_member=None):
    """A copy of a model file with its manifest or one member changed (the hashes left as they were)."""
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(members[MANIFEST])
    if change_manifest is not None:
        change_manifest(manifest)
    members[MANIFEST] = json.dumps(manifest).encode()
    if change_member is not None:
        name, payload = change_member(members)
        members[name] = payload
    with zipfile.ZipFile(target, "w") as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    return target


@pytest.mark.parametrize("value_model", VALUE_MODELS)
@pytest.mark.parametrize("learner", LEARNERS)
def test_every_learner_scores_new_customers_to_the_same_numbers(
    campaign, new_customers, tmp_path, learner, value_model
):
    settings = ModelSettings(n_estimators=8, seed=3, learner=learner, value_model=value_model)
    fitted = fit_final(campaign, settings)
    saved = load_model(_save(fitted, campaign, settings, tmp_path / "m.uplift"))
    assert type(saved.learner) is type(fitted) and saved.info.settings == settings
    expected = fitted.score_frame(new_customers.select(campaign.features))
    assert saved.score_frame(new_customers, "new.csv").equals(expected)
    assert set(model_attributes(learner, value_model)) <= set(vars(saved.learner))


def test_the_schema_keeps_names_types_and_levels_in_code_order(saved, campaign):
    model = load_model(saved[0]).info
    assert model.features == campaign.features
    assert model.categories == {name: tuple(levels) for name, levels in saved[1].categories_.items()}
    channel = next(spec for spec in model.schema if spec.name == "channel")
    assert (channel.kind, channel.dtype) == ("categorical", "String")
    assert next(spec for spec in model.schema if spec.name == "age").kind == "numeric"
    assert (model.fingerprint, model.n_users, model.id_column) == (campaign.fingerprint, 3_000, "user_id")


def test_columns_in_another_order_and_extra_columns_give_the_same_scores(saved, new_customers):
    model = load_model(saved[0])
    shuffled = new_customers.select(list(reversed(new_customers.columns))).with_columns(pl.lit(1).alias("extra"))
    assert model.score_frame(shuffled, "new.csv").equals(model.score_frame(new_customers, "new.csv"))


def test_a_missing_feature_is_named(saved, new_customers):
    with pytest.raises(DataError, match=r"new\.csv: the feature column\(s\) 'age', 'channel' of the saved model"):
        load_model(saved[0]).score_frame(new_customers.drop("age", "channel"), "new.csv")


def test_text_in_a_numeric_feature_is_refused(saved, new_customers):
    text = new_customers.with_columns(pl.col("age").cast(pl.String))
    with pytest.raises(
        DataError, match=r"new\.csv: column 'age' holds String values, but the model was fitted on numbers"
    ):
        load_model(saved[0]).score_frame(text, "new.csv")


def test_numbers_in_a_categorical_feature_are_refused(saved, new_customers):
    numbers = new_customers.with_columns(pl.lit(3).alias("channel"))
    with pytest.raises(DataError, match=r"column 'channel' holds Int32 values, but the model was fitted on a category"):
        load_model(saved[0]).score_frame(numbers, "new.csv")


def test_an_empty_column_of_any_type_is_scored_as_missing(saved, new_customers):
    # a blank CSV column reads as text; the model treats its values as missing, as it does nulls
    model = load_model(saved[0])
    blank = new_customers.with_columns(pl.lit(None, dtype=pl.String).alias("age"))
    nulls = new_customers.with_columns(pl.lit(None, dtype=pl.Float64).alias("age"))
    assert model.score_frame(blank, "new.csv").equals(model.score_frame(nulls, "new.csv"))


def test_a_tampered_member_is_refused(saved, tmp_path):
    def change(members):
        document = json.loads(members["treated_classifier.json"])
        document["learner"]["attributes"]["note"] = "changed"
        return "treated_classifier.json", json.dumps(document).encode()

    tampered = _rewrite(saved[0], tmp_path / "t.uplift", change_member=change)
    with pytest.raises(DataError, match=r"member 'treated_classifier\.json' does not match its SHA-256"):
        load_model(tampered)


def test_another_format_version_is_refused(saved, tmp_path):
    future = _rewrite(saved[0], tmp_path / "f.uplift", change_manifest=lambda m: m.update(format_version=99))
    with pytest.raises(DataError, match=f"format version 99, but this uplift-studio reads version {FORMAT_VERSION}"):
        load_model(future)


def test_a_manifest_naming_other_attributes_is_refused(saved, tmp_path):
    # the file names models; only the attributes this module names for the learner are ever set
    def rename(manifest):
        manifest["models"]["predict"] = manifest["models"].pop("treated_classifier_")

    renamed = _rewrite(saved[0], tmp_path / "r.uplift", change_manifest=rename)
    with pytest.raises(DataError, match="malformed model file"):
        load_model(renamed)


def test_a_planted_pickle_never_runs(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    planted = tmp_path / "p.uplift"
    planted.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(DataError, match="not an uplift-studio model file"):
        load_model(planted)
    assert not marker.exists()


def test_a_results_file_is_not_a_model(tmp_path):
    # the disk cache's entries end in .uplift too
    path = tmp_path / "entry.uplift"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(MANIFEST, json.dumps({"format": 1, "header": {}}))
    with pytest.raises(DataError, match="not an uplift-studio model file"):
        load_model(path)


def test_a_failed_write_leaves_the_previous_file(saved, campaign, tmp_path, monkeypatch):
    import uplift_studio.core.model_file as model_file

    path = tmp_path / "kept.uplift"
    path.write_bytes(b"previous")

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(model_file.zipfile.ZipFile, "writestr", broken)
    with pytest.raises(DataError, match="cannot write"):
        _save(saved[1], campaign, FAST, path)
    assert path.read_bytes() == b"previous"
    assert [item.name for item in tmp_path.iterdir()] == ["kept.uplift"]


def test_no_pickle_in_the_file(saved):
    with zipfile.ZipFile(saved[0]) as archive:
        names = archive.namelist()
        assert names[0] == MANIFEST and all(name.endswith(".json") for name in names)
        for name in names:
            json.loads(archive.read(name))


def test_the_id_and_cost_columns_of_the_map_are_kept(campaign, saved, tmp_path):
    path = tmp_path / "c.uplift"
    save_model(path, saved[1], campaign, FAST, id_column=ColumnMap().id, cost_column="cost", versions=versions())
    model = load_model(path)
    assert (model.info.id_column, model.info.cost_column) == ("user_id", "cost")
    assert np.isclose(model.learner.propensity_, saved[1].propensity_)
