"""Training recipes: named sets of training settings a generator variant is combined with.

A generator name may carry a recipe after a dot, timm-style: `lwgan.rank` is the LWGAN variant
trained with the `rank` recipe, `iso-lwgan.mnist-tiny` the Iso-LWGAN variant with the tiny MNIST
budget. A recipe is a dict of config fields of its family (LWGANConfig or LSGANConfig); the
variant adds its own knobs (lambda_iso, noise, objective) and the caller's overrides go on top.
The config a (variant, recipe, overrides) gives is exactly the dict merge of the three, so the
model cache key of a trained model depends only on the settings, never on how they were named.

Where a recipe departs from the public code's settings it says why and what was measured.
"""

from __future__ import annotations

from dataclasses import dataclass

from lwgan.errors import ConfigError
from registries import Registry

SCORING_ITER_D = 20  # the public code trains the critic max(20, iter_d) steps while it scores


@dataclass(frozen=True)
class Recipe:
    name: str
    family: str  # "lwgan" or "lsgan": whose config fields `settings` sets
    description: str
    settings: dict


# keyed (family, name): a recipe name means something only within its family
RECIPES: Registry[Recipe] = Registry("recipe", error=ConfigError)


def register_recipe(name: str, *, family: str, description: str, **settings) -> Recipe:
    """Add a recipe; a (family, name) pair registered twice is an error."""
    return RECIPES.add((family, name), Recipe(name, family, description, dict(settings)))


def get_recipe(family: str, name: str) -> Recipe:
    if (family, name) not in RECIPES:
        valid = ", ".join(n for f, n in RECIPES if f == family)
        raise ConfigError(f"unknown {family} recipe {name!r}; valid: {valid}")
    return RECIPES.get((family, name))


# ------------------------------------------------------------------------------------ MNIST
# The public LWGAN code's MNIST schedule (yixuan/LWGAN run_mnist.sh, models/mnist.py; SPEC part
# B): conv Q/D trunk 5x5 stride-2 convs 1 -> 64 -> 128 -> 256, z up to 20, batch 256, Adam 1e-4
# betas (0.9, 0.999), 50,000 outer iterations, iter_d 10, iter_gq 3, lambda_mmd 1, lambda_gp 5,
# lambda_rank 0.0005; 100 critic steps for the first 25 iterations and every 100th. A GPU
# schedule. (Their G ends in a sigmoid on pixels squashed into [0.001, 0.999]; ours in a tanh on
# pixels in [-1, 1], the harness's range: an affine change of the output, not of the model.)
MNIST_PUBLIC = {
    "x_shape": (1, 28, 28),
    "arch": "conv",
    "z_max": 20,
    "width_q": 64,
    "width_g": 64,
    "width_d": 64,
    "batch_size": 256,
    "lr": 1e-4,
    "betas": (0.9, 0.999),
    "iterations": 50000,
    "iter_d": 10,
    "iter_gq": 3,
    "lambda_mmd": 1.0,
    "lambda_gp": 5.0,
    "lambda_rank": 0.0005,
    "critic_warmup": 25,
    "critic_burst": 100,
    "critic_burst_every": 100,
}
register_recipe(
    "mnist-public",
    family="lwgan",
    description="the public LWGAN code's MNIST schedule (a GPU one)",
    **MNIST_PUBLIC,
)
# `bench mnist --budget default`: a credible model on 2 CPU cores (one alone: about 2.5 min; two
# at a time, as bench mnist runs them: 3.5-4 min each).
# MLP nets shaped as the published run's (one hidden layer of 256; arch mlp-image), z_max 20 as
# the published run's latent, a reconstruction + MMD warm start (the critic from 25% of the
# iterations), the isometric term from 25% too (iso_start: from the start both isometric models
# had collapsed), lr 1e-3 halved at 60, 80 and 90%. Measured, seed 0, against the published base
# autoencoder's test reconstruction 5.60: base LWGAN 6.63 (1.18x), Frechet 227, every digit
# >= 5.9% of 5,000 samples, 141 s. The conv nets of width 16 at 1,500 iterations reached 11.63
# (the constant image 14.42) and a Frechet distance of 672; the deeper MLP of width 32: 9.0.
MNIST = {
    "x_shape": (1, 28, 28),
    "arch": "mlp-image",
    "z_max": 20,
    "width_q": 256,
    "width_g": 256,
    "width_d": 256,
    "batch_size": 128,
    "iterations": 8000,
    "lr": 1e-3,
    "iter_d": 2,
    "iter_gq": 1,
    "lambda_rank": 0.0005,
    "critic_warmup": 20,
    "critic_burst": 20,
    "critic_burst_every": 200,
    "adversarial_start": 0.25,
    "mmd_start": 0.0,
    "iso_start": 0.25,
    "lr_milestones": (0.6, 0.8, 0.9),
    "lr_gamma": 0.5,
}
register_recipe(
    "mnist", family="lwgan", description="CPU budget of `bench mnist` (8,000 iterations, MLP nets)", **MNIST
)
register_recipe(
    "mnist-tiny",
    family="lwgan",
    description="seconds-long MNIST budget for tests",
    **{
        **MNIST,
        "z_max": 4,
        "width_q": 8,
        "width_g": 8,
        "width_d": 8,
        "batch_size": 16,
        "iterations": 20,
        "iter_d": 1,
        "critic_warmup": 1,
        "critic_burst": 2,
        "critic_burst_every": 0,
    },
)
register_recipe(
    "mnist-public-tiny",
    family="lwgan",
    description="the public MNIST schedule at test size",
    **{
        **MNIST_PUBLIC,
        "z_max": 4,
        "width_q": 4,
        "width_g": 4,
        "width_d": 4,
        "batch_size": 16,
        "iterations": 6,
        "iter_d": 2,
        "iter_gq": 2,
        "critic_warmup": 1,
        "critic_burst": 2,
        "critic_burst_every": 3,
    },
)


