"""Resampling regulators of Egan et al. 2018 [5] (Cho, tables 5-6): after each optimiser step, each
element z_i is replaced by a fresh prior draw with probability p(|z_i|). The probability functions
are public so tests and reports can evaluate them; hp is the swept a or c, broadcast against z.
"""

from __future__ import annotations

import torch

from regulators.registry import register


def logistic_cutoff_probability(z: torch.Tensor, a, b=2.0) -> torch.Tensor:
    """1 / (1 + exp(-a (|z| - b))); a = 0 gives 1/2 everywhere, a < 0 favours replacing small |z|."""
    return torch.sigmoid(a * (z.abs() - b))


def truncated_normal_cutoff_probability(z: torch.Tensor, c) -> torch.Tensor:
    """exp(-(c^2 - z^2) / 2) inside |z| < c, 1 outside; c = 0 replaces every element.

    Inside, the exponent is negative, so the probability lies in (0, 1] and never overflows.
    """
    c = torch.as_tensor(c, dtype=z.dtype, device=z.device)
    inside = z.abs() < c
    return torch.where(inside, torch.exp(-(c.square() - z.square()) / 2), torch.ones_like(z))


@register(
    "logistic_cutoff",
    kind="resample",
    hyperparameter="slope a",
    description="replace z_i w.p. 1/(1+exp(-a(|z_i|-b))), b = 2; Egan et al. 2018 [5] (Cho, table 5)",
    b=2.0,
)
def logistic_cutoff(z: torch.Tensor, a: torch.Tensor, *, b: float) -> torch.Tensor:
    return logistic_cutoff_probability(z, a, b)


@register(
    "truncated_normal_cutoff",
    kind="resample",
    hyperparameter="cutoff c",
    description="replace z_i w.p. exp(-(c^2-z_i^2)/2) if |z_i| < c else 1; Egan et al. 2018 [5] (Cho, table 6)",
)
def truncated_normal_cutoff(z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    return truncated_normal_cutoff_probability(z, c)
