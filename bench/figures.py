"""Figures shared by the reports: saving (PDF and PNG, atomic), loss curves, image grids, links.

Every figure is drawn from a run's saved results alone, so `bench report` redraws it unchanged.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.atomic import atomic_open, atomic_savefig

CURVE_POINTS = 250  # loss curves are kept as at most this many bin means


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | Path, *, pdf: bool = True, dpi: int = 130) -> list[Path]:
    """Write `path` as PDF and PNG (atomic; PNG only with pdf=False), close the figure; returns
    the paths written, the PDF first."""
    path = Path(path).with_suffix(".pdf")
    # No creation date: a rebuilt report's figures are byte-identical to the first ones.
    out = [atomic_savefig(fig, path, metadata={"CreationDate": None})] if pdf else []
    out.append(_save_png(fig, path.with_suffix(".png"), dpi))
    pyplot().close(fig)
    return out


def _save_png(fig, path: Path, dpi: int) -> Path:
    """The PNG with a 256-colour palette: line plots and digit grids lose nothing a reader sees,
    and the file is a third of matplotlib's RGBA (the committed reports' figures stay small)."""

    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    buf.seek(0)
    image = Image.open(buf).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
    with atomic_open(path, "wb") as f:
        image.save(f, format="PNG", optimize=True)
    return path


def figure_link(stem: str, caption: str) -> str:
    """Markdown for one figure a report draws: the PNG inline, the PDF linked."""
    return f"![{caption}]({stem}.png)\n\n{caption} ([PDF]({stem}.pdf))"


def binned(values: Sequence[float], points: int = CURVE_POINTS) -> tuple[list[float], int]:
    """A per-iteration curve as (means of consecutive bins of `every` iterations, every): results
    and MLflow keep at most `points` values of a curve (a 9,000-iteration schedule's seven curves
    would otherwise dominate a results file); a shorter curve is kept whole."""
    v = np.asarray(values, dtype=float)
    every = max(1, -(-v.size // points))
    if every == 1:
        return v.tolist(), 1
    full = v[: v.size // every * every].reshape(-1, every).mean(axis=1)
    tail = v[v.size // every * every :]
    return [*full.tolist(), *([float(tail.mean())] if tail.size else [])], every


def smooth(values: Sequence[float], window: int) -> np.ndarray:
    """Trailing moving average (shorter at the start), so curves of noisy losses read."""
    v = np.asarray(values, dtype=float)
    if window <= 1 or v.size == 0:
        return v
    c = np.cumsum(np.r_[0.0, v])
    i = np.arange(1, v.size + 1)
    lo = np.maximum(i - window, 0)
    return (c[i] - c[lo]) / (i - lo)


def plot_histories(histories: dict[str, dict], keys: Sequence[str], path: Path, title: str = "") -> list[Path]:
    """Loss and convergence curves: one panel per loss term, one line per configuration.
    `histories[label]` holds binned curves and their bin width `every` (see `binned`)."""
    plt = pyplot()
    keys = [k for k in keys if any(h.get(k) and any(h[k]) for h in histories.values())] or list(keys)[:1]
    fig, axes = plt.subplots(1, len(keys), figsize=(3.4 * len(keys), 3.0), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for i, (label, hist) in enumerate(histories.items()):
            v = hist.get(key) or []
            if len(v):
                x = np.arange(1, len(v) + 1) * hist.get("every", 1)
                ax.plot(x, smooth(v, max(1, len(v) // 50)), color=f"C{i % 10}", lw=1, label=label)
        ax.set_title(key)
        ax.set_xlabel("iteration")
    axes[0][0].legend(fontsize=6)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def image_rows(targets: np.ndarray, rows: list[tuple[str, np.ndarray]], *, title: str = ""):
    """A grid: first row the targets [k, 28, 28] (uint8), then one row per (label, images)."""
    plt = pyplot()
    k = targets.shape[0]
    n = len(rows) + 1
    fig, axes = plt.subplots(n, k, figsize=(0.75 * k + 2.6, 0.8 * n + 0.4), squeeze=False)
    for r, (label, images) in enumerate([("target", targets), *rows]):
        for c in range(k):
            ax = axes[r, c]
            if c < len(images):
                ax.imshow(images[c], cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            for s in ax.spines.values():
                s.set_visible(False)
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
