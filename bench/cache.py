"""The model cache: train a model once per (kind, config, data, seed), then load it.

A checkpoint is `<cache_dir>/<kind>/<key>.pt` holding {"meta": {...}, "payload": {...}}, where the
key is a hash of everything that defines the model. Loading re-checks the meta against what was
asked, so a renamed, stale or foreign file is retrained rather than silently used. Writes are
atomic: two processes training the same key both replace the file whole; the last one wins and
both files are valid.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import platform
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.atomic import atomic_torch_save
from bench.errors import BenchError

# Part of every key: bump it when the file layout changes so old files are simply never asked for.
FORMAT_VERSION = 1
_KIND_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class CacheError(BenchError):
    """A checkpoint that cannot be used: unreadable, truncated, or not the one asked for.

    `reason` is the message without the file's path (for tables that already show the file)."""

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason or message


def _load_failure(e: Exception) -> str:
    """torch.load's error in a few words: its weights-only refusals run to a page of advice."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e))  # torch bolds part of its message
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1].split(". ")[0]
        return f"holds objects outside weights_only's safe set ({' '.join(text.split())[:160]})"
    return f"{type(e).__name__}: {' '.join(text.split())[:160]}"


@dataclass
class CacheEntry:
    kind: str
    key: str
    path: Path
    size_bytes: int
    created: str  # ISO 8601, UTC
    metrics: dict
    sha256: str  # of the whole file: reports cite it
    loaded: bool = False  # True when train_or_load used the file, False when it trained
    retrained_because: str | None = None  # why an existing file was not used
    config: dict | None = None
    seed: int | None = None
    data_fingerprint: str | None = None
    error: str | None = None  # list_entries: why this file is unreadable (then most fields empty)


def cache_dir() -> Path:
    """$BENCH_CACHE_DIR, else $XDG_CACHE_HOME/lwgan-bench, else ~/.cache/lwgan-bench."""
    if os.environ.get("BENCH_CACHE_DIR"):
        return Path(os.environ["BENCH_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "lwgan-bench"


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


def _canonical(obj: Any) -> str:
    return json.dumps(_jsonable(obj), sort_keys=True, separators=(",", ":"), allow_nan=True)


def cache_key(kind: str, config: dict, data_fingerprint: str, seed: int) -> str:
    """16 hex digits of sha256 over the canonical JSON of everything that defines the model."""
    blob = _canonical(
        {
            "kind": kind,
            "config": config,
            "data_fingerprint": data_fingerprint,
            "seed": int(seed),
            "format": FORMAT_VERSION,
        }
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def entry_path(kind: str, key: str, root: Path | None = None) -> Path:
    if not _KIND_RE.match(kind):
        raise ValueError(f"cache kind {kind!r}: use letters, digits, '_', '-', '.'")
    return Path(root if root is not None else cache_dir()) / kind / f"{key}.pt"


def _versions() -> dict:
    from importlib import metadata

    import torch

    from bench import __version__

    out = {
        "torch": str(torch.__version__),
        "python": platform.python_version(),
        "lwgan-bench": __version__,
    }
    try:
        out["numpy"] = metadata.version("numpy")
    except metadata.PackageNotFoundError:
        pass
    return out


def _plain(obj: Any, where: str) -> Any:
    """Check a payload holds only what torch.load(weights_only=True) can read back, converting
    numpy scalars/arrays. Without this a payload with, say, a dataclass would save fine and then
    fail every load, retraining forever."""
    import numpy as np
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
            out[k] = _plain(v, f"{where}[{k!r}]")
        if hasattr(obj, "_metadata"):  # state_dict version info used by load_state_dict
            out._metadata = obj._metadata
        return out
    if isinstance(obj, (list, tuple)):
        return type(obj)(_plain(v, f"{where}[{i}]") for i, v in enumerate(obj))
    raise TypeError(
        f"cache payload: {where} has type {type(obj).__name__}; allowed: dict, list, tuple, "
        "str, int, float, bool, None, tensors (store state_dicts, not modules)"
    )


def _metric_summary(metrics: Any) -> dict:
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


def _read(path: Path, *, mmap: bool = False) -> tuple[dict, dict, str, int]:
    """Read a checkpoint -> (meta, payload, sha256, size). Raises CacheError when unusable."""
    import torch

    try:
        if mmap:
            # Only the pickle is parsed; tensor storages stay on disk, so listing tens of large
            # checkpoints stays fast. The hash still needs the bytes: read in blocks.
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            size = path.stat().st_size
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        else:
            data = path.read_bytes()
            h, size = hashlib.sha256(data), len(data)
            # weights_only=True: payloads are state dicts, dicts, lists, numbers and strings (see
            # _plain), so the safe unpickler suffices and a foreign file cannot run code.
            obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CacheError(f"checkpoint {path}: file not found") from None
    except Exception as e:  # noqa: BLE001 - torch.load raises many types for a bad file
        reason = f"unreadable ({_load_failure(e)}); delete it to retrain"
        raise CacheError(f"checkpoint {path}: {reason}", reason) from None
    if not (isinstance(obj, dict) and isinstance(obj.get("meta"), dict) and "payload" in obj):
        reason = "not a lwgan-bench cache file (no meta/payload)"
        raise CacheError(f"checkpoint {path}: {reason}", reason)
    return obj["meta"], obj["payload"], h.hexdigest(), size


def _entry(path: Path, meta: dict, sha: str, size: int, **extra) -> CacheEntry:
    return CacheEntry(
        kind=str(meta.get("kind", path.parent.name)),
        key=str(meta.get("key", path.stem)),
        path=path,
        size_bytes=size,
        created=str(meta.get("created", "")),
        metrics=dict(meta.get("metrics") or {}),
        sha256=sha,
        config=meta.get("config"),
        seed=meta.get("seed"),
        data_fingerprint=meta.get("data_fingerprint"),
        **extra,
    )


def _mismatch(
    meta: dict, kind: str, key: str, config: dict, fingerprint: str, seed: int
) -> str | None:
    """The first field of meta that differs from what was asked, as a reason; None if all match."""
    if meta.get("format") != FORMAT_VERSION:
        return f"format version {meta.get('format')!r}, expected {FORMAT_VERSION}"
    if meta.get("kind") != kind:
        return f"kind {meta.get('kind')!r}, expected {kind!r}"
    if meta.get("key") != key:
        return f"key {meta.get('key')!r}, expected {key!r}"
    try:
        same_config = _canonical(meta.get("config")) == _canonical(config)
    except TypeError:
        same_config = False
    if not same_config:
        return "config differs from the one asked for"
    if meta.get("data_fingerprint") != fingerprint:
        return f"data fingerprint {meta.get('data_fingerprint')!r}, expected {fingerprint!r}"
    if meta.get("seed") != int(seed):
        return f"seed {meta.get('seed')!r}, expected {int(seed)}"
    return None


def load_checkpoint(
    path: str | os.PathLike, expect_key: str | None = None
) -> tuple[dict, CacheEntry]:
    """Load one checkpoint a user named; anything wrong raises CacheError with a one-line message.

    Besides `expect_key`, the key is recomputed from the stored meta, so a file whose meta was
    edited (or whose name was changed) is refused too.
    """
    path = Path(path)
    meta, payload, sha, size = _read(path)
    if meta.get("format") != FORMAT_VERSION:
        raise CacheError(
            f"checkpoint {path}: cache format {meta.get('format')!r}, this version reads "
            f"{FORMAT_VERSION}; delete it to retrain"
        )
    try:
        recomputed = cache_key(meta["kind"], meta["config"], meta["data_fingerprint"], meta["seed"])
    except (KeyError, TypeError, ValueError):
        raise CacheError(f"checkpoint {path}: meta is incomplete; delete it to retrain") from None
    if meta.get("key") != recomputed:
        raise CacheError(f"checkpoint {path}: meta does not hash to its key {meta.get('key')!r}")
    if expect_key is not None and meta["key"] != expect_key:
        raise CacheError(f"checkpoint {path}: holds key {meta['key']}, expected {expect_key}")
    return payload, _entry(path, meta, sha, size, loaded=True)


def save_checkpoint(
    path: str | os.PathLike,
    kind: str,
    config: dict,
    data_fingerprint: str,
    seed: int,
    payload: dict,
) -> tuple[dict, CacheEntry]:
    """Write payload + meta atomically; returns (payload as stored, numpy converted; entry)."""
    path = Path(path)
    payload = _plain(payload, "payload")
    key = cache_key(kind, config, data_fingerprint, seed)
    meta = {
        "format": FORMAT_VERSION,
        "kind": kind,
        "key": key,
        "config": json.loads(_canonical(config)),
        "data_fingerprint": data_fingerprint,
        "seed": int(seed),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
        "metrics": _metric_summary(payload.get("metrics") if isinstance(payload, dict) else None),
    }
    atomic_torch_save(path, {"meta": meta, "payload": payload})
    # Hash the file now on disk. If a concurrent run of the same key replaced it in between, the
    # hash names that run's file: the checkpoint actually cached, trained from the same key.
    data = path.read_bytes()
    entry = _entry(path, meta, hashlib.sha256(data).hexdigest(), len(data))
    return payload, entry


def train_or_load(
    kind: str,
    config: dict,
    data_fingerprint: str,
    seed: int,
    train: Callable[[], dict],
    *,
    retrain: bool = False,
    root: Path | None = None,
    on_event: Callable[[str], None] | None = None,
) -> tuple[dict, CacheEntry]:
    """Return the cached payload for this key, or call `train()` and cache what it returns.

    An existing file that is unreadable or whose meta does not match is not used: the reason goes
    to `on_event(message)` (the CLI prints it) and to `entry.retrained_because`, and the model is
    retrained and the file replaced. `retrain=True` ignores any existing file. Tensors come back
    on the CPU; load them into modules with load_state_dict.
    """
    key = cache_key(kind, config, data_fingerprint, seed)
    path = entry_path(kind, key, root)
    reason = None
    if retrain:
        reason = "retrain requested" if path.exists() else None
    elif path.exists():
        try:
            meta, payload, sha, size = _read(path)
            reason = _mismatch(meta, kind, key, config, data_fingerprint, seed)
            if reason is None:
                return payload, _entry(path, meta, sha, size, loaded=True)
            reason = f"checkpoint {path}: {reason}"
        except CacheError as e:
            reason = str(e)
        if on_event is not None:
            on_event(f"{reason}; retraining {kind}")
    payload = train()
    if not isinstance(payload, dict):
        raise TypeError(
            f"train() for {kind!r} must return a dict payload, got {type(payload).__name__}"
        )
    payload, entry = save_checkpoint(path, kind, config, data_fingerprint, seed, payload)
    entry.retrained_because = reason
    return payload, entry


def list_entries(root: Path | None = None) -> list[CacheEntry]:
    """Every `*.pt` under the cache, newest first; unreadable files are listed with `error` set."""
    root = Path(root if root is not None else cache_dir())
    if not root.is_dir():
        return []
    out: list[CacheEntry] = []
    for path in sorted(root.glob("*/*.pt")):
        try:
            meta, _, sha, size = _read(path, mmap=True)
            out.append(_entry(path, meta, sha, size))
        except CacheError as e:
            st = path.stat()
            created = _dt.datetime.fromtimestamp(st.st_mtime, _dt.timezone.utc)
            out.append(
                CacheEntry(
                    kind=path.parent.name,
                    key=path.stem,
                    path=path,
                    size_bytes=st.st_size,
                    created=created.isoformat(timespec="seconds"),
                    metrics={},
                    sha256="",
                    error=e.reason,
                )
            )
    out.sort(key=lambda e: e.created, reverse=True)
    return out


__all__ = [
    "FORMAT_VERSION",
    "CacheEntry",
    "CacheError",
    "cache_dir",
    "cache_key",
    "entry_path",
    "list_entries",
    "load_checkpoint",
    "save_checkpoint",
    "train_or_load",
]
