"""`bench compare`'s report: the markdown and the figure, pure functions of what
bench.compare.compare() (or against_paper()) found, so a comparison renders the same from its rows."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from bench.figures import pyplot, save_figure
from bench.report import markdown_table


def markdown(found: dict) -> str:
    """The comparison as markdown: summary, the differences outside their intervals, all cells."""
    rows = found["rows"]
    out = [
        f"# Comparison: {' against '.join(f'`{n}`' for n in found['names'])}",
        "",
        *[f"- `{n}`: {Path(p).as_posix()}" for n, p in zip(found["names"], found.get("paths", []))],
        *[f"- {n}" for n in found["notes"]],
        "",
    ]
    if not rows:
        return "\n".join([*out, "No cell in common.", ""])
    summary = []
    for label in dict.fromkeys(r.label for r in rows):
        for metric in dict.fromkeys(r.metric for r in rows if r.label == label):
            mine = [r for r in rows if r.label == label and r.metric == metric]
            d = np.array([r.diff for r in mine])
            n_out = sum(r.outside for r in mine)
            summary.append(
                {
                    "pair": label,
                    "metric": metric,
                    "cells": len(mine),
                    "mean diff": float(d.mean()),
                    "sd": float(d.std(ddof=1)) if len(d) > 1 else math.nan,
                    "outside their interval": f"{n_out} ({n_out / len(mine):.1%})",
                    "paired": "yes" if all(r.paired for r in mine) else "no",
                }
            )
    outside = [r for r in rows if r.outside]

    def row(r) -> dict:  # a bench.compare.CellDiff
        return {
            "pair": r.label,
            "cell": r.cell,
            "metric": r.metric,
            "first": r.a,
            "second": r.b,
            "second - first": r.diff,
            "95% interval": f"[{r.lo:+.3g}, {r.hi:+.3g}]" if math.isfinite(r.lo) else "n/a",
            "McNemar p": f"{r.pvalue:.2g}" if r.pvalue is not None else "",
        }

    out += [
        "## Summary",
        "",
        markdown_table(summary, floatfmt=".3g"),
        "",
        f"## Differences outside their interval ({len(outside)} of {len(rows)})",
        "",
        markdown_table([row(r) for r in outside], floatfmt=".3g") if outside else "None.",
        "",
        "![Second against first, per cell](compare.png)",
        "",
        "## Every cell",
        "",
        markdown_table([row(r) for r in rows], floatfmt=".3g"),
        "",
    ]
    return "\n".join(out)


def figure(found: dict, out: Path) -> list[Path]:
    """Difference against mean, one panel per metric (a grid), a point per cell with its 95%
    interval, coloured by regulator (or objective, dataset), hollow where the interval excludes 0;
    the axes named by file ("the paper" for --paper)."""
    rows = found["rows"]
    if not rows:
        return []
    plt = pyplot()
    metrics = list(dict.fromkeys(r.metric for r in rows))
    ncols = min(3, len(metrics))
    nrows = -(-len(metrics) // ncols)
    groups = list(dict.fromkeys(r.group for r in rows))
    colour = {g: f"C{i % 10}" for i, g in enumerate(groups)}
    labels = list(dict.fromkeys(r.label for r in rows))
    markers = "os^Dv<>p"
    prefixes = {label.split(": ", 1)[0] for label in labels}
    shown = [label.split(": ", 1)[-1] if len(prefixes) == 1 else label for label in labels]  # one file: its pairs
    legend_chars = max(len(t) for t in [*groups, "interval excludes 0", *(shown if len(labels) > 1 else [])])
    width = 4.4 * ncols + 0.6 + 0.06 * legend_chars
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, 3.6 * nrows), squeeze=False, layout="constrained")
    first = found["names"][0]
    for ax, m in zip(axes.flat, metrics):
        for k, label in enumerate(labels):
            for g in groups:
                mine = [r for r in rows if r.metric == m and r.label == label and r.group == g]
                if not mine:
                    continue
                mean = np.array([(r.a + r.b) / 2 for r in mine])
                d = np.array([r.diff for r in mine])
                lo = np.array([r.lo for r in mine])
                hi = np.array([r.hi for r in mine])
                ok = np.isfinite(lo) & np.isfinite(hi)
                bars = [d[ok] - lo[ok], hi[ok] - d[ok]]
                ax.errorbar(mean[ok], d[ok], yerr=bars, fmt="none", ecolor=colour[g], alpha=0.35, lw=0.8)
                hit = np.array([r.outside for r in mine])
                mk = markers[k % len(markers)]
                ax.scatter(mean[~hit], d[~hit], s=14, color=colour[g], marker=mk, alpha=0.8)
                ax.scatter(mean[hit], d[hit], s=30, facecolors="none", edgecolors=colour[g], marker=mk)
        ax.axhline(0, color="k", ls=":", lw=1)
        second = found["names"][1] if len(found["names"]) == 2 else "each later file"
        ax.set_title(m, fontsize=8)
        ax.set_xlabel(f"mean of {first} and {second}", fontsize=7)
        ax.set_ylabel(f"{second} - {first}", fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(metrics) :]:
        ax.axis("off")
    handles = [plt.Line2D([], [], ls="", marker="o", color=colour[g], label=g or "cell") for g in groups]
    handles.append(plt.Line2D([], [], ls="", marker="o", mfc="none", color="0.3", label="interval excludes 0"))
    if len(labels) > 1:
        for k, text in enumerate(shown):
            handles.append(plt.Line2D([], [], ls="", marker=markers[k % len(markers)], color="0.3", label=text))
    fig.legend(handles=handles, loc="outside right upper", fontsize=6, frameon=False)  # sized to its labels
    return save_figure(fig, Path(out) / "compare")
