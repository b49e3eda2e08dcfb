"""The tables of the `bench mnist` report (bench.experiments.mnist.mnist_report): per model the metrics
over seeds, per model and seed, beside the paper, the LWGAN's credibility at its budget, the CSV
rows; pure functions of the saved results."""

from __future__ import annotations

import numpy as np

from bench.experiments.mnist.mnist_cells import BASE, ISO, mnist_cells
from bench.experiments.reference import reference_value
from bench.report import format_seeds, markdown_table
from bench.stats import seed_summary


def label_of(c) -> str:
    return f"{c.objective}: {c.name}"


def summary(results) -> list[dict]:
    """One row per (objective, model): every metric's mean and t-interval over seeds."""
    cells = mnist_cells(results)
    rows = [{**vars(c), "wall_time_s": c.wall_time_s, "min_share": c.min_share} for c in cells]
    metrics = ("recon", "batch_recon", "frechet", "min_share", "discrepancy", "interp_irregularity", "wall_time_s")
    tables = {m: seed_summary(rows, ["objective", "name"], m) for m in metrics}
    out = []
    for i, base in enumerate(tables["recon"]):
        key = (base["objective"], base["name"])
        mine = [c for c in cells if (c.objective, c.name) == key]
        out.append(
            {
                "objective": key[0],
                "name": key[1],
                **{m: tables[m][i] for m in metrics},
                "ranks": [c.rank_estimate for c in mine],
                "collapsed": sum(c.collapsed for c in mine),
                "paper": reference_value("mnist", key[1], "paper text"),
            }
        )
    return out


def slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name.lower()).strip("_")


# ------------------------------------------------------------------------------------- report


def share(x: float) -> str:
    return "n/a" if np.isnan(x) else f"{x:.1%}"


def gap_text(results) -> str:
    """The size of the Iso-LWGAN - base gap per objective, absolute and relative (mean over seeds)."""
    rows = {(r["objective"], r["name"]): r["recon"]["value"] for r in summary(results)}
    parts = [
        f"{o}: {rows[(o, ISO)] - rows[(o, BASE)]:+.3f} ({(rows[(o, ISO)] - rows[(o, BASE)]) / rows[(o, BASE)]:+.1%})"
        for o in results.settings_obj().objectives
        if (o, BASE) in rows and (o, ISO) in rows
    ]
    if not parts:
        return ""
    return (
        "Size of the gap recon(Iso-LWGAN) - recon(base LWGAN), mean over seeds, and relative to "
        "the base's error: " + "; ".join(parts) + "; the paper +0.14 (+2.5%)."
    )


def reference_text(ref: dict | None) -> str:
    if not ref:
        return ""
    return (
        f"The reference GAN (`{ref['name']}`, the recovery study's LSGAN) gives "
        f"{ref['frechet']:.2f} over {ref['samples']} draws, lowest digit share "
        f"{min(ref['digit_shares']):.1%}."
    )


def credibility(results) -> str:
    """Issue 14's bar for the `lwgan` base model, checked against numbers of the same run: test
    reconstruction at most 1.2x the published autoencoder's, every digit at least 5% of the
    draws, and the Frechet distance beside the reference LSGAN's and the data floor."""
    rows = {(r["objective"], r["name"]): r for r in summary(results)}
    base, pub = rows.get(("lwgan", BASE)), rows.get(("published", BASE))
    if base is None:
        return "No `lwgan` base LWGAN in this run."
    clf, ref = results.context["classifier"], results.context.get("reference_gan")
    lines = []
    if pub is not None:
        ratio = base["recon"]["value"] / pub["recon"]["value"]
        lines.append(
            {
                "check": "test reconstruction / the published autoencoder's (same run)",
                "measured": f"{base['recon']['value']:.3f} / {pub['recon']['value']:.3f} = {ratio:.2f}",
                "bar": "<= 1.2",
                "met": "yes" if ratio <= 1.2 else "no",
            }
        )
    low = min(base["min_share"]["per_seed"])
    if not np.isnan(low):  # results saved before version 2 have no digit shares
        lines.append(
            {
                "check": "lowest digit share of the draws (any seed)",
                "measured": f"{low:.1%}",
                "bar": ">= 5%",
                "met": "yes" if low >= 0.05 else "no",
            }
        )
    fd = format_seeds(base["frechet"], 1)
    scale = f"data floor {clf['frechet_floor']:.2f}" + (f", LSGAN {ref['frechet']:.2f}" if ref else "")
    lines.append({"check": "Frechet distance (classifier features)", "measured": fd, "bar": scale, "met": "shown"})
    lines.append(
        {"check": "estimated rank per seed", "measured": ", ".join(map(str, base["ranks"])), "bar": "-", "met": "shown"}
    )
    return markdown_table(lines)


