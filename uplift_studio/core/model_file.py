"""Saved models: the final learner (fitted on all users) in a file that scores new customers without a refit.

A ``.uplift`` model file is a zip archive of XGBoost's own JSON model files, one per fitted model of the
learner, and ``manifest.json``: the format and its version, the learner and value model, the model
settings, the feature schema (each feature's name, type and, for a category, its levels in code order), the
learner's scalars (treated share, smearing factor), the experiment it was fitted on, the library versions,
and the SHA-256 of every member. Nothing is unpickled: the manifest is parsed as JSON, each member's hash
is checked, and only then are the models read by XGBoost's JSON loader into the attributes this module
names for each learner (never an attribute named by the file). The hashes detect a changed or damaged
member; they cannot tell who wrote the file, so load models from people you trust.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import polars as pl

from uplift_studio.core.data import Experiment
from uplift_studio.core.errors import DataError
from uplift_studio.core.features import is_categorical, is_numeric
from uplift_studio.core.outputs import atomic_output
from uplift_studio.core.settings import LEARNERS, ModelSettings

FORMAT = "uplift-studio-model"
FORMAT_VERSION = 1
MODEL_TYPES = (".uplift",)
MANIFEST = "manifest.json"
_REFIT = "Fit it again with `uplift-studio fit [DATA OPTIONS] --save FILE.uplift`."

# The fitted XGBoost models of each learner, by attribute: "classifier" or "regressor". The revenue value
# model adds one revenue regressor per arm (and, for X and DR, their revenue effect models).
_PER_ARM = {"treated_classifier_": "classifier", "control_classifier_": "classifier", "order_value_model_": "regressor"}
_REVENUE_PER_ARM = {"treated_regressor_": "regressor", "control_regressor_": "regressor"}
_EFFECTS = {
    ("t", "order_value"): {},
    ("t", "revenue"): {},
    ("x", "order_value"): {"treated_effect_": "regressor", "control_effect_": "regressor"},
    ("x", "revenue"): {
        "treated_effect_": "regressor",
        "control_effect_": "regressor",
        "treated_revenue_effect_": "regressor",
        "control_revenue_effect_": "regressor",
    },
    ("dr", "order_value"): {"effect_": "regressor"},
    ("dr", "revenue"): {"effect_": "regressor", "revenue_effect_": "regressor"},
}


def model_attributes(learner: str, value_model: str) -> dict[str, str]:
    """Attribute name -> ``classifier``/``regressor`` of every XGBoost model a fitted learner holds."""
    revenue = _REVENUE_PER_ARM if value_model == "revenue" else {}
    return {**_PER_ARM, **revenue, **_EFFECTS[(learner, value_model)]}


@dataclass(frozen=True)
class FeatureSpec:
    """One feature as the models read it: ``kind`` is ``numeric`` or ``categorical`` (with its levels in code
    order: a level's position is its code); ``dtype`` is the type it had in the experiment, for messages."""

    name: str
    kind: str
    dtype: str
    levels: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelInfo:
    """What a model file says about its models: settings, feature schema, column map and provenance."""

    settings: ModelSettings
    schema: tuple[FeatureSpec, ...]
    id_column: str | None
    cost_column: str | None
    source: str
    fingerprint: str
    n_users: int
    versions: dict[str, str]
    created: str

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.schema)

    @property
    def categories(self) -> dict[str, tuple[str, ...]]:
        return {spec.name: spec.levels for spec in self.schema if spec.kind == "categorical"}


class SavedModel(NamedTuple):
    """A loaded model file: the fitted learner (a :class:`uplift_studio.core.tlearner.TLearner`, or an X or
    DR learner) and its :class:`ModelInfo`."""

    learner: Any
    info: ModelInfo

    def score_frame(self, frame: pl.DataFrame, source: Path | str) -> pl.DataFrame:
        """:meth:`TLearner.score_frame` of the checked feature columns (id and other columns left out)."""
        check_schema(self.info.schema, frame, source)
        return self.learner.score_frame(_conformed(self.info.schema, frame))


