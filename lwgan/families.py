"""Generator families: what the harness needs to know of a kind of model, registered as an object.

A family names its config dataclass and how to build, train and load its networks, the config
dict its cache key is made from, what data it takes, how it reads in a listing, and how latent
recovery sees it (a generator from a prior, or no prior at all). The variants of
lwgan.registry each belong to a family; the harness (bench.models, bench.recovery.generators)
asks the family and never branches on its name, so a plugin adds a family the way it adds a
variant:

    register_family(Family("tiny-decoder", TinyConfig, build=..., train=..., load=..., ...))

The built-in families register themselves in their own modules (lwgan.lsgan,
lwgan.lwgan_family, lwgan.published), imported on first use.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lwgan.errors import ConfigError
from registries import Registry


@dataclass(frozen=True)
class RecoveryView:
    """How latent recovery sees a trained model: G (z [N, latent_dim], eps [N, noise_dim] when
    noise_dim > 0 -> images [N, 1, 28, 28] in [-1, 1]), an LSGAN discriminator or None, the
    prior name, and facts a report states about it."""

    G: Any
    D: Any
    latent_dim: int
    noise_dim: int
    prior: str
    facts: dict = field(default_factory=dict)


def _asdict(cfg) -> dict:
    return cfg.to_dict() if hasattr(cfg, "to_dict") else dataclasses.asdict(cfg)


@dataclass(frozen=True)
class Family:
    name: str
    config: type  # the config dataclass of its variants
    build: Callable[..., Any]  # (cfg, *, seed, device) -> fresh model, the global RNG untouched
    train: Callable[
        ..., dict
    ]  # (cfg, data, *, seed, device, progress, task[, precision]) -> {"state", "metrics", "history"}
    load: Callable[..., Any]  # (cfg, state, *, device) -> model in eval mode
    data_kind: Callable[[Any], str]  # cfg -> "mnist" or "synthetic"
    key_text: Callable[[Any], str]  # cfg -> a few words for `bench generators`
    cache_config: Callable[[Any], dict] = _asdict  # cfg -> the cache key's config (JSON-able)
    # Recovery: (model, cfg, *, rank, prior) -> RecoveryView; None: the family has no prior to
    # recover from. `recovery_refusal(cfg)` says why a config cannot be recovered through.
    recovery: Callable[..., RecoveryView] | None = None
    recovery_refusal: Callable[[Any], str | None] = lambda cfg: None
    # (model, test_pixels, train_pixels, seed, progress, task) -> (rank, lambda_hat): the rank
    # recovery acts on when the family's prior has an estimated rank (LWGAN's rank score); None
    # for a full-rank prior
    estimate_rank: Callable[..., tuple[int, float]] | None = None
    discriminator: bool = False  # its model carries an LSGAN discriminator (trick_discriminator)
    overrides: tuple[str, ...] = ()  # the recovery sweep's model overrides it takes (latent_dim, arch)
    description: str = ""
    # cfg -> how long training takes on 2 CPU cores, in words, for the plan said up front (None: unknown)
    train_estimate: Callable[[Any], str | None] = lambda cfg: None
    # training number formats its `train` takes as precision= (lwgan.numerics); a family that
    # lists only fp32 is called without the keyword, so older plugins keep working
    precisions: tuple[str, ...] = ("fp32",)
    # cfg -> whether bf16 trains it faster on a device with native bfloat16 (measured): `auto`
    # picks bf16 only then, so auto is never slower than fp32
    bf16_pays: Callable[[Any], bool] = lambda cfg: False


# The built-in families' modules, each registering its family when imported; loaded by name on
# first use, as plugins are (the registry does not depend on the families it holds).
BUILTIN = ("lwgan.lsgan", "lwgan.lwgan_family", "lwgan.published")
FAMILIES: Registry[Family] = Registry(
    "generator family", builtins=BUILTIN, group="lwgan_bench.families", error=ConfigError
)


def register_family(family: Family) -> Family:
    return FAMILIES.add(family.name, family)


def names() -> list[str]:
    return FAMILIES.names()


def get_family(name: str) -> Family:
    """The family `name`; an unknown one is a ConfigError naming the nearest registered ones."""
    return FAMILIES.get(name)
