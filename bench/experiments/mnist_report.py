"""The report of `bench mnist`: verdicts and tables, pure functions of the saved results (the
figures are in mnist_figures.py)."""

from __future__ import annotations

import numpy as np

from bench.experiments.metrics import COLLAPSE
from bench.experiments.reference import reference_value
from bench.facts import RunFacts, facts_markdown
from bench.figures import figure_link
from bench.pipeline.results import as_tuples
from bench.report import format_seeds, markdown_table
from bench.stats import seed_summary
from bench.verdict import Verdict
from bench.verdict import rows as verdict_rows

BASE, ISO = "base LWGAN", "Iso-LWGAN"
STEPS = 10
VERDICT_RULE = (
    "claim 8, per objective: Iso-LWGAN reconstructs slightly worse than the base after brief "
    "training (the paper: 5.76 - 5.62 = +0.14). The gap recon(Iso-LWGAN) - recon(base LWGAN) on "
    "the same test images, per seed with a paired bootstrap 95% interval over the images, and "
    "over seeds with a Student-t 95% interval of the per-seed gaps. Reproduced if the t-interval "
    "and every seed's paired interval lie above 0 (with one seed: the paired interval alone); "
    "not reproduced if the t-interval (one seed: the paired interval) lies below 0; "
    "inconclusive otherwise, when a model is missing, or when base LWGAN or Iso-LWGAN collapsed "
    f"in any seed (reconstruction at least {COLLAPSE:g} times the constant map's: a verdict is "
    "called only on models that did not collapse)"
)


def _cells(results):
    from bench.experiments.mnist import mnist_cells

    return mnist_cells(results)


def label_of(c) -> str:
    return f"{c.objective}: {c.name}"


def summary(results) -> list[dict]:
    """One row per (objective, model): every metric's mean and t-interval over seeds."""
    cells = _cells(results)
    rows = [{**vars(c), "wall_time_s": c.wall_time_s, "min_share": c.min_share} for c in cells]
    metrics = ("recon", "batch_recon", "frechet", "min_share", "discrepancy", "interp_irregularity",
               "wall_time_s")
    tables = {m: seed_summary(rows, ["objective", "name"], m) for m in metrics}
    out = []
    for i, base in enumerate(tables["recon"]):
        key = (base["objective"], base["name"])
        mine = [c for c in cells if (c.objective, c.name) == key]
        out.append({
            "objective": key[0], "name": key[1], **{m: tables[m][i] for m in metrics},
            "ranks": [c.rank_estimate for c in mine], "collapsed": sum(c.collapsed for c in mine),
            "paper": reference_value("mnist", key[1], "paper text"),
        })  # fmt: skip
    return out


def verdicts(results) -> list[Verdict]:
    """Claim 8, one verdict per objective."""
    from bench.experiments.mnist import recon_gaps

    out = []
    cells = _cells(results)
    for objective in results.settings_obj().objectives:
        claim = f"{objective} objective: Iso-LWGAN reconstructs slightly worse than base LWGAN"
        gaps = recon_gaps(results, objective)
        if gaps is None:
            out.append(Verdict(claim, "inconclusive", VERDICT_RULE, "needs both base LWGAN and Iso-LWGAN"))
            continue
        per, over = gaps["per_seed"], gaps["over_seeds"]
        detail = "; ".join(f"seed {s}: {g:+.3f} [{lo:+.3f}, {hi:+.3f}]" for s, (g, lo, hi) in per.items())
        detail += f" (paired over {gaps['images']} test images)"
        if over is not None:
            detail += f"; over {len(per)} seeds {over[0]:+.3f} [{over[1]:+.3f}, {over[2]:+.3f}]"
        base_err = np.mean([c.recon for c in cells if c.objective == objective and c.name == BASE])
        gap = over[0] if over is not None else next(iter(per.values()))[0]
        detail += f"; {gap / base_err:+.1%} of the base's error (paper +0.14, +2.5%)"
        lo, hi = (over[1], over[2]) if over is not None else next(iter(per.values()))[1:]
        if lo > 0 and all(v[1] > 0 for v in per.values()):
            label = "reproduced"
        elif hi < 0:
            label = "not reproduced"
        else:
            label = "inconclusive"
        bad = sorted({c.name for c in cells if c.objective == objective and c.name in (BASE, ISO)
                      and c.collapsed})  # fmt: skip
        if bad:  # a collapsed model's error says nothing about the trade-off the paper describes
            label, detail = "inconclusive", detail + f"; collapsed: {', '.join(bad)}"
        out.append(Verdict(claim, label, VERDICT_RULE, detail))
    return out


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name.lower()).strip("_")


# ------------------------------------------------------------------------------------- report


