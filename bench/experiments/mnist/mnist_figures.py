"""The figures of `bench mnist`: interpolation grids, sample grids, the reconstruction bars and
the training curves, pure functions of the saved results."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.experiments.mnist.mnist_cells import MnistCell, mnist_cells
from bench.experiments.mnist.mnist_report import label_of, slug, summary
from bench.experiments.toy.toy_report import curves
from bench.figures import plot_histories, pyplot, save_figure
from bench.recovery.codec import unpack_images


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


def plot_interpolation_grid(cell, path: Path, pdf: bool = True) -> list[Path]:
    """Figures 3-4: rows are test-image pairs; columns are image a, 10 decoded points on the
    straight latent line from Q(a) to Q(b), image b (one composed image: one artist, fast)."""
    plt = pyplot()
    g = np.asarray(cell.grid, dtype=float) / 127.5 - 1  # stored as bytes
    rows, cols = g.shape[:2]
    fig, ax = plt.subplots(figsize=(0.62 * cols + 0.3, 0.62 * rows + 0.5))
    ax.imshow(tile(g), cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(
        f"{label_of(cell)} (seed {cell.seed}): image a | {cols - 2} decoded steps of the latent line | image b",
        fontsize=7,
    )
    fig.tight_layout()
    return save_figure(fig, path, pdf=pdf)


def plot_samples(cell, path: Path, pdf: bool = True) -> list[Path]:
    """An 8 x 8 grid of the model's draws G(Z_r), Z ~ N(0, I) (the stored samples)."""

    plt = pyplot()
    imgs = unpack_images(cell.samples).astype(float) / 127.5 - 1
    side = int(np.ceil(np.sqrt(len(imgs))))
    g = np.ones((side * side, 28, 28))
    g[: len(imgs)] = imgs
    fig, ax = plt.subplots(figsize=(4.2, 4.5))
    ax.imshow(tile(g.reshape(side, side, 28, 28), gap=2), cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(f"{label_of(cell)} (seed {cell.seed}): G(Z), Z ~ N(0, I_r)", fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path, pdf=pdf)


def plot_recon(results, path: Path) -> list[Path]:
    """Reconstruction error per configuration (mean and interval) beside the paper's."""
    plt = pyplot()
    rows = summary(results)
    fig, ax = plt.subplots(figsize=(1.2 * len(rows) + 1.5, 3.4))
    x = np.arange(len(rows))
    for i, r in enumerate(rows):
        v = r["recon"]
        if r["recon"]["n_seeds"] > 1:
            lo, hi = v["lo"], v["hi"]
        else:
            c = next(c for c in mnist_cells(results) if (c.objective, c.name) == (r["objective"], r["name"]))
            lo, hi = c.recon_lo, c.recon_hi
        ax.bar(i, v["value"], color="C0" if r["objective"] == "lwgan" else "C1", alpha=0.7)
        ax.errorbar(i, v["value"], yerr=[[v["value"] - lo], [hi - v["value"]]], color="k", capsize=3)
        if r["paper"]:
            ax.plot(i, float(r["paper"]), "r*", ms=10, label="paper")
    ax.set_xticks(x, [f"{r['objective']}\n{r['name']}" for r in rows], fontsize=6)
    ax.set_ylabel("mean per-image ‖x - G(Q(x))‖")
    handles, labels = ax.get_legend_handles_labels()
    if handles:  # one entry for the paper's stars
        ax.legend(handles[:1], labels[:1], fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def figures(results, out: Path) -> list[Path]:

    out = Path(out)
    first = results.settings_obj().seeds[0]
    figs: list[Path] = []
    for c in mnist_cells(results):
        if c.seed == first:
            figs += plot_interpolation_grid(c, out / f"mnist_interp_{c.objective}_{slug(c.name)}")
            if c.samples:
                figs += plot_samples(c, out / f"mnist_samples_{c.objective}_{slug(c.name)}")
    hist = {f"{r['objective']}: {r['name']}": curves(r) for r in results.records() if r["seed"] == first}
    if not hist:
        return figs
    figs += plot_histories(
        hist,
        ("recon", "critic_gap", "iso", "mmd", "loss_gq", "loss"),
        out / "mnist_losses",
        title=f"training curves, seed {first}",
    )
    figs += plot_recon(results, out / "mnist_recon")
    return figs


def cell_figure(cell: dict, record: dict, folder: Path) -> list[Path]:
    """The cell's latent interpolation grid, attached to its MLflow run."""

    c = MnistCell.from_record(record)
    return plot_interpolation_grid(c, folder / f"{c.objective}_{slug(c.name)}_s{c.seed}", pdf=False)
