"""The regulator registry: a plain dict filled by the `register` decorator, read by `get` and `names`.

Two kinds, both batched over any leading dims of z [..., d_z]:
- "loss": `penalty(z, **context)` -> [...] (one value per latent), added to the recovery loss as
  weight * penalty. Context keys a regulator needs are listed in `reg.context`; extra keys are
  ignored, so a caller may pass the same context to every regulator.
- "resample": `resample(z, hp, generator=None)` -> z', applied after each optimiser step; each
  element is replaced by a fresh prior draw with probability `replace_probability(z, hp)`.
  `hp` (the swept a or c) broadcasts to z.shape[:-1]: a grid z [cells, images, d] takes hp of
  shape [cells, 1] (one value per cell) or [cells, images].
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from registries import Registry
from regulators.priors import DEFAULT_PRIOR, get_prior

KINDS = ("loss", "resample")

REGISTRY: Registry[Regulator] = Registry("regulator", group="lwgan_bench.regulators")


@dataclass(frozen=True, kw_only=True)
class Regulator:
    name: str
    kind: str
    hyperparameter: str  # what the swept value means: "weight", "slope a", "cutoff c"
    description: str  # one line, citing the source
    extra: bool = False  # not in the paper's tables (the author's later code)
    # Its default grid rows, for a regulator the paper has no table for: the learning rates and
    # hyperparameters the `paper` grid crosses and the `quick` grid samples (bench.recovery.grid).
    lrs: tuple[float, ...] = ()
    hps: tuple[float, ...] = ()

    @property
    def options(self) -> dict:
        """Settings that `get(name, **options)` may change, with their current values."""
        return {}


@dataclass(frozen=True, kw_only=True)
class LossRegulator(Regulator):
    fn: Callable = field(repr=False)  # fn(z, **context) -> [...]
    context: tuple[str, ...] = ()  # keyword arguments penalty() requires

    def penalty(self, z: torch.Tensor, **context) -> torch.Tensor:
        missing = [k for k in self.context if context.get(k) is None]
        if missing:
            raise TypeError(f"regulator {self.name!r} needs {', '.join(k + '=' for k in missing)}")
        # Only the keys it declared: a regulator written as fn(z) works beside fn(z, **_).
        return self.fn(z, **{k: context[k] for k in self.context})


@dataclass(frozen=True, kw_only=True)
class ResampleRegulator(Regulator):
    fn: Callable = field(repr=False)  # fn(z, hp, **params) -> replacement probability
    params: tuple[tuple[str, float], ...] = ()  # fixed settings of fn, e.g. (("b", 2.0),)
    prior: str = DEFAULT_PRIOR

    @property
    def options(self) -> dict:
        return {**dict(self.params), "prior": self.prior}

    def replace_probability(self, z: torch.Tensor, hp) -> torch.Tensor:
        """Per-element replacement probability, z's shape; hp broadcasts to z.shape[:-1]."""
        hp = torch.as_tensor(hp, dtype=z.dtype, device=z.device)
        lead = tuple(z.shape[:-1])
        try:
            fits = tuple(torch.broadcast_shapes(hp.shape, lead)) == lead
        except RuntimeError:
            fits = False
        if not fits:
            raise ValueError(
                f"{self.name}: hp of shape {tuple(hp.shape)} does not broadcast to z.shape[:-1] = {lead}"
                " (for z [cells, images, d] give hp as [cells, 1])"
            )
        return self.fn(z, hp[..., None], **dict(self.params))

    def resample(self, z: torch.Tensor, hp, generator: torch.Generator | None = None) -> torch.Tensor:
        """A new tensor: each element of z replaced by a fresh prior draw with its probability.

        One uniform draw (the Bernoulli trial) and one prior draw per element, both from
        `generator`, so a seeded generator reproduces the result exactly.
        """
        uniform = torch.rand(z.shape, generator=generator, device=z.device, dtype=z.dtype)
        fresh = get_prior(self.prior).sample(z.shape, generator=generator, device=z.device, dtype=z.dtype)
        return self.resample_with(z, hp, uniform, fresh)

    def resample_with(self, z: torch.Tensor, hp, uniform: torch.Tensor, fresh: torch.Tensor) -> torch.Tensor:
        """resample with the draws given: element i is replaced by fresh_i where uniform_i < p_i."""
        return torch.where(uniform < self.replace_probability(z, hp), fresh, z)


def register(
    name: str,
    *,
    kind: str,
    hyperparameter: str,
    description: str,
    extra: bool = False,
    context: tuple[str, ...] = (),
    lrs: tuple[float, ...] = (),
    hps: tuple[float, ...] = (),
    **params: float,
):
    """Decorator: register `fn` as regulator `name`.

    lrs, hps: its default learning rates and hyperparameters (grid rows) where the paper has no
    table for it; without them `bench recover --grid paper|quick` refuses it with what to add.

    kind "loss": fn(z, **context) -> [...]; `context` names the keyword arguments it requires.
    kind "resample": fn(z, hp, **params) -> probability; `params` are its fixed settings with
    their defaults (e.g. b=2.0), changeable through `get(name, b=...)`.
    """
    if kind not in KINDS:
        raise ValueError(f"regulator {name!r}: kind must be one of {KINDS}, got {kind!r}")

    def deco(fn: Callable) -> Callable:
        common = {
            "name": name,
            "kind": kind,
            "hyperparameter": hyperparameter,
            "description": description,
            "extra": extra,
            "lrs": tuple(float(v) for v in lrs),
            "hps": tuple(float(v) for v in hps),
        }
        if kind == "loss":
            if params:
                raise ValueError(f"regulator {name!r}: loss regulators take no params, got {sorted(params)}")
            REGISTRY.add(name, LossRegulator(**common, fn=fn, context=tuple(context)))
        else:
            if context:
                raise ValueError(f"regulator {name!r}: resample regulators take no context")
            REGISTRY.add(
                name, ResampleRegulator(**common, fn=fn, params=tuple((k, float(v)) for k, v in params.items()))
            )
        return fn

    return deco


def names(include_extras: bool = True, kind: str | None = None) -> list[str]:
    """Registered names in registration order (the paper's seven first, then the extras).

    Extras are included by default so that `names()` lists exactly what `get` accepts; pass
    include_extras=False for the paper's regulators only.
    """
    picked = [r for r in REGISTRY.values() if kind is None or r.kind == kind]
    return [r.name for r in picked if not r.extra] + [r.name for r in picked if r.extra and include_extras]


def get(name: str, **options) -> Regulator:
    """The regulator `name`, optionally with changed settings: get("logistic_cutoff", b=3.0),
    get("truncated_normal_cutoff", prior="uniform"). Unknown names or options raise ValueError."""
    reg = REGISTRY.get(name)
    if not options:
        return reg
    unknown = sorted(set(options) - set(reg.options))
    if unknown:
        valid = ", ".join(reg.options) or "none"
        raise ValueError(f"regulator {name!r} has no option {', '.join(unknown)}; valid: {valid}")
    changes = {}
    if "prior" in options:
        get_prior(options["prior"])  # validate the name now, not at the first resample
        changes["prior"] = options.pop("prior")
    if options:
        changes["params"] = tuple((k, float(options.get(k, v))) for k, v in reg.params)
    return dataclasses.replace(reg, **changes)
