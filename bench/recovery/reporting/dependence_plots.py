"""The figures of `bench dependence`: recover's for the reference generator, each regulator's lift
over the baseline against the generator's quality, and tables 5-6 under each reading of the
resampling cutoffs' rule. Drawn from the saved results alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.figures import pyplot, save_figure
from bench.recovery.reporting import render as recover_report
from bench.recovery.reporting.dependence_report import lifts, main_results, rows


def figures(results, out: Path) -> list[Path]:
    main = main_results(results)
    return [*recover_report.figures(main, out), *_lift_figure(main, Path(out)), *_reading_figure(results, Path(out))]


def _lift_figure(main, out: Path) -> list[Path]:

    by = lifts(main)
    models = main.context["models"]
    s = main.settings_obj()
    quality = {
        g: (
            np.mean([models[f"{g} s{x}"]["frechet"] for x in s.seeds_of(g)]),
            100 * min(models[f"{g} s{x}"]["min_share"] for x in s.seeds_of(g)),
            models[f"{g} s{s.seeds_of(g)[0]}"]["latent_dim"],
        )
        for g in by
    }
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), sharey=True)
    regs = sorted({r for d in by.values() for r in d})
    for k, r in enumerate(regs):
        for ax, i in zip(axes, range(3)):
            pts = [(quality[g][i], d[r]) for g, d in by.items() if r in d]
            x = np.array([p[0] for p in pts], dtype=float) * (1 + 0.015 * (k - len(regs) / 2))
            y = np.array([p[1].value for p in pts])
            err = np.array([[p[1].value - p[1].interval[0], p[1].interval[1] - p[1].value] for p in pts]).T
            ax.errorbar(
                x, y, yerr=np.nan_to_num(err), fmt="o", ms=4, capsize=2, color=f"C{k}", label=r if i == 0 else None
            )
    for ax, label in zip(axes, ("Frechet distance (log)", "lowest digit share %", "d_z")):
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xlabel(label)
    axes[0].set_xscale("log")
    axes[0].set_ylabel("lift over the baseline (points)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, out / "dependence_lift")


def _reading_figure(results, out: Path) -> list[Path]:

    s = results.settings_obj()
    frame = rows(results)
    ref, seed = s.generators[0], s.seeds_of(s.generators[0])[0]
    frame = frame[
        (frame["generator"] == ref) & (frame["generator_seed"] == seed) & frame["table"].isin(["table5", "table6"])
    ]
    if frame.empty:
        return []
    plt = pyplot()
    hps = {t: sorted(frame[frame["table"] == t]["hyperparameter"].unique()) for t in ("table5", "table6")}
    fig, axes = plt.subplots(2, 4, figsize=(13, 6), sharey=True, sharex=True, squeeze=False)
    for i, table in enumerate(("table5", "table6")):
        for j, hp in enumerate(hps[table][:4]):
            ax = axes[i][j]
            f = frame[(frame["table"] == table) & (frame["hyperparameter"] == hp)]
            paper = f.groupby("learning_rate")["paper_accuracy"].mean()
            ax.plot(paper.index, paper.values, "k*-", label="paper")
            for k, reading in enumerate(("after", *s.readings)):
                m = f[f["reading"] == reading].groupby("learning_rate")["accuracy"].mean()
                ax.plot(m.index, m.values, "o-", ms=3, color=f"C{k}", label=reading)
            ax.set_xscale("log")
            ax.set_title(f"{'a' if table == 'table5' else 'c'} = {hp:g}", fontsize=9)
    axes[0][0].legend(fontsize=7)
    for ax in axes[1]:
        ax.set_xlabel("learning rate")
    axes[0][0].set_ylabel("logistic cutoff: accuracy %")
    axes[1][0].set_ylabel("truncated normal: accuracy %")
    fig.tight_layout()
    return save_figure(fig, out / "dependence_readings")
