"""The report of `bench mnist`: verdict, tables and figures, pure functions of the saved results."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.experiments.metrics import COLLAPSE
from bench.experiments.reference import reference_value
from bench.facts import RunFacts, facts_markdown
from bench.figures import figure_link, plot_histories, pyplot, save_figure
from bench.pipeline.results import as_tuples
from bench.report import format_seeds, markdown_table
from bench.stats import seed_summary
from bench.verdict import Verdict

BASE, ISO = "base LWGAN", "Iso-LWGAN"
STEPS = 10
VERDICT_RULE = (
    "the paper's claim is the sign of the gap recon(Iso-LWGAN) - recon(base LWGAN): positive "
    "(5.76 - 5.62 = +0.14; Iso-LWGAN reconstructs slightly worse after brief training). Reproduced "
    "if the 95% interval of the measured gap lies above 0, not reproduced if it lies below 0, "
    "inconclusive if it contains 0, a model is missing, or either model collapsed in any seed "
    f"(reconstruction at least {COLLAPSE:g} times the constant map's). Interval: Student-t over the per-seed "
    "gaps with two or more seeds, else a paired bootstrap over test images of the per-image "
    "differences (both models see the same images)"
)


def _cells(results):
    from bench.experiments.mnist import mnist_cells

    return mnist_cells(results)


def summary(results) -> list[dict]:
    cells = _cells(results)
    rows = [{**vars(c), "wall_time_s": c.wall_time_s} for c in cells]
    metrics = ("recon", "frechet", "discrepancy", "interp_irregularity", "wall_time_s")
    tables = {m: seed_summary(rows, ["name"], m) for m in metrics}
    out = []
    for i, base in enumerate(tables["recon"]):
        name = base["name"]
        out.append({
            "name": name, **{m: tables[m][i] for m in metrics},
            "ranks": [c.rank_estimate for c in cells if c.name == name],
            "paper": reference_value("mnist", name, "paper text"),
        })  # fmt: skip
    return out


def verdicts(results) -> list[Verdict]:
    """The paper's claim: Iso-LWGAN reconstructs slightly worse than base LWGAN."""
    from bench.experiments.mnist import recon_gap

    gap = recon_gap(results)
    claim = "Iso-LWGAN reconstructs worse than base LWGAN"
    if gap is None:
        return [Verdict(claim, "inconclusive", VERDICT_RULE, "needs both base LWGAN and Iso-LWGAN")]
    g, lo, hi, how = gap
    label = "reproduced" if lo > 0 else "not reproduced" if hi < 0 else "inconclusive"
    detail = f"gap {g:+.3f} [{lo:+.3f}, {hi:+.3f}] ({how}); paper +0.14"
    bad = sorted({c.name for c in _cells(results) if c.name in (BASE, ISO) and c.collapsed})
    if bad:  # a collapsed model's error says nothing about the trade-off the paper describes
        return [Verdict(claim, "inconclusive", VERDICT_RULE, detail + f"; collapsed: {', '.join(bad)}")]
    return [Verdict(claim, label, VERDICT_RULE, detail)]


# ------------------------------------------------------------------------------------ figures


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name.lower()).strip("_")


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
    ax.set_title(f"{cell.name} (seed {cell.seed}): image a | {cols - 2} decoded steps of the latent "
                 "line | image b", fontsize=7)  # fmt: skip
    fig.tight_layout()
    return save_figure(fig, path, pdf=pdf)


