"""The recovery report: a pure function of the saved results, so it can be rebuilt at any time
without rerunning anything (`bench report recover-paper.json`).

What it says: each paper table's measured grid beside the paper's, the best cell per regulator,
the Spearman rank correlation between measured and paper cells, and a verdict on the paper's
conclusion (the Wasserstein and log-normal density regulators are the best), with its rule.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from bench import sensitivity
from bench.claims import get
from bench.facts import RunFacts, facts_markdown
from bench.figures import figure_link, image_rows, save_figure
from bench.recovery.codec import unpack_images
from bench.recovery.grid import LOSS_TABLES, fmt
from bench.recovery.reporting import departures, evidence, sections
from bench.recovery.reporting.tables import acc_text, best_cells, cell_frame, generator_summary, spearman
from bench.report import markdown_table
from bench.verdict import Verdict
from bench.verdict import rows as verdict_rows

TABLE_TITLES = {
    "table1": "Table 1: Wasserstein distance",
    "table2": "Table 2: energy distance",
    "table3": "Table 3: trick discriminator",
    "table4": "Table 4: log-normal density",
    "table5": "Table 5: logistic cutoff (hyperparameter: slope a; b = 2)",
    "table6": "Table 6: truncated normal cutoff (hyperparameter: cutoff c)",
}


def _pivot(frame: pd.DataFrame, value) -> pd.DataFrame:
    p = frame.assign(v=frame.apply(value, axis=1)).pivot_table(
        index="learning_rate", columns="hyperparameter", values="v", aggfunc="first", sort=True
    )
    p.columns = [fmt(c) for c in p.columns]
    p.index = [fmt(i) for i in p.index]
    return p


def _rho(rho: float, p: float, n: int) -> str:
    if not math.isfinite(rho):
        return (
            f"n/a ({n} cell{'' if n == 1 else 's'} with a paper value; a rank correlation needs 3 or more that differ)"
        )
    return f"rho = {rho:.2f} (p = {p:.2g}, {n} cells)"


BF16_NOTE = "; G's and D's passes in bfloat16 (latents, Adam, regulators and loss in float32)."


def verdicts(results) -> list[Verdict]:
    """The paper's five claims per generator (bench.recovery.reporting.evidence), then whether the isometric
    regulariser makes recovery easier (when LWGAN and Iso-LWGAN both ran)."""

    s = results.settings_obj()
    regs = s.names()
    table = evidence.Table(results)
    out = []
    for g in s.generators:
        out += evidence.claim_verdicts(results, g, regs, table)
    return out + evidence.iso_verdicts(results, regs, table)


def render(results) -> str:
    """The whole report as markdown, from the saved results alone."""
    s = results.settings_obj()
    table = evidence.Table(results)
    cells = cell_frame(results)
    first = s.generators[0]
    summary = generator_summary(results, first)
    verdicts_ = results.verdict_objs()
    out = [
        "# Latent vector recovery: tables 1-6 of Cho, *Wasserstein latent regulation loss*",
        "",
        facts_markdown(RunFacts.from_dict(results.facts)),
        "",
        *_setup(results, s, cells),
        "## Models",
        "",
        sections.models_markdown(results),
        "",
        *sections.gates_markdown(results),
        *_verdicts(verdicts_),
        *sections.generator_sections(results, table),
    ]
    for g in s.generators:  # per generator: each regulator's best cell, paired against wasserstein
        out += [
            f"## Best cell per regulator: `{g}`",
            "",
            (
                "Cross-fitted: each half of the images judged at the cell chosen on the other (one cell, "
                "or one per half where the halves chose differently); beside it, for reference, the cell "
                "that is best on every image and its accuracy there (chosen and scored on the same images, "
                "so biased upward), and the paper's best cell."
            ),
            "",
            markdown_table(sections.best_rows(results, g, table), floatfmt=".1f"),
            "",
            *sections.paired_table(results, g, table),
        ]
    out += departures.section(results, summary, first, TABLE_TITLES)
    out += _paper_tables(summary, first)
    out += _odd_cells(summary, cells)
    out += _figures(s, first)
    return "\n".join(out) + "\n"


def _setup(results, s, cells) -> list[str]:
    grid = s.cells()
    status = cells["status"].value_counts().to_dict()
    runs = max(len(s.seeds_of(g)) for g in s.generators) * len(s.seeds)
    half = s.images // 2
    return [
        "## Setup",
        "",
        (
            f"- Grid `{s.grid}`: {len(grid)} cells, {len({c.run_id for c in grid})} distinct runs "
            f"(weight-0 cells of tables 1-4 share the four `none` baseline runs); regulators: {', '.join(s.names())}."
        ),
        (
            f"- Generators: {', '.join(f'`{g}`' for g in s.generators)}, each trained at generator seed(s) "
            f"{', '.join(map(str, s.generator_seeds))}"
            + "".join(f" (`{g}`: {', '.join(map(str, v))} instead)" for g, v in s.seeds_for.items())
            + f"; recovery seeds {', '.join(map(str, s.seeds))}."
        ),
        sections.targets_line(s),
        (
            f"- Cross-fitted best cells: the {s.images} target images are cut by a seeded permutation (split "
            f"seed {s.split_seed}, fixed with the run) into two halves ({half} and {s.images - half}). Each "
            "regulator's best cell is chosen on one half and judged on the other, and the other way round, "
            "so every image is judged once at a cell its own outcome did not choose; every verdict, paired "
            "comparison and best-cell accuracy below is cross-fitted, its interval over the images and "
            "the generator seeds together. The grids of tables 1-6 are over every image, for comparison "
            "with the paper."
        ),
        (
            f"- {s.steps} Adam steps, {s.restarts} restart(s); Wasserstein/energy prior sample m = "
            f"{s.prior_samples or 'd_z'}; diff = mean absolute pixel error, pixels in [-1, 1]"
            + ("." if results.context.get("precision", "fp32") == "fp32" else BF16_NOTE)
        ),
        sections.reading_line(s),
        f"- Cells: {', '.join(f'{k} {v}' for k, v in status.items())}.",
        "- Accuracy: % of recovered images the frozen classifier labels as the target's digit; "
        + (
            "[95% bootstrap interval over images]."
            if runs == 1
            else f"mean ± sd over the {runs} runs (generator seeds x recovery seeds) of a cell."
        ),
        "",
    ]


def _verdicts(verdicts_) -> list[str]:
    return [
        "## Verdicts",
        "",
        (
            "The paper: the Wasserstein regulator (best 94.7%) and the log-normal density (best 95.5%) are "
            "the best, energy close behind; the unregulated baseline peaks at 75.8%; the resampling "
            "cutoffs lie below the distance regulators."
        ),
        "",
        markdown_table(verdict_rows(verdicts_)),
        "",
        "Rules (bench.claims; `bench claims` lists every claim):",
        "",
        *[f"- {get(k).rule()}" for k in dict.fromkeys(v.key for v in verdicts_ if v.key)],
        "",
        *sensitivity.markdown(verdicts_),
    ]


def _paper_tables(summary, first: str) -> list[str]:
    """The agreement with the paper, and each of its tables beside the measured grid."""
    rho, p, n = spearman(summary)  # the 124 paper cells (shared baselines once per table, as printed)
    out = [
        (
            f"Agreement of `{first}`'s grid (every image) with the paper's over all cells: Spearman {_rho(rho, p, n)}. "
            "Absolute numbers depend on the trained GAN; the ranking of "
            "regulators and the shape of each grid are what a reproduction can confirm or refute."
        ),
        "",
    ]
    for table, title in TABLE_TITLES.items():
        f = summary[summary["table"] == table]
        if f.empty:
            continue
        trho, tp, tn = spearman(f)
        label = "weight" if table in LOSS_TABLES else ("a" if table == "table5" else "c")
        measured = _pivot(f, acc_text)
        paper = _pivot(f, lambda r: f"{r['paper_accuracy']:.1f}" if math.isfinite(r["paper_accuracy"]) else "")
        measured.index.name = paper.index.name = f"lr \\ {label}"
        out += [
            f"## {title} (`{first}`)",
            "",
            "Measured accuracy (%):",
            "",
            markdown_table(measured.reset_index()),
            "",
            "Paper:",
            "",
            markdown_table(paper.reset_index()),
            "",
            f"Spearman (measured vs paper): {_rho(trho, tp, tn)}.",
            "",
        ]
    return out


FAILED_COLUMNS = ("generator", "generator_seed", "regulator", "learning_rate", "hyperparameter", "seed", "status",
                  "n_nonfinite", "error")  # fmt: skip


def _odd_cells(summary, cells) -> list[str]:
    """Cells outside the paper's tables, cells that failed or went non-finite, and where the rest is."""
    out = []
    extra = summary[summary["table"].isin(["", None]) & ~summary["shared_baseline"]]
    if len(extra):
        columns = ["regulator", "learning_rate", "hyperparameter", "accuracy", "l1", "l2"]
        out += ["## Cells outside the paper's tables", "", markdown_table(extra[columns], floatfmt=".3g"), ""]
    bad = cells[(cells["status"] != "finished") | (cells["n_nonfinite"] > 0)]
    if len(bad):
        out += ["## Cells that failed or went non-finite", "", markdown_table(bad[list(FAILED_COLUMNS)]), ""]
    return out + [
        "## Other measurements",
        "",
        (
            "Every cell's l1 and l2 pixel error (per-image norms, averaged), mean absolute error, mean and "
            "variance of the recovered latent elements and the KS p-value against the prior are in the "
            "results CSV beside this report and in each MLflow child run."
        ),
        "",
    ]


