"""The primal-dual LWGAN trainer (and the autoencoder objective of the published Iso-LWGAN run).

Per iteration: a rank r uniform on 1..z_max; iter_d critic steps maximising
E f(G(Q(X))) - E f(G(Z_r)) - lambda_gp GP; then iter_gq encoder+generator steps minimising
E||X - G(Q(X))|| + E f(G(Q(X))) - E f(G(Z_r)) + lambda_mmd MMD + lambda_iso ISO + lambda_rank r.
Adam throughout, a multi-step learning-rate decay, loss curves kept per iteration on the device
and copied to the host only at the end (and at the sparse progress reports).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from lwgan import losses, numerics
from lwgan.model import LWGAN, LWGANConfig
from lwgan.networks import prior_sample
from lwgan.progress import ProgressFn, null_progress

HISTORY_KEYS = ("rank", "critic_gap", "grad_penalty", "recon", "mmd", "iso", "loss_gq")


@dataclass
class TrainResult:
    history: dict[str, list[float]]  # one value per iteration for each of HISTORY_KEYS
    iterations: int
    wall_time_s: float

    def final(self, window: int = 50) -> dict[str, float]:
        """Means over the last `window` iterations: a steadier summary than the last step."""
        out = {}
        for k, v in self.history.items():
            if k != "rank" and v:
                tail = v[-window:]
                out[k] = float(sum(tail) / len(tail))
        return out


def _sampler(data: torch.Tensor, batch_size: int, generator: torch.Generator):
    n = data.shape[0]

    def batch() -> torch.Tensor:
        return data[torch.randint(n, (batch_size,), generator=generator, device=data.device)]

    return batch


def _optimisers(model: LWGAN, cfg: LWGANConfig, precision: str = "fp32"):
    opt = {"betas": cfg.betas, "weight_decay": cfg.weight_decay}
    lr_d = cfg.lr if cfg.lr_d is None else cfg.lr_d
    return [
        numerics.adam(model.Q.parameters(), precision, lr=cfg.lr, **opt),
        numerics.adam(model.G.parameters(), precision, lr=cfg.lr, **opt),
        numerics.adam(model.D.parameters(), precision, lr=lr_d, **opt),
    ]


def lr_decay(cfg: LWGANConfig, done: int) -> float:
    """The multi-step decay factor after `done` iterations: gamma^(milestones passed)."""
    milestones = {max(1, math.ceil(cfg.iterations * s)) for s in cfg.lr_milestones}
    return cfg.lr_gamma ** sum(done >= m for m in milestones)


def _set_lr(opts, base: list[float], cfg: LWGANConfig, done: int) -> None:
    """lr * lr_decay(cfg, done). Set directly rather than by a scheduler, which would warn about
    the critic's optimiser while it rests."""
    factor = lr_decay(cfg, done)
    for o, lr in zip(opts, base):
        for group in o.param_groups:
            group["lr"] = lr * factor


def train_lwgan(
    model: LWGAN,
    data: torch.Tensor,
    cfg: LWGANConfig | None = None,
    *,
    seed: int = 0,
    progress: ProgressFn = null_progress,
    progress_every: int = 50,
    task: str = "train lwgan",
    precision: str = "fp32",
) -> TrainResult:
    """Train `model` in place on `data` ([n, D] or [n, 1, 28, 28], any device: moved to the model's).

    The phases of `cfg` (cfg.phase_configs()) run in order, each with fresh optimisers and its own
    learning-rate decay; the history runs on across them. Deterministic given `seed` (ranks,
    batches, prior draws, interpolation weights and generator noise all come from generators
    seeded by it, which also run on across the phases). `precision` "bf16": the forward passes and
    losses under bfloat16 autocast, weights and Adam state float32 (lwgan.numerics).
    """
    numerics.check(precision, "train_lwgan: precision")
    cfg = cfg or model.cfg
    device = model.device
    data = data.to(device=device, dtype=torch.float32)
    gen = torch.Generator(device=device).manual_seed(seed)
    host = torch.Generator().manual_seed(seed)  # ranks, drawn on the host: no device sync
    hist: list[torch.Tensor] = []  # per phase: [iterations, len(HISTORY_KEYS)] on the device
    total, done = cfg.total_iterations, 0
    model.train()
    t0 = time.perf_counter()
    for phase in cfg.phase_configs():

        def report(i: int, recon, gap, phase=phase, offset=done) -> None:
            if (offset + i) % progress_every == 0 or i == phase.iterations:
                progress(task, offset + i, total, recon=float(recon), gap=float(gap))

        _train_phase(model, data, phase, gen, host, hist, report, precision)
        done += phase.iterations
    model.D.requires_grad_(True)
    model.eval()
    table = torch.cat(hist).cpu()
    history = {k: table[:, j].tolist() for j, k in enumerate(HISTORY_KEYS)}
    return TrainResult(history, total, time.perf_counter() - t0)


