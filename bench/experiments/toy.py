"""The toy engine of `bench isometry` and `bench stochastic`: one cell = (objective, lambda_iso,
sigma_noise, seed), trained through the model cache and measured on held-out points.

`run_cell` is the unit of work of both experiments: a plain function of the cell and the
context that returns a plain record (every measurement, the plot data its report draws, and the
curves and configuration its MLflow run logs).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from bench.experiments.metrics import (
    decode_lines,
    discrepancy_matrix,
    diversity_per_input,
    energy_distance,
    interpolate,
    is_collapsed,
    mode_shares,
    step_irregularity,
)
from bench.figures import binned, pyplot, save_figure, smooth
from bench.pipeline import Experiment, register
from lwgan.recipes import PUBLIC_TOY, TOY

HISTORY_LOGGED = ("recon", "critic_gap", "grad_penalty", "mmd", "iso", "loss_gq")
OBJECTIVES = ("lwgan", "autoencoder")


@dataclass(frozen=True)
class ToySettings:
    """A grid of toy cells: objectives x lambda_iso x sigma_noise x seeds on one dataset."""

    dataset: str = "two_gaussians"
    objectives: tuple[str, ...] = ("lwgan",)  # lwgan (full objective) and/or autoencoder
    lambdas: tuple[float, ...] = (0.0,)  # lambda_iso values
    sigmas: tuple[float, ...] = (0.0,)  # sigma_noise values
    seeds: tuple[int, ...] = (0, 1, 2)  # data draw, initialisation and evaluation, per cell
    z_max: int = 3  # the published toy runs' latent size (z_dim = 3): one more than the data's
    noise_dim: int = 0  # k noise channels; 2 for 2-D data when the noise is studied (SPEC)
    iterations: int = TOY["iterations"]  # training iterations per model (recipe `toy`)
    width: int = TOY["width_q"]  # structural width of Q, G and f (hidden layers 1x-8x)
    overrides: dict = field(default_factory=dict)  # LWGANConfig fields over the recipe
    eval_rank: int | str = "max"  # rank of Q(x, r) and Z_r when measuring: "max", "estimate", int
    rank_reps: int = 10  # fresh held-out batches of the rank score (LWGAN objective only)
    rank_critic_steps: int = 100  # refit a copy of the critic to the final Q, G before scoring
    n_samples: int = 500  # generated points for the energy distance and the mode shares
    draws: int = 10  # G(z, eps) draws per input for the diversity (SPEC: 10)
    interp_pairs: int = 64  # held-out pairs for the interpolation irregularity
    interp_steps: int = 10
    n_boot: int = 1000  # bootstrap resamples of the per-seed intervals
    centres: tuple[tuple[float, float], ...] | None = None  # for the mode shares

    def recipe(self) -> dict:
        """The training settings actually used (recipe `toy` + width/iterations + overrides).
        The critic warm-up is at most a tenth of the iterations, so short runs stay short."""
        w = {"width_q": self.width, "width_g": self.width, "width_d": self.width}
        warmup = min(TOY["critic_warmup"], max(1, self.iterations // 10))
        return {**TOY, **w, "iterations": self.iterations, "critic_warmup": warmup,
                **self.overrides}  # fmt: skip

    def spec(self, objective: str, lambda_iso: float, sigma: float, ambient: int):
        """The generator variant `<objective>.toy` with this cell's knobs."""
        from lwgan.registry import get_generator

        knobs = {"x_shape": (ambient,), "z_max": self.z_max, "lambda_iso": float(lambda_iso),
                 "sigma_noise": float(sigma), "noise_dim": self.noise_dim}  # fmt: skip
        return get_generator(f"{objective}.toy", **{**self.recipe(), **knobs, **self.overrides})


def cells(s: ToySettings) -> list[dict]:
    return [{"objective": o, "lambda_iso": float(lam), "sigma_noise": float(sig), "seed": int(seed)}
            for o in s.objectives for lam in s.lambdas for sig in s.sigmas
            for seed in s.seeds]  # fmt: skip


def cell_name(cell: dict) -> str:
    return (f"{cell['objective']} λ={cell['lambda_iso']:g} σ={cell['sigma_noise']:g} "
            f"s{cell['seed']}")  # fmt: skip


