"""The LWGAN and Iso-LWGAN studies' claims (6-10), with their bands and their reasons (SPEC part
B; the recovery claims are in bench.claims.catalog). Intervals are 95%: over training seeds
(Student-t), or over test images and seeds together where every seed is scored on the same
images (claim 8, bench.stats.crossed_interval)."""

from __future__ import annotations

import math

from bench.claims.rules import Band, Claim, Estimate, Outcome, above, at_most, combine, inside, register
from bench.stats import t_interval

# Claim 6: the published discrepancies at lambda_iso > 0 are 0.022-0.027 on one training batch of
# one seed; 0.05 is about twice the largest, and under 5% of the lambda-0 value (1.20).
ISO_DISCREPANCY = 0.05
# Claim 7a, "visibly diverse": draws for one z must spread by at least a tenth of how far apart
# two points of one cluster of the data lie (std 0.5: 0.5 sqrt(pi) = 0.89 on average), or they
# sit inside one marker of a scatter of the data. The published run's 0.0057 and 0.0195 are
# 0.6% and 2% of that spread: its numbers do not show visible diversity at the data's scale.
CLUSTER_SPREAD = 0.5 * math.sqrt(math.pi)
VISIBLE = 0.1 * CLUSTER_SPREAD
PUBLISHED_DIVERSITY = {0.1: 0.0057, 0.5: 0.0195}
# Claim 7b: the late-training loss may fluctuate up to twice as much as without noise.
STABLE_RATIO = 2.0
# Claim 7c: a model covers a cluster when at least 10% of its generated points fall nearest it
# (a third of the data's 1/3; with 500 points a share's standard error is at most 2.2 points).
COVER = 0.10
# Claim 8, "slightly worse": the paper's +2.5% is a difference of two one-batch means (128 images
# each; per-image sd 1.78 in this harness's published-run models, mnist.md), with a 95% interval
# of about [-5%, +10%]: its own sample shows that the isometric term costs little reconstruction,
# not that it costs some. The band is the cost the paper's data can support: within +-11%.
SLIGHT = 0.11
# Claim 9: a rank estimate is settled when the runner-up's penalised score is at least two
# standard errors (of the paired difference over the score's evaluations) worse; no verdict
# turns on one seed's estimate nearer than that.
MARGIN_SE = 2.0
# Claim 10: the paper gives no number ("noticeably smoother"); 10% less irregular is the least
# change we count as smoother, and a ratio surely above 0.9 as not smoother.
SMOOTHER = 0.9


def _isometry(ev: dict, c: dict) -> Outcome:
    """ev: {"levels": [Estimate of the discrepancy per lambda > 0], "drops": [Estimate of
    log(disc(0) / disc(lambda)) per lambda > 0]}."""
    size = combine([at_most([e], c["discrepancy"]) for e in ev["levels"]])
    if size.label == "not reproduced":
        size = Outcome("not reproduced", "larger", size.resolution, size.half_width)
    drop = above(ev["drops"], 0.0) if ev["drops"] else Outcome("inconclusive")
    if drop.label == "not reproduced":
        drop = Outcome("not reproduced", "no drop")
    return combine([size, Outcome(drop.label, drop.note)])


