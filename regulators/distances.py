"""Exact 1-D distances between two empirical samples, batched over leading dims, differentiable in z.

z [..., d] and u [..., m] (leading dims broadcastable, m may differ from d) are each one 1-D sample
per leading index. Every distance here is an integral over the two empirical CDFs F_z, F_u:
    W1       = int |F_z - F_u| dx
    energy   = sqrt(2 int (F_z - F_u)^2 dx)                   (scipy.stats.energy_distance)
    E|U - Z| = int F_z (1 - F_u) + F_u (1 - F_z) dx            (mean |u_i - z_j| over all pairs)
The CDFs are step functions, so each integral is a finite sum over the gaps of the merged sorted
sample (scipy's `_cdf_distance` does the same with two searchsorted calls). Here one sort of the
concatenation suffices: a running count of which side each merged value came from is the CDF at
that value. With ties the count may stop inside a run of equal values, but every gap inside such
a run is 0, so the sum is still exact. The gaps carry the gradient (through the sort); the CDF
heights are integer counts and need none. Memory is O(d + m) per row, never O(d * m).
"""

from __future__ import annotations

import torch


def _merged_cdfs(z: torch.Tensor, u: torch.Tensor):
    """Gaps of the merged sorted sample and the two CDFs at the left end of each gap.

    Returns (gaps, F_z, F_u), each [..., d + m - 1], in z's dtype.
    """
    if z.dim() < 1 or u.dim() < 1 or z.shape[-1] < 1 or u.shape[-1] < 1:
        raise ValueError(f"need non-empty samples on the last dim, got z {tuple(z.shape)}, u {tuple(u.shape)}")
    d, m = z.shape[-1], u.shape[-1]
    lead = torch.broadcast_shapes(z.shape[:-1], u.shape[:-1])
    u = u.to(dtype=z.dtype, device=z.device)
    both = torch.cat([z.expand(*lead, d), u.expand(*lead, m)], dim=-1)
    values, order = torch.sort(both, dim=-1)
    from_z = order < d
    count_z = from_z.cumsum(-1, dtype=torch.int32)[..., :-1]
    count_u = (~from_z).cumsum(-1, dtype=torch.int32)[..., :-1]
    gaps = values[..., 1:] - values[..., :-1]
    return gaps, count_z.to(z.dtype) / d, count_u.to(z.dtype) / m


def wasserstein_1d(z: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """W1 between the elements of z [..., d] and of u [..., m]; shape = broadcast leading dims."""
    gaps, fz, fu = _merged_cdfs(z, u)
    return ((fz - fu).abs() * gaps).sum(-1)


def energy_1d(z: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Energy distance sqrt(2 int (F_z - F_u)^2) between the elements of z and of u.

    At identical samples the value is 0 and the square root has no derivative; the gradient
    there is taken as 0 (a subgradient) instead of NaN.
    """
    gaps, fz, fu = _merged_cdfs(z, u)
    s = 2 * ((fz - fu).square() * gaps).sum(-1)
    positive = s > 0
    return torch.where(positive, torch.where(positive, s, torch.ones_like(s)).sqrt(), torch.zeros_like(s))


def mean_abs_pair_difference(z: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """mean over all pairs (i, j) of |u_i - z_j| (the Lukaszyk-Karmowski distance of two samples)."""
    gaps, fz, fu = _merged_cdfs(z, u)
    return ((fz * (1 - fu) + fu * (1 - fz)) * gaps).sum(-1)
