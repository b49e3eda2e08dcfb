"""The LWGAN family (LWGAN and Iso-LWGAN: Q, G and a critic) as lwgan.families sees it: how to
train one, and how latent recovery sees it, on its rank-r prior N(0, A) (SPEC part B)."""

from __future__ import annotations

import torch

from lwgan import numerics
from lwgan.families import Family, RecoveryView, register_family
from lwgan.model import LWGAN, LWGANConfig, RankedGenerator, build_lwgan, load_lwgan, model_state
from lwgan.progress import null_progress
from lwgan.rank import score_ranks
from lwgan.recipes import MNIST_EVAL
from lwgan.trainer import train_lwgan


def _train_family(
    cfg: LWGANConfig, data: torch.Tensor, *, seed: int, device, progress=None, task: str = "", precision: str = "fp32"
) -> dict:
    model = build_lwgan(cfg, seed=seed, device=device)
    result = train_lwgan(
        model, data, cfg, seed=seed, progress=progress or null_progress, task=task, precision=precision
    )
    return {
        "state": model_state(model),
        "metrics": {**result.final(), "wall_time_s": result.wall_time_s},
        "history": result.history,
    }


def _recovery_view(model: LWGAN, cfg: LWGANConfig, *, rank: int, prior: str = "normal"):
    """Recovery on the rank-r prior N(0, A) (SPEC part B): the first r coordinates move, the rest
    stay 0; the critic is a Wasserstein critic, not an LSGAN discriminator."""
    G = RankedGenerator(model.G, cfg.z_max, rank)
    return RecoveryView(G, None, rank, G.noise_dim, "normal", {"z_max": cfg.z_max})


def _estimate_rank(model: LWGAN, images, train, *, seed: int, progress=None, task: str = "") -> tuple[int, float]:
    """LWGAN's rank score on MNIST pixels in [-1, 1] as `bench mnist --budget default` computes
    it (lwgan.recipes.MNIST_EVAL), so the rank recovery uses is the one that report prints for
    the same checkpoint: test images encoded, the critic refit on training images."""
    e = MNIST_EVAL["default"]
    scores = score_ranks(
        model,
        images[: e["eval_images"]],
        reps=e["rank_reps"],
        batch_size=e["rank_batch"],
        seed=seed,
        critic_steps=e["rank_critic_steps"],
        critic_data=train,
        progress=progress or null_progress,
        task=task,
    )
    return int(scores.estimate), float(scores.lambda_hat)


def _key_text(c: LWGANConfig) -> str:
    noise = f"noise {c.noise_dim} x {c.sigma_noise:g}" if c.noise_dim else "no noise"
    return f"{c.objective}, z_max {c.z_max}, iso {c.lambda_iso:g}, {noise}, {c.total_iterations} it"


register_family(
    Family(
        "lwgan",
        LWGANConfig,
        build=build_lwgan,
        train=_train_family,
        load=load_lwgan,
        data_kind=lambda c: "mnist" if c.resolved_arch() in ("conv", "mlp-image") else "synthetic",
        key_text=_key_text,
        recovery=_recovery_view,
        estimate_rank=_estimate_rank,
        recovery_refusal=lambda c: "an autoencoder without prior matching" if c.objective == "autoencoder" else None,
        description="LWGAN and Iso-LWGAN (Q, G, critic): the rank-r prior N(0, A)",
        # the recovery study's MNIST recipes, the harness's earlier figure; toy recipes train in seconds
        train_estimate=lambda c: "about 3 min on 2 CPU cores" if c.resolved_arch() in ("conv", "mlp-image") else None,
        precisions=numerics.TRAIN_PRECISIONS,
        # measured 2026-12-06, 60 iterations on 2 cores: lwgan.mnist 3.9-5.3 s in bf16 against 6.3-6.9 s,
        # iso-lwgan.mnist 4.1-5.1 against 5.5-5.9; the toy MLPs train slower under autocast
        bf16_pays=lambda c: c.resolved_arch() in ("conv", "mlp-image"),
    )
)
