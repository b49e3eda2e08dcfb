"""Seeded synthetic datasets with a known intrinsic dimension (SPEC part B).

Sampling follows the public code of LWGAN (github.com/yixuan/LWGAN, utils/tools.py,
`inf_train_gen`) for the manifolds, with the noise it trains with (std 0):
- swissroll: t = 1.5*pi*U(1, 3), x = 0.2 * t * (cos t, sin t)            ambient 2, intrinsic 1
- scurve: t = 3*pi*U(-1/2, 1/2), x = (sin t, U(0, 2), sign(t) (cos t - 1)) ambient 3, intrinsic 2
- hyperplane: x1..x4 ~ N(0, 1), x5 = x1 + x2 + x3 + x4^2                 ambient 5, intrinsic 4
Manifolds never used to choose the rank schedule (claim 9 is also judged on them):
- helix: t = U(0, 4 pi), x = (cos t, sin t, 0.3 (t - 2 pi))              ambient 3, intrinsic 1
- torus: u, v = U(0, 2 pi), x = ((1 + 0.4 cos v) cos u, (1 + 0.4 cos v) sin u, 0.4 sin v)
                                                                          ambient 3, intrinsic 2
- subspace10: w ~ N(0, I_5), x = A w with A a fixed 10 x 5 orthonormal basis (the same for every
  seed)                                                                   ambient 10, intrinsic 5
LWGAN draws a fresh batch at every step; here a finite train set (20,000 points) stands in for
that stream and an independent held-out set (5,000) serves evaluation.
The Iso-LWGAN experiments' mixtures (SPEC part B, experiments 1 and 2):
- two_gaussians: centres (2, 2), (-2, -2), covariance 0.5 I, 2,000 points, intrinsic 2
- three_clusters: centres (0, 0), (3, 3), (-3, 3), std 0.5, 1,500 points, intrinsic 2
Mixture components get equal counts (the first ones take any remainder), in a random order,
rather than multinomial counts, so every seed has the same balance.

Train and held-out come from independent torch.Generator streams seeded from (name, seed,
split): changing n_train leaves the held-out set unchanged. Points are drawn in float64 and
returned as float32.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from registries import Registry

Sampler = Callable[[int, torch.Generator], "tuple[torch.Tensor, torch.Tensor | None]"]


@dataclass(frozen=True)
class SyntheticSpec:
    name: str
    sample: Sampler  # (n, generator) -> (float64 [n, D], int64 component labels [n] or None)
    ambient_dim: int
    intrinsic_dim: int
    n_train: int
    n_heldout: int
    description: str
    # Why no encoder into R^intrinsic_dim can represent it ("" when one can): a rank estimate there
    # is a probe, not a test of the intrinsic-dimension claim.
    unrepresentable: str = ""


@dataclass
class SyntheticData:
    name: str
    train: torch.Tensor  # float32 [n, D]
    heldout: torch.Tensor  # float32 [m, D]
    intrinsic_dim: int
    ambient_dim: int
    seed: int
    fingerprint: str  # 16 hex over name, seed and the points
    train_labels: torch.Tensor | None = None  # mixture component per point (mixtures only)
    heldout_labels: torch.Tensor | None = None


SYNTHETIC: Registry[SyntheticSpec] = Registry("synthetic dataset")


def register(
    name: str,
    *,
    ambient_dim: int,
    intrinsic_dim: int,
    n_train: int,
    n_heldout: int,
    description: str,
    unrepresentable: str = "",
):
    return SYNTHETIC.register(
        name,
        lambda fn: SyntheticSpec(
            name, fn, ambient_dim, intrinsic_dim, n_train, n_heldout, description, unrepresentable
        ),
    )


get = SYNTHETIC.get


def _mixture(n: int, g: torch.Generator, centres: list[tuple[float, float]], std: float):
    k = len(centres)
    labels = torch.arange(n) % k  # equal counts, remainder to the first components
    labels = labels[torch.randperm(n, generator=g)]
    mu = torch.tensor(centres, dtype=torch.float64)
    x = mu[labels] + std * torch.randn(n, 2, generator=g, dtype=torch.float64)
    return x, labels


@register(
    "two_gaussians",
    ambient_dim=2,
    intrinsic_dim=2,
    n_train=2000,
    n_heldout=500,
    description="two Gaussians at (2,2), (-2,-2), covariance 0.5 I (Iso-LWGAN exp. 1)",
)
def _two_gaussians(n, g):
    return _mixture(n, g, [(2.0, 2.0), (-2.0, -2.0)], math.sqrt(0.5))


@register(
    "three_clusters",
    ambient_dim=2,
    intrinsic_dim=2,
    n_train=1500,
    n_heldout=500,
    description="three clusters at (0,0), (3,3), (-3,3), std 0.5 (Iso-LWGAN exp. 2)",
)
def _three_clusters(n, g):
    return _mixture(n, g, [(0.0, 0.0), (3.0, 3.0), (-3.0, 3.0)], 0.5)


def _uniform(n: int, g: torch.Generator, low: float, high: float) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=g, dtype=torch.float64)


@register(
    "swissroll",
    ambient_dim=2,
    intrinsic_dim=1,
    n_train=20000,
    n_heldout=5000,
    description="Swiss roll 0.2 t (cos t, sin t), t = 1.5 pi U(1, 3) (LWGAN)",
)
def _swissroll(n, g):
    t = 1.5 * math.pi * _uniform(n, g, 1.0, 3.0)
    return 0.2 * t[:, None] * torch.stack([torch.cos(t), torch.sin(t)], dim=1), None


@register(
    "scurve",
    ambient_dim=3,
    intrinsic_dim=2,
    n_train=20000,
    n_heldout=5000,
    description="S-curve (sin t, U(0,2), sign(t)(cos t - 1)), t = 3 pi U(-1/2, 1/2) (LWGAN)",
)
def _scurve(n, g):
    t = 3.0 * math.pi * _uniform(n, g, -0.5, 0.5)
    height = _uniform(n, g, 0.0, 2.0)
    return torch.stack([torch.sin(t), height, torch.sign(t) * (torch.cos(t) - 1.0)], dim=1), None


@register(
    "hyperplane",
    ambient_dim=5,
    intrinsic_dim=4,
    n_train=20000,
    n_heldout=5000,
    description="x1..x4 ~ N(0,1), x5 = x1 + x2 + x3 + x4^2 (LWGAN)",
)
def _hyperplane(n, g):
    x = torch.randn(n, 4, generator=g, dtype=torch.float64)
    x5 = x[:, 0] + x[:, 1] + x[:, 2] + x[:, 3] ** 2
    return torch.cat([x, x5[:, None]], dim=1), None


@register(
    "helix",
    ambient_dim=3,
    intrinsic_dim=1,
    n_train=20000,
    n_heldout=5000,
    description="helix (cos t, sin t, 0.3 (t - 2 pi)), t = U(0, 4 pi): two turns",
)
def _helix(n, g):
    t = _uniform(n, g, 0.0, 4 * math.pi)
    return torch.stack([torch.cos(t), torch.sin(t), 0.3 * (t - 2 * math.pi)], dim=1), None


@register(
    "torus",
    ambient_dim=3,
    intrinsic_dim=2,
    n_train=20000,
    n_heldout=5000,
    description="torus surface, radii 1 and 0.4, angles uniform",
    unrepresentable="no continuous one-to-one map takes a torus into R^2, so an encoder of rank 2 cannot "
    "represent it and rank 3 is the least that can; the LWGAN paper never used one",
)
def _torus(n, g):
    u, v = _uniform(n, g, 0.0, 2 * math.pi), _uniform(n, g, 0.0, 2 * math.pi)
    ring = 1.0 + 0.4 * torch.cos(v)
    return torch.stack([ring * torch.cos(u), ring * torch.sin(u), 0.4 * torch.sin(v)], dim=1), None


def _basis(ambient: int, dim: int) -> torch.Tensor:
    """A fixed orthonormal basis [ambient, dim] (QR of a Gaussian matrix of a fixed seed)."""
    a = torch.randn(ambient, dim, generator=torch.Generator().manual_seed(20261206), dtype=torch.float64)
    q, _ = torch.linalg.qr(a)
    return q


@register(
    "subspace10",
    ambient_dim=10,
    intrinsic_dim=5,
    n_train=20000,
    n_heldout=5000,
    description="a 5-dimensional linear subspace of R^10: A w, w ~ N(0, I_5), A fixed orthonormal",
)
def _subspace10(n, g):
    return torch.randn(n, 5, generator=g, dtype=torch.float64) @ _basis(10, 5).T, None


def _stream(name: str, seed: int, split: str) -> torch.Generator:
    # A hash, not seed+offset, so (seed, "train") never collides with (seed+1, "heldout").
    digest = hashlib.sha256(f"{name}:{seed}:{split}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "big") >> 1)


def make_synthetic(
    name: str, *, seed: int = 0, n_train: int | None = None, n_heldout: int | None = None
) -> SyntheticData:
    """Sample dataset `name` (see SYNTHETIC); unknown name or non-positive sizes -> ValueError."""
    spec = get(name)
    n_train = spec.n_train if n_train is None else int(n_train)
    n_heldout = spec.n_heldout if n_heldout is None else int(n_heldout)
    if n_train < 1 or n_heldout < 1:
        raise ValueError(f"{name}: n_train and n_heldout must be positive, got {n_train}, {n_heldout}")
    train, train_labels = spec.sample(n_train, _stream(name, seed, "train"))
    heldout, heldout_labels = spec.sample(n_heldout, _stream(name, seed, "heldout"))
    train, heldout = train.to(torch.float32).contiguous(), heldout.to(torch.float32).contiguous()
    h = hashlib.sha256(f"{name}:{seed}:{n_train}:{n_heldout}".encode())
    h.update(train.numpy().tobytes())
    h.update(heldout.numpy().tobytes())
    return SyntheticData(
        name=name,
        train=train,
        heldout=heldout,
        intrinsic_dim=spec.intrinsic_dim,
        ambient_dim=spec.ambient_dim,
        seed=seed,
        fingerprint=h.hexdigest()[:16],
        train_labels=train_labels,
        heldout_labels=heldout_labels,
    )
