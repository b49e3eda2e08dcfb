"""The figures of `bench stochastic`: output diversity (the paper's Figure 2), samples against the
clusters, training curves. Drawn from the saved results."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.experiments.lwgan_settings import CENTRES
from bench.experiments.toy import toy_report
from bench.experiments.toy.toy_cells import toy_cells
from bench.figures import pyplot, save_figure
from bench.pipeline import Results


def _first(results: Results) -> dict:
    first = results.settings_obj().seeds[0]
    return {(c.objective, c.sigma_noise): c for c in toy_cells(results) if c.seed == first}


def plot_diversity(results: Results, rows: list[dict], path: Path) -> list[Path]:
    """The paper's Figure 2: for five held-out inputs, 10 draws of G(z, eps) each, drawn as
    offsets from their input's mean draw on one scale for every sigma_noise (first seed); the last
    panel is the diversity against sigma_noise (mean and t-interval over seeds) beside the
    published run's."""
    s = results.settings_obj()
    cells = _first(results)
    plt = pyplot()
    fig, axes = plt.subplots(
        len(s.objectives),
        len(s.sigmas) + 1,
        squeeze=False,
        figsize=(2.8 * (len(s.sigmas) + 1), 2.8 * len(s.objectives)),
    )
    spread = max(
        (
            np.abs(np.asarray(c.draw_sets) - np.asarray(c.draw_sets).mean(1, keepdims=True)).max()
            for c in cells.values()
        ),
        default=0.0,
    )
    lim = max(spread * 1.15, 1e-3)
    for i, obj in enumerate(s.objectives):
        for j, sig in enumerate(s.sigmas):
            ax, c = axes[i][j], cells.get((obj, sig))
            if c is None:  # a failed cell
                continue
            d = np.asarray(c.draw_sets)
            off = d - d.mean(axis=1, keepdims=True)
            for k in range(len(off)):
                ax.scatter(off[k, :, 0], off[k, :, 1], s=10, color=f"C{k}", alpha=0.8)
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_title(f"{obj}, σ={sig:g}\ndiversity {c.diversity:.4f}", fontsize=8)
            ax.tick_params(labelsize=6)
        ax = axes[i][-1]
        mine = [r for r in rows if r["objective"] == obj]
        x = [r["sigma_noise"] for r in mine]
        d = [r["diversity"] for r in mine]
        err = np.array([[v["value"] - v["lo"], v["hi"] - v["value"]] for v in d]).T
        ax.errorbar(x, [v["value"] for v in d], yerr=np.nan_to_num(err), marker="o", capsize=3, label="measured")
        pub = [(r["sigma_noise"], float(r["published"])) for r in mine if r["published"]]
        if pub:
            ax.plot(*zip(*pub), "k*", ms=8, label="published run")
        ax.set_xlabel("σ_noise", fontsize=8)
        ax.set_title("diversity", fontsize=8)
        ax.legend(fontsize=6)
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_samples(results: Results, path: Path) -> list[Path]:
    """Held-out data against G(Z_r, eps) per (objective, sigma_noise), first seed, with the
    cluster centres and the mode shares."""
    s = results.settings_obj()
    cells = _first(results)
    h = np.asarray(results.context["heldout"])
    plt = pyplot()
    fig, axes = plt.subplots(
        len(s.objectives), len(s.sigmas), squeeze=False, figsize=(2.9 * len(s.sigmas), 2.9 * len(s.objectives))
    )
    cx = np.asarray(CENTRES)
    for i, obj in enumerate(s.objectives):
        for j, sig in enumerate(s.sigmas):
            ax, c = axes[i][j], cells.get((obj, sig))
            if c is None:  # a failed cell
                continue
            p = np.asarray(c.samples)
            ax.scatter(h[:, 0], h[:, 1], s=2, c="0.6", label="held-out")
            ax.scatter(p[:, 0], p[:, 1], s=2, c="C0", alpha=0.4, label="G(Z, eps)")
            ax.scatter(cx[:, 0], cx[:, 1], marker="x", c="k", s=30, label="centres")
            shares = "/".join(f"{v:.2f}" for v in c.mode_shares)
            ax.set_title(f"{obj}, σ={sig:g}\nshares {shares}, energy {c.energy:.3f}", fontsize=7)
            ax.tick_params(labelsize=6)
    axes[0][0].legend(fontsize=6, markerscale=3)
    fig.tight_layout()
    return save_figure(fig, path)


def figures(results: Results, rows: list[dict], out: Path) -> list[Path]:
    out = Path(out)
    return [
        *plot_diversity(results, rows, out / "stochastic_diversity"),
        *plot_samples(results, out / "stochastic_samples"),
        *toy_report.plot_losses(
            results, out / "stochastic_losses", ("recon", "critic_gap", "mmd", "iso"), "sigma_noise", "σ"
        ),
    ]