@dataclass
class ToyCell:
    """One cell's measurements (a record, and the columns of the CSV)."""

    dataset: str
    objective: str
    lambda_iso: float
    sigma_noise: float
    seed: int
    eval_rank: int
    discrepancy: float  # mean |‖z_i - z_j‖ - ‖G_i - G_j‖| over held-out pairs, z = Q(x, r)
    discrepancy_lo: float
    discrepancy_hi: float
    recon: float  # mean ‖x - G(Q(x, r), eps)‖ over held-out points
    recon_lo: float
    recon_hi: float
    # Energy distance between G(Z_r, eps) and the held-out points. No interval per seed: it is
    # not a mean over points, and its percentile bootstrap is biased upward (repeated points in a
    # resample look like a worse fit), so its spread is shown over seeds only.
    energy: float
    diversity: float  # mean over held-out inputs of the mean pairwise l2 of `draws` G(z, eps)
    diversity_lo: float
    diversity_hi: float
    interp_irregularity: float  # mean step std/mean along decoded latent lines
    trivial_recon: float  # the error of the constant map at the training mean, E‖x - mean‖
    collapsed: bool  # recon >= COLLAPSE x trivial_recon: Q or G (nearly) constant
    rank_estimate: int | None  # LWGAN's rank score (None: the autoencoder has no critic)
    lambda_hat: float | None
    train_time_s: float
    eval_time_s: float
    loaded: bool
    checkpoint: str  # content digest of the trained model
    data_fingerprint: str
    discrepancy_by_rank: list[float] = field(default_factory=list)
    mode_shares: list[float] = field(default_factory=list)
    # Plot data (not in the CSV): generated points, decoded latent lines, draws per input.
    samples: list = field(default_factory=list, repr=False)
    interp: list = field(default_factory=list, repr=False)
    interp_ends: list = field(default_factory=list, repr=False)  # [P, 2, D]: the pairs' data points
    draw_sets: list = field(default_factory=list, repr=False)

    @property
    def label(self) -> str:
        return cell_name({"objective": self.objective, "lambda_iso": self.lambda_iso,
                          "sigma_noise": self.sigma_noise, "seed": self.seed})  # fmt: skip

    @classmethod
    def from_record(cls, record: dict) -> ToyCell:
        return cls(**{f.name: record[f.name] for f in fields(cls)})


PLOT_FIELDS = ("samples", "interp", "interp_ends", "draw_sets", "discrepancy_by_rank", "mode_shares")


def toy_cells(results) -> list[ToyCell]:
    return [ToyCell.from_record(r) for r in results.records()]


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
    import torch

    from bench.data import make_synthetic
    from bench.models import load_or_train
    from bench.stats import bootstrap_ci, pair_mean_ci
    from lwgan.networks import prior_sample
    from lwgan.rank import score_ranks

    s: ToySettings = ctx.settings
    objective, lam, sigma, seed = cell["objective"], cell["lambda_iso"], cell["sigma_noise"], cell["seed"]
    dev = ctx.torch_device
    data = make_synthetic(s.dataset, seed=seed)
    spec = s.spec(objective, lam, sigma, data.ambient_dim)
    cfg = spec.config
    tag = cell_name(cell)
    trained = load_or_train(spec, data, seed=seed, device=dev, retrain=ctx.retrain,
                            progress=ctx.progress, task=f"{tag}: train", on_event=ctx.event)  # fmt: skip
    model = trained.model
    t0 = time.perf_counter()
    x = data.heldout.to(dev)
    rank_est = lam_hat = None
    if objective == "lwgan":
        scores = score_ranks(
            model, x, reps=s.rank_reps, batch_size=min(512, len(x)), seed=seed,
            critic_steps=s.rank_critic_steps, critic_data=data.train.to(dev),
            progress=ctx.progress, task=f"{tag}: rank score",
        )  # fmt: skip
        rank_est, lam_hat = scores.estimate, scores.lambda_hat
    r = _eval_rank(s.eval_rank, cfg.z_max, rank_est)
    gen = torch.Generator(device=dev).manual_seed(seed)
    nb = s.n_boot
    with torch.no_grad():
        by_rank, mats = [], {}
        for rank in range(1, cfg.z_max + 1):  # z_max is a handful: one pass per rank
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
        pg = torch.Generator().manual_seed(seed)
        pairs = torch.randint(len(x), (2, s.interp_pairs), generator=pg)
        line = interpolate(z[pairs[0]], z[pairs[1]], s.interp_steps)
        paths = decode_lines(model, line, gen).view(s.interp_pairs, s.interp_steps, -1)
    shares = mode_shares(samples, s.centres).tolist() if s.centres else []
    trivial = float((data.heldout - data.train.mean(0)).norm(dim=1).mean())
    result = ToyCell(
        dataset=s.dataset, objective=objective, lambda_iso=float(lam), sigma_noise=float(sigma), seed=seed, eval_rank=r,
        discrepancy=disc.value, discrepancy_lo=disc.lo, discrepancy_hi=disc.hi,
        recon=recon.value, recon_lo=recon.lo, recon_hi=recon.hi, energy=energy,
        diversity=div.value, diversity_lo=div.lo, diversity_hi=div.hi,
        interp_irregularity=float(step_irregularity(paths.cpu().numpy()).mean()),
        trivial_recon=trivial, collapsed=is_collapsed(recon.value, trivial),
        rank_estimate=rank_est, lambda_hat=lam_hat,
        train_time_s=float(trained.train_seconds or 0.0), eval_time_s=time.perf_counter() - t0,
        loaded=trained.entry.loaded, checkpoint=trained.entry.digest,
        data_fingerprint=data.fingerprint, discrepancy_by_rank=by_rank, mode_shares=shares,
        samples=samples.tolist(), interp=paths[:4].cpu().numpy().tolist(),
        interp_ends=torch.stack([x[pairs[0][:4]], x[pairs[1][:4]]], dim=1).cpu().numpy().tolist(),
        draw_sets=draws[:5].cpu().numpy().tolist(),
    )  # fmt: skip
    return {**asdict(result), **mlflow_extras(trained, cfg, tag)}


