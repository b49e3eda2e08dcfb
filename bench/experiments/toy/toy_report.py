"""What the two toy reports (`bench isometry`, `bench stochastic`) share: the CSV rows, a cell's
MLflow figure, the loss curves, the training section, the parent run's metrics."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np

from bench.experiments.lwgan_metrics import COLLAPSE
from bench.experiments.lwgan_settings import ToySettings
from bench.experiments.toy.toy_cells import PLOT_FIELDS, ToyCell, toy_cells
from bench.facts import RunFacts, facts_markdown
from bench.figures import plot_histories, pyplot, save_figure, smooth
from bench.report import markdown_table
from lwgan.recipes import PUBLIC_TOY, TOY


def curves(record: dict) -> dict:
    """A record's binned training curves by short name, with their bin width (figures.plot_histories)."""
    out = {k.removeprefix("train/"): v for k, v in (record.get("histories") or {}).items()}
    return {**out, "every": record.get("history_every", 1)}


def rows(results) -> list[dict]:
    """One CSV row per cell: the scalar measurements, per-rank discrepancies and mode shares."""
    out = []
    for c in results.cells:
        if c["status"] != "finished":
            out.append({**c["cell"], "status": c["status"], "error": c["error"]})
            continue
        cell = ToyCell.from_record(c["record"])
        row = {f.name: getattr(cell, f.name) for f in fields(cell) if f.name not in PLOT_FIELDS}
        row["checkpoint"] = cell.checkpoint[:16]
        row.update({f"discrepancy_rank{r}": v for r, v in enumerate(cell.discrepancy_by_rank, 1)})
        row.update({f"mode_share_{i}": v for i, v in enumerate(cell.mode_shares)})
        out.append({**row, "status": "finished", "error": ""})
    return out


