"""Generator variants by the names a user types: each gives its constructor, training config and
data kind. `get_generator(name, **overrides)` returns a GeneratorSpec; None overrides are ignored
(so CLI options left unset fall through to the variant's defaults), unknown keys are an error.

    spec = get_generator("iso-lwgan", iterations=2000)
    model = spec.build(seed=0, device=device)                       # fresh networks
    model, payload, entry = spec.load_or_train(data, data_fingerprint=fp, seed=0, device=device)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from bench.errors import BenchError


@dataclass(frozen=True)
class GeneratorSpec:
    name: str
    family: str  # "lwgan" (LWGANConfig) or "lsgan" (lwgan.lsgan.LSGANConfig)
    data_kind: str  # "mnist" or "synthetic" (what this config's networks take as input)
    description: str
    config: Any
    build: Callable[..., Any]  # build(seed=0, device=None) -> the model
    load_or_train: Callable[
        ..., Any
    ]  # (data, *, data_fingerprint, seed, device, retrain, progress)

    def key_config(self) -> dict:
        """The few settings that tell the variants apart (for `bench generators`)."""
        c = self.config
        if self.family == "lsgan":
            return {"arch": c.arch, "latent_dim": c.latent_dim, "epochs": c.epochs}
        keys = ["objective", "z_max", "lambda_iso", "noise_dim", "sigma_noise", "iterations"]
        return {k: getattr(c, k) for k in keys}

    def key_text(self) -> str:
        """key_config() in a few words: 'lwgan, z_max 16, iso 1, noise 10 x 0.1, 50000 it'."""
        k = self.key_config()
        if self.family == "lsgan":
            return f"{k['arch']}, d_z {k['latent_dim']}, {k['epochs']} epochs"
        noise = f"noise {k['noise_dim']} x {k['sigma_noise']:g}" if k["noise_dim"] else "no noise"
        return (
            f"{k['objective']}, z_max {k['z_max']}, iso {k['lambda_iso']:g}, {noise}, "
            f"{k['iterations']} it"
        )


@dataclass(frozen=True)
class _Entry:
    name: str
    data_kind: str
    description: str
    factory: Callable[..., GeneratorSpec]


_REGISTRY: dict[str, _Entry] = {}


def register_generator(name: str, *, data_kind: str, description: str):
    def deco(fn: Callable[..., GeneratorSpec]):
        if name in _REGISTRY:
            raise ValueError(f"generator variant {name!r} registered twice")
        _REGISTRY[name] = _Entry(name, data_kind, description, fn)
        return fn

    return deco


def generator_names() -> list[str]:
    return list(_REGISTRY)


def get_generator(name: str, **overrides) -> GeneratorSpec:
    if name not in _REGISTRY:
        raise ValueError(f"unknown generator {name!r}; valid: {', '.join(_REGISTRY)}")
    return _REGISTRY[name].factory(**overrides)


def _merge(name: str, config_cls, defaults: dict, overrides: dict) -> dict:
    fields = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise BenchError(
            f"generator {name!r}: unknown setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(fields))}"
        )
    return {**defaults, **{k: v for k, v in overrides.items() if v is not None}}


# ------------------------------------------------------------------------------ LSGAN family
def _lsgan_spec(name: str, defaults: dict, overrides: dict) -> GeneratorSpec:
    # Imported here so the registry (and `bench generators`) works without building an LSGAN.
    from lwgan import lsgan

    cfg = lsgan.LSGANConfig(**_merge(name, lsgan.LSGANConfig, defaults, overrides))
    return GeneratorSpec(
        name=name,
        family="lsgan",
        data_kind="mnist",
        description=_REGISTRY[name].description,
        config=cfg,
        build=partial(_build_lsgan, cfg),
        load_or_train=partial(_load_or_train_lsgan, cfg),
    )


def _build_lsgan(cfg, *, seed: int = 0, device=None):
    import torch

    from lwgan import lsgan

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        G, D = lsgan.build_lsgan(cfg)
    return G.to(device or "cpu"), D.to(device or "cpu")


def _load_or_train_lsgan(cfg, data, **kwargs):
    from lwgan import lsgan

    return lsgan.load_or_train_lsgan(cfg, data, **kwargs)


@register_generator(
    "lsgan", data_kind="mnist", description="LSGAN of the latent-recovery study (Cho)"
)
def lsgan_variant(**overrides) -> GeneratorSpec:
    return _lsgan_spec("lsgan", {}, overrides)


# ------------------------------------------------------------------------------ LWGAN family
def _lwgan_spec(name: str, defaults: dict, overrides: dict) -> GeneratorSpec:
    from lwgan.model import LWGANConfig, build_lwgan
    from lwgan.trainer import load_or_train_lwgan

    cfg = LWGANConfig(**_merge(name, LWGANConfig, defaults, overrides))
    return GeneratorSpec(
        name=name,
        family="lwgan",
        data_kind="mnist" if cfg.resolved_arch() == "conv" else "synthetic",
        description=_REGISTRY[name].description,
        config=cfg,
        build=partial(build_lwgan, cfg),
        load_or_train=partial(load_or_train_lwgan, cfg, kind=name),
    )


# MNIST settings of the public LWGAN code (run_mnist.sh, single digit): conv nets, z_max 16,
# batch 256, lr 1e-4, 5 critic steps, lambda_rank 0.002; k = 10 noise channels for MNIST (SPEC).
_MNIST = {
    "x_shape": (1, 28, 28),
    "z_max": 16,
    "width_q": 64,
    "width_g": 64,
    "width_d": 64,
    "batch_size": 256,
    "lr": 1e-4,
    "iter_d": 5,
    "iter_gq": 1,
    "lambda_rank": 0.002,
    "iterations": 50000,
}
# A few-second variant for tests: 2-D data, tiny MLPs, a handful of iterations.
_TEST = {
    "x_shape": (2,),
    "z_max": 3,
    "width_q": 4,
    "width_g": 4,
    "width_d": 4,
    "batch_size": 32,
    "iterations": 5,
    "iter_d": 2,
    "critic_warmup": 1,
    "critic_burst": 3,
    "critic_burst_every": 0,
}


@register_generator(
    "lwgan", data_kind="mnist", description="LWGAN: adaptive latent rank (Qiu et al.)"
)
def lwgan(**overrides) -> GeneratorSpec:
    return _lwgan_spec("lwgan", {**_MNIST}, overrides)


@register_generator(
    "iso-lwgan", data_kind="mnist", description="LWGAN + isometric loss (lambda_iso 1)"
)
def iso_lwgan(**overrides) -> GeneratorSpec:
    return _lwgan_spec("iso-lwgan", {**_MNIST, "lambda_iso": 1.0}, overrides)


@register_generator(
    "iso-lwgan-stochastic",
    data_kind="mnist",
    description="Iso-LWGAN: isometric loss + noise injection (lambda_iso 1, sigma_noise 0.1)",
)
def iso_lwgan_stochastic(**overrides) -> GeneratorSpec:
    defaults = {**_MNIST, "lambda_iso": 1.0, "sigma_noise": 0.1, "noise_dim": 10}
    return _lwgan_spec("iso-lwgan-stochastic", defaults, overrides)


@register_generator(
    "autoencoder-iso",
    data_kind="mnist",
    description="As published: autoencoder + isometric loss + noise; no critic, MMD or rank",
)
def autoencoder_iso(**overrides) -> GeneratorSpec:
    defaults = {
        **_MNIST,
        "objective": "autoencoder",
        "lambda_iso": 1.0,
        "sigma_noise": 0.1,
        "noise_dim": 10,
    }
    return _lwgan_spec("autoencoder-iso", defaults, overrides)


@register_generator("test-lwgan", data_kind="synthetic", description="tiny LWGAN for tests")
def test_lwgan(**overrides) -> GeneratorSpec:
    return _lwgan_spec("test-lwgan", {**_TEST}, overrides)


@register_generator(
    "test-iso-lwgan-stochastic", data_kind="synthetic", description="tiny Iso-LWGAN for tests"
)
def test_iso_lwgan_stochastic(**overrides) -> GeneratorSpec:
    defaults = {**_TEST, "lambda_iso": 1.0, "sigma_noise": 0.1, "noise_dim": 2}
    return _lwgan_spec("test-iso-lwgan-stochastic", defaults, overrides)


@register_generator(
    "test-autoencoder-iso", data_kind="synthetic", description="tiny iso autoencoder for tests"
)
def test_autoencoder_iso(**overrides) -> GeneratorSpec:
    defaults = {
        **_TEST,
        "objective": "autoencoder",
        "lambda_iso": 1.0,
        "sigma_noise": 0.1,
        "noise_dim": 2,
    }
    return _lwgan_spec("test-autoencoder-iso", defaults, overrides)


@register_generator("test-lsgan", data_kind="mnist", description="tiny LSGAN for tests")
def test_lsgan(**overrides) -> GeneratorSpec:
    return _lsgan_spec(
        "test-lsgan", {"latent_dim": 8, "hidden": [16], "d_width": 4, "epochs": 1}, overrides
    )
