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

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.experiments import toy, toy_report
from bench.experiments.metrics import COLLAPSE
from bench.experiments.reference import reference_value, setting_key
from bench.experiments.toy import ToySettings, toy_cells
from bench.figures import figure_link, pyplot, save_figure
from bench.pipeline import Results
from bench.report import format_seeds, markdown_table
from bench.stats import seed_summary
from bench.verdict import Verdict
from bench.verdict import rows as verdict_rows

DATASET = "three_clusters"
# SPEC part B, experiment 2 (bench/data/synthetic.py samples around the same centres; a test
# checks that the two agree).
CENTRES = ((0.0, 0.0), (3.0, 3.0), (-3.0, 3.0))
DEFAULT_SIGMAS = (0.0, 0.1, 0.5)
NOISE_DIM = 2  # k = 2 noise channels for 2-D data (SPEC)
ZERO = 1e-6  # a deterministic generator's diversity is exactly 0; allow float round-off
STABLE_RATIO = 2.0  # the last-quarter loss spread may grow to this many times sigma = 0's
VERDICT_RULE = (
    "claim 7, per objective: noise raises diversity without hurting stability. Diversity: 0 at "
    f"sigma_noise = 0 (below {ZERO:g}) in every seed, and for every sigma_noise > 0 a 95% "
    "t-interval over seeds above 0, the means increasing with sigma_noise. Stability: the spread "
    "of the training reconstruction loss over its last quarter (its standard deviation over "
    f"the last 25% of steps; mean over seeds) at most {STABLE_RATIO:g} times that at "
    "sigma_noise = 0, for every sigma_noise > 0. Reproduced if both hold; not reproduced if one "
    "fails; inconclusive without sigma_noise = 0 and a sigma_noise > 0 in the grid, with fewer "
    "than 2 seeds, or when a model collapsed (a verdict is called only on models that did not "
    "collapse). The size of the diversity is shown beside the published run's (0.0000, 0.0057, "
    "0.0195), not judged"
)


@dataclass(frozen=True)
class StochasticSettings(ToySettings):
    """Three clusters; sigma_noise x seeds x objectives, lambda_iso 0 by default (the noise
    alone, as in the published run); every ToySettings field can be given."""

    dataset: str = DATASET
    sigmas: tuple[float, ...] = DEFAULT_SIGMAS
    noise_dim: int = NOISE_DIM
    centres: tuple[tuple[float, float], ...] | None = CENTRES


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
        out.append({
            "objective": key[0], "sigma_noise": key[1],
            **{m: tables[m][i] for m in metrics},
            "diversity_per_seed": [c.diversity for c in mine],
            "shares": shares.tolist(),
            "balance": float(shares.min() * len(shares)),  # 1: every mode gets 1/K of the samples
            "ranks": [c.rank_estimate for c in mine],
            "collapsed": sum(c.collapsed for c in mine),
            "published": reference_value("stochastic", setting_key("sigma_noise", key[1]), "authors'"),
        })  # fmt: skip
    return out