def plot_recon(results, path: Path) -> list[Path]:
    """Reconstruction error per configuration (mean and interval) beside the paper's."""
    plt = pyplot()
    rows = summary(results)
    fig, ax = plt.subplots(figsize=(4.8, 3.2))
    x = np.arange(len(rows))
    for i, r in enumerate(rows):
        v = r["recon"]
        if r["recon"]["n_seeds"] > 1:
            lo, hi = v["lo"], v["hi"]
        else:
            c = next(c for c in _cells(results) if c.name == r["name"])
            lo, hi = c.recon_lo, c.recon_hi
        ax.bar(i, v["value"], color="C0", alpha=0.7)
        ax.errorbar(i, v["value"], yerr=[[v["value"] - lo], [hi - v["value"]]], color="k", capsize=3)
        if r["paper"]:
            ax.plot(i, float(r["paper"]), "r*", ms=10, label="paper")
    ax.set_xticks(x, [r["name"] for r in rows], fontsize=7)
    ax.set_ylabel("mean per-image ‖x - G(Q(x))‖")
    handles, labels = ax.get_legend_handles_labels()
    if handles:  # one entry for the paper's stars
        ax.legend(handles[:1], labels[:1], fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def figures(results, out: Path) -> list[Path]:
    from bench.experiments.toy import curves

    out = Path(out)
    first = results.settings_obj().seeds[0]
    figs: list[Path] = []
    for c in _cells(results):
        if c.seed == first:
            figs += plot_interpolation_grid(c, out / f"mnist_interp_{_slug(c.name)}")
    hist = {r["name"]: curves(r) for r in results.records() if r["seed"] == first}
    if not hist:
        return figs
    figs += plot_histories(hist, ("recon", "critic_gap", "iso", "mmd", "loss_gq"),
                           out / "mnist_losses", title=f"training curves, seed {first}")  # fmt: skip
    figs += plot_recon(results, out / "mnist_recon")
    return figs


# ------------------------------------------------------------------------------------- report


def render(results) -> str:
    """The markdown report: a pure function of the saved results."""
    s = results.settings_obj()
    cells = _cells(results)
    rows = summary(results)
    (v,) = results.verdict_objs()
    label, detail = v.label, v.numbers
    train = s.train_overrides()
    one = len(s.seeds) == 1
    paper_rows = []
    for r in rows:
        c = next(c for c in cells if c.name == r["name"])
        measured = (f"{c.recon:.3f} [{c.recon_lo:.3f}, {c.recon_hi:.3f}] (bootstrap over images)"
                    if one else format_seeds(r["recon"], 3))  # fmt: skip
        paper_rows.append({"model": r["name"], "reconstruction error": measured,
                           "paper": r["paper"] or "n/a"})  # fmt: skip
    metric_rows = [{
        "model": r["name"],
        "λ_iso": next(c.lambda_iso for c in cells if c.name == r["name"]),
        "σ_noise": next(c.sigma_noise for c in cells if c.name == r["name"]),
        "Frechet (classifier features)": format_seeds(r["frechet"], 2),
        "isometry discrepancy": format_seeds(r["discrepancy"], 3),
        "interpolation irregularity": format_seeds(r["interp_irregularity"], 3),
        "estimated rank": ", ".join(map(str, r["ranks"])),
        "collapsed": ", ".join("yes" if c.collapsed else "no" for c in cells
                               if c.name == r["name"]),
        "wall time (s)": format_seeds(r["wall_time_s"], 0),
    } for r in rows]  # fmt: skip
    cell_rows = [{
        "model": c.name, "seed": c.seed, "eval rank": c.eval_rank,
        "reconstruction [bootstrap 95%]": f"{c.recon:.3f} [{c.recon_lo:.3f}, {c.recon_hi:.3f}]",
        "Frechet": c.frechet,
        "discrepancy [bootstrap 95%]": f"{c.discrepancy:.3f} [{c.discrepancy_lo:.3f}, {c.discrepancy_hi:.3f}]",
        "rank": c.rank_estimate, "λ_hat": c.lambda_hat, "collapsed": c.collapsed,
        "train s": c.train_time_s,
        "eval s": c.eval_time_s, "cached": c.loaded, "checkpoint": c.checkpoint[:12],
    } for c in cells]  # fmt: skip
    clf = results.context["classifier"]
    first = s.seeds[0]
    grids = "\n\n".join(
        figure_link(f"mnist_interp_{_slug(c.name)}", f"{c.name}: latent interpolation grid")
        for c in cells if c.seed == first
    )  # fmt: skip
    cfg = as_tuples(cells[0].config) if cells else {}
    parts = [
        "# MNIST: base LWGAN against Iso-LWGAN, with the 2x2 ablation (Iso-LWGAN experiment 3)",
        "",
        (
            f"**A brief training budget** (`--budget {s.budget}`: {train['iterations']} iterations "
            f"of batch {train['batch_size']} per model, about {train['iterations'] * train['batch_size'] / 60000:.1f} "
            "epochs, conv nets of width "
            f"{train['width_q']}), as the paper's was (\"over a brief training phase\"). All four "
            "models share every setting but the isometric term (lambda_iso "
            f"{s.lambda_iso:g}) and the noise (sigma_noise {s.sigma_noise:g}, k = {s.noise_dim} "
            "channels); each has the full LWGAN objective (critic, MMD, rank). Measured on "
            f"{results.context['eval_images']} test images at the evaluation rank "
            + (f"r = z_max = {cfg.get('z_max')}" if s.eval_rank == "max" else f"`{s.eval_rank}`")
            + ": reconstruction = mean per-image ‖x - G(Q(x))‖_2 with pixels in [-1, 1] (one "
            "noise draw); Frechet distance between "
            f"{s.eval_size('fd_samples')} draws G(Z_r) and the test images in the frozen "
            "classifier's 128-d penultimate features; isometry discrepancy over pairs of the first "
            f"{s.eval_size('iso_images')} test images; interpolation irregularity = std/mean of "
            f"the pixel-space step lengths along {STEPS}-step decoded latent lines between "
            f"{s.eval_size('interp_pairs')} test-image pairs (0: constant speed)."
        ),
        "",
        "## Verdict",
        "",
        f"**{label}**: {detail}.",
        "",
        f"Rule: {VERDICT_RULE}.",
        "",
        "## Reconstruction beside the paper",
        "",
        markdown_table(paper_rows),
        "",
        figure_link("mnist_recon", "Reconstruction error per model; red stars: the paper"),
        "",
        "## All models",
        "",
        (
            f"Frechet floor: {clf['floor_images']} real training images against the same test "
            f"images give {clf['frechet_floor']:.2f}. Wall time = training + evaluation. A model "
            f"has **collapsed** when its reconstruction error is at least {COLLAPSE:g} times that "
            "of the constant map at the mean training image ("
            + (f"{cells[0].trivial_recon:.2f}" if cells else "n/a")
            + "); a constant generator is trivially isometric, so its discrepancy means nothing."
        ),
        "",
        markdown_table(metric_rows, floatfmt={"λ_iso": "g", "σ_noise": "g"}),
        "",
        grids,
        "",
        figure_link("mnist_losses", "Loss and convergence curves of all configurations "
                     "(the paper's Figure 5), smoothed"),
        "",
        "## Per model and seed",
        "",
        markdown_table(cell_rows, floatfmt={"Frechet": ".2f", "λ_hat": ".3g", "train s": ".0f",
                                            "eval s": ".0f"}),
        "",
        "## Training and scorer",
        "",
        (
            f"Classifier (scorer): test accuracy {clf['test_accuracy']:.2f}%, checkpoint "
            f"`{clf['digest'][:16]}` ({'loaded from the cache' if clf['loaded'] else 'trained in this run'}"
            + (f", {clf['train_seconds']:.0f} s to train" if clf.get("train_seconds") else "")
            + "). Its training is not part of the models' budget; `bench recover` shares it."
            if clf.get("test_accuracy") is not None else "Classifier: n/a"
        ),
        "",
        "Configuration of the base model (the others differ only in lambda_iso, sigma_noise, noise_dim):",
        "",
        markdown_table([(k, str(v)) for k, v in cfg.items()], headers=["setting", "value"]),
        "",
        facts_markdown(RunFacts.from_dict(results.facts)),
    ]
    return "\n".join(parts)




def rows(results) -> list[dict]:
    """The CSV: one row per cell, its scalar measurements (failed cells with their error)."""
    skip = {"config", "recon_per_image", "grid", "histories", "params", "metrics", "tags",
            "checkpoints", "history_every"}
    out = []
    for c in results.cells:
        record = c["record"] or {}
        row = {k: v for k, v in record.items() if k not in skip}
        if "checkpoint" in row:
            row["checkpoint"] = row["checkpoint"][:16]
        out.append({**c["cell"], **row, "status": c["status"], "error": c["error"] or ""})
    return out


def summary_metrics(results) -> dict:
    from bench.experiments.mnist import recon_gap

    gap = recon_gap(results)
    (v,) = results.verdict_objs()
    return {"reproduced": float(v.label == "reproduced"), **({"recon_gap": gap[0]} if gap else {}),
            **{f"recon_{_slug(r['name'])}": r["recon"]["value"] for r in summary(results)}}  # fmt: skip


def cell_figure(cell: dict, record: dict, folder: Path) -> list[Path]:
    """The cell's latent interpolation grid, attached to its MLflow run."""
    from bench.experiments.mnist import MnistCell

    c = MnistCell.from_record(record)
    return plot_interpolation_grid(c, folder / f"{_slug(c.name)}_s{c.seed}", pdf=False)