# ------------------------------------------------------------------------------ toy data
# The public code's toy settings (run_toy.sh; SPEC part B). `bench rank --schedule public` trains
# the Swiss roll with 5,000 iterations of 5 encoder/generator steps (the others: 10,000 of 1).
PUBLIC_TOY = {
    "width_q": 64,
    "width_g": 64,
    "width_d": 64,
    "batch_size": 512,
    "iterations": 10000,
    "iter_d": 20,
    "iter_gq": 1,
    "lr": 2e-4,
    "lambda_rank": 0.01,
    "critic_warmup": 100,
    "critic_burst": 100,
    "critic_burst_every": 100,
    "lr_milestones": (0.8, 0.85, 0.9, 0.95),
    "lr_gamma": 0.9,
    "mmd_start": 0.5,
    "adversarial_start": 0.0,
    "rank_sampling": "iteration",
    "critic_reuse": False,
}
register_recipe(
    "public-toy",
    family="lwgan",
    description="the public LWGAN code's toy settings (GPU)",
    **PUBLIC_TOY,
)

# The toy recipe of `bench isometry` and `bench stochastic`: the public toy settings scaled to fit
# about 10 minutes for 12 trainings on 2 CPU cores (each is an option). iso_start 0.2: the first
# fifth of training without the isometric term (a reconstruction warm start; the objective at
# the end is the paper's). Without it 3 of 12 two-Gaussian models collapsed to the constant map
# (lambda_iso 1: 1 of 3 seeds, 2: 2 of 3), each already there in the first tenth of training,
# before the MMD is on; with it, 0 of 6 at lambda_iso 1 and 2 (measured, seeds 0-2).
TOY = {
    "width_q": 16,
    "width_g": 16,
    "width_d": 16,
    "batch_size": 256,
    "iterations": 1500,
    "iter_d": 3,
    "iter_gq": 1,
    "lr": 1e-3,
    "critic_warmup": 20,
    "critic_burst": 30,
    "critic_burst_every": 100,
    "lr_milestones": (0.5, 0.65, 0.8, 0.9),
    "lr_gamma": 0.5,
    "iso_start": 0.2,
}
register_recipe("toy", family="lwgan", description="CPU toy budget of the Iso-LWGAN toys", **TOY)

