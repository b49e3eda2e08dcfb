"""`bench isometry`: does the isometric term make latent and generated distances agree?

Iso-LWGAN experiment 1 (SPEC part B): two Gaussians; per lambda_iso and seed, train LWGAN (the
full objective) and the authors' published autoencoder, and measure on held-out points the mean
absolute pairwise-distance discrepancy |‖z_i - z_j‖ - ‖G(z_i) - G(z_j)‖|, z = Q(x), beside the paper's
1.20 (lambda 0) and 0.02-0.03 (lambda > 0); also reconstruction, the energy distance of samples to
held-out points, the estimated rank and latent interpolations (the paper's Figure 1).
"""

from __future__ import annotations

import numpy as np

from bench import sensitivity
from bench.claims import get
from bench.experiments.lwgan_metrics import COLLAPSE
from bench.experiments.lwgan_settings import ISOMETRY_DATASET as DATASET
from bench.experiments.lwgan_settings import IsometrySettings, ToySettings
from bench.experiments.reference import reference_value, setting_key
from bench.experiments.toy import isometry_figures, toy_report
from bench.experiments.toy import toy_base as toy
from bench.experiments.toy.toy_cells import toy_cells
from bench.experiments.toy.toy_claims import (
    collapsed,
    over_seeds,
    paired_log_ratio,
    paired_ratio,
    rank_verdict,
    ratio_text,
)
from bench.figures import figure_link
from bench.pipeline import Results
from bench.report import format_seeds, markdown_table, parse_reference
from bench.stats import seed_summary
from bench.verdict import Verdict
from bench.verdict import rows as verdict_rows

CLAIMS = ("isometry-discrepancy", "smoother-interpolations", "rank-finds-dimension")


def summary(results: Results) -> list[dict]:
    """One row per (objective, lambda_iso): every metric's mean and t-interval over seeds."""
    rows = [vars(c) for c in toy_cells(results)]
    by = ["objective", "lambda_iso"]
    metrics = ("discrepancy", "batch_discrepancy", "recon", "energy", "interp_irregularity")
    tables = {m: seed_summary(rows, by, m) for m in metrics}
    out = []
    for i, base in enumerate(tables["discrepancy"]):
        key = (base["objective"], base["lambda_iso"])
        mine = [r for r in rows if (r["objective"], r["lambda_iso"]) == key]
        out.append(
            {
                "objective": key[0],
                "lambda_iso": key[1],
                **{m: tables[m][i] for m in metrics},
                "ranks": [r["rank_estimate"] for r in mine],
                "margins": [r.get("rank_margin") for r in mine],
                "collapsed": sum(bool(r["collapsed"]) for r in mine),
                "paper": reference_value("isometry", setting_key("lambda_iso", key[1]), "paper text"),
                "run_log": reference_value("isometry", setting_key("lambda_iso", key[1]), "authors'"),
            }
        )
    return out


