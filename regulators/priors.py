"""Latent priors: what the GAN was trained on, what resampling draws from, what W1/energy compare to.

A prior is i.i.d. per element (the recovery study's assumption), so it is a 1-D distribution with a
sampler and a CDF. `normal` (N(0, 1)) is the default; `uniform` (U(-1, 1)) is the second entry.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from registries import Registry

DEFAULT_PRIOR = "normal"


@dataclass(frozen=True)
class Prior:
    name: str
    description: str
    _draw: Callable  # (shape, generator, device, dtype) -> tensor
    _cdf: Callable  # tensor -> tensor
    _icdf: Callable  # tensor of U(0, 1) -> tensor of draws (counter-based streams map uniforms)

    def sample(self, shape, generator: torch.Generator | None = None, device=None, dtype=None):
        """i.i.d. draws of the given shape. A `generator` fixes the device unless one is given."""
        if device is None and generator is not None:
            device = generator.device
        return self._draw(tuple(shape), generator, device, dtype or torch.get_default_dtype())

    def cdf(self, x: torch.Tensor) -> torch.Tensor:
        return self._cdf(x)

    def icdf(self, u: torch.Tensor) -> torch.Tensor:
        """The inverse CDF at u in (0, 1): maps uniform draws to draws from the prior."""
        return self._icdf(u)


PRIORS: Registry[Prior] = Registry("prior", group="lwgan_bench.priors")


def _add(prior: Prior) -> Prior:
    return PRIORS.add(prior.name, prior)


_add(
    Prior(
        "normal",
        "standard normal N(0, 1) per element (the study's generator prior)",
        lambda shape, g, device, dtype: torch.randn(shape, generator=g, device=device, dtype=dtype),
        lambda x: 0.5 * torch.special.erfc(-x / math.sqrt(2.0)),
        torch.special.ndtri,
    )
)
_add(
    Prior(
        "uniform",
        "uniform U(-1, 1) per element",
        lambda shape, g, device, dtype: torch.rand(shape, generator=g, device=device, dtype=dtype) * 2 - 1,
        lambda x: ((x + 1) / 2).clamp(0, 1),
        lambda u: u * 2 - 1,
    )
)


def prior_names() -> list[str]:
    return list(PRIORS)


def get_prior(name: str) -> Prior:
    """The prior called `name`; an unknown name raises ValueError naming the nearest ones."""
    return PRIORS.get(name)
