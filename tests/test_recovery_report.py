"""The recovery report's statistics on hand-made results: the paired comparison of two regulators
against hand-worked numbers and scipy, the five claims' rules on held-out images, the isometric
question, the agreement statistic and the best-cell pick."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench.pipeline.results import Results
from bench.recovery.codec import pack_correct
from bench.recovery.reporting import evidence
from bench.recovery.reporting.render import _rho
from bench.recovery.reporting.tables import best_cells, spearman

N = 1000


def _results(bits: dict, targets: str = "test") -> Results:
    """bits: (generator, generator seed, regulator, lr, hp) -> bool [N], one recovery seed."""
    cells = []
    for (g, gs, reg, lr, hp), b in bits.items():
        cell = {"generator": g, "generator_seed": gs, "regulator": reg, "learning_rate": lr,
                "hyperparameter": hp, "seed": 0}  # fmt: skip
        record = {"accuracy": float(np.mean(b) * 100), "correct": pack_correct(b), "n_images": len(b)}
        cells.append(
            {"key": str(cell), "cell": cell, "status": "finished", "record": record, "error": None, "resumed": False}
        )
    return Results("recover", {"targets": targets}, cells)


def _bits(rate: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(N) < rate


def _flip(b: np.ndarray, down: int, up: int, seed: int) -> np.ndarray:
    """b with `down` right answers made wrong and `up` wrong ones made right."""
    rng, out = np.random.default_rng(seed), b.copy()
    out[rng.choice(np.flatnonzero(b), down, replace=False)] = False
    out[rng.choice(np.flatnonzero(~b), up, replace=False)] = True
    return out


def test_a_paired_difference_against_hand_counts_and_scipy():
    w = _bits(0.9, 0)
    e = _flip(w, 30, 10, 1)  # 30 discordant one way, 10 the other: 2.0 points behind
    # holdout=False: every image on both sides, so the hand counts apply (cross-fitting is tested
    # in tests/test_recovery_holdout.py).
    d = evidence.diff(
        evidence.Table(
            _results({("g", 0, "wasserstein", 0.1, 1.0): w, ("g", 0, "energy", 0.1, 1.0): e}), holdout=False
        ),
        ("g", "wasserstein"),
        ("g", "energy"),
    )
    value, lo, hi = d.per_seed[0]
    assert value == pytest.approx(2.0) and (lo, hi) == pytest.approx(d.interval)
    # One seed: a t-interval over the images of the per-image difference in {-100, 0, +100}.
    x = np.where(w & ~e, 100.0, 0) - np.where(~w & e, 100.0, 0)
    assert (lo, hi) == pytest.approx(stats.t.interval(0.95, N - 1, loc=x.mean(), scale=stats.sem(x)))
    assert d.mcnemar_p[0] == pytest.approx(stats.binomtest(30, 40, 0.5).pvalue)
    assert d.provisional == "1 generator seed; a firm verdict needs 3"


def test_over_generator_seeds_the_interval_counts_images_and_seeds():
    bits = {}
    for s, (down, up) in enumerate([(30, 10), (25, 5), (40, 10)]):
        w = _bits(0.9, s)
        bits[("g", s, "wasserstein", 0.1, 1.0)] = w
        bits[("g", s, "energy", 0.1, 1.0)] = _flip(w, down, up, s + 10)
    d = evidence.diff(evidence.Table(_results(bits), holdout=False), ("g", "wasserstein"), ("g", "energy"))
    gaps = [2.0, 2.0, 3.0]
    assert [v[0] for v in d.per_seed.values()] == pytest.approx(gaps)
    # The oracle: the crossed interval of the [3 seeds, N images] table of per-image differences,
    # wider than the t-interval of the three seed means (which leaves the images out).
    from bench.crossed import crossed_interval

    table = np.stack(
        [
            np.where(bits[("g", s, "wasserstein", 0.1, 1.0)], 100.0, 0)
            - np.where(bits[("g", s, "energy", 0.1, 1.0)], 100.0, 0)
            for s in range(3)
        ]
    )
    c = crossed_interval(table)
    assert (d.value, *d.interval) == pytest.approx((c.value, c.lo, c.hi)) and d.provisional == ""
    lo, hi = stats.t.interval(0.95, 2, loc=np.mean(gaps), scale=stats.sem(gaps))
    assert c.hi - c.lo != pytest.approx(hi - lo) and "3 generator seeds x 1000 images" in d.text()


def _paper_like(energy_ahead: bool = False) -> dict:
    w = _bits(0.9, 0)
    return {
        ("g", 0, "none", 0.01, 0.0): _bits(0.6, 1),
        ("g", 0, "wasserstein", 0.1, 1.0): w,
        ("g", 0, "log_normal_density", 0.01, 1.0): _flip(w, 2, 2, 2),  # tied with wasserstein
        ("g", 0, "energy", 0.1, 1.0): _flip(w, 0, 90, 3) if energy_ahead else _flip(w, 15, 0, 3),
        ("g", 0, "logistic_cutoff", 0.1, 2.0): _bits(0.78, 4),
        ("g", 0, "truncated_normal_cutoff", 0.1, 3.0): _bits(0.72, 5),
    }


REGS = ["none", "wasserstein", "energy", "log_normal_density", "logistic_cutoff", "truncated_normal_cutoff"]


def test_the_five_claims_on_a_paper_like_grid():
    v = evidence.claim_verdicts(_results(_paper_like()), "g", REGS)
    assert [x.label for x in v] == ["reproduced"] * 5, [x.shown for x in v]
    assert [x.key for x in v] == list(evidence.CLAIM_KEYS)
    assert all("1 generator seed x 1000 images" in x.numbers for x in v)  # cross-fitted: every image judged
    assert all(x.provisional == "1 generator seed; a firm verdict needs 3" for x in v)


def test_the_claims_fall_when_energy_is_clearly_ahead():
    v = evidence.claim_verdicts(_results(_paper_like(energy_ahead=True)), "g", REGS)
    assert [x.label + f" ({x.note})" for x in v[:3]] == ["not reproduced (energy ahead)"] * 3
    assert "energy - wasserstein" in v[0].numbers
    assert [x.label for x in v[3:]] == ["reproduced", "reproduced"]


def test_claim_4_says_each_outcome_by_the_tie_margin():
    def claim4(down, up):
        bits = _paper_like()
        bits[("g", 0, "logistic_cutoff", 0.1, 2.0)] = _flip(bits[("g", 0, "none", 0.01, 0.0)], down, up, 9)
        return evidence.claim_verdicts(_results(bits), "g", REGS)[3]

    assert claim4(40, 0).shown.startswith("not reproduced (logistic_cutoff - none")  # 4 points behind
    assert claim4(20, 30).label == "inconclusive"  # +1 point: neither surely above 0 nor surely under +1
    assert claim4(0, 80).label == "reproduced"


def test_a_generator_that_fails_a_bar_gets_withheld_verdicts():
    res = _results(_paper_like())
    res.context = {"classifier_test_accuracy": 99.5, "reference": {"frechet": 80.0},
                   "models": {"g s0": {"generator": "g", "frechet": 500.0, "min_share": 0.003,
                                       "min_share_digit": 3}}}  # fmt: skip
    v = evidence.claim_verdicts(res, "g", REGS)
    assert {x.label for x in v} == {"withheld"}
    assert "g s0 Frechet 500 = 6.2x" in v[0].note and "draws digit 3 0.3% < 5%" in v[0].note
    res.settings = {"targets": "generated"}  # in-span targets: the generator's coverage caps nothing
    assert "withheld" not in {x.label for x in evidence.claim_verdicts(res, "g", REGS)}
    res.settings = {"gate_frechet_ratio": 0.0, "gate_min_share": 0.0}  # the bars turned off
    assert [x.label for x in evidence.claim_verdicts(res, "g", REGS)] == ["reproduced"] * 5
    res.context["classifier_test_accuracy"] = 99.0  # the scorer's own bar
    assert evidence.claim_verdicts(res, "g", REGS)[0].note == "not credible: scorer at 99.00% < 99.3%"


def _iso(gaps: list[int]) -> dict:
    """lwgan and iso-lwgan on the same images per generator seed, iso ahead by gaps[s] points."""
    bits = {}
    for s, gap in enumerate(gaps):
        base = _bits(0.7, s)
        bits[("lwgan", s, "wasserstein", 0.1, 1.0)] = base
        up, down = max(gap, 0) * 10, max(-gap, 0) * 10
        bits[("iso-lwgan", s, "wasserstein", 0.1, 1.0)] = _flip(base, down, up, s + 5)
    return bits


def test_the_isometric_question_over_generator_seeds():
    (v,) = evidence.iso_verdicts(_results(_iso([10, 11, 10])), ["wasserstein"])
    # each seed about 10 points ahead on its images; the crossed interval over 3 seeds above 0
    assert v.label == "reproduced" and v.key == "isometric-recovery"
    assert "iso-lwgan/best regulator - lwgan/best regulator: +" in v.numbers and "3 generator seeds x" in v.numbers
    assert evidence.iso_verdicts(_results(_iso([10, -10, 1])), ["wasserstein"])[0].label == "inconclusive"
    assert evidence.iso_verdicts(_results(_iso([-6, -5, -7])), ["wasserstein"])[0].shown.startswith("not reproduced")
    assert evidence.iso_verdicts(_results(_iso([10, 11]), targets="generated"), ["wasserstein"]) == []


def test_spearman_hand_computed_and_degenerate_cases():
    f = pd.DataFrame({"accuracy": [10.0, 50, 30, 90, 70], "paper_accuracy": [20.0, 40, 45, 95, 60]})
    rho, _, n = spearman(f)
    # ranks 1,3,2,5,4 vs 1,2,3,5,4: sum d^2 = 2, rho = 1 - 6 * 2 / (5 * 24) = 0.9
    assert n == 5 and rho == pytest.approx(0.9)
    f.loc[0, "accuracy"] = math.nan
    assert spearman(f)[2] == 4
    assert math.isnan(spearman(f.iloc[:2])[0])
    assert _rho(*spearman(f.iloc[:2])).startswith("n/a (1 cell with a paper value")  # never "rho = nan"
    assert _rho(*spearman(f)) == f"rho = {spearman(f)[0]:.2f} (p = {spearman(f)[1]:.2g}, 4 cells)"


def test_best_cells_ignores_shared_baselines_and_picks_the_max():
    summary = pd.DataFrame(
        [
            {
                "regulator": "wasserstein",
                "learning_rate": 0.1,
                "hyperparameter": 0.0,
                "shared_baseline": True,
                "accuracy": 99.0,
                "accuracy_lo": 98,
                "accuracy_hi": 100,
                "paper_accuracy": 73.5,
                "seeds_finished": 1,
                "accuracy_sd": math.nan,
            },
            {
                "regulator": "wasserstein",
                "learning_rate": 0.1,
                "hyperparameter": 1.0,
                "shared_baseline": False,
                "accuracy": 90.0,
                "accuracy_lo": 88,
                "accuracy_hi": 92,
                "paper_accuracy": 94.7,
                "seeds_finished": 1,
                "accuracy_sd": math.nan,
            },
            {
                "regulator": "wasserstein",
                "learning_rate": 1.0,
                "hyperparameter": 1.0,
                "shared_baseline": False,
                "accuracy": 60.0,
                "accuracy_lo": 58,
                "accuracy_hi": 62,
                "paper_accuracy": 52.5,
                "seeds_finished": 1,
                "accuracy_sd": math.nan,
            },
        ]
    )
    b = best_cells(summary).iloc[0]
    assert b["measured_accuracy"] == 90.0 and b["_lr"] == 0.1 and b["_hp"] == 1.0
    assert b["paper_accuracy"] == 94.7 and b["measured_ci"] == "90.0 [88.0, 92.0]"


def test_departures_table_gaps_and_the_cells_no_reading_can_produce():
    from bench.recovery.reporting import departures

    f = pd.DataFrame(
        [
            {
                "regulator": "truncated_normal_cutoff",
                "learning_rate": 1.0,
                "hyperparameter": 0.0,
                "accuracy": 10.0,
                "paper_accuracy": 75.1,
                "shared_baseline": False,
                "table": "table6",
            },
            {
                "regulator": "truncated_normal_cutoff",
                "learning_rate": 0.1,
                "hyperparameter": 0.0,
                "accuracy": 9.6,
                "paper_accuracy": 22.0,
                "shared_baseline": False,
                "table": "table6",
            },
            {
                "regulator": "truncated_normal_cutoff",
                "learning_rate": 0.1,
                "hyperparameter": 3.0,
                "accuracy": 88.6,
                "paper_accuracy": 87.5,
                "shared_baseline": False,
                "table": "table6",
            },
            {
                "regulator": "logistic_cutoff",
                "learning_rate": 1.0,
                "hyperparameter": 0.0,
                "accuracy": 65.2,
                "paper_accuracy": 77.9,
                "shared_baseline": False,
                "table": "table5",
            },
        ]
    )
    g = departures.table_gaps(f)
    diffs = [10.0 - 75.1, 9.6 - 22.0, 88.6 - 87.5, 65.2 - 77.9]
    assert g["n"] == 4 and g["mean_abs"] == pytest.approx(np.mean(np.abs(diffs)))
    assert g["max_abs"] == pytest.approx(65.1) and g["mean"] == pytest.approx(np.mean(diffs))
    assert g["worst"][0] == "truncated_normal_cutoff lr 1, hp 0: 10.0 vs 75.1"
    # c = 0 replaces every element after every step whatever z is (p = 1): chance, so neither the
    # paper's 75.1 nor its 22.0 can come from that reading (chance on 1,000 images stays under
    # 13.0% with probability 0.999); 10.9 could. The logistic slope a = 0 replaces half (p = 0.5):
    # not impossible, not listed.
    f.loc[len(f)] = {
        "regulator": "truncated_normal_cutoff",
        "learning_rate": 0.01,
        "hyperparameter": 0.0,
        "accuracy": 10.4,
        "paper_accuracy": 10.9,
        "shared_baseline": False,
        "table": "table6",
    }
    bad = departures.impossible_cells(f)
    assert [(b["regulator"], b["lr"]) for b in bad] == [
        ("truncated_normal_cutoff", "1"),
        ("truncated_normal_cutoff", "0.1"),
    ]
    from scipy.stats import binom

    assert 100 * binom.ppf(0.999, 1000, 0.1) / 1000 == 13.0


def test_figure_intervals_count_images_and_generator_seeds():
    from bench.crossed import crossed_interval
    from bench.recovery.reporting.plots import cell_intervals
    from bench.recovery.reporting.tables import cell_frame

    # One cell at two generator seeds x two recovery seeds: the interval is the crossed one over the
    # [2 seeds, N images] table of per-image accuracy averaged over the recovery seeds.
    runs = {(gs, s): _bits(0.5 + 0.1 * gs, 10 * gs + s) for gs in (0, 1) for s in (0, 1)}
    cells = []
    for (gs, s), b in runs.items():
        cell = {"generator": "g", "generator_seed": gs, "regulator": "wasserstein", "learning_rate": 0.1,
                "hyperparameter": 1.0, "seed": s}  # fmt: skip
        record = {"accuracy": float(b.mean() * 100), "correct": pack_correct(b), "n_images": N}
        cells.append(
            {"key": str(cell), "cell": cell, "status": "finished", "error": None, "resumed": False, "record": record}
        )
    res = Results("recover", {"targets": "test"}, cells)
    frame = cell_intervals(res, cell_frame(res), "g")
    table = np.stack([50.0 * (runs[(gs, 0)].astype(float) + runs[(gs, 1)]) for gs in (0, 1)])
    c = crossed_interval(table)
    assert len(frame) == 1 and (frame.loc[0, "accuracy"], frame.loc[0, "lo"], frame.loc[0, "hi"]) == pytest.approx(
        (c.value, c.lo, c.hi)
    )


def test_cross_fitted_best_judges_each_half_at_the_cell_the_other_half_chose():
    from bench.recovery.reporting.plots import heldout_best

    # Cell A is right on the first half only, cell B on the second only: the first half chooses A
    # and is judged on the second (where A is wrong), the second chooses B and is judged on the
    # first (where B is wrong): every image is judged at a cell its own outcome did not choose.
    first, second = evidence.split_halves(N, 0)
    a, b = np.zeros(N, bool), np.zeros(N, bool)
    a[first], b[second] = True, True
    frame = heldout_best(_results({("g", 0, "wasserstein", 0.1, 1.0): a, ("g", 0, "wasserstein", 1.0, 1.0): b}))
    (row,) = frame.to_dict("records")
    assert row["cell"] == "judging half 1: lr 1, hp 1; judging half 2: lr 0.1, hp 1" and row["accuracy"] == 0.0
    assert row["paper"] == pytest.approx(94.7)