def verdicts(results: Results) -> list[Verdict]:
    """Per objective: claim 6 (the discrepancy's size at every lambda_iso > 0 and its drop from
    lambda_iso 0), claim 10 on this experiment (interpolations against lambda_iso 0), and claim
    9 on the LWGAN objective's rank estimates; withheld where a model collapsed."""

    out = []
    cells = toy_cells(results)
    for obj in results.settings_obj().objectives:
        mine = [c for c in cells if c.objective == obj]
        zero = {c.seed: c for c in mine if c.lambda_iso == 0}
        lams = sorted({c.lambda_iso for c in mine if c.lambda_iso > 0})
        subject = f"{obj} objective"
        bad = collapsed(mine)
        claim6, claim10 = get("isometry-discrepancy"), get("smoother-interpolations")
        if not zero or not lams:
            why = "the grid lacks lambda_iso = 0 or a lambda_iso > 0"
            out += [claim6.unjudged(subject, why), claim10.unjudged(subject, why)]
        else:
            at = {lam: [c for c in mine if c.lambda_iso == lam] for lam in lams}
            levels = [over_seeds(f"λ={lam:g}", [c.discrepancy for c in at[lam]]) for lam in lams]
            drops = {lam: paired_ratio(f"λ={lam:g}", at[lam], zero, lambda c: 1 / c.discrepancy) for lam in lams}
            fits = {lam: paired_ratio(f"λ={lam:g}", at[lam], zero, lambda c: c.recon) for lam in lams}
            smooth = {lam: paired_ratio(f"λ={lam:g}", at[lam], zero, lambda c: c.interp_irregularity) for lam in lams}
            zero_disc = over_seeds("λ=0", [c.discrepancy for c in zero.values()])
            worse = [lam for lam in lams if fits[lam] and fits[lam].lo > 1]

            def fit(lam, fits=fits):
                return f"recon {ratio_text(fits[lam])} of λ=0's" if fits[lam] else "recon n/a"

            numbers = (
                f"λ=0: {zero_disc.value:.3f} [{zero_disc.lo:.3f}, {zero_disc.hi:.3f}]; "
                + "; ".join(
                    f"λ={lam:g}: {e.value:.3f} [{e.lo:.3f}, {e.hi:.3f}], drop "
                    + (ratio_text(drops[lam], 1) if drops[lam] else "n/a")
                    + f", {fit(lam)}"
                    for lam, e in zip(lams, levels)
                )
                + (
                    f"; the drop at λ={', '.join(f'{v:g}' for v in worse)} comes with a worse "
                    "fit (reconstruction surely higher than at λ=0)"
                    if worse
                    else ""
                )
            )
            logs = [paired_log_ratio(f"λ={lam:g}", at[lam], zero, lambda c: 1 / c.discrepancy) for lam in lams]
            ev6 = {"levels": levels, "drops": [e for e in logs if e is not None]}
            out.append(claim6.withhold(subject, bad, numbers) if bad else claim6.judge(subject, ev6, numbers))
            ratios = [e for e in smooth.values() if e is not None]
            n10 = "; ".join(
                f"λ={lam:g}: irregularity {ratio_text(smooth[lam])} of λ=0's, {fit(lam)}" for lam in lams if smooth[lam]
            )
            if worse:
                n10 += "; not at matched reconstruction: a blurrier fit is also a smoother one"
            out.append(claim10.withhold(subject, bad, n10) if bad else claim10.judge(subject, ratios, n10))
        rank = rank_verdict(mine, f"{obj} objective, two Gaussians (intrinsic dimension 2)")
        if rank is not None:
            out.append(rank)
    return out


# ------------------------------------------------------------------------------------- report


def _delta(value: float, paper: str | None) -> float:
    """measured - paper where the paper gives one number (not a range)."""

    ref = parse_reference(paper) if paper else None
    return value - ref[0] if ref and ref[0] == ref[1] else float("nan")


def eval_rank_text(s: ToySettings) -> str:
    if s.eval_rank == "max":
        return f"r = z_max = {s.z_max}"
    if s.eval_rank == "estimate":
        return "r = LWGAN's estimated rank (z_max for the published autoencoder)"
    return f"r = {s.eval_rank}"


def _fmt_ranks(ranks, margins=None) -> str:
    """Per seed the estimated rank, with its margin in standard errors where measured."""
    if all(r is None for r in ranks):
        return "n/a (no critic)"
    margins = margins or [None] * len(ranks)
    return ", ".join(str(r) if m is None else f"{r} ({m:.1f} SE)" for r, m in zip(ranks, margins))