register(
    Claim(
        "isometry-discrepancy",
        "6",
        "Iso-LWGAN (experiment 1)",
        "the isometric term lowers the latent/generated distance discrepancy to 0.02-0.03",
        quantity="the mean absolute pairwise-distance discrepancy |‖z_i - z_j‖ - ‖G(z_i) - G(z_j)‖| on "
        "held-out points at each lambda_iso > 0 (Student-t over seeds), and its drop from "
        "lambda_iso 0, log(disc(0) / disc(lambda)) per seed (paired by seed, Student-t)",
        paper_value="1.20 at lambda_iso 0; 0.02-0.03 at 0.5, 1, 2 (the published run: 0.0264, 0.0271, "
        "0.0220 on one training batch)",
        reproduced=Band(
            f"at every lambda_iso > 0 the discrepancy's interval at or below "
            f"{ISO_DISCREPANCY:g}, and the drop's interval above 0",
            f"{ISO_DISCREPANCY:g} is about twice the largest published value, read off one "
            "training batch of one seed, and under 5% of the lambda-0 value",
        ),
        not_reproduced=Band(
            f"at some lambda_iso > 0 the interval above {ISO_DISCREPANCY:g} (larger), or the drop's interval below 0",
            "at least twice the paper's size, or no drop",
        ),
        inconclusive=Band("otherwise, or with fewer than 2 seeds", "an interval that straddles a bound"),
        reports=("isometry", "isometry-no-warm-start/isometry"),
        decide=_isometry,
        constants={"discrepancy": ISO_DISCREPANCY},
        gate="encoder",
    )
)


def _diversity(ev: list[tuple[float, Estimate]], c: dict) -> Outcome:
    """ev: (sigma, diversity Estimate) for every sigma > 0 the claim names (0.1 and 0.5)."""
    parts = [above([e], c["visible"]) for s, e in ev if s in PUBLISHED_DIVERSITY]
    if not parts:
        return Outcome("inconclusive", "no sigma the paper names (0.1, 0.5)")
    out = combine(parts)
    return Outcome(
        out.label, "not visible" if out.label == "not reproduced" else out.note, out.resolution, out.half_width
    )


register(
    Claim(
        "noise-diversity",
        "7a",
        "Iso-LWGAN (experiment 2)",
        "noise (sigma 0.1, 0.5) gives visibly diverse outputs for a fixed latent code",
        quantity="held-out diversity: mean pairwise l2 among 10 draws of G(z, eps) for one z = Q(x), "
        "averaged over inputs; Student-t over seeds at each sigma_noise the paper names",
        paper_value="the published run: 0.0000, 0.0057, 0.0195 at sigma 0, 0.1, 0.5",
        reproduced=Band(
            f"at sigma 0.1 and 0.5 the interval above {VISIBLE:.3f}: a tenth of the mean distance "
            f"between two points of one cluster of the data ({CLUSTER_SPREAD:.2f} at std 0.5)",
            "draws closer than that sit inside one marker of a scatter of the data; the published "
            "run's own values are 0.6% and 2% of the cluster's spread, so its numbers do not show "
            "visible diversity at the data's scale either (its claim rests on its Figure 2)",
        ),
        not_reproduced=Band("at some sigma the interval below that", "diversity invisible at the data's scale"),
        inconclusive=Band("otherwise", "an interval that straddles the bound"),
        reports=("stochastic",),
        decide=_diversity,
        constants={"visible": VISIBLE},
        gate="encoder",
    )
)

register(
    Claim(
        "noise-stability",
        "7b",
        "Iso-LWGAN (experiment 2)",
        "noise does not compromise training stability",
        quantity="the standard deviation of the training reconstruction loss over the last quarter of "
        "training at sigma > 0 over that at sigma 0, per seed (paired: same data and "
        "initialisation), Student-t of the log ratio",
        paper_value="not measured in the paper ('without compromising training stability')",
        reproduced=Band(
            f"at every sigma > 0 the ratio's interval at or below {STABLE_RATIO:g}",
            "the paper gives no number; a late-training loss that fluctuates twice as much has not settled",
        ),
        not_reproduced=Band(
            f"at some sigma > 0 the interval above {STABLE_RATIO:g}", "the fluctuation surely more than doubles"
        ),
        inconclusive=Band("otherwise", "an interval that straddles the bound"),
        reports=("stochastic",),
        decide=lambda ratios, c: combine([at_most([e], c["ratio"], "unsettled") for e in ratios]),
        constants={"ratio": STABLE_RATIO},
        ratios=("ratio",),
        gate="encoder",
    )
)


