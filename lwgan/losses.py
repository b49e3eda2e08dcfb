"""Losses, each a plain function of tensors. Shapes: batch first; reductions documented per function."""

from __future__ import annotations

import torch


def lsgan_discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """LSGAN (Mao et al. 2017), a=0, b=c=1: mean((D(x)-1)^2 + D(G(z))^2) over the batch."""
    return ((d_real - 1).pow(2) + d_fake.pow(2)).mean()


def lsgan_generator_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """LSGAN generator objective: mean((D(G(z))-1)^2)."""
    return (d_fake - 1).pow(2).mean()