def render(results: Results) -> str:
    """The markdown report: a pure function of the saved results."""

    s = results.settings_obj()
    cells = toy_cells(results)
    rows = summary(results)
    published = "published" in s.objectives
    by_rank = _by_rank(s, cells)
    parts = [
        "# Isometric regularisation: latent against generated distances (Iso-LWGAN experiment 1)",
        "",
        _intro(s),
        "",
        "## Verdict",
        "",
        markdown_table(verdict_rows(results.verdict_objs())),
        "",
        "Rules (bench.claims; `bench claims` lists every claim):",
        "",
        *[f"- {get(k).rule()}" for k in dict.fromkeys(v.key for v in results.verdict_objs() if v.key)],
        "",
        *sensitivity.markdown(results.verdict_objs()),
        "## Discrepancy beside the paper",
        "",
        (
            "Mean over seeds with a 95% Student-t interval over seeds (n/a with one seed). The "
            "paper's figures are from its text; the authors' run log measured one training "
            "batch of their autoencoder (one seed), as the 'one training batch' column does here."
        ),
        "",
        markdown_table(_paper_rows(rows), floatfmt={"delta vs paper": "+.3f"}),
        "",
        figure_link(
            "isometry_discrepancy", "Measured discrepancy against lambda_iso beside the paper's (symlog scale)"
        ),
        "",
        "## Reconstruction, sample quality, rank",
        "",
        _measures(s, published),
        "",
        markdown_table(_other_rows(rows)),
        "",
        figure_link(
            "isometry_interpolations",
            "Latent interpolations per lambda_iso "
            "(the paper's Figure 1), first seed: G along straight lines between Q(a) and "
            "Q(b) in 10 steps, colour = position; red x: the data points a and b",
        ),
        "",
        figure_link("isometry_samples", "Held-out data against generated points, first seed"),
        "",
        figure_link("isometry_losses", "Training curves (smoothed), first seed"),
        "",
        *toy_report.diagnosis(results, "lambdas", "lambda_iso"),
        "## Per seed",
        "",
        (
            "Intervals are percentile bootstraps over held-out points (pairs resampled through "
            "points); the energy distance has none per seed (it is not a mean over points, and its "
            "bootstrap is biased upward), only its spread over seeds above."
        ),
        "",
        markdown_table(_cell_rows(cells), floatfmt={"train s": ".0f", "energy": ".3f"}),
        "",
        *(
            [
                "Discrepancy at every rank r of Q(x, r) of the LWGAN objective (mean over seeds):",
                "",
                markdown_table(by_rank, floatfmt=".3f"),
                "",
            ]
            if by_rank
            else []
        ),
        *toy_report.report_tail(results),
    ]
    return "\n".join(parts)


def _intro(s) -> str:
    return (
        f"Two Gaussians at (2, 2) and (-2, -2), covariance 0.5 I ({DATASET}: 2,000 training "
        "and 500 held-out points, drawn anew for each seed). For each lambda_iso and seed the "
        "model is trained and measured on the held-out points: the discrepancy is the mean "
        "over pairs i != j of | ‖z_i - z_j‖ - ‖G(z_i) - G(z_j)‖ |, z = Q(x, r), at the "
        f"evaluation rank, {eval_rank_text(s)}. Objectives: `lwgan` is the full LWGAN objective "
        "the paper states (critic, MMD, rank penalty) plus lambda_iso times the isometric "
        "loss; `published` is the authors' public run exactly (a plain autoencoder, Q 2-64-64-3 "
        "and G 3-64-64-2 with ReLU, reconstruction + lambda_iso x the isometric term over all "
        "B x B pairs, Adam 1e-3, batch 128, 20 epochs). Each model is also measured as the "
        "authors measured theirs: on one shuffled training batch of 128, averaging over all "
        "128 x 128 entries (the diagonal's zeros included)."
    )


def _measures(s, published: bool) -> str:
    """How reconstruction, sample quality, interpolation, rank and collapse are measured."""
    return (
        "Reconstruction is the mean held-out ‖x - G(Q(x, r))‖; the energy distance "
        "(sqrt(2E‖X-Y‖ - E‖X-X'‖ - E‖Y-Y'‖)) compares "
        f"{s.n_samples} draws G(Z_r) with the held-out points; the interpolation "
        "irregularity is the std/mean of step lengths along decoded straight latent lines "
        f"between {s.interp_pairs} held-out pairs (0: constant speed). The rank is LWGAN's "
        "rank-score estimate (intrinsic dimension 2), with its margin: the penalised score's gap "
        "to the runner-up rank (to the true rank when the estimate is wrong) in standard errors "
        "of that gap over the score's evaluations. A model has **collapsed** when its "
        f"reconstruction error is at least {COLLAPSE:g} times that of the constant map at the "
        "training mean (E‖x - mean‖ on the held-out points, about 2.9 here): a constant encoder or "
        "generator has every distance 0 and so a discrepancy near 0 whatever the geometry, "
        "which makes small discrepancies of collapsed models meaningless."
        + (
            " The published autoencoder has no prior matching, so its G(Z) draws (Z ~ N(0, I)) "
            "are not expected to look like the data."
            if published
            else ""
        )
    )


