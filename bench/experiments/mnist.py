"""`bench mnist`: base LWGAN against Iso-LWGAN on MNIST under one brief budget, with the 2x2 ablation.

Iso-LWGAN experiment 3 (SPEC part B): four configurations (isometric term off/on x noise off/on;
"base LWGAN" is off/off, "Iso-LWGAN" is lambda_iso 1 with sigma_noise 0.1) trained for the same
number of iterations. Per model: the test-set reconstruction error (mean per-image l2 norm, pixels
in [-1, 1]; the paper: 5.62 base against 5.76 Iso-LWGAN), the Frechet distance of generated
images to test images in the frozen MNIST classifier's feature space, the estimated rank, the mean
isometry discrepancy, the interpolation irregularity and wall time; latent interpolation grids
(the paper's Figures 3-4) and the loss curves of all configurations (Figure 5).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.classifier import SCORER_SEED
from bench.experiments.common import (
    COLLAPSE,
    ExperimentOutput,
    decode_lines,
    figure_links,
    fmt_seeds,
    interpolate,
    is_collapsed,
    pair_mean_ci,
    plot_histories,
    pyplot,
    reference_value,
    save_figure,
    seed_summary,
    step_irregularity,
    t_interval,
)
from bench.progress import ProgressFn, null_progress

# name -> (registry variant, isometric term on, noise on)
CONFIGS = {
    "base LWGAN": ("lwgan", False, False),
    "+ isometric": ("iso-lwgan", True, False),
    "+ noise": ("lwgan", False, True),
    "Iso-LWGAN": ("iso-lwgan-stochastic", True, True),
}
BASE, ISO = "base LWGAN", "Iso-LWGAN"

# Training budgets: LWGANConfig overrides over the registry's MNIST settings (conv nets, z_max 16)
# and the evaluation sizes. "default" fits 30 minutes for the four models on 2 CPU cores;
# "tiny" is for tests; "long" is for a GPU. lr 2e-4 in "default": the base LWGAN's output
# saturates to a blank image at lr 5e-4 (test recon 18.6 after 1,000 iterations), and so it
# does with a 30% reconstruction-only warm start at 5e-4 and 1e-3 (17.6, blank by iteration
# 200). Measured on one idle core, base LWGAN at lr 2e-4: 1,000 iterations in 206 s, test
# recon 13.07 and still falling (13.7 over the last 100 iterations), hence 1,500 iterations.
BUDGETS = {
    "tiny": {
        "train": {"width_q": 4, "width_g": 4, "width_d": 4, "batch_size": 16, "iterations": 20,
                  "iter_d": 1, "critic_warmup": 1, "critic_burst": 2, "critic_burst_every": 0,
                  "lr": 5e-4},
        "eval_images": 200, "fd_samples": 200, "rank_reps": 2, "rank_batch": 16, "rank_critic_steps": 0,
        "iso_images": 100, "interp_pairs": 8, "classifier_epochs": 1,
    },
    "default": {
        "train": {"width_q": 16, "width_g": 16, "width_d": 16, "batch_size": 64, "iterations": 1500,
                  "iter_d": 2, "critic_warmup": 10, "critic_burst": 20, "critic_burst_every": 200,
                  "lr": 2e-4, "lr_milestones": (0.6, 0.8, 0.9), "lr_gamma": 0.5},
        "eval_images": 10000, "fd_samples": 5000, "rank_reps": 5, "rank_batch": 64, "rank_critic_steps": 20,
        "iso_images": 1000, "interp_pairs": 64,
    },
    "long": {
        "train": {"width_q": 32, "width_g": 32, "width_d": 32, "batch_size": 128,
                  "iterations": 10000, "iter_d": 5, "critic_warmup": 25, "critic_burst": 100,
                  "critic_burst_every": 500, "lr": 2e-4},
        "eval_images": 10000, "fd_samples": 10000, "rank_reps": 10, "rank_batch": 128, "rank_critic_steps": 200,
        "iso_images": 2000, "interp_pairs": 128,
    },
}  # fmt: skip
STEPS = 10  # interpolation steps (the paper's grids)
FIGURE_PAIRS = 4  # rows of each interpolation grid
VERDICT_RULE = (
    "the paper's claim is the sign of the gap recon(Iso-LWGAN) - recon(base LWGAN): positive "
    "(5.76 - 5.62 = +0.14; Iso-LWGAN reconstructs slightly worse after brief training). Reproduced "
    "if the 95% interval of the measured gap lies above 0, not reproduced if it lies below 0, "
    "inconclusive if it contains 0, a model is missing, or either model collapsed in any seed "
    f"(reconstruction at least {COLLAPSE:g} times the constant map's). Interval: Student-t over the per-seed "
    "gaps with two or more seeds, else a paired bootstrap over test images of the per-image "
    "differences (both models see the same images)"
)


@dataclass
class MnistSettings:
    budget: str = "default"
    iterations: int | None = None  # overrides the budget's
    seeds: tuple[int, ...] = (0,)
    configs: tuple[str, ...] = tuple(CONFIGS)
    lambda_iso: float = 1.0
    sigma_noise: float = 0.1
    noise_dim: int = 10  # k = 10 noise channels for MNIST (SPEC)
    eval_rank: int | str = "max"  # "max" (z_max), "estimate" or an int
    overrides: dict = field(default_factory=dict)  # LWGANConfig fields over the budget
    classifier_seed: int = SCORER_SEED
    n_boot: int = 1000

    def __post_init__(self):
        if self.budget not in BUDGETS:
            raise ValueError(f"unknown budget {self.budget!r}; valid: {', '.join(BUDGETS)}")
        unknown = [c for c in self.configs if c not in CONFIGS]
        if unknown:
            raise ValueError(f"unknown configuration(s) {unknown}; valid: {', '.join(CONFIGS)}")

    def train_overrides(self) -> dict:
        out = dict(BUDGETS[self.budget]["train"])
        if self.iterations is not None:
            out["iterations"] = int(self.iterations)
        return {**out, **self.overrides}

    def eval_size(self, key: str) -> int:
        return int(BUDGETS[self.budget][key])

    def spec(self, name: str):
        from lwgan.registry import get_generator

        variant, iso, noise = CONFIGS[name]
        knobs = {"lambda_iso": self.lambda_iso if iso else 0.0,
                 "sigma_noise": self.sigma_noise if noise else 0.0,
                 "noise_dim": self.noise_dim if noise else 0}  # fmt: skip
        return get_generator(variant, **{**self.train_overrides(), **knobs})


@dataclass
class MnistCell:
    name: str
    seed: int
    lambda_iso: float
    sigma_noise: float
    eval_rank: int
    recon: float  # mean per-image ‖x - G(Q(x))‖_2 over the evaluation test images, pixels in [-1, 1]
    recon_lo: float
    recon_hi: float
    frechet: float  # G(Z_r) against the evaluation test images, classifier feature space
    discrepancy: float  # mean |‖z_i - z_j‖ - ‖G_i - G_j‖| over pairs of test images
    discrepancy_lo: float
    discrepancy_hi: float
    interp_irregularity: float
    trivial_recon: float  # the error of the constant map at the mean training image
    collapsed: bool  # recon >= COLLAPSE x trivial_recon
    rank_estimate: int
    lambda_hat: float
    train_time_s: float
    eval_time_s: float
    loaded: bool
    checkpoint_sha256: str
    config: dict
    train_metrics: dict
    history: dict[str, list[float]] = field(repr=False)
    recon_per_image: list[float] = field(repr=False)  # the paired gap needs the same images
    grid: list = field(repr=False)  # [FIGURE_PAIRS, STEPS + 2, 28, 28]: x_a, 10 steps, x_b

    @property
    def wall_time_s(self) -> float:
        return self.train_time_s + self.eval_time_s


@dataclass
class MnistResults:
    settings: MnistSettings
    cells: list[MnistCell]
    wall_time_s: float
    classifier: dict  # test accuracy, checkpoint hash, the train-vs-test Frechet floor
    data_fingerprint: str
    eval_images: int

    def rows(self) -> list[dict]:
        skip = {"history", "recon_per_image", "grid", "config", "train_metrics"}
        out = []
        for c in self.cells:
            row = {k: v for k, v in vars(c).items() if k not in skip}
            row["wall_time_s"] = c.wall_time_s
            row["checkpoint_sha256"] = c.checkpoint_sha256[:16]
            out.append(row)
        return out


def _rank(setting, z_max: int, estimate: int) -> int:
    if setting == "max":
        return z_max
    if setting == "estimate":
        return estimate
    return int(setting)


def eval_pixels(mnist, settings: MnistSettings):
    """(evaluation test images, first 10,000 training images) as pixels in [-1, 1]."""
    from bench.data import to_pixels

    test = to_pixels(mnist.test_images[: settings.eval_size("eval_images")])
    return test, to_pixels(mnist.train_images[:10000])


def mnist_cell(
    name: str,
    seed: int,
    settings: MnistSettings,
    *,
    mnist,
    classifier,
    test_features,
    test_x=None,
    train_x=None,
    device="cpu",
    retrain: bool = False,
    progress: ProgressFn = null_progress,
    on_event: Callable[[str], None] | None = None,
) -> MnistCell:
    """Train (or load) one configuration and measure it on the evaluation test images.

    test_x / train_x: the evaluation test images and the first 10,000 training images as pixels
    (`eval_pixels`); computed here when not given, so a grid converts them once."""
    import torch

    from bench.classifier import features, frechet_distance
    from bench.experiments.common import discrepancy_matrix
    from bench.report import bootstrap_ci
    from lwgan.networks import prior_sample
    from lwgan.rank import score_ranks

    dev = torch.device(device)
    spec = settings.spec(name)
    cfg = spec.config
    model, payload, entry = spec.load_or_train(
        mnist, seed=seed, device=dev, retrain=retrain, progress=progress,
        task=f"{name} s{seed}: train", on_event=on_event,
    )  # fmt: skip
    t0 = time.perf_counter()
    if test_x is None or train_x is None:
        test_x, train_x = eval_pixels(mnist, settings)
    x = test_x
    steps = settings.eval_size("rank_critic_steps")
    scores = score_ranks(
        model, x, reps=settings.eval_size("rank_reps"), batch_size=settings.eval_size("rank_batch"),
        seed=seed, critic_steps=steps, critic_data=train_x if steps else None,
        progress=progress, task=f"{name} s{seed}: rank score",
    )  # fmt: skip
    r = _rank(settings.eval_rank, cfg.z_max, scores.estimate)
    gen = torch.Generator(device=dev).manual_seed(seed)
    chunk = 500
    with torch.no_grad():
        recon, zs = [], []
        for i in range(0, len(x), chunk):
            xb = x[i : i + chunk].to(dev)
            z = model.Q(xb, r)
            recon.append((xb - model.G(z, generator=gen)).flatten(1).norm(dim=1).cpu())
            zs.append(z.cpu())
        recon = torch.cat(recon).double().numpy()
        z = torch.cat(zs)
        n_fd = settings.eval_size("fd_samples")
        fake = torch.cat([
            model.G(prior_sample(min(chunk, n_fd - i), cfg.z_max, r, generator=gen, device=dev),
                    generator=gen).cpu()
            for i in range(0, n_fd, chunk)
        ])  # fmt: skip
        m = settings.eval_size("iso_images")
        zi = z[:m].to(dev)
        disc = pair_mean_ci(discrepancy_matrix(zi, model.G(zi, generator=gen)).cpu().numpy(),
                            settings.n_boot, seed)  # fmt: skip
        pairs = torch.randint(len(x), (2, settings.eval_size("interp_pairs")),
                              generator=torch.Generator().manual_seed(seed))  # fmt: skip
        line = interpolate(z[pairs[0]], z[pairs[1]], STEPS).to(dev)
        paths = decode_lines(model, line, gen).view(-1, STEPS, 28, 28).cpu()
    frechet = frechet_distance(features(classifier, fake), test_features)
    k = min(FIGURE_PAIRS, len(paths))
    ends_a, ends_b = x[pairs[0][:k]].view(k, 1, 28, 28), x[pairs[1][:k]].view(k, 1, 28, 28)
    grid = torch.cat([ends_a, paths[:k], ends_b], dim=1)
    ci = bootstrap_ci(recon, n_boot=settings.n_boot, seed=seed)
    trivial = float((x - train_x.mean(0, keepdim=True)).flatten(1).norm(dim=1).mean())
    metrics = dict(payload.get("metrics", {}))
    return MnistCell(
        name=name, seed=seed, lambda_iso=cfg.lambda_iso, sigma_noise=cfg.sigma_noise, eval_rank=r,
        recon=ci.value, recon_lo=ci.lo, recon_hi=ci.hi, frechet=frechet,
        discrepancy=disc.value, discrepancy_lo=disc.lo, discrepancy_hi=disc.hi,
        interp_irregularity=float(step_irregularity(paths.numpy()).mean()),
        trivial_recon=trivial, collapsed=is_collapsed(ci.value, trivial),
        rank_estimate=scores.estimate, lambda_hat=scores.lambda_hat,
        train_time_s=float(metrics.get("wall_time_s", 0.0)), eval_time_s=time.perf_counter() - t0,
        loaded=entry.loaded, checkpoint_sha256=entry.sha256, config=cfg.to_dict(),
        train_metrics=metrics, history={k: list(v) for k, v in payload.get("history", {}).items()},
        recon_per_image=recon.tolist(), grid=grid.numpy().tolist(),
    )  # fmt: skip


def run_mnist(
    settings: MnistSettings,
    *,
    mnist,
    device="cpu",
    retrain: bool = False,
    progress: ProgressFn = null_progress,
    on_cell: Callable[[MnistCell], None] | None = None,
    on_event: Callable[[str], None] | None = None,
) -> MnistResults:
    """The frozen classifier (trained through the cache if needed), then every (config, seed)."""
    from bench.classifier import features, frechet_distance, load_or_train_classifier
    from bench.data import to_pixels

    t0 = time.perf_counter()
    # The scorer's own settings (5 epochs), shared with `bench recover`; only "tiny" shortens it.
    epochs = BUDGETS[settings.budget].get("classifier_epochs")
    clf, clf_entry = load_or_train_classifier(mnist, seed=settings.classifier_seed, device=device,
                                              epochs=epochs, progress=progress,
                                              on_event=on_event)  # fmt: skip
    n = settings.eval_size("eval_images")
    test_x, train_x = eval_pixels(mnist, settings)
    test_feats = features(clf, test_x)
    # The floor: real training images against the same test images (same count as the samples).
    k = min(settings.eval_size("fd_samples"), len(mnist.train_images))
    floor = frechet_distance(features(clf, to_pixels(mnist.train_images[:k])), test_feats)
    jobs = [(c, s) for c in settings.configs for s in settings.seeds]
    cells = []
    progress("models", 0, len(jobs))
    for name, seed in jobs:
        cell = mnist_cell(name, seed, settings, mnist=mnist, classifier=clf,
                          test_features=test_feats, test_x=test_x, train_x=train_x,
                          device=device, retrain=retrain,
                          progress=progress, on_event=on_event)  # fmt: skip
        cells.append(cell)
        progress("models", len(cells), len(jobs))
        if on_cell is not None:
            on_cell(cell)
    classifier = {"test_accuracy": clf_entry.metrics.get("test_accuracy"),
                  "sha256": clf_entry.sha256, "loaded": clf_entry.loaded,
                  "train_seconds": clf_entry.metrics.get("train_seconds"), "frechet_floor": floor,
                  "floor_images": k}  # fmt: skip
    return MnistResults(settings, cells, time.perf_counter() - t0, classifier, mnist.fingerprint, n)


# ----------------------------------------------------------------------------------- analysis


def summary(results: MnistResults) -> list[dict]:
    rows = results.rows()
    metrics = ("recon", "frechet", "discrepancy", "interp_irregularity", "wall_time_s")
    tables = {m: seed_summary(rows, ["name"], m) for m in metrics}
    out = []
    for i, base in enumerate(tables["recon"]):
        name = base["name"]
        out.append({
            "name": name, **{m: tables[m][i] for m in metrics},
            "ranks": [c.rank_estimate for c in results.cells if c.name == name],
            "paper": reference_value("mnist", name, "paper text"),
        })  # fmt: skip
    return out


def recon_gap(results: MnistResults):
    """(gap, lo, hi, how) of recon(Iso-LWGAN) - recon(base LWGAN), or None if one is missing."""
    from bench.report import bootstrap_ci

    base = {c.seed: c for c in results.cells if c.name == BASE}
    iso = {c.seed: c for c in results.cells if c.name == ISO}
    seeds = sorted(set(base) & set(iso))
    if not seeds:
        return None
    if len(seeds) >= 2:
        ci = t_interval([iso[s].recon - base[s].recon for s in seeds])
        return ci.value, ci.lo, ci.hi, f"t-interval over {len(seeds)} seeds"
    s = seeds[0]
    diff = np.asarray(iso[s].recon_per_image) - np.asarray(base[s].recon_per_image)
    ci = bootstrap_ci(diff, n_boot=results.settings.n_boot, seed=s)
    return ci.value, ci.lo, ci.hi, f"paired bootstrap over {len(diff)} test images"


def mnist_verdict(results: MnistResults) -> tuple[str, str]:
    gap = recon_gap(results)
    if gap is None:
        return "inconclusive", "needs both base LWGAN and Iso-LWGAN"
    g, lo, hi, how = gap
    label = "reproduced" if lo > 0 else "not reproduced" if hi < 0 else "inconclusive"
    detail = f"gap {g:+.3f} [{lo:+.3f}, {hi:+.3f}] ({how}); paper +0.14"
    bad = sorted({c.name for c in results.cells if c.name in (BASE, ISO) and c.collapsed})
    if bad:  # a collapsed model's error says nothing about the trade-off the paper describes
        return "inconclusive", detail + f"; collapsed: {', '.join(bad)}"
    return label, detail


# ------------------------------------------------------------------------------------ figures


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name.lower()).strip("_")


def tile(grid: np.ndarray, pad: int = 2, gap: int = 6) -> np.ndarray:
    """[rows, cols, 28, 28] -> one image: tiles `pad` apart, the two real end images set off from
    the decoded steps by `gap` pixels; background white (+1)."""
    rows, cols, h, w = grid.shape
    starts, x = [], 0
    for j in range(cols):
        starts.append(x)
        x += w + (gap if j in (0, cols - 2) else pad)
    out = np.ones((rows * (h + pad) - pad, starts[-1] + w))
    for i in range(rows):
        for j in range(cols):
            out[i * (h + pad) : i * (h + pad) + h, starts[j] : starts[j] + w] = grid[i, j]
    return out


def plot_interpolation_grid(cell: MnistCell, path: Path, pdf: bool = True) -> list[Path]:
    """Figures 3-4: rows are test-image pairs; columns are image a, 10 decoded points on the
    straight latent line from Q(a) to Q(b), image b (one composed image: one artist, fast)."""
    plt = pyplot()
    g = np.asarray(cell.grid)
    rows, cols = g.shape[:2]
    fig, ax = plt.subplots(figsize=(0.62 * cols + 0.3, 0.62 * rows + 0.5))
    ax.imshow(tile(g), cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(f"{cell.name} (seed {cell.seed}): image a | {cols - 2} decoded steps of the latent "
                 "line | image b", fontsize=7)  # fmt: skip
    fig.tight_layout()
    return save_figure(fig, path, pdf=pdf)


def plot_recon(results: MnistResults, path: Path) -> list[Path]:
    """Reconstruction error per configuration (mean and interval) beside the paper's."""
    plt = pyplot()
    rows = summary(results)
    fig, ax = plt.subplots(figsize=(4.8, 3.2))
    x = np.arange(len(rows))
    for i, r in enumerate(rows):
        v = r["recon"]
        if r["recon"]["n_seeds"] > 1:
            lo, hi = v["lo"], v["hi"]
        else:
            c = next(c for c in results.cells if c.name == r["name"])
            lo, hi = c.recon_lo, c.recon_hi
        ax.bar(i, v["value"], color="C0", alpha=0.7)
        ax.errorbar(i, v["value"], yerr=[[v["value"] - lo], [hi - v["value"]]], color="k", capsize=3)
        if r["paper"]:
            ax.plot(i, float(r["paper"]), "r*", ms=10, label="paper")
    ax.set_xticks(x, [r["name"] for r in rows], fontsize=7)
    ax.set_ylabel("mean per-image ‖x - G(Q(x))‖")
    handles, labels = ax.get_legend_handles_labels()
    if handles:  # one entry for the paper's stars
        ax.legend(handles[:1], labels[:1], fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def draw(results: MnistResults, out: Path) -> list[Path]:
    out = Path(out)
    first = results.settings.seeds[0]
    figs: list[Path] = []
    for c in results.cells:
        if c.seed == first:
            figs += plot_interpolation_grid(c, out / f"mnist_interp_{_slug(c.name)}")
    hist = {c.name: c.history for c in results.cells if c.seed == first}
    figs += plot_histories(hist, ("recon", "critic_gap", "iso", "mmd", "loss_gq"),
                           out / "mnist_losses", title=f"training curves, seed {first}")  # fmt: skip
    figs += plot_recon(results, out / "mnist_recon")
    return figs


# ------------------------------------------------------------------------------------- report


def render(results: MnistResults, facts, figures) -> str:
    from bench.report import facts_markdown, markdown_table

    s = results.settings
    rows = summary(results)
    label, detail = mnist_verdict(results)
    train = s.train_overrides()
    one = len(s.seeds) == 1
    paper_rows = []
    for r in rows:
        c = next(c for c in results.cells if c.name == r["name"])
        measured = (f"{c.recon:.3f} [{c.recon_lo:.3f}, {c.recon_hi:.3f}] (bootstrap over images)"
                    if one else fmt_seeds(r["recon"], 3))  # fmt: skip
        paper_rows.append({"model": r["name"], "reconstruction error": measured,
                           "paper": r["paper"] or "n/a"})  # fmt: skip
    metric_rows = [{
        "model": r["name"],
        "λ_iso": next(c.lambda_iso for c in results.cells if c.name == r["name"]),
        "σ_noise": next(c.sigma_noise for c in results.cells if c.name == r["name"]),
        "Frechet (classifier features)": fmt_seeds(r["frechet"], 2),
        "isometry discrepancy": fmt_seeds(r["discrepancy"], 3),
        "interpolation irregularity": fmt_seeds(r["interp_irregularity"], 3),
        "estimated rank": ", ".join(map(str, r["ranks"])),
        "collapsed": ", ".join("yes" if c.collapsed else "no" for c in results.cells
                               if c.name == r["name"]),
        "wall time (s)": fmt_seeds(r["wall_time_s"], 0),
    } for r in rows]  # fmt: skip
    cell_rows = [{
        "model": c.name, "seed": c.seed, "eval rank": c.eval_rank,
        "reconstruction [bootstrap 95%]": f"{c.recon:.3f} [{c.recon_lo:.3f}, {c.recon_hi:.3f}]",
        "Frechet": c.frechet,
        "discrepancy [bootstrap 95%]": f"{c.discrepancy:.3f} [{c.discrepancy_lo:.3f}, {c.discrepancy_hi:.3f}]",
        "rank": c.rank_estimate, "λ_hat": c.lambda_hat, "collapsed": c.collapsed,
        "train s": c.train_time_s,
        "eval s": c.eval_time_s, "cached": c.loaded, "checkpoint": c.checkpoint_sha256[:12],
    } for c in results.cells]  # fmt: skip
    clf = results.classifier
    first = s.seeds[0]
    grids = "\n\n".join(
        figure_links(figures, f"mnist_interp_{_slug(c.name)}", f"{c.name}: latent interpolation grid")
        for c in results.cells if c.seed == first
    )  # fmt: skip
    cfg = next(iter(results.cells)).config if results.cells else {}
    parts = [
        "# MNIST: base LWGAN against Iso-LWGAN, with the 2x2 ablation (Iso-LWGAN experiment 3)",
        "",
        (
            f"**A brief training budget** (`--budget {s.budget}`: {train['iterations']} iterations "
            f"of batch {train['batch_size']} per model, about {train['iterations'] * train['batch_size'] / 60000:.1f} "
            "epochs, conv nets of width "
            f"{train['width_q']}), as the paper's was (\"over a brief training phase\"). All four "
            "models share every setting but the isometric term (lambda_iso "
            f"{s.lambda_iso:g}) and the noise (sigma_noise {s.sigma_noise:g}, k = {s.noise_dim} "
            "channels); each has the full LWGAN objective (critic, MMD, rank). Measured on "
            f"{results.eval_images} test images at the evaluation rank "
            + (f"r = z_max = {cfg.get('z_max')}" if s.eval_rank == "max" else f"`{s.eval_rank}`")
            + ": reconstruction = mean per-image ‖x - G(Q(x))‖_2 with pixels in [-1, 1] (one "
            "noise draw); Frechet distance between "
            f"{s.eval_size('fd_samples')} draws G(Z_r) and the test images in the frozen "
            "classifier's 128-d penultimate features; isometry discrepancy over pairs of the first "
            f"{s.eval_size('iso_images')} test images; interpolation irregularity = std/mean of "
            f"the pixel-space step lengths along {STEPS}-step decoded latent lines between "
            f"{s.eval_size('interp_pairs')} test-image pairs (0: constant speed)."
        ),
        "",
        "## Verdict",
        "",
        f"**{label}**: {detail}.",
        "",
        f"Rule: {VERDICT_RULE}.",
        "",
        "## Reconstruction beside the paper",
        "",
        markdown_table(paper_rows),
        "",
        figure_links(figures, "mnist_recon", "Reconstruction error per model; red stars: the paper"),
        "",
        "## All models",
        "",
        (
            f"Frechet floor: {clf['floor_images']} real training images against the same test "
            f"images give {clf['frechet_floor']:.2f}. Wall time = training + evaluation. A model "
            f"has **collapsed** when its reconstruction error is at least {COLLAPSE:g} times that "
            "of the constant map at the mean training image ("
            + (f"{results.cells[0].trivial_recon:.2f}" if results.cells else "n/a")
            + "); a constant generator is trivially isometric, so its discrepancy means nothing."
        ),
        "",
        markdown_table(metric_rows, floatfmt={"λ_iso": "g", "σ_noise": "g"}),
        "",
        grids,
        "",
        figure_links(figures, "mnist_losses", "Loss and convergence curves of all configurations "
                     "(the paper's Figure 5), smoothed"),
        "",
        "## Per model and seed",
        "",
        markdown_table(cell_rows, floatfmt={"Frechet": ".2f", "λ_hat": ".3g", "train s": ".0f",
                                            "eval s": ".0f"}),
        "",
        "## Training and scorer",
        "",
        (
            f"Classifier (scorer): test accuracy {clf['test_accuracy']:.2f}%, checkpoint "
            f"`{clf['sha256'][:16]}` ({'loaded from the cache' if clf['loaded'] else 'trained in this run'}"
            + (f", {clf['train_seconds']:.0f} s to train" if clf.get("train_seconds") else "")
            + "). Its training is not part of the models' budget; `bench recover` shares it."
            if clf.get("test_accuracy") is not None else "Classifier: n/a"
        ),
        "",
        "Configuration of the base model (the others differ only in lambda_iso, sigma_noise, noise_dim):",
        "",
        markdown_table([(k, str(v)) for k, v in cfg.items()], headers=["setting", "value"]),
        "",
        facts_markdown(facts),
    ]
    return "\n".join(parts)


def _child_record(cell: MnistCell) -> dict:
    params = {"model": cell.name, "seed": cell.seed, "eval_rank": cell.eval_rank,
              **{f"cfg.{k}": v for k, v in cell.config.items()}}  # fmt: skip
    metrics = {k: getattr(cell, k) for k in (
        "recon", "recon_lo", "recon_hi", "frechet", "discrepancy", "discrepancy_lo",
        "discrepancy_hi", "interp_irregularity", "rank_estimate", "lambda_hat", "train_time_s",
        "eval_time_s", "trivial_recon", "collapsed")}  # fmt: skip
    metrics["wall_time_s"] = cell.wall_time_s
    metrics.update({f"train_{k}": v for k, v in cell.train_metrics.items()
                    if isinstance(v, (int, float))})  # fmt: skip
    from bench.experiments.common import HISTORY_LOGGED

    histories = {f"train/{k}": cell.history[k] for k in HISTORY_LOGGED if k in cell.history}
    tags = {"checkpoint_sha256": cell.checkpoint_sha256, "cached": str(cell.loaded).lower()}
    return {"params": params, "metrics": metrics, "histories": histories, "tags": tags}


def run_mnist_experiment(
    settings: MnistSettings,
    *,
    mnist,
    out: Path,
    device="cpu",
    retrain: bool = False,
    track: bool = True,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    command: str | None = None,
    progress: ProgressFn = null_progress,
    on_event=None,
) -> ExperimentOutput:
    """Train/measure every model, log MLflow runs (a child per model and seed with its
    interpolation grid), write `<out>/mnist.md`, `mnist.csv` and the figures."""
    import tempfile

    from bench.report import collect_facts, write_csv, write_report
    from bench.tracking import run_tags, start_sweep

    out = Path(out)
    params = {"budget": settings.budget, "seeds": ",".join(map(str, settings.seeds)),
              "configs": ",".join(settings.configs), "lambda_iso": settings.lambda_iso,
              "sigma_noise": settings.sigma_noise, "noise_dim": settings.noise_dim,
              "eval_rank": settings.eval_rank,
              **{f"train.{k}": v for k, v in settings.train_overrides().items()}}  # fmt: skip
    tags = run_tags(device, settings.seeds, command=command)
    with start_sweep("mnist", experiment=experiment, tracking_uri=tracking_uri, params=params,
                     tags=tags, enabled=track) as sweep, tempfile.TemporaryDirectory() as tmp:  # fmt: skip

        def log_cell(cell: MnistCell) -> None:
            if track:
                figs = plot_interpolation_grid(cell, Path(tmp) / f"{_slug(cell.name)}_s{cell.seed}", pdf=False)
                sweep.log_child(f"{cell.name} s{cell.seed}", artifacts=figs, **_child_record(cell))

        results = run_mnist(settings, mnist=mnist, device=device, retrain=retrain,
                            progress=progress, on_cell=log_cell, on_event=on_event)  # fmt: skip
        figures = draw(results, out)
        csv = write_csv(results.rows(), out / "mnist.csv")
        facts = collect_facts(
            seeds=settings.seeds, data_fingerprint=results.data_fingerprint, device=device,
            checkpoints={"classifier": results.classifier["sha256"],
                         **{f"{c.name} s{c.seed}": c.checkpoint_sha256 for c in results.cells}},
            wall_time_s=results.wall_time_s, command=command, out=out,
        )  # fmt: skip
        report = write_report(out, "mnist", render(results, facts, figures))
        label, _ = mnist_verdict(results)
        gap = recon_gap(results)
        sweep.log_metrics({"wall_time_s": results.wall_time_s,
                           "reproduced": float(label == "reproduced"),
                           **({"recon_gap": gap[0]} if gap else {}),
                           **{f"recon_{_slug(r['name'])}": r["recon"]["value"]
                              for r in summary(results)}})  # fmt: skip
        for path in (*figures, csv, report):
            sweep.log_artifact(path)
    return ExperimentOutput(results, report, csv, figures, sweep.run_id, sweep.url)