def mlflow_extras(trained, cfg, label: str) -> dict:
    """What a record carries for its MLflow run and the loss figures: binned training curves,
    the configuration, the final training losses, the checkpoint's digest."""
    curves, every = {}, 1
    for k in HISTORY_LOGGED:
        if trained.history.get(k):
            curves[f"train/{k}"], every = binned(trained.history[k])
    return {
        "histories": curves, "history_every": every,
        "params": {f"cfg.{k}": v for k, v in cfg.to_dict().items()},
        "metrics": {f"train_{k}": v for k, v in trained.metrics.items() if isinstance(v, (int, float))},
        "tags": {"checkpoint": trained.entry.digest, "cached": str(trained.entry.loaded).lower()},
        "checkpoints": {label: trained.entry.digest},
    }  # fmt: skip


def curves(record: dict) -> dict:
    """A record's binned training curves by short name, with their bin width (figures.plot_histories)."""
    out = {k.removeprefix("train/"): v for k, v in (record.get("histories") or {}).items()}
    return {**out, "every": record.get("history_every", 1)}


def prepare(ctx) -> dict:
    """The first seed's held-out points, which every figure draws behind the model's points."""
    from bench.data import make_synthetic

    s: ToySettings = ctx.settings
    return {"heldout": make_synthetic(s.dataset, seed=s.seeds[0]).heldout.tolist()}


def rows(results) -> list[dict]:
    """One CSV row per cell: the scalar measurements, per-rank discrepancies and mode shares."""
    out = []
    for c in results.cells:
        if c["status"] != "finished":
            out.append({**c["cell"], "status": c["status"], "error": c["error"]})
            continue
        cell = ToyCell.from_record(c["record"])
        row = {f.name: getattr(cell, f.name) for f in fields(cell) if f.name not in PLOT_FIELDS}
        row["checkpoint"] = cell.checkpoint[:16]
        row.update({f"discrepancy_rank{r}": v for r, v in enumerate(cell.discrepancy_by_rank, 1)})
        row.update({f"mode_share_{i}": v for i, v in enumerate(cell.mode_shares)})
        out.append({**row, "status": "finished", "error": ""})
    return out