def feature_schema(frame: pl.DataFrame, categories: dict[str, tuple[str, ...]], names) -> tuple[FeatureSpec, ...]:
    """The schema of ``names`` in ``frame`` with the learner's fitted ``categories``."""
    return tuple(
        FeatureSpec(name, "categorical", str(frame.schema[name]), tuple(categories[name]))
        if name in categories
        else FeatureSpec(name, "numeric", str(frame.schema[name]))
        for name in names
    )


def check_schema(schema: tuple[FeatureSpec, ...], frame: pl.DataFrame, source: Path | str) -> None:
    """Every feature present and of the model's kind (a column with no value at all fits any kind: a blank
    CSV column reads as text)."""
    missing = [spec.name for spec in schema if spec.name not in frame.columns]
    if missing:
        raise DataError(
            f"{source}: the feature column(s) {', '.join(map(repr, missing))} of the saved model are missing. "
            "New customers need every feature the model was fitted on (values may be empty)."
        )
    for spec in schema:
        dtype = frame.schema[spec.name]
        if frame.get_column(spec.name).null_count() == frame.height:
            continue
        if spec.kind == "numeric" and not is_numeric(dtype):
            raise DataError(
                f"{source}: column {spec.name!r} holds {dtype} values, but the model was fitted on numbers "
                f"({spec.dtype}). Give it as numbers (empty for unknown), or fit a model that reads it as a category."
            )
        if spec.kind == "categorical" and not is_categorical(dtype):
            raise DataError(
                f"{source}: column {spec.name!r} holds {dtype} values, but the model was fitted on a category "
                f"({spec.dtype}, levels such as {', '.join(map(repr, spec.levels[:3]))}). Give it as text labels."
            )


def _conformed(schema: tuple[FeatureSpec, ...], frame: pl.DataFrame) -> pl.DataFrame:
    """The checked feature columns, a column with no value at all cast to its kind (all missing)."""
    columns = []
    for spec in schema:
        dtype = frame.schema[spec.name]
        wrong_kind = not (is_numeric(dtype) if spec.kind == "numeric" else is_categorical(dtype))
        target = pl.Float64 if spec.kind == "numeric" else pl.String
        columns.append(pl.col(spec.name).cast(target) if wrong_kind else pl.col(spec.name))
    return frame.select(columns)


def _model_json(model: Any, folder: Path, name: str) -> bytes:
    # XGBModel.save_model writes the booster with its scikit-learn attributes (the classifier's classes),
    # which loading into the wrapper restores; it takes a path, so the bytes pass through a private folder
    path = folder / f"{name}.json"
    model.save_model(path)
    return path.read_bytes()


def save_model(
    path: Path,
    learner: Any,
    experiment: Experiment,
    settings: ModelSettings,
    *,
    id_column: str | None,
    cost_column: str | None,
    versions: dict[str, str],
) -> None:
    """Write ``learner`` (fitted on ``experiment`` with ``settings``) to ``path``, atomically."""
    if not path.name.lower().endswith(MODEL_TYPES):
        raise DataError(f"{path}: a model file's name ends with .uplift.")
    names = list(learner.feature_names_in_)
    expected = model_attributes(settings.learner, settings.value_model)
    held = {name for name, value in vars(learner).items() if name.endswith("_") and hasattr(value, "get_booster")}
    if held != set(expected):
        # a learner with models this module does not name would be saved incompletely: fail loudly
        raise TypeError(
            f"{type(learner).__name__} holds models {sorted(held)}, the model file names {sorted(expected)}"
        )
    members: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as folder:
        for attribute in expected:
            members[f"{attribute.rstrip('_')}.json"] = _model_json(getattr(learner, attribute), Path(folder), attribute)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "learner": settings.learner,
        "value_model": settings.value_model,
        "settings": dataclasses.asdict(settings),
        "features": [dataclasses.asdict(spec) for spec in feature_schema(experiment.frame, learner.categories_, names)],
        "propensity": learner.propensity_,
        "smearing": learner.smearing_,
        "models": {attribute: f"{attribute.rstrip('_')}.json" for attribute in expected},
        "columns": {"id": id_column, "cost": cost_column},
        "experiment": {
            "source": experiment.source,
            "fingerprint": experiment.fingerprint,
            "n_users": experiment.n_users,
        },
        "versions": versions,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "sha256": {name: hashlib.sha256(payload).hexdigest() for name, payload in members.items()},
    }
    with atomic_output(path) as temporary:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(MANIFEST, json.dumps(manifest, indent=1, allow_nan=False))
            for name, payload in members.items():
                archive.writestr(name, payload)


