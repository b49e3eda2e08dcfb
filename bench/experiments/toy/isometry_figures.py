"""The figures of `bench isometry`: latent interpolations (the paper's Figure 1), samples against
held-out data, the discrepancy beside the paper's, training curves. Drawn from the saved results."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.experiments.toy import toy_report
from bench.experiments.toy.toy_cells import toy_cells
from bench.figures import pyplot, save_figure
from bench.pipeline import Results


def _grid(results: Results):
    s = results.settings_obj()
    first = s.seeds[0]
    cells = {(c.objective, c.lambda_iso): c for c in toy_cells(results) if c.seed == first}
    plt = pyplot()
    fig, axes = plt.subplots(
        len(s.objectives), len(s.lambdas), squeeze=False, figsize=(2.9 * len(s.lambdas), 2.9 * len(s.objectives))
    )
    return cells, fig, axes, np.asarray(results.context["heldout"])


def plot_interpolations(results: Results, path: Path) -> list[Path]:
    """The paper's Figure 1: decoded straight latent lines (10 steps, colour = position) between
    held-out points, one panel per (objective, lambda_iso), first seed."""
    cells, fig, axes, h = _grid(results)
    s = results.settings_obj()
    for i, obj in enumerate(s.objectives):
        for j, lam in enumerate(s.lambdas):
            ax, c = axes[i][j], cells.get((obj, lam))
            ax.scatter(h[:, 0], h[:, 1], s=2, c="0.8")
            if c is None:  # a failed cell
                continue
            for p in np.asarray(c.interp):
                ax.plot(p[:, 0], p[:, 1], c="0.3", lw=0.6)
                ax.scatter(p[:, 0], p[:, 1], c=np.linspace(0, 1, len(p)), cmap="viridis", s=12, zorder=3)
            for e in np.asarray(c.interp_ends):  # the encoded data points themselves
                ax.plot(e[:, 0], e[:, 1], "rx", ms=5, zorder=4)
            ax.set_title(
                f"{obj}, λ={lam:g}\ndiscrepancy {c.discrepancy:.3f}" + (" (collapsed)" if c.collapsed else ""),
                fontsize=8,
            )
            ax.tick_params(labelsize=6)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_samples(results: Results, path: Path) -> list[Path]:
    """Held-out data against G(Z_r) per (objective, lambda_iso), first seed."""
    cells, fig, axes, h = _grid(results)
    settings = results.settings_obj()
    for i, obj in enumerate(settings.objectives):
        for j, lam in enumerate(settings.lambdas):
            ax, c = axes[i][j], cells.get((obj, lam))
            if c is None:  # a failed cell
                continue
            s = np.asarray(c.samples)
            ax.scatter(h[:, 0], h[:, 1], s=2, c="0.6", label="held-out")
            ax.scatter(s[:, 0], s[:, 1], s=2, c="C0", alpha=0.4, label="G(Z)")
            ax.set_title(f"{obj}, λ={lam:g}\nenergy distance {c.energy:.3f}", fontsize=8)
            ax.tick_params(labelsize=6)
    axes[0][0].legend(fontsize=6, markerscale=3)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_discrepancy(results: Results, rows: list[dict], path: Path) -> list[Path]:
    """Measured discrepancy per lambda_iso (mean and t-interval over seeds, `rows`: the report's
    summary) beside the paper's."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.6, 3.4))
    settings = results.settings_obj()
    for k, obj in enumerate(settings.objectives):
        mine = [r for r in rows if r["objective"] == obj]
        x = np.array([r["lambda_iso"] for r in mine]) + 0.03 * k
        d = [r["discrepancy"] for r in mine]
        y = np.array([v["value"] for v in d])
        err = np.array([[v["value"] - v["lo"], v["hi"] - v["value"]] for v in d]).T
        ax.errorbar(x, y, yerr=np.nan_to_num(err), marker="o", capsize=3, label=f"measured, {obj}")
    ax.plot([0], [1.20], "k*", ms=10, label="paper: 1.20 at λ=0")
    pos = [lam for lam in settings.lambdas if lam > 0]
    if pos:
        ax.fill_between([min(pos) - 0.1, max(pos) + 0.1], 0.02, 0.03, color="k", alpha=0.3, label="paper: 0.02-0.03")
    ax.set_yscale("symlog", linthresh=0.01)
    ax.set_xlabel("λ_iso")
    ax.set_ylabel("mean |latent - generated distance|")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def figures(results: Results, rows: list[dict], out: Path) -> list[Path]:
    out = Path(out)
    return [
        *plot_interpolations(results, out / "isometry_interpolations"),
        *plot_samples(results, out / "isometry_samples"),
        *plot_discrepancy(results, rows, out / "isometry_discrepancy"),
        *toy_report.plot_losses(
            results, out / "isometry_losses", ("recon", "iso", "critic_gap", "mmd"), "lambda_iso", "λ"
        ),
    ]
