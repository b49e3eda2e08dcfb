"""The latent-regulation paper's claims (1-5) and the harness's own recovery question (Q),
with their bands and their reasons (SPEC: "What the claims mean, in numbers"); the LWGAN study's
claims 6-10 are in bench.claims.catalog_lwgan. The rules' logic is in bench.claims.rules
(at_most, above, inside, combine); each experiment computes the evidence and calls
`get(key).judge(...)`. A rule reads its band's numbers from the claim's `constants`, so
`bench claims --sensitivity` can move them.

Intervals are 95%. A recovery contrast is judged on every evaluation image once: the images are
cut into two seeded halves and each half is judged at the best cells chosen on the other
(cross-fitting, bench.recovery.reporting.evidence), and its interval counts the images and the generator
seeds together (bench.stats.crossed_interval). No band is finer than the data can resolve: each
verdict states the smallest differences it could call, and every band passes the paper's own
numbers at the paper's own sample size (bench.claims.paper, tests/test_claims.py).
"""

from __future__ import annotations

from bench.claims.rules import Band, Claim, Estimate, Outcome, above, at_most, inside, register

# Claims 1-2: accuracy points within which two regulators are tied. The paper calls Wasserstein
# (94.7) and the log-normal density (95.5), 0.8 apart, both the best. At its own sample (1,000
# images, one run) a paired gap between those two regulators' best cells has a 95% half-width of
# about 1.9 points (9% of images decided differently, as in this harness's runs), so its 0.8 is
# compatible with true gaps up to 2.7: 3 points is the smallest round tie band the paper's own
# table passes (bench.claims.paper).
TIE = 3.0
# Claim 3, "close behind": the paper's gap (1.5) plus its own 95% resolution at 1,000 images
# (1.4 points at 5% discordance) is 2.9; 3 points, twice the gap.
CLOSE = 3.0
# Claim 4: a lift counts as "beats" when it is surely above 0; a regulator fails the claim when
# its lift is surely under half the paper's smallest (trick discriminator +2.0 over 75.8).
LIFT_FAIL = 1.0
# Claim 5: the cutoffs surely below the distances, and fail when a gap is surely under half the
# paper's smallest (energy 93.2 - truncated normal cutoff 87.5 = 5.7).
GAP_FAIL = 2.85
# A verdict over generator seeds is firm from this many seeds: the crossed interval's coverage
# is checked by simulation at 3 and 5 (bench.stats.simulate_coverage); with fewer the seed
# variation is unseen (one seed) or known to one degree of freedom (two).
FIRM_SEEDS = 3

RECOVERY = ("recover-paper", "generators-paper/recover-paper")
PAIRED = (
    "each regulator at its best cell (lr, hyperparameter) chosen on the other half of the target "
    "images (cross-fitted: every image judged once), the interval over the images and the "
    "generator seeds together (crossed random effects)"
)


def _best(target: str, paper: str) -> dict:
    return dict(  # noqa: C408 - the keyword arguments of Claim
        quantity=(f"d_B = acc(B) - acc({target}) for every other regulator B, in accuracy points; " + PAIRED),
        paper_value=paper,
        reproduced=Band(
            f"every d_B's interval at or below +{TIE:g} (no regulator ahead by more than a tie)",
            f"the paper calls 94.7 and 95.5 tied; at its own 1,000 images that 0.8 gap has a 95% "
            f"half-width of 1.9 points, so a tie band finer than {TIE:g} would fail the paper itself",
        ),
        not_reproduced=Band(
            f"some d_B's interval above +{TIE:g}", "a regulator ahead by more than a tie, beyond doubt"
        ),
        inconclusive=Band(
            f"otherwise: some interval reaches past +{TIE:g} without lying beyond it",
            "the data cannot tell a tie from a lead",
        ),
        reports=RECOVERY,
        decide=lambda diffs, c: at_most(diffs, c["tie"], "ahead"),
        constants={"tie": TIE},
        gate="samples",
    )


register(
    Claim(
        "wasserstein-best",
        "1",
        "Cho",
        "the Wasserstein regulator is the best or tied for best",
        **_best("wasserstein", "Wasserstein 94.7; the best other, log-normal density, +0.8"),
    )
)
register(
    Claim(
        "log-normal-density-best",
        "2",
        "Cho",
        "the log-normal density is the best or tied for best",
        **_best("log_normal_density", "log-normal density 95.5; the best other, Wasserstein, -0.8"),
    )
)


