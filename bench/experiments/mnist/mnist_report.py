"""The report of `bench mnist`: verdicts and tables, pure functions of the saved results (the
figures are in mnist_figures.py)."""

from __future__ import annotations

import numpy as np

from bench import sensitivity
from bench.claims import Estimate, gates, get
from bench.claims.catalog import FIRM_SEEDS
from bench.claims.catalog_lwgan import SLIGHT
from bench.experiments.lwgan_metrics import COLLAPSE
from bench.experiments.mnist.mnist_cells import BASE, ISO, STEPS, mnist_cells, recon_gaps
from bench.experiments.mnist.mnist_tables import (
    cell_rows,
    credibility,
    gap_text,
    label_of,
    metric_rows,
    paper_rows,
    reference_text,
    slug,
    summary,
)
from bench.experiments.toy.toy_claims import paired_ratio, ratio_text
from bench.facts import RunFacts, facts_markdown
from bench.figures import figure_link
from bench.pipeline.results import as_tuples
from bench.report import markdown_table
from bench.verdict import Verdict
from bench.verdict import rows as verdict_rows

CLAIMS = ("recon-slightly-worse", "smoother-interpolations")
# Claims 8 and 10 are judged on encoded test images (bench.claims.gates: the "encoder" gate):
# what they rest on is a working encoder and decoder, whatever the objective.
GATE_BARS = ("collapse",)


def gate_failures(results, objective: str, names=(BASE, ISO)) -> list[str]:
    """The bars the models a claim rests on fail: claims 8 and 10 rest on encoding and decoding
    test images, so a model that collapsed (reconstructs no better than a constant map) carries
    no verdict; the same bar for every objective. Sample quality (Frechet distance, digit shares)
    is reported beside the verdicts, not gated on: no claim of this report is about samples."""
    return [
        f"{c.name} s{c.seed} collapsed"
        for c in mnist_cells(results)
        if c.objective == objective and c.name in names and c.collapsed
    ]


def relative_gap(results, objective: str):
    """Claim 8's evidence: (Iso - base) / base of the mean per-image reconstruction error, on the
    same test images at every seed: the crossed interval over images and seeds of the per-image
    gap (bench.stats.crossed_interval), divided by the base's mean error."""

    gaps = recon_gaps(results, objective)
    if gaps is None:
        return None, None
    base = float(np.mean([c.recon for c in mnist_cells(results) if c.objective == objective and c.name == BASE]))
    c = gaps["crossed"]
    where = f"{c.seeds} seed{'s' * (c.seeds != 1)} x {c.items} test images"
    return Estimate("relative gap", c.value / base, c.lo / base, c.hi / base, where), gaps


def verdicts(results) -> list[Verdict]:
    """Per objective: claim 8 (the size of Iso-LWGAN's reconstruction gap) and claim 10 on
    MNIST (interpolation irregularity, Iso-LWGAN against the base), each withheld when a model
    it rests on fails a credibility bar."""

    out = []
    cells = mnist_cells(results)
    for objective in results.settings_obj().objectives:
        subject = f"{objective} objective"
        claim8, claim10 = get("recon-slightly-worse"), get("smoother-interpolations")
        est, gaps = relative_gap(results, objective)
        if est is None:
            out += [c.unjudged(subject, "needs both base LWGAN and Iso-LWGAN") for c in (claim8, claim10)]
            continue
        base_err = np.mean([c.recon for c in cells if c.objective == objective and c.name == BASE])
        per = gaps["per_seed"]
        n8 = "; ".join(f"seed {s}: {g:+.3f} [{lo:+.3f}, {hi:+.3f}]" for s, (g, lo, hi) in per.items())
        n8 += f" (t over {gaps['images']} test images)"
        c = gaps["crossed"]
        if len(per) > 1:
            n8 += f"; over seeds and images {c.value:+.3f} [{c.lo:+.3f}, {c.hi:+.3f}]"
        n8 += (
            f"; relative to the base's error ({base_err:.2f}): {est.value:+.1%} [{est.lo:+.1%}, {est.hi:+.1%}] "
            "(the paper +0.14, +2.5%)"
        )
        bad = gate_failures(results, objective)
        prov = (
            ""
            if len(per) >= FIRM_SEEDS
            else f"{len(per)} seed{'s' * (len(per) != 1)}; a firm verdict needs {FIRM_SEEDS}"
        )
        out.append(claim8.withhold(subject, bad, n8) if bad else claim8.judge(subject, est, n8, provisional=prov))
        mine = [c for c in cells if c.objective == objective]
        base = {c.seed: c for c in mine if c.name == BASE}
        iso = [c for c in mine if c.name == ISO]
        ratio = paired_ratio("Iso-LWGAN / base", iso, base, lambda c: c.interp_irregularity)
        iso_only = paired_ratio(
            "+ isometric / base", [c for c in mine if c.name == "+ isometric"], base, lambda c: c.interp_irregularity
        )
        n10 = f"irregularity Iso-LWGAN {ratio_text(ratio)} of the base's" if ratio else "n/a"
        if iso_only:
            n10 += f"; the isometric term alone (no noise) {ratio_text(iso_only)}"
        matched = est.finite() and est.hi <= SLIGHT
        n10 += f"; reconstruction {est.value:+.1%} [{est.lo:+.1%}, {est.hi:+.1%}] of the base's" + (
            "" if matched else ": not at matched reconstruction, a blurrier fit is also a smoother one"
        )
        bad10 = gate_failures(results, objective, (BASE, ISO))
        if ratio is None:
            out.append(claim10.unjudged(subject, "no seed with both models"))
        else:
            out.append(claim10.withhold(subject, bad10, n10) if bad10 else claim10.judge(subject, [ratio], n10))
    return out