def verdicts(results: Results) -> list[Verdict]:
    """Claim 7, one verdict per objective."""
    out = []
    rows = summary(results)
    for obj in results.settings_obj().objectives:
        mine = sorted((r for r in rows if r["objective"] == obj), key=lambda r: r["sigma_noise"])
        zero = [r for r in mine if r["sigma_noise"] == 0]
        claim = f"{obj} objective: noise raises diversity without hurting stability"
        if not zero or len(mine) < 2:
            out.append(Verdict(claim, "inconclusive", VERDICT_RULE,
                               "the grid lacks sigma_noise = 0 or a sigma_noise > 0"))  # fmt: skip
            continue
        pos = [r for r in mine if r["sigma_noise"] > 0]
        zero_ok = all(abs(v) < ZERO for v in zero[0]["diversity_per_seed"])
        above = all(r["diversity"]["lo"] > 0 for r in pos)
        rising = all(b["diversity"]["value"] > a["diversity"]["value"] for a, b in itertools.pairwise(mine))
        base = zero[0]["loss_spread"]["value"]
        ratios = [r["loss_spread"]["value"] / base if base > 0 else float("inf") for r in pos]
        stable = all(x <= STABLE_RATIO for x in ratios)
        collapsed = sum(r["collapsed"] for r in mine)
        n = sum(r["diversity"]["n_seeds"] for r in mine)
        detail = (
            "; ".join(f"σ={r['sigma_noise']:g}: {format_seeds(r['diversity'], 4)}" for r in mine)
            + f"; zero at σ=0: {'yes' if zero_ok else 'no'}; above 0 and increasing: "
            + ("yes" if above and rising else "no")
            + "; loss spread vs σ=0: " + ", ".join(f"{x:.2f}x" for x in ratios)
            + f" (stable: {'yes' if stable else 'no'}); collapsed models: {collapsed} of {n}"
        )
        if min(r["diversity"]["n_seeds"] for r in mine) < 2 or collapsed:
            label = "inconclusive"
        else:
            label = "reproduced" if zero_ok and above and rising and stable else "not reproduced"
        out.append(Verdict(claim, label, VERDICT_RULE, detail))
    return out


# ------------------------------------------------------------------------------------ figures


def _first(results: Results) -> dict:
    first = results.settings_obj().seeds[0]
    return {(c.objective, c.sigma_noise): c for c in toy_cells(results) if c.seed == first}


def plot_diversity(results: Results, path: Path) -> list[Path]:
    """The paper's Figure 2: for five held-out inputs, 10 draws of G(z, eps) each, drawn as
    offsets from their input's mean draw on one scale for every sigma_noise (first seed); the last
    panel is the diversity against sigma_noise (mean and t-interval over seeds) beside the
    published run's."""
    s = results.settings_obj()
    cells = _first(results)
    plt = pyplot()
    fig, axes = plt.subplots(len(s.objectives), len(s.sigmas) + 1, squeeze=False,
                             figsize=(2.8 * (len(s.sigmas) + 1), 2.8 * len(s.objectives)))  # fmt: skip
    spread = max(
        (np.abs(np.asarray(c.draw_sets) - np.asarray(c.draw_sets).mean(1, keepdims=True)).max()
         for c in cells.values()), default=0.0,
    )  # fmt: skip
    lim = max(spread * 1.15, 1e-3)
    rows = summary(results)
    for i, obj in enumerate(s.objectives):
        for j, sig in enumerate(s.sigmas):
            ax, c = axes[i][j], cells.get((obj, sig))
            if c is None:  # a failed cell
                continue
            d = np.asarray(c.draw_sets)
            off = d - d.mean(axis=1, keepdims=True)
            for k in range(len(off)):
                ax.scatter(off[k, :, 0], off[k, :, 1], s=10, color=f"C{k}", alpha=0.8)
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_title(f"{obj}, σ={sig:g}\ndiversity {c.diversity:.4f}", fontsize=8)
            ax.tick_params(labelsize=6)
        ax = axes[i][-1]
        mine = [r for r in rows if r["objective"] == obj]
        x = [r["sigma_noise"] for r in mine]
        d = [r["diversity"] for r in mine]
        err = np.array([[v["value"] - v["lo"], v["hi"] - v["value"]] for v in d]).T
        ax.errorbar(x, [v["value"] for v in d], yerr=np.nan_to_num(err), marker="o", capsize=3,
                    label="measured")  # fmt: skip
        pub = [(r["sigma_noise"], float(r["published"])) for r in mine if r["published"]]
        if pub:
            ax.plot(*zip(*pub), "k*", ms=8, label="published run")
        ax.set_xlabel("σ_noise", fontsize=8)
        ax.set_title("diversity", fontsize=8)
        ax.legend(fontsize=6)
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_samples(results: Results, path: Path) -> list[Path]:
    """Held-out data against G(Z_r, eps) per (objective, sigma_noise), first seed, with the
    cluster centres and the mode shares."""
    s = results.settings_obj()
    cells = _first(results)
    h = np.asarray(results.context["heldout"])
    plt = pyplot()
    fig, axes = plt.subplots(len(s.objectives), len(s.sigmas), squeeze=False,
                             figsize=(2.9 * len(s.sigmas), 2.9 * len(s.objectives)))  # fmt: skip
    cx = np.asarray(CENTRES)
    for i, obj in enumerate(s.objectives):
        for j, sig in enumerate(s.sigmas):
            ax, c = axes[i][j], cells.get((obj, sig))
            if c is None:  # a failed cell
                continue
            p = np.asarray(c.samples)
            ax.scatter(h[:, 0], h[:, 1], s=2, c="0.6", label="held-out")
            ax.scatter(p[:, 0], p[:, 1], s=2, c="C0", alpha=0.4, label="G(Z, eps)")
            ax.scatter(cx[:, 0], cx[:, 1], marker="x", c="k", s=30, label="centres")
            shares = "/".join(f"{v:.2f}" for v in c.mode_shares)
            ax.set_title(f"{obj}, σ={sig:g}\nshares {shares}, energy {c.energy:.3f}", fontsize=7)
            ax.tick_params(labelsize=6)
    axes[0][0].legend(fontsize=6, markerscale=3)
    fig.tight_layout()
    return save_figure(fig, path)


