"""Generator variants by the names a user types, timm-style: `get_generator("iso-lwgan.mnist")`.

A variant is an architecture family plus its knobs (the isometric weight, the noise, the
objective); the part after the dot names a training recipe (lwgan.recipes). The name alone takes
the family's default recipe (`mnist`), so `iso-lwgan` is `iso-lwgan.mnist`. Overrides of None
mean "not set" and never replace a registered default; an unknown field is a ConfigError.

    spec = get_generator("lwgan.rank", x_shape=(2,), z_max=5)
    model = spec.build(seed=0)          # fresh networks: an LWGAN (Q, G, D) or an LSGAN (G, D)

Training through the model cache is the harness's job (bench.models.load_or_train); the model
cache keys a trained model by `spec.cache_kind` (the variant name) and the full config.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lwgan.errors import ConfigError
from lwgan.families import get_family
from lwgan.recipes import get_recipe
from registries import Registry

DEFAULT_RECIPE = "mnist"


@dataclass(frozen=True)
class GeneratorSpec:
    name: str  # as asked for: "iso-lwgan.rank"
    variant: str  # "iso-lwgan"; also the model cache's kind
    recipe: str
    family: str  # a registered family (lwgan.families): "lwgan", "lsgan", "published", a plugin's
    description: str
    config: Any

    @property
    def cache_kind(self) -> str:
        return self.variant

    @property
    def data_kind(self) -> str:
        """ "mnist" or "synthetic": what this config's networks take as input."""
        return get_family(self.family).data_kind(self.config)

    def build(self, *, seed: int = 0, device=None):
        """Fresh networks initialised from `seed`, without touching the global RNG state."""
        return get_family(self.family).build(self.config, seed=seed, device=device)

    def key_text(self) -> str:
        """The settings that tell variants apart, in a few words (for `bench generators`)."""
        return get_family(self.family).key_text(self.config)


@dataclass(frozen=True)
class _Entry:
    name: str
    family: str
    description: str
    factory: Callable[..., GeneratorSpec]


VARIANTS: Registry[_Entry] = Registry("generator", group="lwgan_bench.generators", error=ConfigError)


def register_generator(name: str, *, family: str, description: str):
    """Decorator: register `fn(recipe, **overrides) -> GeneratorSpec` as variant `name` of a
    registered family (lwgan.families; an unknown one is a ConfigError)."""
    if "." in name:
        raise ValueError(f"generator variant {name!r}: a dot separates the recipe; use '-'")
    get_family(family)

    return VARIANTS.register(name, lambda fn: _Entry(name, family, description, fn))


def generator_names(family: str | None = None) -> list[str]:
    """Registered variant names, of one family if given."""
    return [n for n, e in VARIANTS.items() if family in (None, e.family)]


def variant_info(name: str) -> _Entry:
    return VARIANTS.get(name.split(".", 1)[0])


def get_generator(name: str, **overrides) -> GeneratorSpec:
    """The spec of `variant[.recipe]` with `overrides` (None values ignored) on top."""
    entry = variant_info(name)
    recipe = name.split(".", 1)[1] if "." in name else DEFAULT_RECIPE
    return entry.factory(recipe, **overrides)


def _merge(name: str, config_cls, layers: list[dict]) -> dict:
    fields = {f.name for f in dataclasses.fields(config_cls)}
    out: dict = {}
    for layer in layers:
        unknown = sorted(set(layer) - fields)
        if unknown:
            raise ConfigError(
                f"generator {name!r}: unknown setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(fields))}"
            )
        out.update({k: v for k, v in layer.items() if v is not None})
    return out


def variant_spec(variant: str, recipe: str, knobs: dict, overrides: dict) -> GeneratorSpec:
    """The one builder of every variant: recipe <- variant knobs <- caller's overrides."""
    entry = VARIANTS.get(variant)
    r = get_recipe(entry.family, recipe)
    config_cls = get_family(entry.family).config
    cfg = config_cls(**_merge(variant, config_cls, [r.settings, knobs, overrides]))
    name = variant if recipe == DEFAULT_RECIPE else f"{variant}.{recipe}"
    return GeneratorSpec(name, variant, recipe, entry.family, entry.description, cfg)


@register_generator("lsgan", family="lsgan", description="LSGAN of the latent-recovery study (Cho)")
def lsgan(recipe: str = DEFAULT_RECIPE, **overrides) -> GeneratorSpec:
    return variant_spec("lsgan", recipe, {}, overrides)


@register_generator("lwgan", family="lwgan", description="LWGAN: adaptive latent rank (Qiu et al.)")
def lwgan(recipe: str = DEFAULT_RECIPE, **overrides) -> GeneratorSpec:
    return variant_spec("lwgan", recipe, {}, overrides)


@register_generator("iso-lwgan", family="lwgan", description="LWGAN + isometric loss (lambda_iso 1)")
def iso_lwgan(recipe: str = DEFAULT_RECIPE, **overrides) -> GeneratorSpec:
    return variant_spec("iso-lwgan", recipe, {"lambda_iso": 1.0}, overrides)


@register_generator(
    "iso-lwgan-stochastic",
    family="lwgan",
    description="Iso-LWGAN: isometric loss + noise injection (lambda_iso 1, sigma_noise 0.1)",
)
def iso_lwgan_stochastic(recipe: str = DEFAULT_RECIPE, **overrides) -> GeneratorSpec:
    knobs = {"lambda_iso": 1.0, "sigma_noise": 0.1, "noise_dim": 10}
    return variant_spec("iso-lwgan-stochastic", recipe, knobs, overrides)


@register_generator(
    "autoencoder",
    family="lwgan",
    description="reconstruction (+ isometric term) only: no critic, MMD or rank",
)
def autoencoder(recipe: str = DEFAULT_RECIPE, **overrides) -> GeneratorSpec:
    return variant_spec("autoencoder", recipe, {"objective": "autoencoder"}, overrides)


@register_generator(
    "autoencoder-iso",
    family="lwgan",
    description="the LWGAN trainer's autoencoder objective with the Iso-LWGAN knobs "
    "(the authors' exact run is `published-iso`)",
)
def autoencoder_iso(recipe: str = DEFAULT_RECIPE, **overrides) -> GeneratorSpec:
    knobs = {"objective": "autoencoder", "lambda_iso": 1.0, "sigma_noise": 0.1, "noise_dim": 10}
    return variant_spec("autoencoder-iso", recipe, knobs, overrides)


@register_generator(
    "published",
    family="published",
    description="the authors' published run: a plain autoencoder (+ isometric term, noise)",
)
def published(recipe: str = DEFAULT_RECIPE, **overrides) -> GeneratorSpec:
    return variant_spec("published", recipe, {}, overrides)


@register_generator(
    "published-iso",
    family="published",
    description="the published run's Iso model: isometric term 1 and noise 10 x 0.1",
)
def published_iso(recipe: str = DEFAULT_RECIPE, **overrides) -> GeneratorSpec:
    return variant_spec("published-iso", recipe, {"lambda_iso": 1.0, "sigma_noise": 0.1, "noise_dim": 10}, overrides)