def cell_figure(cell: dict, record: dict, folder: Path) -> list[Path]:
    """One cell at a glance (its MLflow run's figure): held-out data against generated points
    with decoded latent lines, and the training curves."""
    import numpy as np

    from bench.data import make_synthetic

    c = ToyCell.from_record(record)
    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(8.0, 3.6))
    h = make_synthetic(c.dataset, seed=c.seed).heldout.numpy()
    s = np.asarray(c.samples)
    a.scatter(h[:, 0], h[:, 1], s=3, c="0.7", label="held-out")
    a.scatter(s[:, 0], s[:, 1], s=3, c="C0", alpha=0.5, label="G(Z)")
    for p in np.asarray(c.interp):
        a.plot(p[:, 0], p[:, 1], "-o", ms=2, lw=1, c="C3")
    for e in np.asarray(c.interp_ends):
        a.plot(e[:, 0], e[:, 1], "kx", ms=5)
    a.set_title(f"{c.label}: energy {c.energy:.3f}", fontsize=8)
    a.legend(fontsize=6)
    hist = curves(record)
    for key in ("recon", "iso", "critic_gap", "mmd"):
        v = hist.get(key)
        if v and any(v):
            b.plot(np.arange(1, len(v) + 1) * hist["every"], smooth(v, max(1, len(v) // 50)), lw=1,
                   label=key)  # fmt: skip
    b.set_xlabel("iteration")
    b.set_title("training curves", fontsize=8)
    b.legend(fontsize=6)
    fig.tight_layout()
    stem = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in c.label)
    return save_figure(fig, folder / stem, pdf=False)


def recipe_markdown(s: ToySettings) -> str:
    """The training settings used and where they depart from the public code's toy settings."""
    from bench.report import markdown_table

    used = s.recipe()
    rows_ = [(k, str(used[k]), str(PUBLIC_TOY.get(k, "")))
             for k in TOY if str(used[k]) != str(PUBLIC_TOY.get(k))]  # fmt: skip
    extra = [(k, str(v), "") for k, v in s.overrides.items() if k not in TOY]
    text = (
        f"z_max {s.z_max} (the published toy runs' z_dim 3), noise channels k = "
        f"{s.noise_dim}, evaluation rank `{s.eval_rank}`, {s.rank_reps} "
        f"rank-score evaluations, {s.n_samples} generated points, {s.draws} draws "
        f"per input, {s.interp_pairs} interpolation pairs of {s.interp_steps} steps, "
        f"{s.n_boot} bootstrap resamples; the rank score refits a copy of the critic for "
        f"{s.rank_critic_steps} steps first (as `bench rank` does). Training settings that depart from the public "
        "LWGAN code's toy settings (to fit the CPU budget; each is an option or an override):"
    )
    table = markdown_table(rows_ + extra, headers=["setting", "used", "public code"])
    return text + "\n\n" + table + "\n"


def params(s: ToySettings) -> dict:
    """The training recipe as used, for the parent run."""
    return {f"train.{k}": v for k, v in s.recipe().items()}


def summary_metrics(results, summary: list[dict], metric: str, key: str, tag: str) -> dict:
    """The parent run's metrics: `metric` per (objective, `key`) from the report's summary rows,
    and reproduced_<objective> (1 or 0) per verdict."""
    means = {f"{metric}_{r['objective']}_{tag}{r[key]:g}": r[metric]["value"] for r in summary}
    return {**means, **{f"reproduced_{v.claim.split()[0]}": float(v.label == "reproduced")
                        for v in results.verdict_objs()}}  # fmt: skip


def plot_losses(results, path: Path, keys: tuple[str, ...], knob: str, symbol: str) -> list[Path]:
    """Training curves of the first seed, one line per (objective, `knob`)."""
    from bench.figures import plot_histories

    first = results.settings_obj().seeds[0]
    hist = {f"{r['objective']} {symbol}={r[knob]:g}": curves(r) for r in results.records()
            if r["seed"] == first}  # fmt: skip
    return plot_histories(hist, keys, path, title=f"training curves, seed {first}")


def report_tail(results) -> list[str]:
    """The last sections of both toy reports: the training settings and the run facts."""
    from bench.facts import RunFacts, facts_markdown

    return ["## Training", "", recipe_markdown(results.settings_obj()), "",
            facts_markdown(RunFacts.from_dict(results.facts))]  # fmt: skip


def experiment(name: str, description: str, settings: type, **parts) -> Experiment:
    """Register a toy experiment: its own settings, report, verdicts and figures (`parts`) on the
    shared toy cells, unit of work, CSV rows and MLflow figure. Cells train one-thread MLPs, so
    they run one per core by default."""
    return register(Experiment(
        name=name, description=description, settings=settings, cells=cells, run_cell=run_cell,
        prepare=prepare, rows=rows, cell_name=cell_name, params=params, cell_figures=cell_figure,
        workers="cores", **parts,
    ))  # fmt: skip
