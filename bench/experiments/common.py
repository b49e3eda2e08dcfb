"""Shared parts of the Iso-LWGAN experiments (`bench isometry`, `bench stochastic`, `bench mnist`).

- metrics with their intervals: the pairwise-distance discrepancy (bootstrap over points of a
  mean over pairs), the energy distance, output diversity, mode
  shares, interpolation step irregularity, the Student-t interval over seeds;
- the toy engine: one cell = (objective, lambda_iso, sigma_noise, seed) trained through the model
  cache and evaluated on held-out points; both toy experiments are grids of these cells;
- figures (PDF + PNG, atomic), MLflow child records, the paper's numbers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from bench.progress import ProgressFn, null_progress
from bench.report import CI

# Toy training recipe of both toy experiments (the public LWGAN code's toy settings, SPEC part B,
# scaled to fit about 10 minutes for 12 trainings on 2 CPU cores; each is an option).
TOY_TRAINING = {
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
}
PUBLIC_TOY = {
    "width_q": 64,
    "width_g": 64,
    "width_d": 64,
    "batch_size": 512,
    "iterations": 10000,
    "iter_d": 20,
    "iter_gq": 1,
    "lr": 2e-4,
    "critic_warmup": 100,
    "critic_burst": 100,
    "critic_burst_every": 100,
    "lr_milestones": (0.8, 0.85, 0.9, 0.95),
    "lr_gamma": 0.9,
}
HISTORY_LOGGED = ("recon", "critic_gap", "grad_penalty", "mmd", "iso", "loss_gq")
# A model whose reconstruction error is at least this share of that of the constant map at the
# data mean has collapsed: a constant Q or G is trivially isometric (every distance 0), so the
# discrepancy of a collapsed model says nothing about the geometry.
COLLAPSE = 0.9


def is_collapsed(recon: float, trivial_recon: float) -> bool:
    """recon >= COLLAPSE x the constant map's error: Q or G is (nearly) constant."""
    return bool(recon >= COLLAPSE * trivial_recon)
OBJECTIVE_CHOICES = ("lwgan", "autoencoder", "both")


def objectives_of(choice: str) -> tuple[str, ...]:
    """'both' -> ('lwgan', 'autoencoder'); unknown -> ValueError listing the choices."""
    if choice not in OBJECTIVE_CHOICES:
        raise ValueError(f"unknown objective {choice!r}; valid: {', '.join(OBJECTIVE_CHOICES)}")
    return ("lwgan", "autoencoder") if choice == "both" else (choice,)


# --------------------------------------------------------------------------------- reference


def reference_rows(experiment: str) -> list[dict]:
    """Rows of bench/reference/iso_lwgan_results.csv for one experiment (paper text and run log)."""
    import csv
    import io
    from importlib import resources

    text = resources.files("bench").joinpath("reference", "iso_lwgan_results.csv").read_text()
    lines = list(csv.reader(io.StringIO(text)))
    rows = []
    for fields_ in lines[1:]:
        if len(fields_) < 5:
            continue
        # The mnist rows' metric text holds an unquoted comma ("pixels in [-1,1]"): the first
        # three fields and the last are fixed, whatever lies between is the metric.
        exp, setting, value, *metric, source = fields_
        if exp == experiment:
            rows.append({"experiment": exp, "setting": setting, "value": value,
                         "metric": ",".join(metric), "source": source})  # fmt: skip
    return rows


def reference_value(experiment: str, setting: str, source_prefix: str) -> str | None:
    """The paper's figure for one setting as written in the CSV ('1.20', '0.02-0.03'), or None."""
    for r in reference_rows(experiment):
        if r["setting"] == setting and r["source"].startswith(source_prefix):
            return r["value"]
    return None


def setting_key(name: str, value: float) -> str:
    """The CSV's setting label: lambda_iso=0.5, sigma_noise=0.0 (one decimal, more if needed)."""
    text = f"{float(value):.1f}"
    return f"{name}={text if float(text) == float(value) else format(float(value), 'g')}"