def _energy(d: Estimate, c: dict) -> Outcome:
    return inside(d, -c["tie"], c["close"], below="energy ahead", beyond="far behind")


register(
    Claim(
        "energy-close-behind",
        "3",
        "Cho",
        "the energy distance is close behind Wasserstein",
        quantity="d = acc(wasserstein) - acc(energy), in accuracy points; " + PAIRED,
        paper_value="94.7 - 93.2 = +1.5",
        reproduced=Band(
            f"d's interval within [-{TIE:g}, +{CLOSE:g}]",
            f"behind by at most the paper's 1.5 plus its own 95% resolution at 1,000 images (1.4), or "
            f"level within a tie ({TIE:g})",
        ),
        not_reproduced=Band(
            f"d's interval above +{CLOSE:g} (far behind) or below -{TIE:g} (energy ahead)",
            "the paper's order or distance, reversed or far exceeded",
        ),
        inconclusive=Band("otherwise", "an interval that straddles a band's edge"),
        reports=RECOVERY,
        decide=_energy,
        constants={"tie": TIE, "close": CLOSE},
        gate="samples",
    )
)

register(
    Claim(
        "regulators-beat-baseline",
        "4",
        "Cho (tables 1-6)",
        "every regulator's best cell beats the unregulated baseline's best",
        quantity="d_R = acc(R) - acc(none) for every regulator R, in accuracy points; " + PAIRED,
        paper_value="baseline 75.8; the smallest lift trick discriminator +2.0 (77.8), the largest "
        "log-normal density +19.7",
        reproduced=Band(
            "every d_R's interval above 0 (a lift, beyond doubt)",
            "the paper's smallest lift, +2.0 at 1,000 images, has a 95% interval of about [+0.8, +3.2]: "
            "it shows a lift, not its size",
        ),
        not_reproduced=Band(
            f"some d_R's interval below +{LIFT_FAIL:g}",
            f"that regulator surely lifts less than half the paper's smallest lift ({2 * LIFT_FAIL:g})",
        ),
        inconclusive=Band("otherwise", "an interval that reaches both bounds"),
        reports=RECOVERY,
        decide=lambda diffs, c: above(diffs, 0.0, f"under +{c['fail']:g}", fail=c["fail"]),
        constants={"fail": LIFT_FAIL},
        gate="samples",
    )
)

register(
    Claim(
        "cutoffs-below-distances",
        "5",
        "Cho (tables 1, 2, 5, 6)",
        "the resampling cutoffs score below the distance regulators",
        quantity="d = acc(D) - acc(C) for D in {wasserstein, energy} and C in {logistic_cutoff, "
        "truncated_normal_cutoff}, in accuracy points; " + PAIRED,
        paper_value="the smallest gap energy 93.2 - truncated normal cutoff 87.5 = +5.7",
        reproduced=Band("every d's interval above 0 (each cutoff surely below each distance)", "the paper's order"),
        not_reproduced=Band(
            f"some d's interval below +{GAP_FAIL:g}",
            f"a gap surely under half the paper's smallest ({2 * GAP_FAIL:g}): a cutoff level with or near a distance",
        ),
        inconclusive=Band("otherwise", "an interval that reaches both bounds"),
        reports=RECOVERY,
        decide=lambda diffs, c: above(diffs, 0.0, f"under +{c['fail']:g}", fail=c["fail"]),
        constants={"fail": GAP_FAIL},
        gate="samples",
    )
)

register(
    Claim(
        "isometric-recovery",
        "Q",
        "this harness (neither paper claims it)",
        "the isometric regulariser makes latent recovery easier",
        quantity="acc(Iso-LWGAN) - acc(LWGAN), each generator at its best regulator and cell chosen on "
        "the other half of the images (cross-fitted), on the same images, same training budget; the "
        "interval over the images and the generator seeds together",
        paper_value="none: the Iso-LWGAN paper's 'more coherent latent representation' suggests it",
        reproduced=Band("the interval above 0 (easier, beyond doubt)", "the same rule as claim 4's lift"),
        not_reproduced=Band(
            f"the interval below +{LIFT_FAIL:g} (at most a point easier, or harder)",
            "claim 4's bound: half the smallest lift a regulator gives in the paper",
        ),
        inconclusive=Band("otherwise", "an interval that reaches both bounds"),
        reports=("generators-paper/recover-paper",),
        decide=lambda diffs, c: above(diffs, 0.0, "not easier", fail=c["fail"]),
        constants={"fail": LIFT_FAIL},
        gate="samples",
    )
)
