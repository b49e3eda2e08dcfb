"""Measurements of the Iso-LWGAN experiments, each a plain function of tensors or arrays.

- the pairwise-distance discrepancy |‖z_i - z_j‖ - ‖G(z_i) - G(z_j)‖| (SPEC part B);
- the energy distance of generated to held-out points; output diversity; mode shares;
- decoded latent interpolations and their step irregularity;
- the collapse rule: a constant Q or G is trivially isometric, so a collapsed model's small
  discrepancy says nothing about the geometry.
"""

from __future__ import annotations

import math

import numpy as np

# A model whose reconstruction error is at least this share of that of the constant map at the
# data mean has collapsed.
COLLAPSE = 0.9


def is_collapsed(recon: float, trivial_recon: float) -> bool:
    """recon >= COLLAPSE x the constant map's error: Q or G is (nearly) constant."""
    return bool(recon >= COLLAPSE * trivial_recon)


def discrepancy_matrix(z, gz):
    """[n, n] |‖z_i - z_j‖ - ‖G_i - G_j‖| (torch, zero diagonal); its mean over i != j is the
    isometric loss of SPEC part B."""
    import torch

    dz = torch.cdist(z.flatten(1).double(), z.flatten(1).double())
    dx = torch.cdist(gz.flatten(1).double(), gz.flatten(1).double())
    return (dz - dx).abs()


def _pdist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from scipy.spatial.distance import cdist

    return cdist(a.reshape(len(a), -1), b.reshape(len(b), -1))


def energy_distance(x, y) -> float:
    """sqrt(2 E‖X-Y‖ - E‖X-X'‖ - E‖Y-Y'‖) over the two empirical distributions (all pairs, the
    V-statistic): in 1-D it is scipy.stats.energy_distance."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    x, y = x.reshape(len(x), -1), y.reshape(len(y), -1)
    d2 = 2 * _pdist(x, y).mean() - _pdist(x, x).mean() - _pdist(y, y).mean()
    return math.sqrt(max(d2, 0.0))


def diversity_per_input(draws) -> np.ndarray:
    """draws [n_inputs, k, ...]: per input, the mean l2 distance over the k(k-1)/2 pairs of its k
    draws G(z, eps_1..k) (the diversity of SPEC part B before averaging over inputs)."""
    import torch

    d = torch.as_tensor(np.asarray(draws), dtype=torch.float64)
    n, k = d.shape[:2]
    if k < 2:
        raise ValueError("diversity_per_input: need at least 2 draws per input")
    dist = torch.cdist(d.reshape(n, k, -1), d.reshape(n, k, -1))  # [n, k, k]
    return (dist.sum((1, 2)) / (k * (k - 1))).numpy()  # each pair counted twice, diagonal 0


def mode_shares(samples, centres) -> np.ndarray:
    """Share of samples whose nearest centre (l2) is each centre: [K], sums to 1."""
    s = np.asarray(samples, dtype=float)
    c = np.asarray(centres, dtype=float)
    nearest = _pdist(s, c).argmin(axis=1)
    return np.bincount(nearest, minlength=len(c)) / max(len(s), 1)


def interpolate(z0, z1, steps: int = 10):
    """[P, steps, d]: straight lines from z0 [P, d] to z1 in `steps` points, ends included."""
    import torch

    t = torch.linspace(0, 1, steps, dtype=z0.dtype, device=z0.device)[None, :, None]
    return z0[:, None, :] * (1 - t) + z1[:, None, :] * t


def decode_lines(model, lines, generator):
    """G along latent lines [P, steps, d] -> [P * steps, ...], one noise draw per line held fixed
    along it: a path then shows the latent geometry, not fresh noise at every step."""
    import torch

    p, steps, d = lines.shape
    k = getattr(model.G, "noise_dim", 0)
    eps = None
    if k > 0:
        eps = torch.randn(p, k, generator=generator, device=lines.device)
        eps = eps.repeat_interleave(steps, dim=0)
    return model.G(lines.reshape(p * steps, d), eps)


def step_irregularity(paths) -> np.ndarray:
    """Per path [P, steps, ...]: std / mean of the l2 lengths of its consecutive steps. 0 for a
    path at constant speed (what an isometric decoder gives for a straight latent line); a path
    that does not move at all also gets 0."""
    p = np.asarray(paths, dtype=float)
    p = p.reshape(p.shape[0], p.shape[1], -1)
    steps = np.linalg.norm(np.diff(p, axis=1), axis=-1)  # [P, steps-1]
    mean = steps.mean(axis=1)
    sd = steps.std(axis=1)
    return np.where(mean > 0, sd / np.where(mean > 0, mean, 1.0), 0.0)