# ----------------------------------------------------------------------------------- metrics


def t_interval(values: Sequence[float], level: float = 0.95) -> CI:
    """Mean over seeds with a Student-t interval; one seed gives NaN bounds (no spread known)."""
    from scipy import stats

    x = np.asarray(values, dtype=float)
    mean = float(x.mean())
    if x.size < 2:
        return CI(mean, float("nan"), float("nan"))
    half = stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    return CI(mean, mean - float(half), mean + float(half))


def discrepancy_matrix(z, gz):
    """[n, n] |‖z_i - z_j‖ - ‖G_i - G_j‖| (torch, zero diagonal); its mean over i != j is the
    isometric loss of SPEC part B."""
    import torch

    dz = torch.cdist(z.flatten(1).double(), z.flatten(1).double())
    dx = torch.cdist(gz.flatten(1).double(), gz.flatten(1).double())
    return (dz - dx).abs()


def _draw_counts(rng: np.random.Generator, b: int, n: int) -> np.ndarray:
    """[b, n] how often each of n items is drawn in b resamples of size n with replacement."""
    idx = rng.integers(0, n, size=(b, n))
    flat = (np.arange(b)[:, None] * n + idx).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(float)


def _percentile_ci(value: float, boots: np.ndarray, level: float) -> CI:
    a = (1 - level) / 2
    lo, hi = np.percentile(boots, [100 * a, 100 * (1 - a)])
    return CI(float(value), float(lo), float(hi))


def pair_mean_ci(matrix, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> CI:
    """Mean over ordered pairs i != j of an [n, n] matrix, with a percentile bootstrap over the n
    points: a resample draws n points with replacement and takes the mean over its n(n-1) position
    pairs p != q, which is (c^T A c - c . diag A) / (n (n - 1)) for draw counts c."""
    a = np.asarray(matrix, dtype=float)
    n = a.shape[0]
    if n < 2 or a.shape != (n, n):
        raise ValueError(f"pair_mean_ci: need a square [n>=2, n] matrix, got {a.shape}")
    diag = np.diag(a)
    value = (a.sum() - diag.sum()) / (n * (n - 1))
    c = _draw_counts(np.random.default_rng(seed), n_boot, n)
    boots = (((c @ a) * c).sum(axis=1) - c @ diag) / (n * (n - 1))
    return _percentile_ci(value, boots, level)


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


def seed_summary(rows: Sequence[dict], by: Sequence[str], value: str) -> list[dict]:
    """Group rows by `by`; per group the mean of `value` over seeds with its t-interval, the
    standard deviation and the per-seed values, in first-seen order."""
    groups: dict[tuple, list[float]] = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in by), []).append(float(r[value]))
    out = []
    for key, vals in groups.items():
        ci = t_interval(vals)
        out.append({
            **dict(zip(by, key)), "value": ci.value, "lo": ci.lo, "hi": ci.hi,
            "sd": float(np.std(vals, ddof=1)) if len(vals) > 1 else float("nan"),
            "n_seeds": len(vals), "per_seed": vals,
        })  # fmt: skip
    return out


def fmt_seeds(row: dict, digits: int = 3) -> str:
    """'0.512 [0.40, 0.62] (3 seeds)' or '0.512 (1 seed)' from a seed_summary row."""
    from bench.report import format_ci

    n = row["n_seeds"]
    text = format_ci(row["value"], row["lo"], row["hi"], digits)
    return f"{text} ({n} seed{'s' if n != 1 else ''})"


# ------------------------------------------------------------------------------------ figures


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | Path, *, pdf: bool = True) -> list[Path]:
    """Write `path` as PDF and PNG (atomic; PNG only with pdf=False), close the figure; returns
    the paths written, the PDF first."""
    from bench.atomic import atomic_savefig

    path = Path(path).with_suffix(".pdf")
    out = [atomic_savefig(fig, path)] if pdf else []
    out.append(atomic_savefig(fig, path.with_suffix(".png"), dpi=130))
    pyplot().close(fig)
    return out


