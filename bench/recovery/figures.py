"""Figures of a recovery sweep: target images against their recoveries, best cell per regulator."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.atomic import atomic_savefig


def recovery_figure(targets: np.ndarray, rows: list[tuple[str, np.ndarray]], *, title: str = ""):
    """A grid: first row the targets [k, 28, 28] (uint8), then one row per (label, images [k, 28, 28])."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

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


def save_figure(fig, stem: Path) -> list[Path]:
    """stem.pdf and stem.png, both written atomically; the figure is closed."""
    import matplotlib.pyplot as plt

    paths = [atomic_savefig(fig, stem.with_suffix(".pdf")), atomic_savefig(fig, stem.with_suffix(".png"), dpi=150)]
    plt.close(fig)
    return paths