def figures(results: Results, out: Path) -> list[Path]:
    out = Path(out)
    return [
        *plot_diversity(results, out / "stochastic_diversity"),
        *plot_samples(results, out / "stochastic_samples"),
        *toy_report.plot_losses(results, out / "stochastic_losses", ("recon", "critic_gap", "mmd", "iso"),
                         "sigma_noise", "σ"),
    ]  # fmt: skip


# ------------------------------------------------------------------------------------- report


def render(results: Results) -> str:
    """The markdown report: a pure function of the saved results."""
    s = results.settings_obj()
    cells = toy_cells(results)
    rows = summary(results)
    lam = s.lambdas[0]
    div_rows = [{
        "objective": r["objective"], "sigma_noise": f"{r['sigma_noise']:g}",
        "held-out diversity (mean [95% t-interval])": format_seeds(r["diversity"], 4),
        "per seed": ", ".join(f"{v:.4f}" for v in r["diversity_per_seed"]),
        "5 inputs of one training batch, as the authors measured": format_seeds(r["batch_diversity"], 4),
        "published run": r["published"] or "n/a",
    } for r in rows]  # fmt: skip
    other_rows = [{
        "objective": r["objective"], "sigma_noise": f"{r['sigma_noise']:g}",
        "reconstruction ‖x - G(Q(x), eps)‖": format_seeds(r["recon"], 3),
        "energy distance G(Z, eps) vs held-out": format_seeds(r["energy"], 3),
        "mode shares " + " / ".join(f"({a:g},{b:g})" for a, b in CENTRES): " / ".join(
            f"{v:.3f}" for v in r["shares"]),
        "balance (min share x 3)": r["balance"],
        "training loss spread, last quarter": format_seeds(r["loss_spread"], 4),
        "estimated rank (per seed)": "n/a (no critic)" if all(x is None for x in r["ranks"])
        else ", ".join(map(str, r["ranks"])),
        "collapsed seeds": f"{r['collapsed']} of {r['diversity']['n_seeds']}",
    } for r in rows]  # fmt: skip
    cell_rows = [{
        "objective": c.objective, "sigma_noise": f"{c.sigma_noise:g}", "seed": c.seed,
        "diversity [bootstrap 95%]": f"{c.diversity:.5f} [{c.diversity_lo:.5f}, {c.diversity_hi:.5f}]",
        "reconstruction": f"{c.recon:.3f} [{c.recon_lo:.3f}, {c.recon_hi:.3f}]",
        "energy": c.energy,
        "mode shares": " / ".join(f"{v:.3f}" for v in c.mode_shares),
        "rank": c.rank_estimate, "collapsed": c.collapsed, "train s": c.train_time_s,
        "cached": c.loaded,
        "checkpoint": c.checkpoint[:12],
    } for c in cells]  # fmt: skip
    parts = [
        "# Partially stochastic generator: output diversity (Iso-LWGAN experiment 2)",
        "",
        (
            f"Three clusters centred at (0, 0), (3, 3), (-3, 3), std 0.5 ({DATASET}: 1,500 "
            "training and 500 held-out points, drawn anew for each seed). The generator is "
            f"G(z, eps) = net([z ; sigma_noise eps]) with eps ~ N(0, I_{s.noise_dim}) drawn anew at "
            f"every call, at evaluation too. Objectives: `lwgan`, the full LWGAN objective; "
            "`published`, the authors' public run (a plain autoencoder, Q 2-64-64-3 and G "
            "(3 + 2)-64-64-2 with ReLU, reconstruction only, Adam 1e-3, batch 128, 20 epochs); "
            f"lambda_iso = {lam:g}"
            + (" (the noise alone, as in the published run; `--lambda-iso` adds the isometric "
               "term)" if lam == 0 else "")
            + f". The diversity of one held-out input x is the mean l2 distance over the pairs of "
            f"{s.draws} draws G(z, eps_1..{s.draws}) at z = Q(x, r), r = "
            + (f"z_max = {s.z_max}" if s.eval_rank == "max" else str(s.eval_rank))
            + f"; the table averages it over all {len(results.context['heldout'])} held-out inputs (the "
            "published run used 5 inputs)."
        ),
        "",
        "## Verdict",
        "",
        markdown_table(verdict_rows(results.verdict_objs())),
        "",
        f"Rule: {VERDICT_RULE}.",
        "",
        "## Diversity beside the published run",
        "",
        "Mean over seeds with a 95% Student-t interval over seeds (n/a with one seed).",
        "",
        markdown_table(div_rows),
        "",
        figure_link("stochastic_diversity", "Output diversity under varying noise "
                     "levels (the paper's Figure 2): 10 draws for each of 5 inputs as offsets from "
                     "their mean, first seed; right: diversity against sigma_noise"),
        "",
        "## Reconstruction, mode coverage, sample quality",
        "",
        (
            f"Reconstruction is the mean held-out ‖x - G(Q(x, r), eps)‖ with fresh noise; {s.n_samples} "
            "draws G(Z_r, eps) give the mode shares (share of draws nearest each centre; the data "
            "has 1/3 each) and the energy distance to the held-out points. A model has "
            f"**collapsed** when its reconstruction error is at least {COLLAPSE:g} times that of "
            "the constant map at the training mean (E‖x - mean‖ on the held-out points)."
            + " The training loss spread is the standard deviation of the per-step training "
            "reconstruction loss over the last quarter of training (stability in claim 7)."
            + (" The published autoencoder has no prior matching, so its G(Z) draws (Z ~ N(0, I)) "
               "are not expected to look like the data." if "published" in s.objectives else "")
        ),
        "",
        markdown_table(other_rows, floatfmt={"balance (min share x 3)": ".3f"}),
        "",
        figure_link("stochastic_samples", "Held-out data against generated points, first seed"),
        "",
        figure_link("stochastic_losses", "Training curves (smoothed), first seed"),
        "",
        *toy_report.diagnosis(results, "sigmas", "sigma_noise"),
        "## Per seed",
        "",
        ("Intervals are percentile bootstraps over held-out inputs; the energy distance has none "
        "per seed (it is not a mean over points, and its bootstrap is biased upward), only its "
        "spread over seeds above."),
        "",
        markdown_table(cell_rows, floatfmt={"train s": ".0f", "energy": ".3f"}),
        "",
        *toy_report.report_tail(results),
    ]
    return "\n".join(parts)


def summary_metrics(results: Results) -> dict:
    return toy_report.summary_metrics(results, summary(results), "diversity", "sigma_noise", "sig")


EXPERIMENT = toy.experiment(
    "stochastic", "Iso-LWGAN exp. 2: output diversity of the partially stochastic generator per sigma_noise", StochasticSettings,
    render=render, verdicts=verdicts, figures=figures, summary_metrics=summary_metrics,
)