def render(results) -> str:
    """The markdown report: a pure function of the saved results."""
    s = results.settings_obj()
    cells = _cells(results)
    rows = summary(results)
    train = s.train_overrides()
    one = len(s.seeds) == 1

    def mine(r):
        return [c for c in cells if (c.objective, c.name) == (r["objective"], r["name"])]

    paper_rows = []
    for r in rows:
        c = mine(r)[0]
        measured = (f"{c.recon:.3f} [{c.recon_lo:.3f}, {c.recon_hi:.3f}] (bootstrap over images)"
                    if one else format_seeds(r["recon"], 3))  # fmt: skip
        paper_rows.append({"objective": r["objective"], "model": r["name"],
                           "test reconstruction error": measured,
                           "one training batch, as the authors measured": format_seeds(r["batch_recon"], 3),
                           "paper": r["paper"] or "n/a"})  # fmt: skip
    metric_rows = [{
        "objective": r["objective"], "model": r["name"],
        "λ_iso": mine(r)[0].lambda_iso,
        "σ_noise": mine(r)[0].sigma_noise,
        "Frechet (classifier features)": format_seeds(r["frechet"], 2),
        "lowest digit share": _share(min(r["min_share"]["per_seed"])),
        "isometry discrepancy": format_seeds(r["discrepancy"], 3),
        "interpolation irregularity": format_seeds(r["interp_irregularity"], 3),
        "estimated rank": "n/a (no critic)" if all(x is None for x in r["ranks"])
        else ", ".join(map(str, r["ranks"])),
        "collapsed": f"{r['collapsed']} of {r['recon']['n_seeds']}",
        "wall time (s)": format_seeds(r["wall_time_s"], 0),
    } for r in rows]  # fmt: skip
    cell_rows = [{
        "objective": c.objective, "model": c.name, "seed": c.seed, "eval rank": c.eval_rank,
        "reconstruction [bootstrap 95%]": f"{c.recon:.3f} [{c.recon_lo:.3f}, {c.recon_hi:.3f}]",
        "Frechet": c.frechet,
        "lowest digit share": f"{c.min_share:.1%} (digit {int(np.argmin(c.digit_shares))})"
        if c.digit_shares else "n/a",
        "discrepancy [bootstrap 95%]": f"{c.discrepancy:.3f} [{c.discrepancy_lo:.3f}, {c.discrepancy_hi:.3f}]",
        "rank": c.rank_estimate, "λ_hat": c.lambda_hat, "collapsed": c.collapsed,
        "train s": c.train_time_s,
        "eval s": c.eval_time_s, "cached": c.loaded, "checkpoint": c.checkpoint[:12],
    } for c in cells]  # fmt: skip
    clf = results.context["classifier"]
    first = s.seeds[0]
    grids = "\n\n".join(
        figure_link(f"mnist_interp_{c.objective}_{_slug(c.name)}", f"{label_of(c)}: latent interpolation grid")
        for c in cells if c.seed == first
    )  # fmt: skip
    samples = "\n\n".join(
        figure_link(f"mnist_samples_{c.objective}_{_slug(c.name)}", f"{label_of(c)}: samples G(Z)")
        for c in cells if c.seed == first and c.samples
    )  # fmt: skip
    lw = [c for c in cells if c.objective == "lwgan"]
    cfg = as_tuples(lw[0].config) if lw else {}
    collapsed = sum(c.collapsed for c in cells)
    parts = [
        "# MNIST: base LWGAN against Iso-LWGAN, with the 2x2 ablation (Iso-LWGAN experiment 3)",
        "",
        (
            "Two objectives side by side. `lwgan`: the full LWGAN objective (critic, MMD, rank) "
            f"under **a brief training budget** (`--budget {s.budget}`: {train['iterations']} "
            f"iterations of batch {train['batch_size']} per model, about "
            f"{train['iterations'] * train['batch_size'] / 60000:.1f} epochs, {train.get('arch', 'conv')} "
            f"nets of width {train['width_q']}, z_max {train['z_max']}), as the paper's was "
            "(\"over a brief training phase\"). "
            "`published`: the authors' public run exactly (a plain MLP autoencoder, Q 784-256-20 "
            "and G (20 [+ 10])-256-784 with tanh, reconstruction + lambda_iso x the isometric term, "
            "Adam 1e-3, batch 128, 5 epochs). Within an objective the four models share every "
            f"setting but the isometric term (lambda_iso {s.lambda_iso:g}) and the noise "
            f"(sigma_noise {s.sigma_noise:g}, k = {s.noise_dim} channels). Measured on "
            f"{results.context['eval_images']} test images at the evaluation rank "
            + (f"r = z_max = {cfg.get('z_max')}" if s.eval_rank == "max" else f"`{s.eval_rank}`")
            + ": reconstruction = mean per-image ‖x - G(Q(x))‖_2 with pixels in [-1, 1] (one "
            "noise draw), and as the authors measured it, on one shuffled batch of 128 training "
            "images; Frechet distance between "
            f"{s.eval_size('fd_samples')} draws G(Z_r) and the test images in the frozen "
            "classifier's 128-d penultimate features; isometry discrepancy over pairs of the first "
            f"{s.eval_size('iso_images')} test images; interpolation irregularity = std/mean of "
            f"the pixel-space step lengths along {STEPS}-step decoded latent lines between "
            f"{s.eval_size('interp_pairs')} test-image pairs (0: constant speed)."
        ),
        "",
        "## Verdict",
        "",
        markdown_table(verdict_rows(results.verdict_objs())),
        "",
        f"Rule: {VERDICT_RULE}.",
        "",
        f"Collapsed models: {collapsed} of {len(cells)}.",
        "",
        "## Reconstruction beside the paper",
        "",
        markdown_table(paper_rows),
        "",
        gap_text(results),
        "",
        figure_link("mnist_recon", "Reconstruction error per model; red stars: the paper"),
        "",
        "## Is the LWGAN credible at this budget?",
        "",
        credibility(results),
        "",
        samples,
        "",
        "## All models",
        "",
        (
            f"Frechet floor: {clf['floor_images']} real training images against the same test "
            f"images give {clf['frechet_floor']:.2f}. "
            + _reference_text(results.context.get("reference_gan"))
            + " Wall time = training + evaluation. A model "
            f"has **collapsed** when its reconstruction error is at least {COLLAPSE:g} times that "
            "of the constant map at the mean training image ("
            + (f"{cells[0].trivial_recon:.2f}" if cells else "n/a")
            + "); a constant generator is trivially isometric, so its discrepancy means nothing. "
            "The published autoencoder has no prior matching: its G(Z) draws (Z ~ N(0, I)) are "
            "not expected to look like digits, so its Frechet distance is shown, not judged."
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
        "Configuration of the base LWGAN model (the others differ only in lambda_iso, sigma_noise, noise_dim):",
        "",
        markdown_table([(k, str(v)) for k, v in cfg.items()], headers=["setting", "value"]),
        "",
        facts_markdown(RunFacts.from_dict(results.facts)),
    ]
    return "\n".join(parts)




def _share(x: float) -> str:
    return "n/a" if np.isnan(x) else f"{x:.1%}"


def gap_text(results) -> str:
    """The size of the Iso-LWGAN - base gap per objective, absolute and relative (mean over seeds)."""
    rows = {(r["objective"], r["name"]): r["recon"]["value"] for r in summary(results)}
    parts = [f"{o}: {rows[(o, ISO)] - rows[(o, BASE)]:+.3f} ({(rows[(o, ISO)] - rows[(o, BASE)]) / rows[(o, BASE)]:+.1%})"
             for o in results.settings_obj().objectives if (o, BASE) in rows and (o, ISO) in rows]  # fmt: skip
    if not parts:
        return ""
    return ("Size of the gap recon(Iso-LWGAN) - recon(base LWGAN), mean over seeds, and relative to "
            "the base's error: " + "; ".join(parts) + "; the paper +0.14 (+2.5%).")


def _reference_text(ref: dict | None) -> str:
    if not ref:
        return ""
    return (f"The reference GAN (`{ref['name']}`, the recovery study's LSGAN) gives "
            f"{ref['frechet']:.2f} over {ref['samples']} draws, lowest digit share "
            f"{min(ref['digit_shares']):.1%}.")


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
        lines.append({"check": "test reconstruction / the published autoencoder's (same run)",
                      "measured": f"{base['recon']['value']:.3f} / {pub['recon']['value']:.3f} = {ratio:.2f}",
                      "bar": "<= 1.2", "met": "yes" if ratio <= 1.2 else "no"})  # fmt: skip
    low = min(base["min_share"]["per_seed"])
    if not np.isnan(low):  # results saved before version 2 have no digit shares
        lines.append({"check": "lowest digit share of the draws (any seed)", "measured": f"{low:.1%}",
                      "bar": ">= 5%", "met": "yes" if low >= 0.05 else "no"})  # fmt: skip
    fd = format_seeds(base["frechet"], 1)
    scale = f"data floor {clf['frechet_floor']:.2f}" + (f", LSGAN {ref['frechet']:.2f}" if ref else "")
    lines.append({"check": "Frechet distance (classifier features)", "measured": fd,
                  "bar": scale, "met": "shown"})  # fmt: skip
    lines.append({"check": "estimated rank per seed", "measured": ", ".join(map(str, base["ranks"])),
                  "bar": "-", "met": "shown"})  # fmt: skip
    return markdown_table(lines)


def rows(results) -> list[dict]:
    """The CSV: one row per cell, its scalar measurements (failed cells with their error)."""
    skip = {"config", "recon_per_image", "grid", "samples", "histories", "params", "metrics", "tags",
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
    out = {f"recon_{r['objective']}_{_slug(r['name'])}": r["recon"]["value"] for r in summary(results)}
    for v in results.verdict_objs():
        out[f"reproduced_{v.claim.split()[0]}"] = float(v.label == "reproduced")
    return out
