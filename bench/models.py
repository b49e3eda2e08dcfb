"""Trained generators through the model cache: one entry point and one return type for every family.

    spec = get_generator("iso-lwgan.mnist")
    trained = load_or_train(spec, mnist, seed=0, device=device)
    trained.model.G          # LWGAN (Q, G, D) or LSGAN (G, D): a `.G` either way, in eval mode
    trained.entry.digest     # the checkpoint's content digest, which reports cite

The model library (lwgan/) defines the networks and trainers; this module adds what a harness
needs around them: the data they train on, the cache key, and the checkpoint's payload layout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from bench import cache
from bench.cache import CacheEntry
from bench.precision import for_model, key_extra
from bench.progress import ProgressFn, null_progress
from lwgan.errors import ConfigError


@dataclass
class Trained:
    spec: Any  # lwgan.registry.GeneratorSpec
    model: torch.nn.Module
    entry: CacheEntry
    metrics: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)

    @property
    def train_seconds(self) -> float | None:
        """Training time when the checkpoint was made (LWGANs record wall_time_s, LSGANs
        train_seconds; None for a checkpoint that predates both)."""
        m = self.metrics
        value = m.get("wall_time_s", m.get("train_seconds"))
        return None if value is None else float(value)


def training_tensor(data) -> torch.Tensor:
    """The training set of `data`: a tensor as is, SyntheticData.train, or MNIST's training
    images as pixels in [-1, 1]."""
    if isinstance(data, torch.Tensor):
        return data
    if hasattr(data, "train_images"):
        from bench.data import to_pixels

        return to_pixels(data.train_images)
    return data.train


def training_precision(spec, precision: str, device="cpu") -> str:
    """The format `spec` trains in (fp32 or bf16) when the run asks for `precision` (fp32, bf16
    or auto: bf16 where native and the family measured it faster, Family.bf16_pays). An explicit
    bf16 for a family that cannot train in it is a ConfigError."""
    from lwgan.families import get_family

    family = get_family(spec.family)
    pays = "bf16" in family.precisions and family.bf16_pays(spec.config)
    resolved = for_model(precision, device, pays)
    if resolved not in family.precisions:
        raise ConfigError(
            f"{spec.name}: family {family.name!r} trains in {', '.join(family.precisions)} only, not {resolved}"
        )
    return resolved


def cache_config(spec, precision: str = "fp32") -> dict:
    """The config dict the cache key is made from: its family's (unchanged since the first
    checkpoints), and the training precision when it is not fp32."""
    from lwgan.families import get_family

    return {**get_family(spec.family).cache_config(spec.config), **key_extra(precision)}


def _fingerprint(data, data_fingerprint: str | None) -> str:
    fingerprint = data_fingerprint or getattr(data, "fingerprint", None)
    if fingerprint is None:
        raise ValueError("load_or_train: a tensor needs data_fingerprint= to key the cache")
    return fingerprint


def status(spec, data_fingerprint: str, seed: int, precision: str = "fp32", device="cpu") -> str:
    """ "cached", "not cached" or "<why>, will retrain" (the file is read and verified)."""
    resolved = training_precision(spec, precision, device)
    return cache.status(spec.cache_kind, cache_config(spec, resolved), data_fingerprint, seed)


def load_or_train(
    spec,
    data,
    *,
    seed: int = 0,
    device=None,
    retrain: bool = False,
    progress: ProgressFn = null_progress,
    on_event: Callable[[str], None] | None = None,
    task: str | None = None,
    data_fingerprint: str | None = None,
    precision: str = "fp32",
) -> Trained:
    """Train `spec` on `data` through the model cache, or load the cached checkpoint.

    `data` is a tensor (then `data_fingerprint` is required), a SyntheticData or an MNIST (their
    own fingerprint keys the cache unless `data_fingerprint` is given). The model comes back in
    eval mode on `device`. `precision`: the training's number format, fp32, bf16 or auto
    (training_precision); a family is asked for bf16 only when it lists it (Family.precisions).
    """
    from lwgan.families import get_family

    device = torch.device(device or "cpu")
    task = task or f"train {spec.name}"
    family = get_family(spec.family)
    precision = training_precision(spec, precision, device)
    # fp32 is not passed: a plugin family written before precisions existed takes no such keyword
    extra = {} if precision == "fp32" else {"precision": precision}

    def train() -> dict:
        out = family.train(
            spec.config, training_tensor(data), seed=seed, device=device, progress=progress, task=task, **extra
        )
        out.setdefault("metrics", {})["precision"] = precision
        return out

    payload, entry = cache.train_or_load(
        spec.cache_kind,
        cache_config(spec, precision),
        _fingerprint(data, data_fingerprint),
        seed,
        train,
        retrain=retrain,
        on_event=on_event,
    )
    model = family.load(spec.config, payload["state"], device=device)
    return Trained(
        spec,
        model,
        entry,
        dict(payload.get("metrics", {})),
        {k: list(v) for k, v in payload.get("history", {}).items()},
    )