def _read(path: Path) -> tuple[dict, dict[str, bytes]]:
    if not path.is_file():
        raise DataError(f"--model {path}: no such file. Give the .uplift file that `uplift-studio fit --save` wrote.")
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = json.loads(archive.read(MANIFEST))
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise ValueError("not a model manifest")
            _check_version(path, manifest)
            hashes = manifest.get("sha256")
            if not isinstance(hashes, dict):
                raise ValueError("no member hashes")
            members = {name: archive.read(name) for name in hashes}
    except DataError:
        raise
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not an uplift-studio model file ({exc}). {_REFIT}") from exc
    for name, payload in members.items():
        if hashlib.sha256(payload).hexdigest() != hashes[name]:
            raise DataError(
                f"{path}: the member {name!r} does not match its SHA-256 in the manifest: the file was changed or "
                f"damaged after it was written. Use an intact copy, or: {_REFIT}"
            )
    return manifest, members


def _check_version(path: Path, manifest: dict) -> None:
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        versions = manifest.get("versions")
        writer = versions.get("uplift_studio") if isinstance(versions, dict) else None
        raise DataError(
            f"{path}: model file format version {version!r}, but this uplift-studio reads version {FORMAT_VERSION} "
            f"(the file was written by uplift-studio {writer or 'of another version'}). {_REFIT}"
        )


def _booster(kind: str, payload: bytes, threads: int, feature_types: list[str]) -> Any:
    from xgboost import XGBClassifier, XGBRegressor

    model = {"classifier": XGBClassifier, "regressor": XGBRegressor}[kind]()
    model.load_model(bytearray(payload))
    return model.set_params(n_jobs=threads, enable_categorical=True, feature_types=feature_types)


def load_model(path: Path) -> SavedModel:
    """Read and check a model file: format and version, every member's hash, the learner's models."""
    manifest, members = _read(path)
    try:
        settings = ModelSettings(**manifest["settings"])
        if settings.learner not in LEARNERS or manifest["learner"] != settings.learner:
            raise ValueError(f"learner {manifest['learner']!r}")
        schema = tuple(
            FeatureSpec(str(spec["name"]), str(spec["kind"]), str(spec["dtype"]), tuple(map(str, spec["levels"])))
            for spec in manifest["features"]
        )
        if not schema or any(spec.kind not in ("numeric", "categorical") for spec in schema):
            raise ValueError("bad feature schema")
        expected = model_attributes(settings.learner, settings.value_model)
        if manifest["models"].keys() != expected.keys():
            raise ValueError(f"models {sorted(manifest['models'])} for a {settings.learner_name}")
        from uplift_studio.core.crossfit import make_learner

        learner = make_learner(settings)
        names = [spec.name for spec in schema]
        learner.feature_names_in_ = np.asarray(names, dtype=object)
        learner.n_features_in_ = len(names)
        learner.categories_ = {spec.name: spec.levels for spec in schema if spec.kind == "categorical"}
        learner.feature_types_ = ["c" if learner.categories_.get(name) else "q" for name in names]
        learner.propensity_ = float(manifest["propensity"])
        learner.smearing_ = float(manifest["smearing"])
        for attribute, kind in expected.items():
            payload = members[manifest["models"][attribute]]
            setattr(learner, attribute, _booster(kind, payload, settings.threads, learner.feature_types_))
        columns, experiment = manifest["columns"], manifest["experiment"]
        return SavedModel(
            learner,
            ModelInfo(
                settings=settings,
                schema=schema,
                id_column=columns["id"],
                cost_column=columns["cost"],
                source=str(experiment["source"]),
                fingerprint=str(experiment["fingerprint"]),
                n_users=int(experiment["n_users"]),
                versions={str(key): str(value) for key, value in manifest["versions"].items()},
                created=str(manifest["created"]),
            ),
        )
    except DataError as exc:
        raise DataError(f"{path}: {exc} {_REFIT}") from exc
    except Exception as exc:  # noqa: BLE001 - any malformed manifest or model is one clear error, never a traceback
        raise DataError(f"{path}: a malformed model file ({type(exc).__name__}: {exc}). {_REFIT}") from exc
