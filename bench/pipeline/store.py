"""Finished cells on disk, one JSON file each, written atomically: a killed run loses none of
them and `--resume` redoes none. Also the JSON encoding every results file uses: NaN and inf
survive the round trip, numpy scalars and tuples are converted when a record is stored."""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any

from bench.atomic import atomic_write_text

STORE_VERSION = 1


def plain(obj: Any, where: str = "record") -> Any:
    """`obj` as JSON-able Python (dict, list, str, int, float, bool, None); numpy scalars and
    arrays and tuples are converted, anything else is a TypeError naming where it is."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj)
    if isinstance(obj, dict):
        return {str(k): plain(v, f"{where}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if hasattr(obj, "tolist") and type(obj).__module__ == "numpy":  # numpy scalar or array
        return plain(obj.tolist(), where)
    raise TypeError(f"{where}: {type(obj).__name__} is not plain data (dict, list, number, str)")


def encode(obj: Any) -> Any:
    """JSON has no NaN or inf: store them as {"__float__": "nan"} so they round-trip exactly."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"__float__": repr(obj)}
    if isinstance(obj, dict):
        return {k: encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [encode(v) for v in obj]
    return obj


def decode(obj: Any) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {"__float__"}:
            return float(obj["__float__"])
        return {k: decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode(v) for v in obj]
    return obj


def dumps(obj: Any, indent: int | None = None) -> str:
    return json.dumps(encode(obj), indent=indent, allow_nan=False)


def loads(text: str) -> Any:
    return decode(json.loads(text))


def store_key(experiment: str, settings: dict, identity: dict, version: int = 1) -> str:
    """16 hex digits naming a sweep: the experiment and its version, its settings and whatever
    else its numbers depend on (`identity`: model digests, a data fingerprint)."""
    body = {"v": STORE_VERSION, "experiment": experiment, "settings": settings, "identity": identity}
    if version != 1:  # version 1 keeps the keys of the stores written before versions existed
        body["experiment_version"] = version
    blob = dumps(body)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class CellStore:
    """The finished cells of one sweep under `folder/cells/`, one file per cell key."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9._=-]+", "_", key)[:80]
        digest = hashlib.sha1(key.encode()).hexdigest()[:8]
        return self.folder / "cells" / f"{safe}-{digest}.json"

    def save(self, key: str, cell: dict, record: dict) -> Path:
        body = {"key": key, "cell": cell, "record": record}
        return atomic_write_text(self.path(key), dumps(body))

    def load(self, key: str) -> dict | None:
        """The stored record of `key`, or None (absent, unreadable, or another cell's file)."""
        path = self.path(key)
        if not path.exists():
            return None
        try:
            body = loads(path.read_text(encoding="utf-8"))
        except (ValueError, OSError):
            return None  # unreadable: redo the cell rather than trust it
        if not isinstance(body, dict) or body.get("key") != key:
            return None
        return body.get("record")
