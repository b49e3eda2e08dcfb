"""The recovery report's statistics on hand-made results: the paired comparison of two regulators
against hand-worked numbers and scipy, the five claims' rules on held-out images, the isometric
question, the agreement statistic and the best-cell pick."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench.pipeline.results import Results
from bench.recovery import compare
from bench.recovery.metrics import pack_correct
from bench.recovery.report import _rho
from bench.recovery.tables import best_cells, spearman

N = 1000


def _results(bits: dict, targets: str = "test") -> Results:
    """bits: (generator, generator seed, regulator, lr, hp) -> bool [N], one recovery seed."""
    cells = []
    for (g, gs, reg, lr, hp), b in bits.items():
        cell = {"generator": g, "generator_seed": gs, "regulator": reg, "learning_rate": lr,
                "hyperparameter": hp, "seed": 0}  # fmt: skip
        record = {"accuracy": float(np.mean(b) * 100), "correct": pack_correct(b), "n_images": len(b)}
        cells.append({"key": str(cell), "cell": cell, "status": "finished", "record": record,
                      "error": None, "resumed": False})  # fmt: skip
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
    # holdout=False: every image on both sides, so the hand counts apply (the split is tested in
    # tests/test_recovery_holdout.py).
    d = compare.diff(compare.Table(_results({("g", 0, "wasserstein", 0.1, 1.0): w,
                                             ("g", 0, "energy", 0.1, 1.0): e}), holdout=False),
                     ("g", "wasserstein"), ("g", "energy"))  # fmt: skip
    value, lo, hi = d.per_seed[0]
    assert value == pytest.approx(2.0) and d.over is None and (lo, hi) == d.interval
    # Paired: only the 40 discordant images vary; the interval's half-width is about
    # 1.96 x sd(d) / sqrt(N) with d in {-100, 0, +100}.
    sd = np.std(np.where(w & ~e, 100.0, 0) - np.where(~w & e, 100.0, 0), ddof=1)
    assert (hi - lo) / 2 == pytest.approx(1.96 * sd / np.sqrt(N), rel=0.15) and lo > 0
    assert d.mcnemar_p[0] == pytest.approx(stats.binomtest(30, 40, 0.5).pvalue)


def test_over_generator_seeds_the_interval_is_a_t_interval_of_the_per_seed_gaps():
    bits = {}
    for s, (down, up) in enumerate([(30, 10), (25, 5), (40, 10)]):
        w = _bits(0.9, s)
        bits[("g", s, "wasserstein", 0.1, 1.0)] = w
        bits[("g", s, "energy", 0.1, 1.0)] = _flip(w, down, up, s + 10)
    d = compare.diff(compare.Table(_results(bits), holdout=False), ("g", "wasserstein"), ("g", "energy"))
    gaps = [2.0, 2.0, 3.0]
    assert [v[0] for v in d.per_seed.values()] == pytest.approx(gaps)
    lo, hi = stats.t.interval(0.95, 2, loc=np.mean(gaps), scale=stats.sem(gaps))
    assert d.over == pytest.approx((np.mean(gaps), lo, hi))


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
    v = compare.claim_verdicts(_results(_paper_like()), "g", REGS)
    assert [x.label for x in v] == ["reproduced"] * 5, [x.shown for x in v]
    assert [x.key for x in v] == list(compare.CLAIM_KEYS)
    assert all("held-out images" in x.numbers for x in v)  # judged on the evaluation half


def test_the_claims_fall_when_energy_is_clearly_ahead():
    v = compare.claim_verdicts(_results(_paper_like(energy_ahead=True)), "g", REGS)
    assert [x.shown for x in v[:3]] == ["not reproduced (energy ahead)", "not reproduced (energy ahead)",
                                        "not reproduced (energy ahead)"]  # fmt: skip
    assert "energy - wasserstein" in v[0].numbers
    assert [x.label for x in v[3:]] == ["reproduced", "reproduced"]


def test_claim_4_says_each_outcome_by_the_tie_margin():
    def claim4(down, up):
        bits = _paper_like()
        bits[("g", 0, "logistic_cutoff", 0.1, 2.0)] = _flip(bits[("g", 0, "none", 0.01, 0.0)], down, up, 9)
        return compare.claim_verdicts(_results(bits), "g", REGS)[3]

    assert claim4(2, 2).shown.startswith("not reproduced (logistic_cutoff - none")  # a tie: not a win
    assert claim4(20, 40).label == "inconclusive"  # +2 points with an interval reaching under +1
    assert claim4(0, 80).label == "reproduced"


def test_a_generator_that_fails_a_bar_gets_withheld_verdicts():
    res = _results(_paper_like())
    res.context = {"classifier_test_accuracy": 99.5, "reference": {"frechet": 80.0},
                   "models": {"g s0": {"generator": "g", "frechet": 500.0, "min_share": 0.003,
                                       "min_share_digit": 3}}}  # fmt: skip
    v = compare.claim_verdicts(res, "g", REGS)
    assert {x.label for x in v} == {"withheld"}
    assert "g s0 Frechet 500 = 6.2x" in v[0].note and "draws digit 3 0.3% < 5%" in v[0].note
    res.settings = {"gate_frechet_ratio": 0.0, "gate_min_share": 0.0}  # the bars turned off
    assert [x.label for x in compare.claim_verdicts(res, "g", REGS)] == ["reproduced"] * 5
    res.context["classifier_test_accuracy"] = 99.0  # the scorer's own bar
    assert compare.claim_verdicts(res, "g", REGS)[0].note == "generator not credible: scorer at 99.00% < 99.3%"


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
    (v,) = compare.iso_verdicts(_results(_iso([10, 11, 10])), ["wasserstein"])
    # each seed about 10 points ahead on its 500 evaluation images; t over three seeds above +1
    assert v.label == "reproduced" and v.key == "isometric-recovery"
    assert "iso-lwgan/wasserstein - lwgan/wasserstein: +" in v.numbers and "t over 3 generator seeds" in v.numbers
    assert compare.iso_verdicts(_results(_iso([10, -10])), ["wasserstein"])[0].label == "inconclusive"
    assert compare.iso_verdicts(_results(_iso([-6, -5, -7])), ["wasserstein"])[0].shown.startswith("not reproduced")
    assert compare.iso_verdicts(_results(_iso([10, 11]), targets="generated"), ["wasserstein"]) == []


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
    from bench.recovery import departures

    f = pd.DataFrame([
        {"regulator": "truncated_normal_cutoff", "learning_rate": 1.0, "hyperparameter": 0.0, "accuracy": 10.0,
         "paper_accuracy": 75.1, "shared_baseline": False, "table": "table6"},
        {"regulator": "truncated_normal_cutoff", "learning_rate": 0.1, "hyperparameter": 0.0, "accuracy": 9.6,
         "paper_accuracy": 22.0, "shared_baseline": False, "table": "table6"},
        {"regulator": "truncated_normal_cutoff", "learning_rate": 0.1, "hyperparameter": 3.0, "accuracy": 88.6,
         "paper_accuracy": 87.5, "shared_baseline": False, "table": "table6"},
        {"regulator": "logistic_cutoff", "learning_rate": 1.0, "hyperparameter": 0.0, "accuracy": 65.2,
         "paper_accuracy": 77.9, "shared_baseline": False, "table": "table5"},
    ])  # fmt: skip
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


def test_figure_intervals_are_t_intervals_over_generator_seeds_against_scipy():
    from bench.recovery.figures import cell_intervals

    # Two generator seeds x two recovery seeds of one cell: the interval is over the two
    # generator-seed means (42.5 and 52.5), not over the four runs.
    rows = [{"generator": "g", "table": "table1", "regulator": "wasserstein", "learning_rate": 0.1,
             "hyperparameter": 1.0, "shared_baseline": False, "paper_accuracy": 94.7, "generator_seed": gs,
             "seed": s, "accuracy": acc, "accuracy_lo": math.nan, "accuracy_hi": math.nan}
            for gs, s, acc in [(0, 0, 40.0), (0, 1, 45.0), (1, 0, 50.0), (1, 1, 55.0)]]  # fmt: skip
    frame, unit = cell_intervals(pd.DataFrame(rows))
    lo, hi = stats.t.interval(0.95, 1, loc=47.5, scale=np.std([42.5, 52.5], ddof=1) / np.sqrt(2))
    assert unit == "generator_seed" and len(frame) == 1
    assert (frame.loc[0, "accuracy"], frame.loc[0, "lo"], frame.loc[0, "hi"]) == pytest.approx((47.5, lo, hi))
    # One run: the record's own bootstrap interval over images.
    one = pd.DataFrame([{**rows[0], "accuracy_lo": 37.0, "accuracy_hi": 43.0}])
    frame, unit = cell_intervals(one)
    assert unit == "images" and (frame.loc[0, "lo"], frame.loc[0, "hi"]) == (37.0, 43.0)


def test_held_out_best_scores_the_selected_cell_on_the_evaluation_half_only():
    from bench.recovery.figures import heldout_best

    # Cell A is right on the selection half only, cell B on the evaluation half only: B cannot
    # be chosen, and A's held-out accuracy is 0.
    sel, ev = compare.split_halves(N, 0)
    a, b = np.zeros(N, bool), np.zeros(N, bool)
    a[sel], b[ev] = True, True
    frame = heldout_best(_results({("g", 0, "wasserstein", 0.1, 1.0): a, ("g", 0, "wasserstein", 1.0, 1.0): b}))
    (row,) = frame.to_dict("records")
    assert row["cell"] == "lr 0.1, hp 1" and row["accuracy"] == 0.0 and row["paper"] == pytest.approx(94.7)