def _train_phase(
    model: LWGAN,
    data: torch.Tensor,
    cfg: LWGANConfig,
    gen: torch.Generator,
    host: torch.Generator,
    hist: list[torch.Tensor],
    report,
    precision: str = "fp32",
) -> None:
    """One phase of the schedule: `cfg.iterations` primal-dual iterations; its loss curves are
    appended to `hist` as one [iterations, len(HISTORY_KEYS)] tensor on the device."""
    device = model.device
    top = cfg.max_rank or cfg.z_max  # ranks drawn on 1..top
    ranks = torch.randint(1, top + 1, (cfg.iterations,), generator=host).tolist()
    lwgan = cfg.objective == "lwgan"
    n, z_max = cfg.batch_size, cfg.z_max
    # rank_sampling "all": every step covers every rank, batch_size rows each (one group per rank).
    groups = top if lwgan and cfg.rank_sampling == "all" else 1
    rows = n * groups
    rank_rows = torch.arange(1, top + 1, device=device).repeat_interleave(n)
    batch = _sampler(data, rows, gen)
    opts = _optimisers(model, cfg, precision)
    opt_q, opt_g, opt_d = opts
    base_lr = [o.param_groups[0]["lr"] for o in opts]
    zero = torch.zeros((), device=device)
    mmd_from = math.floor(cfg.iterations * cfg.mmd_start)
    iso_from = math.floor(cfg.iterations * cfg.iso_start)
    adv_from = math.floor(cfg.iterations * cfg.adversarial_start)
    # Written in place each iteration (no host sync). A list of per-iteration 0-d tensors instead
    # grew the process by about 0.2 MB per adversarial iteration (2.6 GB over a bench rank cell).
    curves = torch.zeros(cfg.iterations, len(HISTORY_KEYS), device=device)
    hist.append(curves)

    for it in range(cfg.iterations):
        if groups > 1:
            r, r_mean = rank_rows, (top + 1) / 2
        else:  # the autoencoder always uses the full latent
            r = r_mean = ranks[it] if lwgan else z_max
        gap = gp = zero
        adversarial = lwgan and it >= adv_from

        if adversarial:  # dual step(s): the critic
            burst = it - adv_from < cfg.critic_warmup or (cfg.critic_burst_every and it % cfg.critic_burst_every == 0)
            steps = cfg.critic_burst if burst else cfg.iter_d
            gap, gp = _critic(model, cfg, batch, r, rows, gen, opt_d, steps, precision)
        terms = (adversarial, lwgan and cfg.lambda_mmd > 0 and it >= mmd_from, cfg.lambda_iso > 0 and it >= iso_from)
        for _ in range(cfg.iter_gq):  # primal step(s): encoder and generator
            out = _primal(model, cfg, batch, r, r_mean, (rows, groups, n), gen, (opt_q, opt_g), terms, precision)
            gap = out[0] if adversarial else gap
            recon, mmd, iso, loss = out[1:]

        _set_lr(opts, base_lr, cfg, it + 1)
        values = (0.0 if groups > 1 else float(r), gap, gp, recon, mmd, iso, loss)
        for j, v in enumerate(values):
            curves[it, j] = v.detach() if isinstance(v, torch.Tensor) else v
        report(it + 1, recon.detach(), gap.detach())


def _critic(model: LWGAN, cfg: LWGANConfig, batch, r, rows: int, gen, opt_d, steps: int, precision: str):
    """The dual steps: the critic maximises its gap less the gradient penalty; (gap, penalty) of
    the last step."""
    Q, G, D, device = model.Q, model.G, model.D, model.device
    D.requires_grad_(True)
    for step in range(steps):
        # One batch serves the gap and the penalty's interpolates (the public code draws a second
        # batch for the penalty: same expectation, twice the forward passes). critic_reuse: Q and G
        # are frozen in this phase, so one batch per iteration may serve every critic step (fresh
        # interpolation weights each time).
        with numerics.autocast(device, precision):
            if step == 0 or not cfg.critic_reuse:
                with torch.no_grad():
                    post = G(Q(batch(), r), generator=gen)
                    z_fake = prior_sample(rows, cfg.z_max, r, generator=gen, device=device)
                    fake = G(z_fake, generator=gen)
            gap = losses.critic_gap(D(post, r), D(fake, r))
            alpha = torch.rand(rows, generator=gen, device=device)
            gp = losses.gradient_penalty(lambda x, r=r: D(x, r), fake, post, alpha).mean()
        opt_d.zero_grad(set_to_none=True)
        (-gap + cfg.lambda_gp * gp).backward()
        opt_d.step()
    D.requires_grad_(False)
    return gap, gp


def _primal(model: LWGAN, cfg: LWGANConfig, batch, r, r_mean, shape: tuple, gen, opts, terms: tuple, precision: str):
    """One primal step of encoder and generator: reconstruction, plus (per `terms`: adversarial,
    MMD, isometric) the critic gap, the MMD and the isometric term; (gap, recon, mmd, iso, loss)."""
    rows, groups, n = shape
    adversarial, use_mmd, use_iso = terms
    Q, G, D, device, z_max = model.Q, model.G, model.D, model.device, cfg.z_max
    gap = mmd = iso = torch.zeros((), device=device)
    with numerics.autocast(device, precision):
        x = batch()
        z = Q(x, r)
        post = G(z, generator=gen)
        recon = losses.reconstruction_l2(x, post).mean()
        loss = recon
        if adversarial:
            fake = G(prior_sample(rows, z_max, r, generator=gen, device=device), generator=gen)
            gap = losses.critic_gap(D(post, r), D(fake, r))
            loss = loss + gap
        if cfg.objective == "lwgan":
            loss = loss + cfg.lambda_rank * r_mean
            if use_mmd:
                # MMD on the batch already encoded (the public code encodes a second batch: same
                # expectation, one more encoder pass per step).
                z_prior = prior_sample(rows, z_max, r, generator=gen, device=device)
                with numerics.exact(device, precision):
                    zf = z.float().view(groups, n, z_max)
                    mmd = losses.imq_mmd(zf, z_prior.view(groups, n, z_max)).mean()
                loss = loss + cfg.lambda_mmd * mmd
        if use_iso:
            with numerics.exact(device, precision):  # pairwise distances: float32
                iso = losses.isometric_loss(z.float(), post.float(), groups=groups)
            loss = loss + cfg.lambda_iso * iso
    opt_q, opt_g = opts
    opt_q.zero_grad(set_to_none=True)
    opt_g.zero_grad(set_to_none=True)
    loss.backward()
    opt_q.step()
    opt_g.step()
    return gap, recon, mmd, iso, loss
