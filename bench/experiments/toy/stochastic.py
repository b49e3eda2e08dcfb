"""`bench stochastic`: does noise injection make the generator's outputs diverse?

Iso-LWGAN experiment 2 (SPEC part B): three clusters; per sigma_noise and seed, train LWGAN (the
full objective) and the authors' published autoencoder with the partially stochastic generator
G(z, eps) = net([z ; sigma_noise eps]), eps ~ N(0, I_2), and
measure on held-out inputs the diversity (mean pairwise l2 between 10 draws of G(z, eps) for the
same z = Q(x)), the reconstruction loss, the mode coverage (share of samples nearest each cluster
centre) and the energy distance to held-out data, beside the published 0.0000 / 0.0057 / 0.0195
(the paper's Figure 2 is the diversity figure).
"""

from __future__ import annotations

import numpy as np

from bench import sensitivity
from bench.claims import get
from bench.claims.catalog_lwgan import COVER
from bench.experiments.lwgan_metrics import COLLAPSE
from bench.experiments.lwgan_settings import CENTRES, StochasticSettings
from bench.experiments.lwgan_settings import STOCHASTIC_DATASET as DATASET
from bench.experiments.reference import reference_value, setting_key
from bench.experiments.toy import stochastic_figures, toy_report
from bench.experiments.toy import toy_base as toy
from bench.experiments.toy.toy_cells import toy_cells
from bench.experiments.toy.toy_claims import (
    collapsed,
    over_seeds,
    paired_ratio,
    rank_verdict,
    ratio_text,
)
from bench.figures import figure_link
from bench.pipeline import Results
from bench.report import format_seeds, markdown_table
from bench.stats import seed_summary
from bench.verdict import Verdict
from bench.verdict import rows as verdict_rows

CLAIMS = ("noise-diversity", "noise-stability", "noise-mode-collapse", "rank-finds-dimension")


def summary(results: Results) -> list[dict]:
    """One row per (objective, sigma_noise): every metric's mean and t-interval over seeds."""
    cells = toy_cells(results)
    rows = [vars(c) for c in cells]
    by = ["objective", "sigma_noise"]
    metrics = ("diversity", "batch_diversity", "recon", "energy", "loss_spread")
    tables = {m: seed_summary(rows, by, m) for m in metrics}
    out = []
    for i, base in enumerate(tables["diversity"]):
        key = (base["objective"], base["sigma_noise"])
        mine = [c for c in cells if (c.objective, c.sigma_noise) == key]
        shares = np.mean([c.mode_shares for c in mine], axis=0)
        out.append(
            {
                "objective": key[0],
                "sigma_noise": key[1],
                **{m: tables[m][i] for m in metrics},
                "diversity_per_seed": [c.diversity for c in mine],
                "shares": shares.tolist(),
                "balance": float(shares.min() * len(shares)),  # 1: every mode gets 1/K of the samples
                "ranks": [c.rank_estimate for c in mine],
                "collapsed": sum(c.collapsed for c in mine),
                "published": reference_value("stochastic", setting_key("sigma_noise", key[1]), "authors'"),
            }
        )
    return out


def missing_cluster(c, cover: float) -> bool:
    """The model puts fewer than `cover` of its generated points nearest some cluster centre."""
    return bool(c.mode_shares) and min(c.mode_shares) < cover


