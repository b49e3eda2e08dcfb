"""The toy engine of `bench isometry` and `bench stochastic`: one cell = (objective, lambda_iso,
sigma_noise, seed), trained through the model cache and measured on held-out points.

Two objectives side by side: `lwgan`, the full LWGAN objective the paper states (critic, MMD,
rank) plus the isometric term, and `published`, the authors' public run exactly (lwgan.published:
a plain autoencoder with the isometric term and the noise, their nets, optimiser and epochs).
Every cell is also measured as the authors measured it: on one shuffled training batch.

`run_cell` is the unit of work of both experiments: a plain function of the cell and the
context that returns a plain record (every measurement, the plot data its report draws, and the
curves and configuration its MLflow run logs).
"""

from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np

from bench.data.inputs import synthetic_input
from bench.experiments.lwgan_metrics import (
    decode_lines,
    discrepancy_matrix,
    diversity_per_input,
    energy_distance,
    interpolate,
    is_collapsed,
    mode_shares,
    step_irregularity,
)
from bench.experiments.lwgan_settings import ToySettings
from bench.experiments.records import mlflow_extras
from bench.experiments.toy import toy_report
from bench.experiments.toy.toy_cells import ToyCell, cell_name
from bench.pipeline import Experiment, register
from bench.stats import bootstrap_ci, pair_mean_ci

BATCH = 128  # the published run's batch: its metrics are measured on one shuffled batch
BATCH_INPUTS = 5  # ... and its diversity on that batch's first five inputs


def cells(s: ToySettings) -> list[dict]:
    return [
        {"objective": o, "lambda_iso": float(lam), "sigma_noise": float(sig), "seed": int(seed)}
        for o in s.objectives
        for lam in s.lambdas
        for sig in s.sigmas
        for seed in s.seeds
    ]


def _eval_rank(setting: int | str, z_max: int, estimate: int | None) -> int:
    if setting == "max":
        return z_max
    if setting == "estimate":
        return estimate if estimate is not None else z_max
    return int(setting)


def run_cell(cell: dict, ctx) -> dict:
    """Train (or load) one configuration on the settings' dataset (seeded by the cell's seed)
    and measure it on the held-out points. All evaluation randomness comes from generators
    seeded by the seed."""
    from bench.data import make_synthetic
    from bench.models import load_or_train

    s: ToySettings = ctx.settings
    objective, lam, sigma, seed = cell["objective"], cell["lambda_iso"], cell["sigma_noise"], cell["seed"]
    data = make_synthetic(s.dataset, seed=seed)
    spec = s.spec(objective, lam, sigma, data.ambient_dim)
    tag = cell_name(cell)
    trained = load_or_train(
        spec,
        data,
        seed=seed,
        device=ctx.torch_device,
        retrain=ctx.retrain,
        progress=ctx.progress,
        task=f"{tag}: train",
        on_event=ctx.event,
        precision=ctx.train_precision,
    )
    t0 = time.perf_counter()
    ranked = _rank(trained.model, data, s, objective, seed, ctx, tag)
    m = _measure(trained.model, data, s, spec.config, objective, seed, ctx.torch_device, ranked["estimate"])
    terms = ranked["terms"](m["r"]) if ranked["terms"] else None
    margin = ranked["margin"]
    cfg = spec.config
    result = ToyCell(
        dataset=s.dataset,
        objective=objective,
        lambda_iso=float(lam),
        sigma_noise=float(sigma),
        seed=seed,
        eval_rank=m["r"],
        discrepancy=m["disc"].value,
        discrepancy_lo=m["disc"].lo,
        discrepancy_hi=m["disc"].hi,
        recon=m["recon"].value,
        recon_lo=m["recon"].lo,
        recon_hi=m["recon"].hi,
        energy=m["energy"],
        diversity=m["div"].value,
        diversity_lo=m["div"].lo,
        diversity_hi=m["div"].hi,
        batch_discrepancy=m["batch_disc"],
        batch_diversity=m["batch_div"],
        loss_spread=loss_spread(trained.history.get("recon", [])),
        early_recon=early(trained.history.get("recon", [])),
        objective_value=None
        if terms is None
        else (sum(terms.values()) + float(lam) * m["disc"].value + cfg.lambda_rank * m["r"]),
        latent_mode_gap=m["gaps"][0],
        data_mode_gap=m["gaps"][1],
        interp_irregularity=m["irregularity"],
        trivial_recon=m["trivial"],
        collapsed=is_collapsed(m["recon"].value, m["trivial"]),
        rank_estimate=ranked["estimate"],
        lambda_hat=ranked["lambda_hat"],
        train_time_s=float(trained.train_seconds or 0.0),
        eval_time_s=time.perf_counter() - t0,
        loaded=trained.entry.loaded,
        checkpoint=trained.entry.digest,
        data_fingerprint=data.fingerprint,
        discrepancy_by_rank=m["by_rank"],
        mode_shares=m["shares"],
        rank_truth=data.intrinsic_dim if margin else None,
        rank_margin=margin and margin["margin"],
        rank_rival=margin and margin["rival"],
        samples=m["samples"],
        interp=m["interp"],
        interp_ends=m["interp_ends"],
        draw_sets=m["draw_sets"],
    )
    return {**asdict(result), **mlflow_extras(trained, cfg, tag), "datasets": [synthetic_input(data)]}


