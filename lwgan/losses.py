"""Losses, each a plain function of tensors. Shapes: batch first; reductions documented per function."""

from __future__ import annotations

import torch


def lsgan_discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """LSGAN (Mao et al. 2017), a=0, b=c=1: mean((D(x)-1)^2 + D(G(z))^2) over the batch."""
    return ((d_real - 1).pow(2) + d_fake.pow(2)).mean()


def lsgan_generator_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """LSGAN generator objective: mean((D(G(z))-1)^2)."""
    return (d_fake - 1).pow(2).mean()


# --- LWGAN / Iso-LWGAN -----------------------------------------------------------------------

# Kernel scales of the public LWGAN code's inverse-multiquadric MMD (C = 2 * z_dim * sigma2_p * s).
IMQ_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def reconstruction_l2(x: torch.Tensor, x_rec: torch.Tensor) -> torch.Tensor:
    """Per-sample l2 norm ||x - G(Q(x))||_2 (not squared), over all non-batch dims: shape [n]."""
    return (x - x_rec).flatten(1).norm(dim=1)


def critic_gap(f_post: torch.Tensor, f_fake: torch.Tensor) -> torch.Tensor:
    """E f(G(Q(X))) - E f(G(Z)): the critic maximises it, encoder and generator minimise it."""
    return f_post.mean() - f_fake.mean()


def gradient_penalty(critic, x_fake: torch.Tensor, x_post: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Per-sample (||grad f(x_hat)||_2 - 1)^2 at x_hat = x_fake + alpha (x_post - x_fake): shape [n].

    `critic` maps a batch to [n] scores; `alpha` is [n] uniform(0, 1). The graph is kept so the
    penalty can be differentiated with respect to the critic's parameters.
    """
    a = alpha.view(-1, *([1] * (x_fake.dim() - 1)))
    x_hat = (x_fake + a * (x_post - x_fake)).detach().requires_grad_(True)
    out = critic(x_hat)
    (g,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    return (g.flatten(1).norm(dim=1) - 1.0).pow(2)


def imq_mmd(z_hat: torch.Tensor, z: torch.Tensor, *, sigma2_p: float = 1.0, scales=IMQ_SCALES) -> torch.Tensor:
    """MMD between Q(X) and prior samples with the inverse-multiquadric kernel k = C / (C + ||a-b||^2),
    summed over C = 2 * z_dim * sigma2_p * s for s in `scales` (the public LWGAN code's estimator:
    within-sample terms over pairs i != j, the cross term over all n^2 pairs).

    Inputs [..., n, z_dim]; leading dims are batched (one MMD per leading index). Returns [...].
    """
    n, zdim = z.shape[-2], z.shape[-1]
    d_zz = torch.cdist(z, z).pow(2)
    d_hh = torch.cdist(z_hat, z_hat).pow(2)
    d_hz = torch.cdist(z_hat, z).pow(2)
    off = 1.0 - torch.eye(n, device=z.device, dtype=z.dtype)
    stat = z.new_zeros(z.shape[:-2])
    for s in scales:  # seven kernel scales, not a data loop
        c = 2.0 * zdim * sigma2_p * s
        within = ((c / (c + d_zz) + c / (c + d_hh)) * off).sum((-1, -2)) / (n * n - n)
        cross = (c / (c + d_hz)).sum((-1, -2)) * 2.0 / (n * n)
        stat = stat + within - cross
    return stat


def isometric_loss(z: torch.Tensor, gz: torch.Tensor, groups: int = 1) -> torch.Tensor:
    """Mean over pairs i != j of | ||z_i - z_j|| - ||G(z_i) - G(z_j)|| | (scalar).

    Rows are samples (any trailing shape). With `groups` > 1 the rows form that many equal
    consecutive groups (e.g. one per rank) and only pairs within a group count; the result is the
    mean over groups.
    """
    zg = z.reshape(groups, z.shape[0] // groups, -1)
    xg = gz.reshape(groups, gz.shape[0] // groups, -1)
    n = zg.shape[1]
    dz, dx = torch.cdist(zg, zg), torch.cdist(xg, xg)
    # The diagonal is 0 - 0 = 0, so summing everything and dividing by n(n-1) is the i != j mean.
    return (dz - dx).abs().sum() / (groups * n * (n - 1))
