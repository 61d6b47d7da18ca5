"""A safe file format for frozen results: nothing read back can run code.

A result is a tree of frozen dataclasses of this package's core, numpy arrays, Polars frames, dicts with
string keys, lists, tuples and plain numbers and strings. ``dump`` writes it as one zip archive: a JSON
manifest (the tree, with a format number, the caller's header and the SHA-256 of every other member) and
one member per array (``.npy``, read with ``allow_pickle=False``) or frame (Arrow IPC). ``load`` parses the
JSON, checks the format and every member's hash, and only then reads arrays and frames; it builds only
dataclasses defined in ``uplift_studio.core`` modules, by name, through their constructors. No pickle.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import io
import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

FORMAT = 1
_MANIFEST = "manifest.json"
_ALLOWED_MODULE = "uplift_studio.core."


class StoreError(ValueError):
    """The file is not a store of this format, or it was altered."""


class _Writer:
    def __init__(self) -> None:
        self.members: dict[str, bytes] = {}

    def add(self, suffix: str, payload: bytes) -> str:
        name = f"m{len(self.members)}.{suffix}"
        self.members[name] = payload
        return name

    def encode(self, value: Any) -> Any:
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int | np.integer):
            return {"int": int(value)}
        if isinstance(value, float | np.floating):
            number = float(value)
            return {"float": number if math.isfinite(number) else repr(number)}
        if isinstance(value, np.ndarray):
            return self._array(value)
        if isinstance(value, pl.DataFrame):
            buffer = io.BytesIO()
            value.write_ipc(buffer)
            return {"frame": self.add("arrow", buffer.getvalue())}
        if isinstance(value, pl.Series):
            return {"series": self.encode(value.to_frame())}
        if isinstance(value, tuple):
            return {"tuple": [self.encode(item) for item in value]}
        if isinstance(value, list):
            return {"list": [self.encode(item) for item in value]}
        if isinstance(value, dict):
            if not all(isinstance(key, str) for key in value):
                raise TypeError("only dicts with string keys can be stored")
            return {"dict": [[key, self.encode(item)] for key, item in value.items()]}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            cls = type(value)
            if not cls.__module__.startswith(_ALLOWED_MODULE):
                raise TypeError(f"{cls.__qualname__} is not a core result and cannot be stored")
            fields = {spec.name: self.encode(getattr(value, spec.name)) for spec in dataclasses.fields(value)}
            return {"dataclass": f"{cls.__module__}:{cls.__qualname__}", "fields": fields}
        raise TypeError(f"a {type(value).__name__} cannot be stored")

    def _array(self, array: np.ndarray) -> dict:
        readonly = not array.flags.writeable
        if array.dtype == object:
            # e.g. text ids: stored as an Arrow column, never as pickled objects
            frame = pl.DataFrame({"values": pl.Series(array.tolist())})
            return {"objects": self.encode(frame), "readonly": readonly}
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
        return {"array": self.add("npy", buffer.getvalue()), "readonly": readonly}


def dump(value: Any, path: Path, header: dict[str, str]) -> None:
    """Write ``value`` to ``path`` (the caller makes the write atomic) with a ``header`` checked on load."""
    writer = _Writer()
    tree = writer.encode(value)
    hashes = {name: hashlib.sha256(payload).hexdigest() for name, payload in writer.members.items()}
    manifest = {"format": FORMAT, "header": header, "hashes": hashes, "tree": tree}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(_MANIFEST, json.dumps(manifest, allow_nan=False))
        for name, payload in writer.members.items():
            archive.writestr(name, payload)


def read_header(path: Path) -> dict[str, str]:
    """The header of a store, parsed as JSON only (nothing else is read)."""
    return _manifest(path)["header"]


def _manifest(path: Path) -> dict:
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = json.loads(archive.read(_MANIFEST))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise StoreError(f"{path}: not a results file ({exc})") from exc
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != FORMAT
        or not isinstance(manifest.get("header"), dict)
    ):
        raise StoreError(f"{path}: unknown results format")
    return manifest


def load(path: Path, expect: dict[str, str]) -> Any:
    """Read a store whose header has every item of ``expect``; raises :class:`StoreError` otherwise."""
    manifest = _manifest(path)
    header = manifest["header"]
    wrong = [name for name, value in expect.items() if header.get(name) != value]
    if wrong:
        raise StoreError(f"{path}: holds results for another {', '.join(wrong)}")
    members = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for name in manifest["hashes"]:
                members[name] = archive.read(name)
    except (OSError, KeyError, TypeError, AttributeError, zipfile.BadZipFile) as exc:
        # a member changed in place fails zip's own CRC check before ours: altered all the same
        raise StoreError(f"{path}: damaged ({exc})") from exc
    for name, digest in manifest["hashes"].items():
        if hashlib.sha256(members[name]).hexdigest() != digest:
            raise StoreError(f"{path}: member {name} was altered")
    try:
        return _Reader(members).decode(manifest["tree"])
    except (KeyError, TypeError, ValueError, AttributeError, ImportError) as exc:
        raise StoreError(f"{path}: malformed results ({exc})") from exc


class _Reader:
    def __init__(self, members: dict[str, bytes]) -> None:
        self.members = members

    def decode(self, node: Any) -> Any:
        if node is None or isinstance(node, bool | str):
            return node
        (kind, body), *rest = node.items()
        if kind == "int":
            return int(body)
        if kind == "float":
            return float(body)
        if kind == "array":
            array = np.load(io.BytesIO(self.members[body]), allow_pickle=False)
            array.flags.writeable = not node["readonly"]
            return array
        if kind == "objects":
            array = np.array(self.decode(body)["values"].to_list(), dtype=object)
            array.flags.writeable = not node["readonly"]
            return array
        if kind == "frame":
            return pl.read_ipc(io.BytesIO(self.members[body]))
        if kind == "series":
            return self.decode(body).to_series()
        if kind == "tuple":
            return tuple(self.decode(item) for item in body)
        if kind == "list":
            return [self.decode(item) for item in body]
        if kind == "dict":
            return {str(key): self.decode(item) for key, item in body}
        if kind == "dataclass":
            return self._dataclass(body, node["fields"])
        raise ValueError(f"unknown node {kind!r}")

    def _dataclass(self, name: str, fields: dict) -> Any:
        module_name, _, qualname = name.partition(":")
        if not module_name.startswith(_ALLOWED_MODULE) or not qualname.isidentifier():
            raise ValueError(f"refusing to build {name!r}")
        cls = getattr(importlib.import_module(module_name), qualname)
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            raise ValueError(f"{name!r} is not a result type")
        values = {key: self.decode(value) for key, value in fields.items()}
        specs = {spec.name: spec for spec in dataclasses.fields(cls)}
        if set(values) != set(specs):
            raise ValueError(f"{name!r} fields changed")
        result = cls(**{key: value for key, value in values.items() if specs[key].init})
        for key, value in values.items():
            if not specs[key].init:
                object.__setattr__(result, key, value)
        return result