def _paper_rows(rows: list[dict]) -> list[dict]:
    return [
        {
            "objective": r["objective"],
            "lambda_iso": f"{r['lambda_iso']:g}",
            "held-out discrepancy (mean [95% t-interval])": format_seeds(r["discrepancy"], 3),
            "one training batch, as the authors measured": format_seeds(r["batch_discrepancy"], 3),
            "paper": r["paper"] or "n/a",
            "authors' run log (one batch)": r["run_log"] or "n/a",
            "delta vs paper": _delta(r["discrepancy"]["value"], r["paper"]),
        }
        for r in rows
    ]


def _other_rows(rows: list[dict]) -> list[dict]:
    return [
        {
            "objective": r["objective"],
            "lambda_iso": f"{r['lambda_iso']:g}",
            "reconstruction ‖x - G(Q(x))‖": format_seeds(r["recon"], 3),
            "energy distance G(Z) vs held-out": format_seeds(r["energy"], 3),
            "interpolation irregularity": format_seeds(r["interp_irregularity"], 3),
            "estimated rank (per seed; margin)": _fmt_ranks(r["ranks"], r["margins"]),
            "collapsed seeds": f"{r['collapsed']} of {r['discrepancy']['n_seeds']}",
        }
        for r in rows
    ]


def _cell_rows(cells) -> list[dict]:
    return [
        {
            "objective": c.objective,
            "lambda_iso": f"{c.lambda_iso:g}",
            "seed": c.seed,
            "eval rank": c.eval_rank,
            "discrepancy [bootstrap 95%]": f"{c.discrepancy:.4f} [{c.discrepancy_lo:.4f}, {c.discrepancy_hi:.4f}]",
            "reconstruction": f"{c.recon:.3f} [{c.recon_lo:.3f}, {c.recon_hi:.3f}]",
            "energy": c.energy,
            "rank": c.rank_estimate,
            "collapsed": c.collapsed,
            "train s": c.train_time_s,
            "cached": c.loaded,
            "checkpoint": c.checkpoint[:12],
        }
        for c in cells
    ]


def _by_rank(s, cells) -> list[dict]:
    """The discrepancy at every rank of Q(x, r) of the LWGAN objective, mean over seeds."""
    by_rank = []
    for obj in s.objectives:
        for lam in s.lambdas:
            cs = [c for c in cells if c.objective == obj and c.lambda_iso == lam]
            if not cs or not cs[0].discrepancy_by_rank:  # the published autoencoder has one rank
                continue
            mean = np.mean([c.discrepancy_by_rank for c in cs], axis=0)
            by_rank.append(
                {"objective": obj, "lambda_iso": f"{lam:g}", **{f"r={i + 1}": float(v) for i, v in enumerate(mean)}}
            )
    return by_rank


def summary_metrics(results: Results) -> dict:
    return toy_report.summary_metrics(results, summary(results), "discrepancy", "lambda_iso", "lam")


EXPERIMENT = toy.experiment(
    "isometry",
    "Iso-LWGAN exp. 1: latent vs generated distances on two Gaussians per lambda_iso",
    IsometrySettings,
    render=render,
    verdicts=verdicts,
    figures=lambda results, out: isometry_figures.figures(results, summary(results), out),
    summary_metrics=summary_metrics,
    version=2,  # 2: the rank estimate's margin (claim 9)
)