def verdicts(results: Results) -> list[Verdict]:
    """Per objective: claim 7a (diversity against the published size), 7b (stability, paired by
    seed), 7c (mode collapse: what noise would have to fix) and, on the LWGAN objective, claim 9
    on the models' rank estimates; withheld where a model collapsed."""

    out = []
    cells = toy_cells(results)
    for obj in results.settings_obj().objectives:
        mine = [c for c in cells if c.objective == obj]
        zero = {c.seed: c for c in mine if c.sigma_noise == 0}
        sigmas = sorted({c.sigma_noise for c in mine if c.sigma_noise > 0})
        at = {sig: [c for c in mine if c.sigma_noise == sig] for sig in sigmas}
        subject, bad = f"{obj} objective", collapsed(mine)
        c7a, c7b, c7c = get("noise-diversity"), get("noise-stability"), get("noise-mode-collapse")
        if not zero or not sigmas:
            why = "the grid lacks sigma_noise = 0 or a sigma_noise > 0"
            out += [c.unjudged(subject, why) for c in (c7a, c7b, c7c)]
        else:
            div = [(sig, over_seeds(f"σ={sig:g}", [c.diversity for c in at[sig]])) for sig in sigmas]
            zero_div = max(abs(c.diversity) for c in zero.values())
            n7a = "; ".join(f"σ={sig:g}: {e.value:.4f} [{e.lo:.4f}, {e.hi:.4f}]" for sig, e in div)
            n7a += f"; σ=0: at most {zero_div:.1e} (a deterministic generator)"
            spread = {sig: paired_ratio(f"σ={sig:g}", at[sig], zero, lambda c: c.loss_spread) for sig in sigmas}
            n7b = "; ".join(f"σ={sig:g}: loss spread {ratio_text(e)} of σ=0's" for sig, e in spread.items() if e)
            lows = lambda cs: [min(c.mode_shares) for c in cs if c.mode_shares]
            shares = {"zero": lows(zero.values()), "noisy": {sig: lows(at[sig]) for sig in sigmas}}
            missing = {
                "zero": sum(missing_cluster(c, COVER) for c in zero.values()),
                "noisy": {sig: sum(missing_cluster(c, COVER) for c in at[sig]) for sig in sigmas},
            }
            lowest = lambda cs: ", ".join(f"{min(c.mode_shares):.3f}" for c in cs)
            n7c = (
                f"models missing a cluster (<{COVER:.0%} of draws): σ=0 {missing['zero']} of {len(zero)}"
                + "".join(f", σ={sig:g} {n} of {len(at[sig])}" for sig, n in missing["noisy"].items())
                + f"; lowest cluster share per seed: σ=0 {lowest(zero.values())}"
                + "".join(f"; σ={sig:g} {lowest(at[sig])}" for sig in sigmas)
            )
            for claim, ev, numbers in ((c7a, div, n7a), (c7b, [e for e in spread.values() if e], n7b)):
                out.append(claim.withhold(subject, bad, numbers) if bad else claim.judge(subject, ev, numbers))
            if obj == "published":  # its draws G(Z, eps) come from a prior the autoencoder never matched
                out.append(
                    c7c.untestable(
                        subject,
                        "the published autoencoder has no prior to draw from: its "
                        "encoder was never matched to N(0, I), so its draws G(Z) test nothing "
                        "about collapse",
                        n7c,
                    )
                )
            else:
                out.append(c7c.withhold(subject, bad, n7c) if bad else c7c.judge(subject, shares, n7c))
        rank = rank_verdict(mine, f"{obj} objective, three clusters (intrinsic dimension 2)")
        if rank is not None:
            out.append(rank)
    return out


# ------------------------------------------------------------------------------------- report


def render(results: Results) -> str:
    """The markdown report: a pure function of the saved results."""

    s = results.settings_obj()
    cells = toy_cells(results)
    rows = summary(results)
    parts = [
        "# Partially stochastic generator: output diversity (Iso-LWGAN experiment 2)",
        "",
        _intro(results, s),
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
        "## Diversity beside the published run",
        "",
        "Mean over seeds with a 95% Student-t interval over seeds (n/a with one seed).",
        "",
        markdown_table(_div_rows(rows)),
        "",
        figure_link(
            "stochastic_diversity",
            "Output diversity under varying noise "
            "levels (the paper's Figure 2): 10 draws for each of 5 inputs as offsets from "
            "their mean, first seed; right: diversity against sigma_noise",
        ),
        "",
        "## Reconstruction, mode coverage, sample quality",
        "",
        _measures(s),
        "",
        markdown_table(_other_rows(rows), floatfmt={"balance (min share x 3)": ".3f"}),
        "",
        figure_link("stochastic_samples", "Held-out data against generated points, first seed"),
        "",
        figure_link("stochastic_losses", "Training curves (smoothed), first seed"),
        "",
        *toy_report.diagnosis(results, "sigmas", "sigma_noise"),
        "## Per seed",
        "",
        (
            "Intervals are percentile bootstraps over held-out inputs; the energy distance has none "
            "per seed (it is not a mean over points, and its bootstrap is biased upward), only its "
            "spread over seeds above."
        ),
        "",
        markdown_table(_cell_rows(cells), floatfmt={"train s": ".0f", "energy": ".3f"}),
        "",
        *toy_report.report_tail(results),
    ]
    return "\n".join(parts)


