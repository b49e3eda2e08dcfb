"""Checkpoint files of the model cache: what is in one, how it is written, read and verified.

A checkpoint is a torch file holding {"meta": {...}, "payload": {...}}. The payload (state dicts,
metrics, loss curves) is restricted to what `torch.load(weights_only=True)` reads back (`plain`),
so loading a foreign file can never run code. Two digests are recorded in the meta when the file
is written (`payload_digest`: sha256 over every tensor's dtype, shape and bytes and every other
value, in a canonical order):
- `content_sha256`, of the whole payload, checked every time the file is read: a changed byte
  inside a tensor, which torch.load itself does not notice, is reported, never used;
- `digest`, of the model's weights alone (payload["state"]), which reports cite: two identical
  trainings have the same one, though their files (creation time) and metrics (wall time) differ.
A file written before digests existed is upgraded in place on its first load.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import platform
import re
import struct
from collections import OrderedDict
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from bench import __version__
from bench.atomic import atomic_torch_save
from bench.errors import BenchError

# Part of every cache key: bump it when the file layout changes so old files are never asked for.
FORMAT_VERSION = 1


class CacheError(BenchError):
    """A checkpoint that cannot be used: unreadable, changed, or not the one asked for.

    `reason` is the message without the file's path (for tables that already show the file)."""

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason or message


@dataclass
class CacheEntry:
    kind: str
    key: str
    path: Path
    size_bytes: int
    created: str  # ISO 8601, UTC
    metrics: dict
    digest: str  # sha256 of the model's weights (model_digest): reports cite it
    loaded: bool = False  # True when the file was used, False when the model was trained
    retrained_because: str | None = None  # why an existing file was not used
    config: dict | None = None
    seed: int | None = None
    data_fingerprint: str | None = None
    error: str | None = None  # list_entries: why this file is unusable (then most fields empty)
    upgraded: bool = False  # a file without a recorded digest had it added on this load


# ------------------------------------------------------------------------------- content