def _mode_collapse(ev: dict, c: dict) -> Outcome:
    """ev: {"zero": [each sigma-0 model's lowest cluster share], "noisy": {sigma: [shares]}}."""
    miss = lambda shares: sum(s < c["cover"] for s in shares)
    zero, noisy = miss(ev["zero"]), {s: miss(v) for s, v in ev["noisy"].items()}
    if zero == 0:
        return Outcome("inconclusive", "no collapse at sigma 0 to mitigate")
    if not noisy:
        return Outcome("inconclusive", "no sigma > 0")
    if any(n >= zero for n in noisy.values()):
        return Outcome("not reproduced", "collapse persists")
    if all(n == 0 for n in noisy.values()):
        return Outcome("reproduced")
    return Outcome("inconclusive", "fewer collapsed, not none")


register(
    Claim(
        "noise-mode-collapse",
        "7c",
        "Iso-LWGAN (introduction, conclusion)",
        "noise injection mitigates mode collapse",
        quantity=f"per model the clusters covered by its generated points (a cluster holding at least "
        f"{COVER:.0%} of 500 draws G(Z, eps)); the models that miss a cluster at sigma 0 and at "
        "each sigma > 0 (three clusters, same seeds); untestable for a model with no prior to draw from",
        paper_value="no number; what it would have to show: models that miss a cluster without noise "
        "cover all three with it",
        reproduced=Band(
            "some sigma-0 model misses a cluster, and at every sigma > 0 none does",
            f"{COVER:.0%} is a third of the data's share; a 500-point share has a standard error of at most 2.2 points",
        ),
        not_reproduced=Band(
            "some sigma-0 model misses a cluster, and at some sigma > 0 at least as many models miss one",
            "the noise leaves the collapse where it was",
        ),
        inconclusive=Band(
            "no sigma-0 model misses a cluster (nothing to mitigate), or noise lowers the count without clearing it",
            "the claim cannot be tested, or only partly holds",
        ),
        reports=("stochastic",),
        decide=_mode_collapse,
        constants={"cover": COVER},
        gate="encoder",
    )
)


def _slight(e: Estimate, c: dict) -> Outcome:
    return inside(e, -c["slight"], c["slight"], below="Iso-LWGAN better", beyond="larger")


register(
    Claim(
        "recon-slightly-worse",
        "8",
        "Iso-LWGAN (experiment 3)",
        "Iso-LWGAN reconstructs slightly worse than base LWGAN after brief training",
        quantity="the relative gap (recon(Iso-LWGAN) - recon(base)) / recon(base) of the mean per-image "
        "l2 error on the same test images, the interval over the images and the training seeds "
        "together (crossed random effects)",
        paper_value="5.76 against 5.62: +0.14, +2.5% (one training batch each, one seed)",
        reproduced=Band(
            f"the interval within +-{SLIGHT:.0%} (the isometric term costs at most slightly)",
            "the paper's +2.5% on one batch of 128 images per model has a 95% interval of about "
            "[-5%, +10%]: its data show a small cost, not its sign; a band it passes must reach 11%",
        ),
        not_reproduced=Band(
            f"the interval above +{SLIGHT:.0%} (larger) or below -{SLIGHT:.0%} (Iso-LWGAN clearly better)",
            "more than slightly worse, or clearly better",
        ),
        inconclusive=Band("otherwise", "an interval that straddles a bound"),
        reports=("mnist",),
        decide=_slight,
        constants={"slight": SLIGHT},
        gate="encoder",
    )
)


def _rank(ev: list[dict], c: dict) -> Outcome:
    """ev: per seed {"estimate", "truth", "margin"} (margin in SEs of the settled choice: for a
    correct estimate the runner-up's gap, for a wrong one the truth's gap)."""
    if not ev:
        return Outcome("inconclusive", "no fresh seed")
    m = c["margin_se"]
    wrong = [e for e in ev if e["estimate"] != e["truth"] and e["margin"] >= m]
    if wrong:
        return Outcome("not reproduced", f"settled on another rank in {len(wrong)} of {len(ev)} seeds")
    found = [e for e in ev if e["estimate"] == e["truth"] and e["margin"] >= m]
    if len(found) == len(ev):
        return Outcome("reproduced")
    return Outcome("inconclusive", f"unsettled (margin under {m:g} SE) in {len(ev) - len(found)} of {len(ev)} seeds")