def _intro(results, s) -> str:
    lam = s.lambdas[0]
    return (
        f"Three clusters centred at (0, 0), (3, 3), (-3, 3), std 0.5 ({DATASET}: 1,500 "
        "training and 500 held-out points, drawn anew for each seed). The generator is "
        f"G(z, eps) = net([z ; sigma_noise eps]) with eps ~ N(0, I_{s.noise_dim}) drawn anew at "
        f"every call, at evaluation too. Objectives: `lwgan`, the full LWGAN objective; "
        "`published`, the authors' public run (a plain autoencoder, Q 2-64-64-3 and G "
        "(3 + 2)-64-64-2 with ReLU, reconstruction only, Adam 1e-3, batch 128, 20 epochs); "
        f"lambda_iso = {lam:g}"
        + (" (the noise alone, as in the published run; `--lambda-iso` adds the isometric term)" if lam == 0 else "")
        + f". The diversity of one held-out input x is the mean l2 distance over the pairs of "
        f"{s.draws} draws G(z, eps_1..{s.draws}) at z = Q(x, r), r = "
        + (f"z_max = {s.z_max}" if s.eval_rank == "max" else str(s.eval_rank))
        + f"; the table averages it over all {len(results.context['heldout'])} held-out inputs (the "
        "published run used 5 inputs)."
    )


def _measures(s) -> str:
    return (
        f"Reconstruction is the mean held-out ‖x - G(Q(x, r), eps)‖ with fresh noise; {s.n_samples} "
        "draws G(Z_r, eps) give the mode shares (share of draws nearest each centre; the data "
        "has 1/3 each) and the energy distance to the held-out points. A model has "
        f"**collapsed** when its reconstruction error is at least {COLLAPSE:g} times that of "
        "the constant map at the training mean (E‖x - mean‖ on the held-out points)."
        + " The training loss spread is the standard deviation of the per-step training "
        "reconstruction loss over the last quarter of training (stability in claim 7)."
        + (
            " The published autoencoder has no prior matching, so its G(Z) draws (Z ~ N(0, I)) "
            "are not expected to look like the data."
            if "published" in s.objectives
            else ""
        )
    )


def _div_rows(rows: list[dict]) -> list[dict]:
    return [
        {
            "objective": r["objective"],
            "sigma_noise": f"{r['sigma_noise']:g}",
            "held-out diversity (mean [95% t-interval])": format_seeds(r["diversity"], 4),
            "per seed": ", ".join(f"{v:.4f}" for v in r["diversity_per_seed"]),
            "5 inputs of one training batch, as the authors measured": format_seeds(r["batch_diversity"], 4),
            "published run": r["published"] or "n/a",
        }
        for r in rows
    ]


def _other_rows(rows: list[dict]) -> list[dict]:
    return [
        {
            "objective": r["objective"],
            "sigma_noise": f"{r['sigma_noise']:g}",
            "reconstruction ‖x - G(Q(x), eps)‖": format_seeds(r["recon"], 3),
            "energy distance G(Z, eps) vs held-out": format_seeds(r["energy"], 3),
            "mode shares " + " / ".join(f"({a:g},{b:g})" for a, b in CENTRES): " / ".join(
                f"{v:.3f}" for v in r["shares"]
            ),
            "balance (min share x 3)": r["balance"],
            "training loss spread, last quarter": format_seeds(r["loss_spread"], 4),
            "estimated rank (per seed)": "n/a (no critic)"
            if all(x is None for x in r["ranks"])
            else ", ".join(map(str, r["ranks"])),
            "collapsed seeds": f"{r['collapsed']} of {r['diversity']['n_seeds']}",
        }
        for r in rows
    ]


def _cell_rows(cells) -> list[dict]:
    return [
        {
            "objective": c.objective,
            "sigma_noise": f"{c.sigma_noise:g}",
            "seed": c.seed,
            "diversity [bootstrap 95%]": f"{c.diversity:.5f} [{c.diversity_lo:.5f}, {c.diversity_hi:.5f}]",
            "reconstruction": f"{c.recon:.3f} [{c.recon_lo:.3f}, {c.recon_hi:.3f}]",
            "energy": c.energy,
            "mode shares": " / ".join(f"{v:.3f}" for v in c.mode_shares),
            "rank": c.rank_estimate,
            "collapsed": c.collapsed,
            "train s": c.train_time_s,
            "cached": c.loaded,
            "checkpoint": c.checkpoint[:12],
        }
        for c in cells
    ]


def summary_metrics(results: Results) -> dict:
    return toy_report.summary_metrics(results, summary(results), "diversity", "sigma_noise", "sig")


EXPERIMENT = toy.experiment(
    "stochastic",
    "Iso-LWGAN exp. 2: output diversity of the partially stochastic generator per sigma_noise",
    StochasticSettings,
    render=render,
    verdicts=verdicts,
    figures=lambda results, out: stochastic_figures.figures(results, summary(results), out),
    summary_metrics=summary_metrics,
    version=2,  # 2: the rank estimate's margin (claim 9)
)