def rows(results) -> list[dict]:
    """The CSV: one row per cell, its scalar measurements (failed cells with their error)."""
    skip = {
        "config",
        "recon_per_image",
        "grid",
        "samples",
        "histories",
        "params",
        "metrics",
        "tags",
        "checkpoints",
        "history_every",
    }
    out = []
    for c in results.cells:
        record = c["record"] or {}
        row = {k: v for k, v in record.items() if k not in skip}
        if "checkpoint" in row:
            row["checkpoint"] = row["checkpoint"][:16]
        out.append({**c["cell"], **row, "status": c["status"], "error": c["error"] or ""})
    return out


def summary_metrics(results) -> dict:
    out = {f"recon_{r['objective']}_{slug(r['name'])}": r["recon"]["value"] for r in summary(results)}
    for v in results.verdict_objs():
        out[f"reproduced_{v.claim.split()[0]}"] = float(v.label == "reproduced")
    return out


def paper_rows(results, rows: list[dict], cells) -> list[dict]:
    """Each model's test reconstruction, as the authors measured it, and the paper's."""
    one = len(results.settings_obj().seeds) == 1
    out = []
    for r in rows:
        c = next(c for c in cells if (c.objective, c.name) == (r["objective"], r["name"]))
        measured = (
            f"{c.recon:.3f} [{c.recon_lo:.3f}, {c.recon_hi:.3f}] (bootstrap over images)"
            if one
            else format_seeds(r["recon"], 3)
        )
        out.append(
            {
                "objective": r["objective"],
                "model": r["name"],
                "test reconstruction error": measured,
                "one training batch, as the authors measured": format_seeds(r["batch_recon"], 3),
                "paper": r["paper"] or "n/a",
            }
        )
    return out


def metric_rows(rows: list[dict], cells) -> list[dict]:
    """Per model: every metric's mean over seeds with its spread."""
    out = []
    for r in rows:
        c = next(c for c in cells if (c.objective, c.name) == (r["objective"], r["name"]))
        ranks = "n/a (no critic)" if all(x is None for x in r["ranks"]) else ", ".join(map(str, r["ranks"]))
        out.append(
            {
                "objective": r["objective"],
                "model": r["name"],
                "λ_iso": c.lambda_iso,
                "σ_noise": c.sigma_noise,
                "Frechet (classifier features)": format_seeds(r["frechet"], 2),
                "lowest digit share": share(min(r["min_share"]["per_seed"])),
                "isometry discrepancy": format_seeds(r["discrepancy"], 3),
                "interpolation irregularity": format_seeds(r["interp_irregularity"], 3),
                "estimated rank": ranks,
                "collapsed": f"{r['collapsed']} of {r['recon']['n_seeds']}",
                "wall time (s)": format_seeds(r["wall_time_s"], 0),
            }
        )
    return out


def cell_rows(cells) -> list[dict]:
    """Per model and seed."""
    return [
        {
            "objective": c.objective,
            "model": c.name,
            "seed": c.seed,
            "eval rank": c.eval_rank,
            "reconstruction [bootstrap 95%]": f"{c.recon:.3f} [{c.recon_lo:.3f}, {c.recon_hi:.3f}]",
            "Frechet": c.frechet,
            "lowest digit share": (
                f"{c.min_share:.1%} (digit {int(np.argmin(c.digit_shares))})" if c.digit_shares else "n/a"
            ),
            "discrepancy [bootstrap 95%]": f"{c.discrepancy:.3f} [{c.discrepancy_lo:.3f}, {c.discrepancy_hi:.3f}]",
            "rank": c.rank_estimate,
            "λ_hat": c.lambda_hat,
            "collapsed": c.collapsed,
            "train s": c.train_time_s,
            "eval s": c.eval_time_s,
            "cached": c.loaded,
            "checkpoint": c.checkpoint[:12],
        }
        for c in cells
    ]