def _rank(model, data, s: ToySettings, objective: str, seed: int, ctx, tag: str) -> dict:
    """The LWGAN objective's rank estimate, its margin and (for a rank r) the stated objective's
    terms at r; the published autoencoder has no critic, so none."""
    from lwgan.rank import rank_margin, score_ranks

    if objective != "lwgan":
        return {"estimate": None, "lambda_hat": None, "margin": None, "terms": None}
    x = data.heldout.to(ctx.torch_device)
    scores = score_ranks(
        model,
        x,
        reps=s.rank_reps,
        batch_size=min(512, len(x)),
        seed=seed,
        critic_steps=s.rank_critic_steps,
        critic_data=data.train.to(ctx.torch_device),
        progress=ctx.progress,
        task=f"{tag}: rank score",
    )
    margin = rank_margin(scores.scores, scores.ranks, scores.estimate, scores.lambda_hat, truth=data.intrinsic_dim)

    def terms(r: int) -> dict:  # the stated objective's terms at rank r (the penalty is the critic's)
        return {k: float(v[:, r - 1].mean()) for k, v in scores.components.items() if k != "grad_penalty"}

    return {"estimate": scores.estimate, "lambda_hat": scores.lambda_hat, "margin": margin, "terms": terms}


def _measure(model, data, s: ToySettings, cfg, objective: str, seed: int, dev, rank_est) -> dict:
    """Every held-out measurement of one model at its evaluation rank, in a fixed order of draws
    from one generator seeded by the seed (so a rerun measures the same)."""
    import torch

    from lwgan.networks import prior_sample

    x = data.heldout.to(dev)
    r = _eval_rank(s.eval_rank, cfg.z_max, rank_est)
    gen = torch.Generator(device=dev).manual_seed(seed)
    nb = s.n_boot
    with torch.no_grad():
        by_rank, mats = [], {}
        # The published autoencoder has one latent size: its Q ignores the rank.
        for rank in range(1, cfg.z_max + 1) if objective == "lwgan" else [r]:
            z = model.Q(x, rank)
            out = model.G(z, generator=gen)
            mats[rank] = (z, out)
            by_rank.append(float(discrepancy_matrix(z, out).sum() / (len(x) * (len(x) - 1))))
        z, out = mats[r]
        disc = pair_mean_ci(discrepancy_matrix(z, out).cpu().numpy(), nb, seed)
        recon = bootstrap_ci((x - out).norm(dim=1).cpu().numpy(), n_boot=nb, seed=seed)
        prior = prior_sample(s.n_samples, cfg.z_max, r, generator=gen, device=dev)
        samples = model.G(prior, generator=gen).cpu().numpy()
        energy = energy_distance(samples, data.heldout.numpy())
        k = s.draws
        draws = model.G(z.repeat_interleave(k, dim=0), generator=gen).view(len(x), k, -1)
        div = bootstrap_ci(diversity_per_input(draws.cpu().numpy()), n_boot=nb, seed=seed)
        pairs = torch.randint(len(x), (2, s.interp_pairs), generator=torch.Generator().manual_seed(seed))
        line = interpolate(z[pairs[0]], z[pairs[1]], s.interp_steps)
        paths = decode_lines(model, line, gen).view(s.interp_pairs, s.interp_steps, -1)
        batch_disc, batch_div = batch_metrics(model, data.train, r, k, seed, gen)
        gaps = mode_gaps(z, x, data.heldout_labels)
    return {
        "r": r,
        "by_rank": by_rank if objective == "lwgan" else [],
        "disc": disc,
        "recon": recon,
        "energy": energy,
        "div": div,
        "batch_disc": batch_disc,
        "batch_div": batch_div,
        "gaps": gaps,
        "samples": samples.tolist(),
        "shares": mode_shares(samples, s.centres).tolist() if s.centres else [],
        "trivial": float((data.heldout - data.train.mean(0)).norm(dim=1).mean()),
        "irregularity": float(step_irregularity(paths.cpu().numpy()).mean()),
        "interp": paths[:4].cpu().numpy().tolist(),
        "interp_ends": torch.stack([x[pairs[0][:4]], x[pairs[1][:4]]], dim=1).cpu().numpy().tolist(),
        "draw_sets": draws[:5].cpu().numpy().tolist(),
    }