def smooth(values: Sequence[float], window: int) -> np.ndarray:
    """Trailing moving average (shorter at the start), so curves of noisy per-step losses read."""
    v = np.asarray(values, dtype=float)
    if window <= 1 or v.size == 0:
        return v
    c = np.cumsum(np.r_[0.0, v])
    i = np.arange(1, v.size + 1)
    lo = np.maximum(i - window, 0)
    return (c[i] - c[lo]) / (i - lo)


def plot_histories(
    histories: dict[str, dict[str, list[float]]], keys: Sequence[str], path: Path, title: str = ""
) -> list[Path]:
    """Loss and convergence curves: one panel per loss term, one line per configuration."""
    plt = pyplot()
    keys = [k for k in keys if any(h.get(k) and any(h[k]) for h in histories.values())] or list(keys)[:1]
    fig, axes = plt.subplots(1, len(keys), figsize=(3.4 * len(keys), 3.0), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for i, (label, hist) in enumerate(histories.items()):
            v = hist.get(key) or []
            if len(v):
                ax.plot(smooth(v, max(1, len(v) // 50)), color=f"C{i % 10}", lw=1, label=label)
        ax.set_title(key)
        ax.set_xlabel("iteration")
    axes[0][0].legend(fontsize=6)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


# -------------------------------------------------------------------------------- toy engine


@dataclass
class ToySettings:
    """A grid of toy cells: objectives x lambda_iso x sigma_noise x seeds on one dataset."""

    dataset: str
    objectives: tuple[str, ...] = ("lwgan",)
    lambdas: tuple[float, ...] = (0.0,)
    sigmas: tuple[float, ...] = (0.0,)
    seeds: tuple[int, ...] = (0, 1, 2)
    z_max: int = 3  # the published toy runs' latent size (z_dim = 3): one more than the data's
    noise_dim: int = 0  # k noise channels; 2 for 2-D data when the noise is studied (SPEC)
    iterations: int = TOY_TRAINING["iterations"]
    width: int = TOY_TRAINING["width_q"]
    overrides: dict = field(default_factory=dict)  # LWGANConfig fields over the recipe
    eval_rank: int | str = "max"  # rank of Q(x, r) and Z_r when measuring: "max", "estimate", int
    rank_reps: int = 10  # fresh held-out batches of the rank score (LWGAN objective only)
    rank_critic_steps: int = 100  # refit a copy of the critic to the final Q, G before scoring
    n_samples: int = 500  # generated points for the energy distance and the mode shares
    draws: int = 10  # G(z, eps) draws per input for the diversity (SPEC: 10)
    interp_pairs: int = 64  # held-out pairs for the interpolation irregularity
    interp_steps: int = 10
    n_boot: int = 1000
    centres: tuple[tuple[float, float], ...] | None = None  # for the mode shares

    def cells(self) -> list[tuple[str, float, float, int]]:
        return [(o, lam, s, seed) for o in self.objectives for lam in self.lambdas
                for s in self.sigmas for seed in self.seeds]  # fmt: skip

    def config(self, objective: str, lambda_iso: float, sigma: float, ambient: int):
        from lwgan.model import LWGANConfig

        base = {**self.recipe(), "x_shape": (ambient,), "z_max": self.z_max,
                "objective": objective, "lambda_iso": float(lambda_iso),
                "sigma_noise": float(sigma), "noise_dim": self.noise_dim}  # fmt: skip
        return LWGANConfig(**{**base, **self.overrides})

    def recipe(self) -> dict:
        """The training settings actually used (recipe + width/iterations + overrides). The
        critic warm-up is at most a tenth of the iterations, so short runs stay short."""
        w = {"width_q": self.width, "width_g": self.width, "width_d": self.width}
        warmup = min(TOY_TRAINING["critic_warmup"], max(1, self.iterations // 10))
        return {**TOY_TRAINING, **w, "iterations": self.iterations, "critic_warmup": warmup,
                **self.overrides}  # fmt: skip


@dataclass
class ToyCell:
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
    discrepancy_by_rank: list[float]
    mode_shares: list[float]
    train_time_s: float
    eval_time_s: float
    loaded: bool
    checkpoint_sha256: str
    data_fingerprint: str
    config: dict
    train_metrics: dict
    history: dict[str, list[float]]
    # Plot data (not in the CSV): generated points, decoded latent lines, draws per input.
    samples: list = field(default_factory=list, repr=False)
    interp: list = field(default_factory=list, repr=False)
    interp_ends: list = field(default_factory=list, repr=False)  # [P, 2, D]: the pairs' data points
    draw_sets: list = field(default_factory=list, repr=False)

    @property
    def label(self) -> str:
        return f"{self.objective} λ={self.lambda_iso:g} σ={self.sigma_noise:g} s{self.seed}"


PLOT_FIELDS = ("samples", "interp", "interp_ends", "draw_sets", "history", "config", "train_metrics",
               "discrepancy_by_rank", "mode_shares")  # fmt: skip


@dataclass
class ToyResults:
    settings: ToySettings
    cells: list[ToyCell]
    wall_time_s: float
    heldout: list  # the first seed's held-out points (figures)
    heldout_labels: list | None

    def rows(self) -> list[dict]:
        """One flat dict per cell (the CSV), without the plot data."""
        out = []
        for c in self.cells:
            row = {f.name: getattr(c, f.name) for f in fields(c) if f.name not in PLOT_FIELDS}
            row["checkpoint_sha256"] = c.checkpoint_sha256[:16]
            for r, v in enumerate(c.discrepancy_by_rank, start=1):
                row[f"discrepancy_rank{r}"] = v
            for i, v in enumerate(c.mode_shares):
                row[f"mode_share_{i}"] = v
            out.append(row)
        return out


def _eval_rank(setting: int | str, z_max: int, estimate: int | None) -> int:
    if setting == "max":
        return z_max
    if setting == "estimate":
        return estimate if estimate is not None else z_max
    return int(setting)


def toy_cell(
    objective: str,
    lambda_iso: float,
    sigma: float,
    seed: int,
    settings: ToySettings,
    *,
    device="cpu",
    retrain: bool = False,
    progress: ProgressFn = null_progress,
    on_event: Callable[[str], None] | None = None,
) -> ToyCell:
    """Train (or load) one configuration on `settings.dataset` (seeded by `seed`) and measure it
    on the held-out points. All evaluation randomness comes from generators seeded by `seed`."""
    import torch

    from bench.data import make_synthetic
    from bench.report import bootstrap_ci
    from lwgan.networks import prior_sample
    from lwgan.rank import score_ranks
    from lwgan.trainer import load_or_train_lwgan

    dev = torch.device(device)
    data = make_synthetic(settings.dataset, seed=seed)
    cfg = settings.config(objective, lambda_iso, sigma, data.ambient_dim)
    tag = f"{objective} λ={lambda_iso:g} σ={sigma:g} s{seed}"
    model, payload, entry = load_or_train_lwgan(
        cfg, data, seed=seed, device=dev, kind=objective, retrain=retrain, progress=progress,
        task=f"{tag}: train", on_event=on_event,
    )  # fmt: skip
    t0 = time.perf_counter()
    x = data.heldout.to(dev)
    rank_est = lam_hat = None
    if objective == "lwgan":
        scores = score_ranks(
            model, x, reps=settings.rank_reps, batch_size=min(512, len(x)), seed=seed,
            critic_steps=settings.rank_critic_steps, critic_data=data.train.to(dev),
            progress=progress, task=f"{tag}: rank score",
        )  # fmt: skip
        rank_est, lam_hat = scores.estimate, scores.lambda_hat
    r = _eval_rank(settings.eval_rank, cfg.z_max, rank_est)
    gen = torch.Generator(device=dev).manual_seed(seed)
    nb = settings.n_boot
    with torch.no_grad():
        by_rank, mats = [], {}
        for s in range(1, cfg.z_max + 1):  # z_max is a handful: one pass per rank
            z = model.Q(x, s)
            out = model.G(z, generator=gen)
            mats[s] = (z, out)
            by_rank.append(float(discrepancy_matrix(z, out).sum() / (len(x) * (len(x) - 1))))
        z, out = mats[r]
        disc = pair_mean_ci(discrepancy_matrix(z, out).cpu().numpy(), nb, seed)
        recon = bootstrap_ci((x - out).norm(dim=1).cpu().numpy(), n_boot=nb, seed=seed)
        prior = prior_sample(settings.n_samples, cfg.z_max, r, generator=gen, device=dev)
        samples = model.G(prior, generator=gen).cpu().numpy()
        energy = energy_distance(samples, data.heldout.numpy())
        k = settings.draws
        draws = model.G(z.repeat_interleave(k, dim=0), generator=gen).view(len(x), k, -1)
        div = bootstrap_ci(diversity_per_input(draws.cpu().numpy()), n_boot=nb, seed=seed)
        pg = torch.Generator().manual_seed(seed)
        pairs = torch.randint(len(x), (2, settings.interp_pairs), generator=pg)
        line = interpolate(z[pairs[0]], z[pairs[1]], settings.interp_steps)
        paths = decode_lines(model, line, gen).view(settings.interp_pairs, settings.interp_steps, -1)
    shares = mode_shares(samples, settings.centres).tolist() if settings.centres else []
    trivial = float((data.heldout - data.train.mean(0)).norm(dim=1).mean())
    metrics = dict(payload.get("metrics", {}))
    return ToyCell(
        objective=objective, lambda_iso=float(lambda_iso), sigma_noise=float(sigma), seed=seed,
        eval_rank=r,
        discrepancy=disc.value, discrepancy_lo=disc.lo, discrepancy_hi=disc.hi,
        recon=recon.value, recon_lo=recon.lo, recon_hi=recon.hi,
        energy=energy,
        diversity=div.value, diversity_lo=div.lo, diversity_hi=div.hi,
        interp_irregularity=float(step_irregularity(paths.cpu().numpy()).mean()),
        trivial_recon=trivial, collapsed=is_collapsed(recon.value, trivial),
        rank_estimate=rank_est, lambda_hat=lam_hat, discrepancy_by_rank=by_rank,
        mode_shares=shares, train_time_s=float(metrics.get("wall_time_s", 0.0)),
        eval_time_s=time.perf_counter() - t0, loaded=entry.loaded,
        checkpoint_sha256=entry.sha256, data_fingerprint=data.fingerprint,
        config=cfg.to_dict(), train_metrics=metrics,
        history={k: list(v) for k, v in payload.get("history", {}).items()},
        samples=samples.tolist(), interp=paths[:4].cpu().numpy().tolist(),
        interp_ends=torch.stack([x[pairs[0][:4]], x[pairs[1][:4]]], dim=1).cpu().numpy().tolist(),
        draw_sets=draws[:5].cpu().numpy().tolist(),
    )  # fmt: skip


def run_toy(
    settings: ToySettings,
    *,
    device="cpu",
    retrain: bool = False,
    progress: ProgressFn = null_progress,
    on_cell: Callable[[ToyCell], None] | None = None,
    on_event: Callable[[str], None] | None = None,
) -> ToyResults:
    """Every cell of the grid in order; `on_cell` sees each as it finishes (e.g. to log it)."""
    from bench.data import make_synthetic

    t0 = time.perf_counter()
    jobs = settings.cells()
    cells = []
    progress("cells", 0, len(jobs))
    for objective, lam, sigma, seed in jobs:
        cell = toy_cell(objective, lam, sigma, seed, settings, device=device, retrain=retrain,
                        progress=progress, on_event=on_event)  # fmt: skip
        cells.append(cell)
        progress("cells", len(cells), len(jobs))
        if on_cell is not None:
            on_cell(cell)
    first = make_synthetic(settings.dataset, seed=settings.seeds[0])
    labels = None if first.heldout_labels is None else first.heldout_labels.tolist()
    return ToyResults(settings, cells, time.perf_counter() - t0, first.heldout.tolist(), labels)


def toy_child_record(cell: ToyCell) -> dict:
    """params / metrics / histories / tags of one cell's MLflow child run."""
    params = {"objective": cell.objective, "lambda_iso": cell.lambda_iso,
              "sigma_noise": cell.sigma_noise, "seed": cell.seed, "eval_rank": cell.eval_rank,
              **{f"cfg.{k}": v for k, v in cell.config.items()}}  # fmt: skip
    metrics = {
        k: getattr(cell, k)
        for k in ("discrepancy", "discrepancy_lo", "discrepancy_hi", "recon", "recon_lo",
                  "recon_hi", "energy", "diversity", "diversity_lo",
                  "diversity_hi", "interp_irregularity", "trivial_recon", "collapsed",
                  "train_time_s", "eval_time_s")
    }  # fmt: skip
    if cell.rank_estimate is not None:
        metrics["rank_estimate"] = cell.rank_estimate
        metrics["lambda_hat"] = cell.lambda_hat
    metrics.update({f"discrepancy_rank{r}": v for r, v in enumerate(cell.discrepancy_by_rank, 1)})
    metrics.update({f"mode_share_{i}": v for i, v in enumerate(cell.mode_shares)})
    metrics.update({f"train_{k}": v for k, v in cell.train_metrics.items()
                    if isinstance(v, (int, float))})  # fmt: skip
    histories = {f"train/{k}": cell.history[k] for k in HISTORY_LOGGED if k in cell.history}
    tags = {"checkpoint_sha256": cell.checkpoint_sha256, "data_fingerprint": cell.data_fingerprint,
            "cached": str(cell.loaded).lower()}  # fmt: skip
    return {"params": params, "metrics": metrics, "histories": histories, "tags": tags}


def plot_toy_cell(cell: ToyCell, heldout: Sequence, path: Path, pdf: bool = True) -> list[Path]:
    """One cell at a glance (a child run's figure): held-out data against generated points with
    decoded latent lines, and the training curves."""
    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(8.0, 3.6))
    h, s = np.asarray(heldout), np.asarray(cell.samples)
    a.scatter(h[:, 0], h[:, 1], s=3, c="0.7", label="held-out")
    a.scatter(s[:, 0], s[:, 1], s=3, c="C0", alpha=0.5, label="G(Z)")
    for p in np.asarray(cell.interp):
        a.plot(p[:, 0], p[:, 1], "-o", ms=2, lw=1, c="C3")
    for e in np.asarray(cell.interp_ends):
        a.plot(e[:, 0], e[:, 1], "kx", ms=5)
    a.set_title(f"{cell.label}: energy {cell.energy:.3f}", fontsize=8)
    a.legend(fontsize=6)
    for key in ("recon", "iso", "critic_gap", "mmd"):
        v = cell.history.get(key)
        if v and any(v):
            b.plot(smooth(v, max(1, len(v) // 50)), lw=1, label=key)
    b.set_xlabel("iteration")
    b.set_title("training curves", fontsize=8)
    b.legend(fontsize=6)
    fig.tight_layout()
    return save_figure(fig, path, pdf=pdf)


@dataclass
class ExperimentOutput:
    results: Any
    report: Path
    csv: Path
    figures: list[Path]
    parent_run_id: str | None
    run_url: str | None


def run_toy_experiment(
    name: str,
    settings: ToySettings,
    *,
    out: Path,
    render: Callable[..., str],
    draw: Callable[[ToyResults, Path], list[Path]],
    summary_metrics: Callable[[ToyResults], dict],
    params: dict,
    device="cpu",
    retrain: bool = False,
    track: bool = True,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    command: str | None = None,
    progress: ProgressFn = null_progress,
    on_event: Callable[[str], None] | None = None,
) -> ExperimentOutput:
    """Run a toy grid under one MLflow parent run (`name`), a child per cell as it finishes (its
    figure attached), then write `<out>/<name>.md`, `<name>.csv` and the figures `draw` makes;
    `render(results, facts, figures)` is the report. The report and figures go to the parent."""
    import tempfile

    from bench.report import write_csv, write_report
    from bench.tracking import run_tags, start_sweep

    out = Path(out)
    tags = run_tags(device, settings.seeds, command=command)
    with start_sweep(name, experiment=experiment, tracking_uri=tracking_uri, params=params,
                     tags=tags, enabled=track) as sweep, tempfile.TemporaryDirectory() as tmp:  # fmt: skip

        def log_cell(cell: ToyCell) -> None:
            if not track:
                return  # the per-cell figures exist only to be attached to the child runs
            from bench.data import make_synthetic

            heldout = make_synthetic(settings.dataset, seed=cell.seed).heldout
            stem = f"{cell.objective}_lam{cell.lambda_iso:g}_sig{cell.sigma_noise:g}_s{cell.seed}"
            figs = plot_toy_cell(cell, heldout.numpy(), Path(tmp) / stem, pdf=False)
            sweep.log_child(cell.label, artifacts=figs, **toy_child_record(cell))

        results = run_toy(settings, device=device, retrain=retrain, progress=progress,
                          on_cell=log_cell, on_event=on_event)  # fmt: skip
        figures = draw(results, out)
        csv = write_csv(results.rows(), out / f"{name}.csv")
        facts = toy_facts(results, device, command, out)
        report = write_report(out, name, render(results, facts, figures))
        sweep.log_metrics({**summary_metrics(results), "wall_time_s": results.wall_time_s})
        for path in (*figures, csv, report):
            sweep.log_artifact(path)
    return ExperimentOutput(results, report, csv, figures, sweep.run_id, sweep.url)


def figure_links(figures: Sequence[Path], stem: str, caption: str) -> str:
    """Markdown for one figure: the PNG inline, the PDF linked."""
    names = {Path(f).suffix: Path(f).name for f in figures if Path(f).stem == stem}
    png, pdf = names.get(".png"), names.get(".pdf")
    text = f"![{caption}]({png})" if png else ""
    return text + (f"\n\n{caption} ([PDF]({pdf}))" if pdf else "")


def toy_facts(results: ToyResults, device, command: str | None, out: Path | None = None):
    from bench.report import collect_facts

    return collect_facts(
        seeds=results.settings.seeds,
        data_fingerprint=",".join(sorted({c.data_fingerprint for c in results.cells})),
        device=device,
        checkpoints={c.label: c.checkpoint_sha256 for c in results.cells},
        wall_time_s=results.wall_time_s,
        command=command,
        out=out,
    )


def recipe_markdown(settings: ToySettings) -> str:
    """The training settings used and where they depart from the public code's toy settings."""
    from bench.report import markdown_table

    used = settings.recipe()
    rows = [(k, str(used[k]), str(PUBLIC_TOY.get(k, "")))
            for k in TOY_TRAINING if str(used[k]) != str(PUBLIC_TOY.get(k))]  # fmt: skip
    extra = [(k, str(v), "") for k, v in settings.overrides.items() if k not in TOY_TRAINING]
    text = (
        f"z_max {settings.z_max} (the published toy runs' z_dim 3), noise channels k = "
        f"{settings.noise_dim}, evaluation rank `{settings.eval_rank}`, {settings.rank_reps} "
        f"rank-score evaluations, {settings.n_samples} generated points, {settings.draws} draws "
        f"per input, {settings.interp_pairs} interpolation pairs of {settings.interp_steps} steps, "
        f"{settings.n_boot} bootstrap resamples; the rank score refits a copy of the critic for "
        f"{settings.rank_critic_steps} steps first (as `bench rank` does). Training settings that depart from the public "
        "LWGAN code's toy settings (to fit the CPU budget; each is an option or an override):"
    )
    table = markdown_table(rows + extra, headers=["setting", "used", "public code"])
    return text + "\n\n" + table + "\n"
