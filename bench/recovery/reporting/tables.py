"""The recovery study's tables as data frames: one row per cell and seed, one per cell (averaged
over runs), each regulator's best cell, and the agreement with the paper's grid. Pure functions of
the saved results, shared by the reports (bench.recovery.reporting.render, .sections, .dependence_report)."""

from __future__ import annotations

import math

import pandas as pd

from bench.recovery.grid import fmt, make_cell
from bench.stats import spearman_gap_ci

METRICS = (
    "accuracy",
    "accuracy_lo",
    "accuracy_hi",
    "l1",
    "l2",
    "mae",
    "z_mean",
    "z_var",
    "ks_pvalue",
    "final_loss",
    "n_nonfinite",
    "wall_s",
    "latent_rank",
    "latent_error",
    "latent_rmse",
    "latent_recovered",
)


def cell_frame(results) -> pd.DataFrame:
    """One row per (grid cell, seed): the cell, the paper's number, every measured metric."""
    rows = []
    for c in results.cells:
        d = c["cell"]
        cell = make_cell(d["regulator"], d["learning_rate"], d["hyperparameter"])
        r = c["record"] or {}
        row = {
            "generator": d["generator"],
            "generator_seed": d["generator_seed"],
            "table": cell.table or "",
            "regulator": cell.regulator,
            "learning_rate": cell.lr,
            "hyperparameter": cell.hp,
            "seed": d["seed"],
            "run_id": cell.run_id,
            "shared_baseline": cell.shared,
            "paper_accuracy": cell.paper_accuracy if cell.paper_accuracy is not None else math.nan,
            "status": c["status"],
            "error": c["error"] or "",
        }
        for m in METRICS:
            row[m] = float(r.get(m, math.nan)) if c["status"] == "finished" else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def rows(results) -> pd.DataFrame:
    """The CSV: cell_frame (one row per grid cell and seed)."""
    return cell_frame(results)


def summary_frame(cells: pd.DataFrame) -> pd.DataFrame:
    """One row per (generator, grid cell): metrics averaged over generator seeds and recovery
    seeds, with the spread over those runs."""
    keys = [
        "generator",
        "table",
        "regulator",
        "learning_rate",
        "hyperparameter",
        "run_id",
        "shared_baseline",
        "paper_accuracy",
    ]
    g = cells.groupby(keys, sort=False, dropna=False)
    out = g[list(METRICS)].mean()
    out["accuracy_sd"] = g["accuracy"].std(ddof=1)
    out["seeds_finished"] = g["accuracy"].count()
    return out.reset_index()


def acc_text(row) -> str:
    if not math.isfinite(row["accuracy"]):
        return "n/a"
    if row["seeds_finished"] > 1:
        return f"{row['accuracy']:.1f} ± {row['accuracy_sd']:.1f}"
    return f"{row['accuracy']:.1f} [{row['accuracy_lo']:.1f}, {row['accuracy_hi']:.1f}]"


def spearman(frame: pd.DataFrame) -> tuple[float, float, int]:
    """Spearman rho (and p) between measured and paper accuracy over the cells that have both."""
    from scipy.stats import spearmanr

    both = frame[frame["accuracy"].notna() & frame["paper_accuracy"].notna()]
    if len(both) < 3 or both["accuracy"].nunique() < 2:
        return math.nan, math.nan, len(both)
    res = spearmanr(both["accuracy"], both["paper_accuracy"])
    return float(res.statistic), float(res.pvalue), len(both)


def spearman_gap(a: pd.DataFrame, b: pd.DataFrame) -> tuple[float, float, float]:
    """rho(a) - rho(b) of two generators' grids against the paper's, on the paper cells both have,
    with a paired bootstrap interval over those cells (bench.stats.spearman_gap_ci): is one
    generator's grid surely closer to the paper's than another's? (value, lo, hi); NaN under 4 cells."""

    keys = ["table", "regulator", "learning_rate", "hyperparameter"]
    both = a.merge(b, on=keys, suffixes=("_a", "_b"))
    both = both[both["accuracy_a"].notna() & both["accuracy_b"].notna() & both["paper_accuracy_a"].notna()]
    if len(both) < 4:
        return math.nan, math.nan, math.nan
    return tuple(spearman_gap_ci(both["accuracy_a"], both["accuracy_b"], both["paper_accuracy_a"]))


def best_cells(summary: pd.DataFrame) -> pd.DataFrame:
    """Per regulator: the measured best cell and the paper's best cell (weight-0 cells are the
    shared baseline, reported under `none`, not as a regulator's best). `summary` holds one
    generator's cells."""
    rows = []
    own = summary[~summary["shared_baseline"]]
    for reg, f in own.groupby("regulator", sort=False):
        fin = f[f["accuracy"].notna()]
        m = fin.loc[fin["accuracy"].idxmax()] if len(fin) else None
        pap = f[f["paper_accuracy"].notna()]
        p = pap.loc[pap["paper_accuracy"].idxmax()] if len(pap) else None
        rows.append(
            {
                "regulator": reg,
                "measured_best_cell": "n/a"
                if m is None
                else f"lr {fmt(m['learning_rate'])}, hp {fmt(m['hyperparameter'])}",
                "measured_accuracy": math.nan if m is None else m["accuracy"],
                "measured_ci": "" if m is None else acc_text(m),
                "paper_best_cell": "n/a"
                if p is None
                else f"lr {fmt(p['learning_rate'])}, hp {fmt(p['hyperparameter'])}",
                "paper_accuracy": math.nan if p is None else p["paper_accuracy"],
                "_lo": math.nan if m is None else m["accuracy_lo"],
                "_lr": math.nan if m is None else m["learning_rate"],
                "_hp": math.nan if m is None else m["hyperparameter"],
                "_hi": math.nan if m is None else m["accuracy_hi"],
            }
        )
    return pd.DataFrame(rows).sort_values("measured_accuracy", ascending=False, na_position="last")


def generator_summary(results, generator: str) -> pd.DataFrame:
    cells = cell_frame(results)
    return summary_frame(cells[cells["generator"] == generator])