def plain(obj: Any, where: str = "payload") -> Any:
    """Check a payload holds only what torch.load(weights_only=True) can read back, converting
    numpy scalars/arrays. Without this a payload with, say, a dataclass would save fine and then
    fail every load, retraining forever."""
    import torch

    if obj is None or isinstance(obj, (torch.Tensor, torch.Size)):
        return obj
    for base in (bool, int, float, str, bytes):  # str/int subclasses (enums, TorchVersion) unpickle
        if isinstance(obj, base):  # only as their own class, which weights_only refuses
            return base(obj)
    if isinstance(obj, (torch.dtype, torch.device)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(obj)
    if isinstance(obj, dict):  # includes OrderedDict (state dicts); type is kept
        out = OrderedDict() if isinstance(obj, OrderedDict) else {}
        for k, v in obj.items():
            if not isinstance(k, (str, int)):
                raise TypeError(f"cache payload: key {k!r} at {where} is not a str or int")
            out[k] = plain(v, f"{where}[{k!r}]")
        if hasattr(obj, "_metadata"):  # state_dict version info used by load_state_dict
            out._metadata = obj._metadata
        return out
    if isinstance(obj, (list, tuple)):
        return type(obj)(plain(v, f"{where}[{i}]") for i, v in enumerate(obj))
    raise TypeError(
        f"cache payload: {where} has type {type(obj).__name__}; allowed: dict, list, tuple, "
        "str, int, float, bool, None, tensors (store state_dicts, not modules)"
    )


def payload_digest(payload: Any) -> str:
    """sha256 of a payload's content, independent of how it was pickled: dict keys in sorted
    order, every tensor as (dtype, shape, raw bytes), every other value by type and repr."""
    import torch

    h = hashlib.sha256()

    def feed(tag: bytes, data: bytes) -> None:
        h.update(tag + struct.pack("<Q", len(data)) + data)

    def walk(obj: Any) -> None:
        if isinstance(obj, torch.Tensor):
            t = obj.detach().cpu().contiguous()
            feed(b"T", f"{t.dtype}{tuple(t.shape)}".encode())
            feed(b"B", t.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(obj, dict):
            feed(b"D", str(len(obj)).encode())
            for k in sorted(obj, key=lambda k: (type(k).__name__, str(k))):
                feed(b"K", repr(k).encode())
                walk(obj[k])
        elif isinstance(obj, (list, tuple)):  # torch.Size too
            feed(b"L", str(len(obj)).encode())
            for v in obj:
                walk(v)
        else:  # None, bool, int, float (repr is exact), str, bytes, dtype, device
            feed(type(obj).__name__.encode(), repr(obj).encode())

    walk(payload)
    return h.hexdigest()


# ------------------------------------------------------------------------------- files


def model_digest(payload: Any) -> str:
    """The digest of what defines the model: its weights (payload["state"]), else everything."""
    return payload_digest(payload["state"] if isinstance(payload, dict) and "state" in payload else payload)


def _load_failure(e: Exception) -> str:
    """torch.load's error in a few words: its weights-only refusals run to a page of advice."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e))  # torch bolds part of its message
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1].split(". ")[0]
        return f"holds objects outside weights_only's safe set ({' '.join(text.split())[:160]})"
    return f"{type(e).__name__}: {' '.join(text.split())[:160]}"


def read(path: Path, *, mmap: bool = False, verify: bool = True) -> tuple[dict, dict, str, int]:
    """Read a checkpoint -> (meta, payload, content digest, size). Raises CacheError when the
    file is unreadable, not ours, or its content no longer matches the digest recorded at save
    (verify=False skips that check, for listings that only need the meta)."""
    import torch

    try:
        if mmap:  # only the pickle is parsed; tensor storages stay on disk
            size = path.stat().st_size
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        else:
            data = path.read_bytes()
            size = len(data)
            # weights_only=True: payloads are state dicts, dicts, lists, numbers and strings (see
            # plain), so the safe unpickler suffices and a foreign file cannot run code.
            obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CacheError(f"checkpoint {path}: file not found") from None
    except Exception as e:  # noqa: BLE001 - torch.load raises many types for a bad file
        reason = f"unreadable ({_load_failure(e)}); delete it to retrain"
        raise CacheError(f"checkpoint {path}: {reason}", reason) from None
    if not (isinstance(obj, dict) and isinstance(obj.get("meta"), dict) and "payload" in obj):
        reason = "not a lwgan-bench cache file (no meta/payload)"
        raise CacheError(f"checkpoint {path}: {reason}", reason)
    meta, payload = obj["meta"], obj["payload"]
    if not verify:
        return meta, payload, str(meta.get("digest", "")), size
    recorded = meta.get("content_sha256")
    if recorded is not None and recorded != payload_digest(payload):
        reason = "corrupt: its content does not match the digest recorded when it was saved"
        raise CacheError(f"checkpoint {path}: {reason}", reason)
    return meta, payload, model_digest(payload), size


def entry(path: Path, meta: dict, digest: str, size: int, **extra) -> CacheEntry:
    return CacheEntry(
        kind=str(meta.get("kind", path.parent.name)),
        key=str(meta.get("key", path.stem)),
        path=path,
        size_bytes=size,
        created=str(meta.get("created", "")),
        metrics=dict(meta.get("metrics") or {}),
        digest=digest,
        config=meta.get("config"),
        seed=meta.get("seed"),
        data_fingerprint=meta.get("data_fingerprint"),
        **extra,
    )


def _versions() -> dict:

    import torch

    out = {"torch": str(torch.__version__), "python": platform.python_version(), "lwgan-bench": __version__}
    try:
        out["numpy"] = metadata.version("numpy")
    except metadata.PackageNotFoundError:
        pass
    return out


def metric_summary(metrics: Any) -> dict:
    """Numbers and short strings from payload['metrics'], for `bench models` without the payload."""
    out = {}
    if isinstance(metrics, dict):
        for k, v in metrics.items():
            base = next((b for b in (bool, int, float, str) if isinstance(v, b)), None)
            if base is not None:
                out[str(k)] = base(v)
            elif hasattr(v, "item") and getattr(v, "numel", lambda: 1)() == 1:
                out[str(k)] = v.item()
    return out


def write(path: Path, meta: dict, payload: dict) -> CacheEntry:
    """Write meta (with the payload's digests) and payload atomically; returns the entry."""
    meta = {**meta, "digest": model_digest(payload), "content_sha256": payload_digest(payload)}
    atomic_torch_save(path, {"meta": meta, "payload": payload})
    return entry(path, meta, meta["digest"], path.stat().st_size)


def new_meta(kind: str, key: str, config: dict, data_fingerprint: str, seed: int, payload: dict) -> dict:
    return {
        "format": FORMAT_VERSION,
        "kind": kind,
        "key": key,
        "config": json.loads(canonical(config)),
        "data_fingerprint": data_fingerprint,
        "seed": int(seed),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "versions": _versions(),
        "metrics": metric_summary(payload.get("metrics") if isinstance(payload, dict) else None),
    }


def upgrade(path: Path, meta: dict, payload: dict) -> CacheEntry:
    """Record the digest of a file saved before digests existed (its content is taken as is)."""
    return write(path, meta, payload)


def _jsonable(obj: Any) -> Any:
    """Normalise a config for hashing: tuples become lists, Paths strings, numpy scalars numbers."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if hasattr(obj, "item") and getattr(obj, "ndim", None) == 0:  # numpy / torch scalar
        return obj.item()
    raise TypeError(f"cache config value {obj!r} of type {type(obj).__name__} is not JSON-able")


def canonical(obj: Any) -> str:
    return json.dumps(_jsonable(obj), sort_keys=True, separators=(",", ":"), allow_nan=True)
