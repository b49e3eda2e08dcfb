"""The recovery report's figures, drawn from the saved results alone (`bench report` redraws them).

- tables: per table of the paper, accuracy against learning rate (log axis), one line per
  hyperparameter with its 95% interval, the paper's values beside it as dashed lines;
- generators: each regulator's cross-fitted best cell for every generator (the numbers the
  verdicts judge), the paper's best beside it;
- best: the targets and the recoveries of each regulator's best cell.

A cell's interval counts the images and the generator seeds together (bench.stats.crossed_interval
of the per-image accuracy, each averaged over its recovery seeds): every seed recovers the same
images, so an interval over seeds alone would leave the images out.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from bench.figures import pyplot, save_figure
from bench.recovery.grid import LOSS_TABLES, fmt, make_cell
from bench.recovery.reporting.evidence import Table, choice_text


def cell_intervals(results, cells: pd.DataFrame, generator: str) -> pd.DataFrame:
    """Per (table, regulator, lr, hp) of `generator`: accuracy, lo, hi over every image and
    generator seed (crossed), and the paper's value."""

    table = Table(results, holdout=False)
    done = cells[cells["accuracy"].notna() & (cells["generator"] == generator)]
    keys = ["generator", "table", "regulator", "learning_rate", "hyperparameter", "shared_baseline"]
    rows = []
    for key, f in done.groupby(keys, sort=False, dropna=False):
        d = dict(zip(keys, key))
        run = make_cell(d["regulator"], d["learning_rate"], d["hyperparameter"]).run
        lev = table.cell_level(generator, run.regulator, run.lr, run.hp)
        if lev is None:
            continue
        rows.append(
            {
                **d,
                "paper_accuracy": f["paper_accuracy"].iloc[0],
                "accuracy": lev.value,
                "lo": lev.lo,
                "hi": lev.hi,
                "seeds": lev.seeds,
            }
        )
    return pd.DataFrame(rows)


def tables_figure(results, titles: dict[str, str], out: Path) -> list[Path]:
    """One panel per paper table of the first generator: measured lines (solid, with interval
    bars) and the paper's (dashed, hollow markers), one colour per hyperparameter."""
    from bench.recovery.reporting.tables import cell_frame

    cells = cell_frame(results)
    g = results.settings["generators"][0]
    frame = cell_intervals(results, cells, g)
    tables = [t for t in titles if not frame.empty and t in set(frame["table"])]
    if not tables:
        return []
    plt = pyplot()
    cols = min(3, len(tables))
    rows = math.ceil(len(tables) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows), squeeze=False, sharey=True)
    for ax, table in zip(axes.flat, tables):
        f = frame[frame["table"] == table]
        hps = sorted(f["hyperparameter"].unique())
        colours = plt.cm.viridis(np.linspace(0, 0.9, len(hps)))
        label = "weight" if table in LOSS_TABLES else ("a" if table == "table5" else "c")
        for hp, colour in zip(hps, colours):
            h = f[f["hyperparameter"] == hp].sort_values("learning_rate")
            err = np.vstack([h["accuracy"] - h["lo"], h["hi"] - h["accuracy"]])
            ax.errorbar(
                h["learning_rate"],
                h["accuracy"],
                yerr=np.where(np.isfinite(err), err, 0),
                color=colour,
                marker="o",
                ms=4,
                capsize=2,
                lw=1.4,
                label=f"{label} {fmt(hp)}",
            )
            p = h[h["paper_accuracy"].notna()]
            if len(p):
                ax.plot(
                    p["learning_rate"], p["paper_accuracy"], color=colour, ls="--", marker="o", ms=5, mfc="none", lw=1
                )
        ax.set_xscale("log")
        ax.set_title(titles[table].split(" (")[0], fontsize=9)
        ax.set_xlabel("learning rate")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6.5, loc="lower left", ncol=2)
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy (%)")
    for ax in list(axes.flat)[len(tables) :]:
        ax.axis("off")
    seeds = int(frame["seeds"].max())
    fig.suptitle(
        f"{g}: measured (solid, 95% interval over images"
        + (f" and {seeds} generator seeds" if seeds > 1 else "")
        + ") and the paper (dashed)",
        fontsize=10,
    )
    fig.tight_layout()
    return save_figure(fig, Path(out) / f"recover-{results.settings['grid']}-tables", dpi=130)


def heldout_best(results) -> pd.DataFrame:
    """Per (generator, regulator): the cross-fitted best cell (each half judged at the cell chosen
    on the other), its accuracy with the crossed 95% interval over images and generator seeds,
    and the paper's best value for the regulator."""
    from bench.recovery.reporting.tables import cell_frame

    table, cells = Table(results), cell_frame(results)
    rows = []
    for g in table.generators():
        for reg in table.regulators(g):
            lev = table.level(g, reg)
            if lev is None:
                continue
            mine = (
                cells[cells["shared_baseline"]]
                if reg == "none"
                else cells[(cells["regulator"] == reg) & ~cells["shared_baseline"]]
            )
            paper = mine["paper_accuracy"].max()
            rows.append(
                {
                    "generator": g,
                    "regulator": reg,
                    "cell": choice_text(table.choices(g, reg)),
                    "accuracy": lev.value,
                    "lo": lev.lo,
                    "hi": lev.hi,
                    "paper": paper,
                    "seeds": lev.seeds,
                }
            )
    return pd.DataFrame(rows)


def generators_figure(results, out: Path) -> list[Path]:
    """Grouped bars: each regulator's held-out best accuracy per generator, with its interval; a
    black tick at the paper's best for the regulator."""

    frame = heldout_best(results)
    if frame.empty:
        return []
    plt = pyplot()
    regs = list(dict.fromkeys(frame["regulator"]))
    gens = list(dict.fromkeys(frame["generator"]))
    width = 0.8 / len(gens)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(regs) * max(1, len(gens) / 2)), 4.6))
    colours = plt.cm.tab10(np.arange(len(gens)) % 10)
    x = np.arange(len(regs))
    for i, (g, colour) in enumerate(zip(gens, colours)):
        f = frame[frame["generator"] == g].set_index("regulator").reindex(regs)
        err = np.vstack([f["accuracy"] - f["lo"], f["hi"] - f["accuracy"]])
        ax.bar(
            x - 0.4 + width * (i + 0.5),
            f["accuracy"],
            width,
            color=colour,
            label=g,
            yerr=np.where(np.isfinite(err), err, 0),
            capsize=2,
            error_kw={"lw": 0.8},
        )
    paper = frame.groupby("regulator", sort=False)["paper"].first().reindex(regs)
    ax.scatter(x, paper, marker="_", s=900, color="black", lw=2, zorder=3, label="paper's best")
    ax.set_xticks(x, [r.replace("_", "\n") for r in regs], fontsize=8)
    ax.set_ylabel("held-out accuracy of the best cell (%)")
    seeds = int(frame["seeds"].max())
    over = "t-interval over generator seeds" if seeds > 1 else "bootstrap interval over images"
    ax.set_title(
        f"Best cell per regulator: chosen on the selection half, scored on the evaluation half\n"
        f"(95% {over}; black: the paper's best)",
        fontsize=9,
    )
    ax.set_ylim(0, 100)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, ncol=min(5, len(gens) + 1), loc="upper center", bbox_to_anchor=(0.5, -0.2), markerscale=0.35)
    fig.tight_layout()
    return save_figure(fig, Path(out) / f"recover-{results.settings['grid']}-generators", dpi=130)
