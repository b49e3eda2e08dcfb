"""Loss-term regulators R(z), added to the recovery loss as weight * R(z); one value per latent.

Sources are the recovery paper (Cho, "Wasserstein latent regulation", tables 1-4) and its
references [3] Yeh et al. 2016 and [4] Creswell and Bharath 2018; the extras come from the
author's later code (github.com/jeongik-jo/LatentRegulation). Every function takes z [..., d_z]
and ignores context keys it does not use.
"""

from __future__ import annotations

import torch

from regulators.distances import energy_1d, mean_abs_pair_difference, wasserstein_1d
from regulators.registry import register


@register(
    "none",
    kind="loss",
    hyperparameter="weight",
    description="no regulation, R = 0: the baseline (weight-0 column of Cho tables 1-4)",
)
def none(z: torch.Tensor, **_) -> torch.Tensor:
    # Connected to z (gradient 0) so a loss made of this term alone still backpropagates.
    return z.sum(-1) * 0


@register(
    "wasserstein",
    kind="loss",
    hyperparameter="weight",
    description="W1 between z's elements and a fresh prior sample (Cho, the proposal, table 1)",
    context=("prior_sample",),
)
def wasserstein(z: torch.Tensor, *, prior_sample: torch.Tensor, **_) -> torch.Tensor:
    return wasserstein_1d(z, prior_sample)


@register(
    "energy",
    kind="loss",
    hyperparameter="weight",
    description="energy distance between z's elements and a fresh prior sample (Cho, table 2)",
    context=("prior_sample",),
)
def energy(z: torch.Tensor, *, prior_sample: torch.Tensor, **_) -> torch.Tensor:
    return energy_1d(z, prior_sample)


@register(
    "trick_discriminator",
    kind="loss",
    hyperparameter="weight",
    description="(D(G(z)) - 1)^2, LSGAN form of Yeh et al. 2016 [3] (Cho, table 3)",
    context=("generator", "discriminator"),
)
def trick_discriminator(z: torch.Tensor, *, generator, discriminator, **_) -> torch.Tensor:
    flat = z.reshape(-1, z.shape[-1])
    score = discriminator(generator(flat)).reshape(flat.shape[0], -1)
    if score.shape[1] != 1:
        raise ValueError(f"trick_discriminator: D must give one score per input, got {score.shape[1]}")
    return (score[:, 0] - 1).square().reshape(z.shape[:-1])


@register(
    "log_normal_density",
    kind="loss",
    hyperparameter="weight",
    description="mean z_i^2, -log N(0, I) density up to scale; Creswell and Bharath 2018 [4] (Cho, table 4)",
)
def log_normal_density(z: torch.Tensor, **_) -> torch.Tensor:
    return z.square().mean(-1)


# The extras' grid rows: the paper's loss tables' learning rates and nonzero weights (weight 0 is
# the shared baseline), so an extra's cells line up with tables 1-4.
EXTRA_ROWS = {"lrs": (0.001, 0.01, 0.1, 1.0), "hps": (0.01, 0.1, 1.0, 10.0)}


@register(
    "lukaszyk_karmowski",
    kind="loss",
    hyperparameter="weight",
    description="mean |u_i - z_j| over all pairs with a fresh prior sample u (extra: Cho's later code)",
    extra=True,
    context=("prior_sample",),
    **EXTRA_ROWS,
)
def lukaszyk_karmowski(z: torch.Tensor, *, prior_sample: torch.Tensor, **_) -> torch.Tensor:
    return mean_abs_pair_difference(z, prior_sample)


@register(
    "z_abs",
    kind="loss",
    hyperparameter="weight",
    description="mean |z_i| (extra: Cho's later code, z_score_absolute)",
    extra=True,
    **EXTRA_ROWS,
)
def z_abs(z: torch.Tensor, **_) -> torch.Tensor:
    return z.abs().mean(-1)


@register(
    "bhattacharyya",
    kind="loss",
    hyperparameter="weight",
    description="-log sum_i exp(-z_i^2 / 4), Bhattacharyya-style (extra: Cho's later code)",
    extra=True,
    **EXTRA_ROWS,
)
def bhattacharyya(z: torch.Tensor, **_) -> torch.Tensor:
    # logsumexp: the plain sum underflows to 0 (and the log to inf) for large |z|.
    return -torch.logsumexp(-0.25 * z.square(), dim=-1)