def gates_markdown(results) -> list[str]:
    """The bars of the LWGAN-objective claims with their reasons, and which models fail one."""

    g = gates.Gates.from_settings(results.settings_obj())
    lines = [
        (
            "Credibility bars: claims 8 and 10 are judged on encoded test images, so a verdict rests on "
            "base LWGAN and Iso-LWGAN only when every seed of both encodes and decodes (no collapse), "
            "for every objective alike; otherwise it is withheld, naming the model. Sample quality "
            "(Frechet distance, digit shares) is shown beside them and gates no claim here."
        ),
        "",
        markdown_table(gates.bars_rows(g, GATE_BARS)),
        "",
    ]
    for objective in results.settings_obj().objectives:
        fails = gate_failures(results, objective)
        lines.append(
            f"- {objective} objective: "
            + ("every model the claims rest on clears every bar." if not fails else "fails: " + "; ".join(fails) + ".")
        )
    return lines + [""]


def render(results) -> str:
    """The markdown report: a pure function of the saved results."""
    s = results.settings_obj()
    cells = mnist_cells(results)
    rows = summary(results)
    clf = results.context["classifier"]
    first = s.seeds[0]
    grids = "\n\n".join(
        figure_link(f"mnist_interp_{c.objective}_{slug(c.name)}", f"{label_of(c)}: latent interpolation grid")
        for c in cells
        if c.seed == first
    )
    samples = "\n\n".join(
        figure_link(f"mnist_samples_{c.objective}_{slug(c.name)}", f"{label_of(c)}: samples G(Z)")
        for c in cells
        if c.seed == first and c.samples
    )
    lw = [c for c in cells if c.objective == "lwgan"]
    cfg = as_tuples(lw[0].config) if lw else {}
    collapsed = sum(c.collapsed for c in cells)
    verdicts_ = results.verdict_objs()
    parts = [
        "# MNIST: base LWGAN against Iso-LWGAN, with the 2x2 ablation (Iso-LWGAN experiment 3)",
        "",
        _intro(results, s, cfg),
        "",
        "## Verdict",
        "",
        markdown_table(verdict_rows(verdicts_)),
        "",
        "Rules (bench.claims; `bench claims` lists every claim):",
        "",
        *[f"- {get(k).rule()}" for k in dict.fromkeys(v.key for v in verdicts_ if v.key)],
        "",
        *sensitivity.markdown(verdicts_),
        *gates_markdown(results),
        "",
        f"Collapsed models: {collapsed} of {len(cells)}.",
        "",
        "## Reconstruction beside the paper",
        "",
        markdown_table(paper_rows(results, rows, cells)),
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
        _models_note(results, cells, clf),
        "",
        markdown_table(metric_rows(rows, cells), floatfmt={"λ_iso": "g", "σ_noise": "g"}),
        "",
        grids,
        "",
        figure_link(
            "mnist_losses", "Loss and convergence curves of all configurations (the paper's Figure 5), smoothed"
        ),
        "",
        "## Per model and seed",
        "",
        markdown_table(
            cell_rows(cells), floatfmt={"Frechet": ".2f", "λ_hat": ".3g", "train s": ".0f", "eval s": ".0f"}
        ),
        "",
        *_training(clf, cfg),
        facts_markdown(RunFacts.from_dict(results.facts)),
    ]
    return "\n".join(parts)


def _intro(results, s, cfg: dict) -> str:
    """The two objectives, the budget and how each measure is taken."""
    train = s.train_overrides()
    return (
        "Two objectives side by side. `lwgan`: the full LWGAN objective (critic, MMD, rank) "
        f"under **a brief training budget** (`--budget {s.budget}`: {train['iterations']} "
        f"iterations of batch {train['batch_size']} per model, about "
        f"{train['iterations'] * train['batch_size'] / 60000:.1f} epochs, {train.get('arch', 'conv')} "
        f"nets of width {train['width_q']}, z_max {train['z_max']}), as the paper's was "
        '("over a brief training phase"). '
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
    )


def _models_note(results, cells, clf: dict) -> str:
    return (
        f"Frechet floor: {clf['floor_images']} real training images against the same test "
        f"images give {clf['frechet_floor']:.2f}. "
        + reference_text(results.context.get("reference_gan"))
        + " Wall time = training + evaluation. A model "
        f"has **collapsed** when its reconstruction error is at least {COLLAPSE:g} times that "
        "of the constant map at the mean training image ("
        + (f"{cells[0].trivial_recon:.2f}" if cells else "n/a")
        + "); a constant generator is trivially isometric, so its discrepancy means nothing. "
        "The published autoencoder has no prior matching: its G(Z) draws (Z ~ N(0, I)) are "
        "not expected to look like digits, so its Frechet distance is shown, not judged."
    )


def _training(clf: dict, cfg: dict) -> list[str]:
    scorer = (
        f"Classifier (scorer): test accuracy {clf['test_accuracy']:.2f}%, checkpoint "
        f"`{clf['digest'][:16]}` ({'loaded from the cache' if clf['loaded'] else 'trained in this run'}"
        + (f", {clf['train_seconds']:.0f} s to train" if clf.get("train_seconds") else "")
        + "). Its training is not part of the models' budget; `bench recover` shares it."
        if clf.get("test_accuracy") is not None
        else "Classifier: n/a"
    )
    return [
        "## Training and scorer",
        "",
        scorer,
        "",
        "Configuration of the base LWGAN model (the others differ only in lambda_iso, sigma_noise, noise_dim):",
        "",
        markdown_table([(k, str(v)) for k, v in cfg.items()], headers=["setting", "value"]),
        "",
    ]