# The schedule of `bench rank`, chosen so 9 trainings fit 20 minutes on 2 CPU cores. Four
# phases, each with fresh Adam optimisers and its own step decay (halving at 70, 80, 90 and 95%
# of the phase):
# 1. rank 1 only, reconstruction + MMD (a WAE) at a high learning rate. The Swiss roll's
#    rank-1 code must unroll the spiral into one Gaussian coordinate; trained with every rank at
#    once from the start, G serves the 2-D codes of ranks >= 2 first and never unrolls it (rank-1
#    reconstruction 0.42-0.45 after 3,000 WAE iterations, 0.04-0.05 after this phase).
# 2. every rank, reconstruction + MMD: the higher ranks learn to share G's rank-1 axis.
# 3. the full LWGAN objective (critic, 5 steps per iteration on one encoded batch, with a
#    burst at its start and every 100th iteration), at the public code's learning rate.
# 4. every rank, reconstruction + MMD again, at phase 3's learning rate (about 12 s a cell). The
#    rank-1 code of the Swiss roll unrolls the spiral in pieces (Q jumps at about three places
#    along it, the folds of the encoder's initial projection), so G(Z_1) bridges the pieces, and
#    phase 3's critic term pulls the reconstructions towards the bridges: with a 3,000-iteration
#    phase 3 the rank-1 reconstruction rose from 0.065-0.084 to 0.087-0.345 (seeds 0-2) while
#    rank 2's stayed near 0.05; this phase brought it back to 0.042, 0.143, 0.068.
# Measured cold on 2 idle cores: 17.6 min, peak RSS 0.55 GB; truth in swissroll 2/3, scurve 3/3,
# hyperplane 3/3 (3,000 iterations in phase 3: the same, in 23.1 min). The Swiss roll wins
# narrowly (rank 1's score within lambda_hat of rank 2's); seed 1's adversarial phase leaves every
# rank's critic gap near 0.22. Without phase 4 the Swiss roll was 1/3. The top-level lr 1e-4
# trains nothing (every phase sets its own); it is kept so the cache keys of models trained
# before recipes existed are unchanged.
RANK_PHASES = (
    {"iterations": 3000, "max_rank": 1, "lr": 5e-3, "adversarial_start": 1.0, "mmd_start": 0.0},
    {"iterations": 3000, "lr": 2e-3, "adversarial_start": 1.0, "mmd_start": 0.0},
    {"iterations": 2000, "lr": 2e-4, "adversarial_start": 0.0, "mmd_start": 0.0},
    {"iterations": 1000, "lr": 2e-4, "adversarial_start": 1.0, "mmd_start": 0.0},
)
RANK = {
    "width_q": 32,
    "width_g": 32,
    "width_d": 32,
    "batch_size": 256,
    "lr": 1e-4,
    "iter_d": 5,
    "iter_gq": 1,
    "lambda_rank": 0.01,
    "critic_warmup": 20,
    "critic_burst": 50,
    "critic_burst_every": 100,
    "critic_reuse": True,
    "lr_milestones": (0.7, 0.8, 0.9, 0.95),
    "lr_gamma": 0.5,
    "iterations": sum(p["iterations"] for p in RANK_PHASES),
    "phases": RANK_PHASES,
}
register_recipe("rank", family="lwgan", description="four-phase CPU schedule of `bench rank`", **RANK)

# A few-second recipe for tests: 2-D data, tiny MLPs, a handful of iterations.
register_recipe(
    "test",
    family="lwgan",
    description="tiny, for tests",
    x_shape=(2,),
    z_max=3,
    width_q=4,
    width_g=4,
    width_d=4,
    batch_size=32,
    iterations=5,
    iter_d=2,
    critic_warmup=1,
    critic_burst=3,
    critic_burst_every=0,
)

# -------------------------------------------------------------------------------- published
# The authors' published run (lwgan.published): their src/train.py and config/experiment_params.py.
register_recipe(
    "toy",
    family="published",
    description="the published toy runs (20 epochs, batch 128, Adam 1e-3)",
    data="toy",
    z_dim=3,
    hidden=64,
    epochs=20,
    batch_size=128,
    lr=1e-3,
)
register_recipe(
    "mnist",
    family="published",
    description="the published MNIST run (5 epochs, batch 128, Adam 1e-3)",
    data="mnist",
    z_dim=20,
    hidden=256,
    epochs=5,
    batch_size=128,
    lr=1e-3,
)
register_recipe(
    "test",
    family="published",
    description="tiny, for tests",
    data="toy",
    z_dim=3,
    hidden=4,
    epochs=1,
    batch_size=32,
    lr=1e-3,
)