def cell_figure(cell: dict, record: dict, folder: Path) -> list[Path]:
    """One cell at a glance (its MLflow run's figure): held-out data against generated points
    with decoded latent lines, and the training curves."""

    from bench.data import make_synthetic

    c = ToyCell.from_record(record)
    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(8.0, 3.6))
    h = make_synthetic(c.dataset, seed=c.seed).heldout.numpy()
    s = np.asarray(c.samples)
    a.scatter(h[:, 0], h[:, 1], s=3, c="0.7", label="held-out")
    a.scatter(s[:, 0], s[:, 1], s=3, c="C0", alpha=0.5, label="G(Z)")
    for p in np.asarray(c.interp):
        a.plot(p[:, 0], p[:, 1], "-o", ms=2, lw=1, c="C3")
    for e in np.asarray(c.interp_ends):
        a.plot(e[:, 0], e[:, 1], "kx", ms=5)
    a.set_title(f"{c.label}: energy {c.energy:.3f}", fontsize=8)
    a.legend(fontsize=6)
    hist = curves(record)
    for key in ("recon", "iso", "critic_gap", "mmd"):
        v = hist.get(key)
        if v and any(v):
            b.plot(np.arange(1, len(v) + 1) * hist["every"], smooth(v, max(1, len(v) // 50)), lw=1, label=key)
    b.set_xlabel("iteration")
    b.set_title("training curves", fontsize=8)
    b.legend(fontsize=6)
    fig.tight_layout()
    stem = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in c.label)
    return save_figure(fig, folder / stem, pdf=False)


def recipe_markdown(s: ToySettings) -> str:
    """The training settings used and where they depart from the public code's toy settings."""

    used = s.recipe()
    rows_ = [(k, str(used[k]), str(PUBLIC_TOY.get(k, ""))) for k in TOY if str(used[k]) != str(PUBLIC_TOY.get(k))]
    extra = [(k, str(v), "") for k, v in s.overrides.items() if k not in TOY]
    text = (
        f"z_max {s.z_max} (the published toy runs' z_dim 3), noise channels k = "
        f"{s.noise_dim}, evaluation rank `{s.eval_rank}`, {s.rank_reps} "
        f"rank-score evaluations, {s.n_samples} generated points, {s.draws} draws "
        f"per input, {s.interp_pairs} interpolation pairs of {s.interp_steps} steps, "
        f"{s.n_boot} bootstrap resamples; the rank score refits a copy of the critic for "
        f"{s.rank_critic_steps} steps first (as `bench rank` does). Training settings that depart from the public "
        "LWGAN code's toy settings (to fit the CPU budget; each is an option or an override):"
    )
    table = markdown_table(rows_ + extra, headers=["setting", "used", "public code"])
    return text + "\n\n" + table + "\n"


def params(s: ToySettings) -> dict:
    """The LWGAN training recipe as used, for the parent run (none when no cell trains one)."""
    return {f"train.{k}": v for k, v in s.recipe().items()} if "lwgan" in s.objectives else {}


def summary_metrics(results, summary: list[dict], metric: str, key: str, tag: str) -> dict:
    """The parent run's metrics: `metric` per (objective, `key`) from the report's summary rows,
    and reproduced_<objective> (1 or 0) per verdict."""
    means = {f"{metric}_{r['objective']}_{tag}{r[key]:g}": r[metric]["value"] for r in summary}
    return {
        **means,
        **{f"reproduced_{v.claim.split()[0]}": float(v.label == "reproduced") for v in results.verdict_objs()},
    }


def plot_losses(results, path: Path, keys: tuple[str, ...], knob: str, symbol: str) -> list[Path]:
    """Training curves of the first seed, one line per (objective, `knob`)."""

    first = results.settings_obj().seeds[0]
    hist = {f"{r['objective']} {symbol}={r[knob]:g}": curves(r) for r in results.records() if r["seed"] == first}
    return plot_histories(hist, keys, path, title=f"training curves, seed {first}")


def report_tail(results) -> list[str]:
    """The last sections of both toy reports: the training settings and the run facts."""

    return [
        "## Training",
        "",
        recipe_markdown(results.settings_obj()),
        "",
        facts_markdown(RunFacts.from_dict(results.facts)),
    ]


def diagnosis(results, grid: str, knob: str) -> list[str]:
    """Why LWGAN-objective models collapse, from the measurements (report section lines); one
    finding per value of `knob` (the settings' `grid` of it) that has collapsed and
    non-collapsed models."""
    s = results.settings_obj()
    cells = [c for c in toy_cells(results) if c.objective == "lwgan"]
    if not cells:
        return []
    mmd_start = s.recipe().get("mmd_start", 0.5)
    iso_start = s.recipe().get("iso_start", 0.0)
    rows = [
        {
            knob: f"{getattr(c, knob):g}",
            "seed": c.seed,
            "collapsed": c.collapsed,
            "train recon, first 10%": c.early_recon,
            "held-out recon": c.recon,
            "constant map": c.trivial_recon,
            "latent mode gap": c.latent_mode_gap,
            "data mode gap": c.data_mode_gap,
            "objective at the model": c.objective_value,
        }
        for c in cells
    ]
    n_bad = sum(c.collapsed for c in cells)
    stuck = [c for c in cells if c.collapsed and c.early_recon >= COLLAPSE * c.trivial_recon]
    schedule = (
        f"the training schedule switches the MMD on at {mmd_start:g} and the isometric "
        f"term at {iso_start:g} of the iterations"
    )
    if n_bad:
        text = (
            f"LWGAN objective: {n_bad} of {len(cells)} models collapsed ({schedule}). "
            f"{len(stuck)} of them were already at the constant map over the first tenth of "
            "training (training reconstruction at least "
            f"{COLLAPSE:g} x the constant map's)"
            + (", before the MMD is on" if mmd_start >= 0.1 else "")
            + (": the collapse is an early training failure, not the end point of a slow drift." if stuck else ".")
        )
    else:
        text = (
            f"LWGAN objective: none of the {len(cells)} models collapsed ({schedule}). "
            "With the isometric term on from the first iteration (`--iso-start 0`) models "
            "can collapse; the table keeps, for every model, the measurements that tell a "
            "collapsed model from a healthy one."
        )
    gaps = [
        c.latent_mode_gap / c.data_mode_gap
        for c in cells
        if c.lambda_iso > 0 and not c.collapsed and c.latent_mode_gap and c.data_mode_gap
    ]
    if gaps:  # the tension the isometric term meets: the MMD's N(0, I) against the data's scale
        text += (
            f" The latent mode gap (distance between the two modes' latent centres) of the "
            f"non-collapsed models with lambda_iso > 0 is {min(gaps):.2f}-{max(gaps):.2f} of the "
            "data's: the MMD holds the codes near N(0, I) while the isometric term asks "
            "latent distances to equal data distances, and the models meet in between."
        )
    lines = [
        "## Why models collapse under the LWGAN objective",
        "",
        text,
        "",
        markdown_table(rows, floatfmt=".3f"),
        "",
    ]
    lines += _objective_findings(cells, getattr(s, grid), knob)
    return lines + [""]


def _objective_findings(cells, grid, knob: str) -> list[str]:
    """Per value of the knob with collapsed and healthy models: does the stated objective prefer
    the collapsed ones?"""
    lines = []
    for lam in grid:
        mine = [c for c in cells if getattr(c, knob) == lam and c.objective_value is not None]
        bad, good = [c for c in mine if c.collapsed], [c for c in mine if not c.collapsed]
        if bad and good:
            worse = min(c.objective_value for c in bad) > min(c.objective_value for c in good)
            lines.append(
                f"- {knob} {lam:g}: the stated objective is {'higher' if worse else 'lower'} at "
                f"the collapsed models (lowest {min(c.objective_value for c in bad):.3f}) than at "
                f"the best non-collapsed one ({min(c.objective_value for c in good):.3f}): "
                + (
                    "the objective does not prefer collapse; training failed to leave it."
                    if worse
                    else "**the objective prefers the collapsed solution**."
                )
            )
    return lines
