"""Best cells cross-fitted over two halves of the images: on a synthetic grid of equal cells the
cross-fitted pick is unbiased and the same-image pick is not (a regulator with many cells beats a
baseline with few by selection alone); every image is judged once, at a cell chosen on the other
half."""

from types import SimpleNamespace

import numpy as np
import pytest

from bench.recovery.codec import pack_correct
from bench.recovery.reporting.evidence import Table, diff, split_halves

LRS = (0.001, 0.01, 0.1, 1.0)
WEIGHTS = (0.01, 0.1, 1.0, 10.0)


def equal_grid(rng, p=0.8, n=1000, seeds=(0,)):
    """Every cell of wasserstein (16) and of the baseline (4) correct on each image with the same
    probability p, independently: no cell is better than another."""
    cells = []
    for gs in seeds:
        for lr in LRS:
            for hp in (0.0, *WEIGHTS):  # hp 0: the shared baseline cell of table 1
                bits = rng.random(n) < p
                cells.append(
                    {
                        "status": "finished",
                        "cell": {
                            "generator": "g",
                            "generator_seed": gs,
                            "regulator": "wasserstein",
                            "learning_rate": lr,
                            "hyperparameter": hp,
                            "seed": 0,
                        },
                        "record": {"correct": pack_correct(bits), "n_images": n, "accuracy": 100 * bits.mean()},
                    }
                )
    return SimpleNamespace(cells=cells, settings={"split_seed": 0})


def test_split_halves_is_a_seeded_partition():
    a, b = split_halves(11, 3)
    assert len(a) == 5 and len(b) == 6 and sorted(np.concatenate([a, b])) == list(range(11))
    assert np.array_equal(split_halves(11, 3)[0], a) and not np.array_equal(split_halves(11, 4)[0], a)


def test_cross_fitted_pick_is_unbiased_and_same_image_pick_is_not():
    rng = np.random.default_rng(0)
    same, held, gap_same, gap_held = [], [], [], []
    for _ in range(150):
        res = equal_grid(rng)
        full, hold = Table(res, holdout=False), Table(res)
        # The same-image pick: the best of 16 noisy cells, scored on the images that chose it.
        same.append(full.level("g", "wasserstein").value - 80)
        held.append(hold.level("g", "wasserstein").value - 80)
        gap_same.append(diff(full, ("g", "wasserstein"), ("g", "none")).value)
        gap_held.append(diff(hold, ("g", "wasserstein"), ("g", "none")).value)
    se = lambda x: np.std(x, ddof=1) / np.sqrt(len(x))
    # One cell's accuracy has sd 100 * sqrt(0.16 / 1000) = 1.26 points; the max of 16 is about
    # 1.77 sd above the mean (2.2 points), the max of 4 about 1.03 sd.
    assert np.mean(same) > 1.5 and np.mean(same) > 10 * se(same)
    assert abs(np.mean(held)) < 3 * se(held)
    assert np.mean(gap_same) > 0.5 and np.mean(gap_same) > 5 * se(gap_same)  # selection alone
    assert abs(np.mean(gap_held)) < 3 * se(gap_held)


def test_every_image_is_judged_once():
    rng = np.random.default_rng(1)
    res = equal_grid(rng, n=200)
    t = Table(res)
    (a, b), (c, d) = t.folds("g")
    assert np.array_equal(a, d) and np.array_equal(b, c)  # each half judged once, chosen on the other
    assert sorted(np.concatenate([a, c])) == list(range(200))
    x = t.per_image("g", 0, "wasserstein")
    assert x.shape == (200,)
    dd = diff(t, ("g", "wasserstein"), ("g", "none"))
    assert dd.images == 200 and "1 generator seed x 200 images" in dd.text()


@pytest.mark.parametrize("seed", [0, 1])
def test_the_choice_for_a_half_never_sees_that_half(seed):
    """A cell perfect on half 1 and wrong on half 2 is chosen to judge half 2 (and is wrong
    there), never to judge half 1; cross-fitting cannot reward a cell for the images it judges."""
    rng = np.random.default_rng(seed)
    res = equal_grid(rng, n=100)
    t = Table(res)
    (half1, _), (half2, _) = t.folds("g")
    good_on_1 = np.zeros(100, bool)
    good_on_1[half1] = True
    for c in res.cells:
        if c["cell"]["learning_rate"] == 0.1 and c["cell"]["hyperparameter"] == 0.01:
            c["record"]["correct"] = pack_correct(good_on_1)
    t = Table(res)
    judging_1, judging_2 = t.choices("g", "wasserstein")
    assert judging_2 == ("wasserstein", 0.1, 0.01) and judging_1 != judging_2
    assert t.per_image("g", 0, "wasserstein")[half2].sum() == 0  # wrong wherever it judges


def test_a_split_seed_given_replaces_the_runs():
    rng = np.random.default_rng(2)
    res = equal_grid(rng, n=100)
    assert not np.array_equal(Table(res).folds("g")[0][0], Table(res, split_seed=5).folds("g")[0][0])
    assert np.array_equal(Table(res, split_seed=0).folds("g")[0][0], split_halves(100, 0)[0])
