"""The model cache: train a model once per (kind, config, data, seed), then load it.

A checkpoint is `<cache_dir>/<kind>/<key>.pt` (format in bench.checkpoint), where the key is a
hash of everything that defines the model. Loading re-checks the meta against what was asked and
the content against its recorded digest, so a renamed, stale, foreign or damaged file is
retrained rather than silently used. Writes are atomic (a reader never sees half a file), and a
lock per key (`.locks/<kind>-<key>.lock`) makes a second process that needs the model wait for the first to
save it and load it, rather than train it again.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock, Timeout

from bench import checkpoint
from bench.checkpoint import FORMAT_VERSION, CacheEntry, CacheError, canonical

_KIND_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def cache_dir() -> Path:
    """$BENCH_CACHE_DIR, else $XDG_CACHE_HOME/lwgan-bench, else ~/.cache/lwgan-bench."""
    if os.environ.get("BENCH_CACHE_DIR"):
        return Path(os.environ["BENCH_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "lwgan-bench"


def cache_key(kind: str, config: dict, data_fingerprint: str, seed: int) -> str:
    """16 hex digits of sha256 over the canonical JSON of everything that defines the model."""
    blob = canonical(
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


def _mismatch(meta: dict, kind: str, key: str, config: dict, fingerprint: str, seed: int) -> str | None:
    """The first field of meta that differs from what was asked, as a reason; None if all match."""
    if meta.get("format") != FORMAT_VERSION:
        return f"format version {meta.get('format')!r}, expected {FORMAT_VERSION}"
    if meta.get("kind") != kind:
        return f"kind {meta.get('kind')!r}, expected {kind!r}"
    if meta.get("key") != key:
        return f"key {meta.get('key')!r}, expected {key!r}"
    try:
        same_config = canonical(meta.get("config")) == canonical(config)
    except TypeError:
        same_config = False
    if not same_config:
        return "config differs from the one asked for"
    if meta.get("data_fingerprint") != fingerprint:
        return f"data fingerprint {meta.get('data_fingerprint')!r}, expected {fingerprint!r}"
    if meta.get("seed") != int(seed):
        return f"seed {meta.get('seed')!r}, expected {int(seed)}"
    return None


def _lookup(kind: str, config: dict, fingerprint: str, seed: int, root: Path | None):
    """(path, payload, entry, reason): payload and entry of a usable file, or None and None with
    the reason the file there cannot be used (reason None too: there is no file)."""
    key = cache_key(kind, config, fingerprint, seed)
    path = entry_path(kind, key, root)
    if not path.exists():
        return path, None, None, None
    try:
        meta, payload, digest, size = checkpoint.read(path)
    except CacheError as e:
        return path, None, None, e.reason
    reason = _mismatch(meta, kind, key, config, fingerprint, seed)
    if reason is not None:
        return path, None, None, reason
    if "content_sha256" not in meta:  # written before digests: record them now
        found = checkpoint.upgrade(path, meta, payload)
        found.upgraded = True
    else:
        found = checkpoint.entry(path, meta, digest, size)
    found.loaded = True
    return path, payload, found, None


def status(kind: str, config: dict, data_fingerprint: str, seed: int, *, root: Path | None = None) -> str:
    """What a run would do with this model, in words: "cached", "not cached", or
    "<why> -> will retrain" for a file that exists but cannot be used (it is read and verified:
    a plan must not call a damaged checkpoint cached)."""
    _, payload, _, reason = _lookup(kind, config, data_fingerprint, seed, root)
    if payload is not None:
        return "cached"
    return "not cached" if reason is None else f"{reason}, will retrain"


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

    An existing file that is unreadable, changed since it was saved, or whose meta does not
    match is not used: the reason goes to `on_event(message)` (the CLI prints it) and to
    `entry.retrained_because`, and the model is retrained and the file replaced.
    `retrain=True` ignores any existing file. Tensors come back on the CPU.
    """
    path = entry_path(kind, cache_key(kind, config, data_fingerprint, seed), root)
    locks = path.parent.parent / ".locks"  # beside the kinds' folders, which hold checkpoints only
    locks.mkdir(parents=True, exist_ok=True)
    lock = FileLock(locks / f"{kind}-{path.stem}.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:  # another process trains this very model: wait, then load what it saved
        if on_event is not None:
            on_event(f"another process is training {kind} {path.stem}; waiting for it")
        lock.acquire()
    try:
        return _train_or_load(kind, config, data_fingerprint, seed, train, retrain, root, on_event)
    finally:
        lock.release()


def _train_or_load(kind, config, data_fingerprint, seed, train, retrain, root, on_event):
    reason = None
    if retrain:
        path = entry_path(kind, cache_key(kind, config, data_fingerprint, seed), root)
        reason = "retrain requested" if path.exists() else None
    else:
        path, payload, found, why = _lookup(kind, config, data_fingerprint, seed, root)
        if payload is not None:
            if found.upgraded and on_event is not None:
                on_event(f"checkpoint {path}: recorded its content digest (written before digests)")
            return payload, found
        if why is not None:
            reason = f"checkpoint {path}: {why}"
            if on_event is not None:
                on_event(f"{reason}; retraining {kind}")
    payload = train()
    if not isinstance(payload, dict):
        raise TypeError(f"train() for {kind!r} must return a dict payload, got {type(payload).__name__}")
    payload, saved = save_checkpoint(path, kind, config, data_fingerprint, seed, payload)
    saved.retrained_because = reason
    return payload, saved


def save_checkpoint(
    path: str | os.PathLike, kind: str, config: dict, data_fingerprint: str, seed: int, payload: dict
) -> tuple[dict, CacheEntry]:
    """Write payload + meta atomically; returns (payload as stored, numpy converted; entry)."""
    payload = checkpoint.plain(payload, "payload")
    key = cache_key(kind, config, data_fingerprint, seed)
    meta = checkpoint.new_meta(kind, key, config, data_fingerprint, seed, payload)
    return payload, checkpoint.write(Path(path), meta, payload)


def load_checkpoint(path: str | os.PathLike, expect_key: str | None = None) -> tuple[dict, CacheEntry]:
    """Load one checkpoint a user named; anything wrong raises CacheError with a one-line message.

    Besides `expect_key`, the key is recomputed from the stored meta, so a file whose meta was
    edited (or whose name was changed) is refused too; the content is checked against its digest.
    """
    path = Path(path)
    meta, payload, digest, size = checkpoint.read(path)
    if meta.get("format") != FORMAT_VERSION:
        raise CacheError(
            f"checkpoint {path}: cache format {meta.get('format')!r}, this version "
            f"reads {FORMAT_VERSION}; delete it to retrain"
        )
    try:
        recomputed = cache_key(meta["kind"], meta["config"], meta["data_fingerprint"], meta["seed"])
    except (KeyError, TypeError, ValueError):
        raise CacheError(f"checkpoint {path}: meta is incomplete; delete it to retrain") from None
    if meta.get("key") != recomputed:
        raise CacheError(f"checkpoint {path}: meta does not hash to its key {meta.get('key')!r}")
    if expect_key is not None and meta["key"] != expect_key:
        raise CacheError(f"checkpoint {path}: holds key {meta['key']}, expected {expect_key}")
    return payload, checkpoint.entry(path, meta, digest, size, loaded=True)


def list_entries(root: Path | None = None) -> list[CacheEntry]:
    """Every `*.pt` under the cache, newest first, each read and verified; unusable files are
    listed with `error` set."""
    root = Path(root if root is not None else cache_dir())
    if not root.is_dir():
        return []
    out: list[CacheEntry] = []
    for path in sorted(root.glob("*/*.pt")):
        try:
            meta, _, digest, size = checkpoint.read(path, mmap=True)
            out.append(checkpoint.entry(path, meta, digest, size))
        except CacheError as e:
            st = path.stat()
            created = _dt.datetime.fromtimestamp(st.st_mtime, _dt.UTC)
            out.append(
                CacheEntry(
                    kind=path.parent.name,
                    key=path.stem,
                    path=path,
                    size_bytes=st.st_size,
                    created=created.isoformat(timespec="seconds"),
                    metrics={},
                    digest="",
                    error=e.reason,
                )
            )
    out.sort(key=lambda e: e.created, reverse=True)
    return out


__all__ = ["FORMAT_VERSION", "CacheEntry", "CacheError", "cache_dir", "cache_key", "entry_path",
           "list_entries", "load_checkpoint", "save_checkpoint", "status", "train_or_load"]  # fmt: skip
