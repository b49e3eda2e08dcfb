"""The recovery report's verdict rule and agreement statistic, on hand-made best-cell tables."""

import math

import pandas as pd
import pytest

from bench.recovery.report import best_cells, spearman, verdict


def _best(rows):
    """rows: (regulator, accuracy, lo, hi)."""
    return pd.DataFrame(
        [{"regulator": r, "measured_accuracy": a, "_lo": lo, "_hi": hi} for r, a, lo, hi in rows]
    ).sort_values("measured_accuracy", ascending=False)


def test_reproduced_when_the_two_are_on_top():
    v = verdict(_best([("log_normal_density", 95, 93, 97), ("wasserstein", 94, 92, 96), ("energy", 90, 88, 92)]))
    assert v.label == "reproduced"


def test_inconclusive_when_the_other_is_within_the_second_interval():
    v = verdict(_best([("wasserstein", 95, 93, 97), ("energy", 93, 91, 95), ("log_normal_density", 91.5, 89, 94)]))
    assert v.label == "inconclusive"


def test_not_reproduced_when_clearly_beaten():
    v = verdict(_best([("energy", 95, 94, 96), ("trick_discriminator", 94, 93, 95), ("wasserstein", 80, 78, 82),
                       ("log_normal_density", 79, 77, 81)]))
    assert v.label == "not reproduced"


def test_inconclusive_without_both_regulators():
    assert verdict(_best([("wasserstein", 95, 93, 97), ("energy", 93, 91, 95)])).label == "inconclusive"


def test_spearman_hand_computed_and_degenerate_cases():
    f = pd.DataFrame({"accuracy": [10.0, 50, 30, 90, 70], "paper_accuracy": [20.0, 40, 45, 95, 60]})
    rho, _, n = spearman(f)
    # ranks 1,3,2,5,4 vs 1,2,3,5,4: sum d^2 = 2, rho = 1 - 6 * 2 / (5 * 24) = 0.9
    assert n == 5 and rho == pytest.approx(0.9)
    f.loc[0, "accuracy"] = math.nan
    assert spearman(f)[2] == 4
    assert math.isnan(spearman(f.iloc[:2])[0])


def test_best_cells_ignores_shared_baselines_and_picks_the_max():
    summary = pd.DataFrame([
        {"regulator": "wasserstein", "learning_rate": 0.1, "hyperparameter": 0.0, "shared_baseline": True,
         "accuracy": 99.0, "accuracy_lo": 98, "accuracy_hi": 100, "paper_accuracy": 73.5, "seeds_finished": 1,
         "accuracy_sd": math.nan},
        {"regulator": "wasserstein", "learning_rate": 0.1, "hyperparameter": 1.0, "shared_baseline": False,
         "accuracy": 90.0, "accuracy_lo": 88, "accuracy_hi": 92, "paper_accuracy": 94.7, "seeds_finished": 1,
         "accuracy_sd": math.nan},
        {"regulator": "wasserstein", "learning_rate": 1.0, "hyperparameter": 1.0, "shared_baseline": False,
         "accuracy": 60.0, "accuracy_lo": 58, "accuracy_hi": 62, "paper_accuracy": 52.5, "seeds_finished": 1,
         "accuracy_sd": math.nan},
    ])
    b = best_cells(summary).iloc[0]
    assert b["measured_accuracy"] == 90.0 and b["_lr"] == 0.1 and b["_hp"] == 1.0
    assert b["paper_accuracy"] == 94.7 and b["measured_ci"] == "90.0 [88.0, 92.0]"