register(
    Claim(
        "rank-finds-dimension",
        "9",
        "LWGAN (Qiu, Gao and Wang)",
        "the rank score's argmin is the data's intrinsic dimension",
        quantity="per dataset and seed the estimate and its margin: the penalised score's gap between "
        "the estimate and the runner-up rank (for a wrong estimate: the true rank), in "
        "standard errors of that difference over the score's evaluations; seeds never used "
        "to choose the training schedule; judged on data an encoder into R^r can represent at "
        "the intrinsic dimension (a torus cannot: no continuous one-to-one map takes it into R^2)",
        paper_value="the true dimension (Swiss roll 1, S-curve 2, hyperplane 4)",
        reproduced=Band(
            f"every seed's estimate is the truth with a margin of at least {MARGIN_SE:g} SE",
            "no verdict turns on a seed whose estimate could flip on another set of evaluations",
        ),
        not_reproduced=Band(
            f"some seed settles on another rank (the truth at least {MARGIN_SE:g} SE worse)",
            "the estimate is wrong beyond the score's noise",
        ),
        inconclusive=Band(
            f"otherwise: no seed settled wrong, some margins under {MARGIN_SE:g} SE",
            "the score cannot tell the ranks apart there",
        ),
        reports=("rank", "isometry", "stochastic"),
        decide=_rank,
        constants={"margin_se": MARGIN_SE},
        gate="encoder",
    )
)


def _smoother(ratios: list[Estimate], c: dict) -> Outcome:
    """ratios: irregularity(Iso) / irregularity(base), per comparison (exp(t-interval of logs))."""
    if not ratios or not all(e.finite() for e in ratios):
        return Outcome("inconclusive", "no interval")
    bound = c["ratio"]
    if any(e.lo > bound for e in ratios):
        return Outcome("not reproduced", "not smoother")
    return Outcome("reproduced") if all(e.hi < bound for e in ratios) else Outcome("inconclusive")


register(
    Claim(
        "smoother-interpolations",
        "10",
        "Iso-LWGAN (experiments 1 and 3, conclusion)",
        "the isometric regulariser gives smoother latent space interpolations",
        quantity="the irregularity of decoded straight latent lines (per path the coefficient of "
        "variation of its step lengths; 0 at constant speed), Iso-LWGAN over LWGAN per seed "
        "(same data draw and initialisation seed), Student-t of the log ratio; shown beside "
        "the two models' reconstruction errors, since a blurrier fit is also a smoother one",
        paper_value="no number; 'noticeably smoother' interpolation figures (Figures 1, 3, 4)",
        reproduced=Band(
            f"every ratio's interval below {SMOOTHER:g} (at least {1 - SMOOTHER:.0%} less irregular)",
            "the paper gives no size; 10% is the least change we count as smoother",
        ),
        not_reproduced=Band(f"some ratio's interval above {SMOOTHER:g}", "surely less than 10% smoother, or rougher"),
        inconclusive=Band("otherwise", "an interval that straddles the bound"),
        reports=("isometry", "mnist"),
        decide=_smoother,
        constants={"ratio": SMOOTHER},
        ratios=("ratio",),
        gate="encoder",
    )
)


def log_ratio_estimate(name: str, logs: list[float], where: str = "") -> Estimate:
    """exp of a Student-t interval of per-seed log ratios: a ratio with its interval."""

    ci = t_interval(logs)
    f = lambda v: math.exp(v) if math.isfinite(v) else math.nan
    return Estimate(name, f(ci.value), f(ci.lo), f(ci.hi), where=where or f"t over {len(logs)} seeds")