# ------------------------------------------------------------------------------------ LSGAN
# LSGANConfig's defaults are the recovery study's measured MNIST recipe (see its docstring).
register_recipe("mnist", family="lsgan", description="the recovery study's LSGAN (20 epochs, CPU)")
register_recipe(
    "test",
    family="lsgan",
    description="tiny, for tests",
    latent_dim=8,
    hidden=[16],
    d_width=4,
    epochs=1,
)
# The generator-dependence study (`bench dependence`): the default LSGAN at shorter budgets (its
# lr decay spans each budget's second half), a smaller latent (the Wasserstein and energy
# regulators' prior sample size is d_z), the author's optimiser on the default nets, and the
# author's conv architecture at a width a CPU can sweep.
for _epochs in (1, 3, 8):
    register_recipe(
        f"e{_epochs}",
        family="lsgan",
        epochs=_epochs,
        description=f"the default LSGAN trained {_epochs} epoch(s) instead of 20 (under-trained)",
    )
register_recipe("dz64", family="lsgan", latent_dim=64, description="the default LSGAN with d_z 64 instead of 256")
register_recipe(
    "author-adam",
    family="lsgan",
    lr=1e-5,
    betas=(0.9, 0.999),
    batch_size=32,
    lr_decay_start=1.0,
    ema=0.0,
    description="the default nets under the author's optimiser: Adam 1e-5 (Keras' default betas), batch 32, "
    "no decay or EMA; 20 epochs (the author's ran 200)",
)
register_recipe(
    "cho32",
    family="lsgan",
    arch="cho",
    cho_width=32,
    cho_d_width=16,
    description="the author's conv architecture at 1/16 of its channels (8.0 MFLOP a forward pass "
    "against 1,863 at full width), trained with the default LSGAN's optimiser and 20 epochs",
)
register_recipe(
    "cho-test",
    family="lsgan",
    arch="cho",
    cho_width=8,
    cho_d_width=4,
    latent_dim=8,
    epochs=1,
    description="tiny conv, for tests",
)


def with_overrides(cfg: dict, overrides: dict) -> dict:
    """`cfg` (LWGANConfig fields) with `overrides` applied. In a phased schedule a training field
    is set in every phase, except `iterations`, the total, which is shared out in the phases'
    proportions (so `--iterations 4500` halves each phase of the rank recipe)."""
    from lwgan.model import PHASE_FIELDS

    over = dict(overrides)
    phases = over.pop("phases", cfg.get("phases", ()))  # a whole new schedule may be given
    if not phases:
        return {**cfg, **over, "phases": ()}
    total = over.pop("iterations", None)
    shared = {k: over.pop(k) for k in list(over) if k in PHASE_FIELDS}
    planned = sum(p["iterations"] for p in phases)
    new = []
    for p in phases:
        p = {**p, **shared}
        if total is not None:
            p["iterations"] = max(1, round(total * p["iterations"] / planned))
        new.append(p)
    iterations = sum(p["iterations"] for p in new)
    return {**cfg, **shared, **over, "iterations": iterations, "phases": tuple(new)}


# ------------------------------------------------------------------------- MNIST evaluation
# How an MNIST-trained LWGAN is measured, by budget (`bench mnist --budget`): test images encoded,
# samples drawn for the Frechet distance, the rank score's repeats, batch and critic steps, the
# isometry and interpolation samples; "default" is also how recovery estimates a model's rank.
MNIST_EVAL = {
    "tiny": {"eval_images": 200, "fd_samples": 200, "rank_reps": 2, "rank_batch": 16,
             "rank_critic_steps": 0, "iso_images": 100, "interp_pairs": 8, "classifier_epochs": 1},
    "default": {"eval_images": 10000, "fd_samples": 10000, "rank_reps": 5, "rank_batch": 64,
                "rank_critic_steps": 20, "iso_images": 1000, "interp_pairs": 64},
    "public": {"eval_images": 10000, "fd_samples": 10000, "rank_reps": 10, "rank_batch": 128,
               "rank_critic_steps": 200, "iso_images": 2000, "interp_pairs": 128},
}  # fmt: skip
MNIST_EVAL["public-tiny"] = MNIST_EVAL["tiny"]