def batch_metrics(model, train, rank: int, draws: int, seed: int, gen) -> tuple[float, float]:
    """The published run's measurements, made its way: one shuffled training batch of 128 (the
    first batch of a fresh shuffle); the discrepancy is the mean over all 128 x 128 entries, the
    diagonal's zeros included; the diversity is that of `draws` draws for each of the batch's
    first 5 inputs (mean pairwise l2 among a point's draws, averaged over the 5)."""
    import torch

    dev = next(model.parameters()).device
    idx = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed + 2))[:BATCH]
    x = train[idx].to(dev)
    z = model.Q(x, rank)
    out = model.G(z, generator=gen).flatten(1)
    disc = float((torch.cdist(z, z) - torch.cdist(out, out)).abs().mean())
    first = z[:BATCH_INPUTS].repeat_interleave(draws, dim=0)
    sets = model.G(first, generator=gen).view(BATCH_INPUTS, draws, -1)
    return disc, float(diversity_per_input(sets.cpu().numpy()).mean())


def mode_gaps(z, x, labels) -> tuple[float | None, float | None]:
    """Distances between the centres of the two modes, in the latent codes and in the data."""
    if labels is None or int(labels.max()) != 1:
        return None, None
    lab = labels.to(z.device)
    return (
        float((z[lab == 0].mean(0) - z[lab == 1].mean(0)).norm()),
        float((x[lab == 0].mean(0) - x[lab == 1].mean(0)).norm()),
    )


def early(curve, share: float = 0.1) -> float:
    """Mean of a per-step training loss over its first `share` of steps."""

    v = np.asarray(curve, dtype=float)
    return float(v[: max(1, round(len(v) * share))].mean()) if len(v) else float("nan")


def loss_spread(curve, share: float = 0.25) -> float:
    """Standard deviation of a per-step training loss over its last `share` of steps."""

    v = np.asarray(curve, dtype=float)
    tail = v[-max(2, round(len(v) * share)) :] if len(v) >= 2 else v
    return float(tail.std(ddof=1)) if len(tail) >= 2 else float("nan")


def experiment(name: str, description: str, settings: type, **parts) -> Experiment:
    """Register a toy experiment: its own settings, report, verdicts and figures (`parts`) on the
    shared toy cells, unit of work, CSV rows and MLflow figure. Cells train one-thread MLPs, so
    they run one per core by default."""

    return register(
        Experiment(
            name=name,
            description=description,
            settings=settings,
            cells=cells,
            run_cell=run_cell,
            prepare=prepare,
            plan=plan,
            rows=toy_report.rows,
            cell_name=cell_name,
            params=toy_report.params,
            cell_figures=toy_report.cell_figure,
            workers="cores",
            **parts,
        )
    )


def plan(ctx) -> list[str]:
    """What will be trained: the cells' models, cached or not (each file read and verified)."""
    from bench.data import make_synthetic
    from bench.models import status

    s: ToySettings = ctx.settings
    states = {}
    for c in cells(s):
        data = make_synthetic(s.dataset, seed=c["seed"])
        spec = s.spec(c["objective"], c["lambda_iso"], c["sigma_noise"], data.ambient_dim)
        states[cell_name(c)] = status(spec, data.fingerprint, c["seed"], ctx.train_precision, ctx.torch_device)
    counts = {k: sum(v == k for v in states.values()) for k in ("cached", "not cached")}
    other = {name: v for name, v in states.items() if v not in counts}
    lines = [
        (
            f"{len(states)} models ({', '.join(s.objectives)} x lambda_iso {', '.join(f'{v:g}' for v in s.lambdas)} "
            f"x sigma_noise {', '.join(f'{v:g}' for v in s.sigmas)} x {len(s.seeds)} seed(s)): "
            f"{counts['cached']} cached, {counts['not cached'] + len(other)} to train (LWGAN "
            f"{s.iterations} iterations each; the published run 20 epochs)"
        )
    ]
    return lines + [f"  {name}: {v}" for name, v in other.items()]


def prepare(ctx) -> dict:
    """The first seed's held-out points, which every figure draws behind the model's points."""
    from bench.data import make_synthetic

    s: ToySettings = ctx.settings
    return {"heldout": make_synthetic(s.dataset, seed=s.seeds[0]).heldout.tolist()}