def _figures(s, first: str) -> list[str]:
    return [
        "## Figures",
        "",
        figure_link(
            f"recover-{s.grid}-tables",
            f"Accuracy against learning rate in each table of the paper, "
            f"`{first}`: measured (solid, with 95% intervals over images and generator seeds) and the paper's (dashed)",
        ),
        "",
        figure_link(
            f"recover-{s.grid}-generators",
            "Each regulator's cross-fitted best cell per generator (each half of the images judged at the cell "
            "chosen on the other), with the paper's best (black)",
        ),
        "",
        figure_link(
            f"recover-{s.grid}-best",
            f"Targets (top row) and their recoveries through `{first}` "
            "in the best cell of each regulator, first generator seed and recovery seed",
        ),
    ]


def figures(results, out: Path) -> list[Path]:
    """The tables against the paper, the best cells across generators, and the recovered images
    (bench.recovery.reporting.plots), as PDF and PNG."""
    from bench.recovery.reporting.plots import generators_figure, tables_figure

    return [*tables_figure(results, TABLE_TITLES, out), *generators_figure(results, out), *_images(results, out)]


def _images(results, out: Path) -> list[Path]:
    """Targets and the recoveries of each regulator's best cell (first seed), as PDF and PNG."""

    s = results.settings
    seed, g = s["seeds"][0], s["generators"][0]
    gs = (s.get("seeds_for") or {}).get(g, s["generator_seeds"])[0]
    records = {
        (c["cell"]["regulator"], c["cell"]["learning_rate"], c["cell"]["hyperparameter"]): c["record"]
        for c in results.cells
        if c["status"] == "finished"
        and c["cell"]["seed"] == seed
        and c["cell"]["generator"] == g
        and c["cell"]["generator_seed"] == gs
    }
    best = best_cells(generator_summary(results, g))
    rows_ = []
    for _, b in best[best["measured_accuracy"].notna()].iterrows():
        r = records.get((b["regulator"], b["_lr"], b["_hp"]))
        if r is not None and r.get("preview"):
            rows_.append((f"{b['regulator']}\n{b['measured_best_cell']}", unpack_images(r["preview"])))
    if not rows_:
        return []
    targets = np.asarray(results.context["target_preview"], dtype=np.uint8)
    fig = image_rows(targets, rows_, title=f"Targets and recoveries through {g}, best cell per regulator")
    return save_figure(fig, Path(out) / f"recover-{results.settings['grid']}-best", dpi=150)
