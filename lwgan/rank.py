"""Intrinsic-dimension estimate of a trained LWGAN: the penalised rank score of SPEC part B.

For each s = 1..z_max and each of `reps` fresh batches:
    score(s) = [E f(G(Q(X, s))) - E f(G(Z_s))] + E||X - G(Q(X, s))|| + GP(s) + lambda_mmd MMD(Q(X, s), Z_s)
(the gradient penalty unweighted and the MMD weighted by lambda_mmd, as in the public LWGAN code).
lambda_hat = (standard error of the mean score at the unpenalised argmin) ** 0.8 and the estimate
is argmin_s mean score(s) + lambda_hat * s.

Two protocols for the evaluations. `score_ranks` (the harness's default): the trained encoder and
generator are frozen, a copy of the critic is refitted to them, and the evaluations differ only in
their batches. `score_ranks_training` (the public code's): training goes on between evaluations,
so the standard error, and with it lambda_hat, also carries the model's own fluctuation.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from lwgan import losses
from lwgan.model import LWGAN, LWGANConfig
from lwgan.networks import rank_mask
from lwgan.progress import ProgressFn, null_progress
from lwgan.recipes import SCORING_ITER_D
from lwgan.trainer import lr_decay, train_lwgan

COMPONENTS = ("critic_gap", "recon", "grad_penalty", "mmd")


@dataclass
class RankScores:
    ranks: list[int]
    scores: np.ndarray  # [reps, R]: the unpenalised score of every evaluation
    components: dict[str, np.ndarray]  # each [reps, R]; they sum to `scores`
    mean: np.ndarray  # [R]
    se: np.ndarray  # [R] standard error of the mean over reps
    lambda_hat: float
    penalised: np.ndarray  # [R] mean + lambda_hat * s
    argmin_unpenalised: int
    estimate: int


def select_rank(scores: np.ndarray, ranks, *, exponent: float = 0.8) -> dict:
    """The selection rule on a [reps, R] score matrix (pure numpy, testable by hand)."""
    scores = np.asarray(scores, dtype=float)
    ranks = np.asarray(ranks)
    reps = scores.shape[0]
    mean = scores.mean(axis=0)
    se = scores.std(axis=0, ddof=1) / np.sqrt(reps) if reps > 1 else np.zeros_like(mean)
    i0 = int(np.argmin(mean))
    lam = float(se[i0] ** exponent)
    penalised = mean + lam * ranks
    return {
        "mean": mean,
        "se": se,
        "lambda_hat": lam,
        "penalised": penalised,
        "argmin_unpenalised": int(ranks[i0]),
        "estimate": int(ranks[int(np.argmin(penalised))]),
    }


def rank_margin(scores: np.ndarray, ranks, estimate: int, lambda_hat: float, truth: int | None = None) -> dict:
    """How settled a rank estimate is: the penalised score's gap between the estimate and its
    rival, in standard errors of that gap. The rival is the runner-up (the best other rank) when
    the estimate is the truth or no truth is given, else the truth itself (how surely the truth
    loses). The gap of two ranks is paired over the evaluations (each evaluation scores every
    rank on the same batch), so its standard error is that of the per-evaluation differences;
    the penalty lambda_hat * s is a constant that shifts the gap, not its error.
    Returns {"rival", "gap", "se", "margin"} (margin = gap / se; inf when se is 0 and gap > 0)."""
    scores = np.asarray(scores, dtype=float)
    ranks = list(ranks)
    e = ranks.index(estimate)
    if len(ranks) < 2:
        return {"rival": None, "gap": float("nan"), "se": float("nan"), "margin": float("nan")}
    penalised = scores.mean(axis=0) + lambda_hat * np.asarray(ranks, dtype=float)
    if truth is not None and truth != estimate and truth in ranks:
        r = ranks.index(truth)
    else:
        others = [i for i in range(len(ranks)) if i != e]
        r = min(others, key=lambda i: penalised[i])
    diff = scores[:, r] - scores[:, e]
    se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("nan")
    gap = float(penalised[r] - penalised[e])
    margin = gap / se if se > 0 else (float("inf") if gap > 0 else 0.0)
    return {"rival": int(ranks[r]), "gap": gap, "se": se, "margin": float(margin)}


def _score_batch(model, x: torch.Tensor, src: torch.Tensor, alpha: torch.Tensor, lambda_mmd: float, gen):
    """All ranks at once: rows are (rank, sample) pairs; one pass of Q, G and f. Returns [4, R]."""
    R, n = model.cfg.z_max, x.shape[0]
    dev = x.device
    rank = torch.arange(1, R + 1, device=dev).repeat_interleave(n)  # [R*n]
    xr = x.repeat(R, *([1] * (x.dim() - 1)))
    # Common random numbers: the same data and the same prior draw, masked, for every rank.
    z = src.repeat(R, 1) * rank_mask(rank, R * n, R, dev)
    with torch.no_grad():
        zq = model.Q(xr, rank)
        post = model.G(zq, generator=gen)
        fake = model.G(z, generator=gen)
        gap = (model.D(post, rank) - model.D(fake, rank)).view(R, n).mean(1)
        recon = losses.reconstruction_l2(xr, post).view(R, n).mean(1)
        mmd = lambda_mmd * losses.imq_mmd(zq.view(R, n, R), z.view(R, n, R))
    gp = losses.gradient_penalty(lambda y: model.D(y, rank), fake, post, alpha.repeat(R))
    return torch.stack((gap, recon, gp.detach().view(R, n).mean(1), mmd))


def refit_critic(
    model,
    data: torch.Tensor,
    *,
    steps: int,
    batch_size: int,
    seed: int = 0,
    progress: ProgressFn = null_progress,
    task: str = "refit critic",
):
    """A copy of `model` whose critic is trained further, for every rank at once, against the
    final (frozen) encoder and generator.

    The critic gap in the score stands for the sup over critics for the final Q and G; the public
    code keeps training between evaluations for this (`score_ranks_training`). Here only the
    critic is refitted (`steps` Adam steps on all ranks batched, at the critic's learning rate and
    betas of the last training phase, and lambda_gp); Q and G are shared with `model` and never
    changed, and `model`'s own critic is left as it was.
    """
    cfg = model.cfg
    dev = model.device
    critic = copy.deepcopy(model.D).train()
    refit = LWGAN(cfg, model.Q, model.G, critic)
    gen = torch.Generator(device=dev).manual_seed(seed + 7919)  # apart from the scoring stream
    # The top-level lr of a phased config trains nothing: the last phase's is the critic's own.
    last = cfg.phase_configs()[-1]
    lr = last.lr if last.lr_d is None else last.lr_d
    opt = torch.optim.Adam(critic.parameters(), lr=lr, betas=last.betas)
    R, n = cfg.z_max, batch_size
    rank = torch.arange(1, R + 1, device=dev).repeat_interleave(n)
    mask = rank_mask(rank, R * n, R, dev)
    for i in range(steps):
        x = data[torch.randint(data.shape[0], (R * n,), generator=gen, device=dev)]
        with torch.no_grad():
            post = model.G(model.Q(x, rank), generator=gen)
            fake = model.G(torch.randn(R * n, R, generator=gen, device=dev) * mask, generator=gen)
        # Every rank's gap is a mean over its n rows: their sum is R times the mean over all rows.
        gap = R * (critic(post, rank).mean() - critic(fake, rank).mean())
        alpha = torch.rand(R * n, generator=gen, device=dev)
        gp = losses.gradient_penalty(lambda y: critic(y, rank), fake, post, alpha)
        opt.zero_grad(set_to_none=True)
        (-gap + cfg.lambda_gp * R * gp.mean()).backward()
        opt.step()
        if (i + 1) % 25 == 0 or i + 1 == steps:
            progress(task, i + 1, steps)
    critic.eval()
    return refit


def score_ranks(
    model,
    data: torch.Tensor,
    *,
    reps: int = 50,
    batch_size: int = 512,
    lambda_mmd: float | None = None,
    critic_steps: int = 0,
    critic_data: torch.Tensor | None = None,
    seed: int = 0,
    progress: ProgressFn = null_progress,
    task: str = "rank score",
) -> RankScores:
    """Evaluate the score of every rank on `reps` fresh batches of `data` and select the rank.

    critic_steps > 0 first refits a copy of the critic to the final Q and G (`refit_critic`) on
    `critic_data` (default `data`; pass the training set to keep the scoring batches unseen).
    """
    if reps < 2:
        raise ValueError("score_ranks: reps must be >= 2 (the standard error needs two evaluations)")
    cfg = model.cfg
    lambda_mmd = cfg.lambda_mmd if lambda_mmd is None else lambda_mmd
    dev = model.device
    data = data.to(device=dev, dtype=torch.float32)
    model.eval()
    if critic_steps > 0:
        fit_on = data if critic_data is None else critic_data.to(device=dev, dtype=torch.float32)
        model = refit_critic(
            model,
            fit_on,
            steps=critic_steps,
            batch_size=batch_size,
            seed=seed,
            progress=progress,
            task=task.replace("score", "critic"),
        )
    gen = torch.Generator(device=dev).manual_seed(seed)
    rows = []
    for i in range(reps):  # repeated evaluations: each is one batched pass over all ranks
        rows.append(_evaluate(model, data, batch_size, lambda_mmd, gen))
        progress(task, i + 1, reps)
    return _select(rows, cfg.z_max)


def _evaluate(model, data: torch.Tensor, batch_size: int, lambda_mmd: float, gen) -> torch.Tensor:
    """One evaluation on a fresh batch of `data` (the same draws, in the same order, under
    either protocol): [4, R]."""
    dev = data.device
    x = data[torch.randint(data.shape[0], (batch_size,), generator=gen, device=dev)]
    src = torch.randn(batch_size, model.cfg.z_max, generator=gen, device=dev)
    alpha = torch.rand(batch_size, generator=gen, device=dev)
    return _score_batch(model, x, src, alpha, lambda_mmd, gen)


def _select(rows: list[torch.Tensor], z_max: int) -> RankScores:
    comp = torch.stack(rows).cpu().double().numpy()  # [reps, 4, R]
    components = {k: comp[:, j, :] for j, k in enumerate(COMPONENTS)}
    scores = comp.sum(axis=1)
    ranks = list(range(1, z_max + 1))
    sel = select_rank(scores, ranks)
    return RankScores(ranks=ranks, scores=scores, components=components, **sel)


def scoring_config(cfg: LWGANConfig, iterations: int) -> LWGANConfig:
    """The training that goes on while the public code scores: its last phase's settings at the
    learning rate its step decay ended on (the schedulers stay there), the critic trained
    max(20, iter_d) steps every iteration with no bursts, the MMD and the critic on, every rank."""
    last = cfg.phase_configs()[-1]
    decay = lr_decay(last, last.iterations)
    return dataclasses.replace(
        last,
        iterations=iterations,
        lr=last.lr * decay,
        lr_d=None if last.lr_d is None else last.lr_d * decay,
        lr_milestones=(),
        mmd_start=0.0,
        adversarial_start=0.0,
        critic_warmup=0,
        critic_burst_every=0,
        iter_d=max(SCORING_ITER_D, last.iter_d),
        max_rank=None,
        rank_sampling="iteration",
    )


def score_ranks_training(
    model,
    data: torch.Tensor,
    *,
    train_data: torch.Tensor,
    reps: int = 50,
    every: int = 20,
    batch_size: int = 512,
    lambda_mmd: float | None = None,
    seed: int = 0,
    progress: ProgressFn = null_progress,
    task: str = "rank score",
) -> RankScores:
    """The public LWGAN code's protocol: a copy of `model` goes on training on `train_data`
    (`scoring_config`, reps * every primal-dual iterations with fresh Adam optimisers; the public
    code keeps its optimisers' state) and every `every` iterations the score of every rank is
    evaluated on a fresh batch of `data`. `model` itself is left as it was."""
    if reps < 2:
        raise ValueError("score_ranks_training: reps must be >= 2 (the standard error needs two evaluations)")
    if every < 1:
        raise ValueError(f"score_ranks_training: every must be >= 1, got {every}")
    lambda_mmd = model.cfg.lambda_mmd if lambda_mmd is None else lambda_mmd
    dev = model.device
    data = data.to(device=dev, dtype=torch.float32)
    work = copy.deepcopy(model)
    gen = torch.Generator(device=dev).manual_seed(seed)
    rows: list[torch.Tensor] = []

    def evaluate(_task, done, _total, **_info) -> None:
        if done % every == 0:  # the trainer reports every `every` iterations and at the end
            rows.append(_evaluate(work, data, batch_size, lambda_mmd, gen))
            progress(task, len(rows), reps)

    # The training draws from its own stream, apart from the evaluation batches.
    train_lwgan(
        work,
        train_data,
        scoring_config(model.cfg, reps * every),
        seed=seed + 7919,
        progress=evaluate,
        progress_every=every,
    )
    return _select(rows, model.cfg.z_max)
