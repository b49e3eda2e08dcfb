"""The statistics module against independent oracles: exact binomial quantiles, hand cases,
resamples materialised one by one, scipy's t distribution and an exact binomial test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from bench.stats import (
    bootstrap_ci,
    mcnemar,
    pair_mean_ci,
    paired_bootstrap_ci,
    seed_summary,
    t_interval,
)


def test_bootstrap_of_accuracy_matches_binomial_quantiles():
    # Resampling 1000 hits/misses with 940 hits: the resampled mean is exactly Binomial(1000,
    # 0.94)/1000, so its 2.5% and 97.5% quantiles are known without simulation.
    x = np.r_[np.ones(940), np.zeros(60)]
    ci = bootstrap_ci(x, n_boot=20_000)
    assert ci.value == pytest.approx(0.94)
    assert ci.lo == pytest.approx(stats.binom.ppf(0.025, 1000, 0.94) / 1000, abs=0.003)
    assert ci.hi == pytest.approx(stats.binom.ppf(0.975, 1000, 0.94) / 1000, abs=0.003)


def test_bootstrap_of_a_continuous_mean_matches_the_normal_approximation():
    # For n = 2,000 draws the bootstrap distribution of the mean is close to normal with the
    # sample's standard error: the 95% interval is mean ± 1.96 se up to Monte Carlo error.
    x = np.random.default_rng(1).exponential(2.0, size=2000)
    ci = bootstrap_ci(x, n_boot=20_000, seed=3)
    se = x.std(ddof=0) / math.sqrt(x.size)
    assert ci.lo == pytest.approx(x.mean() - 1.96 * se, abs=0.1 * se)
    assert ci.hi == pytest.approx(x.mean() + 1.96 * se, abs=0.1 * se)


def test_bootstrap_hand_cases():
    # Two values: the resampled mean is 0, 0.5 or 1 with probabilities 1/4, 1/2, 1/4, so the
    # 2.5% and 97.5% percentiles are the extremes.
    assert tuple(bootstrap_ci([0.0, 1.0], n_boot=4000)) == (0.5, 0.0, 1.0)
    assert tuple(bootstrap_ci([3.0] * 7)) == (3.0, 3.0, 3.0)
    assert tuple(bootstrap_ci([5.0])) == (5.0, 5.0, 5.0)


def test_bootstrap_is_seeded_batched_and_orders_levels():
    x = np.random.default_rng(0).random((3, 50))
    batch = bootstrap_ci(x, n_boot=500, seed=4)
    assert batch.lo.shape == (3,) and (batch.lo < batch.value).all() and (batch.value < batch.hi).all()
    np.testing.assert_allclose(batch.value, x.mean(axis=1))
    assert tuple(bootstrap_ci(x[0], seed=4)) == tuple(bootstrap_ci(x[0], seed=4))
    assert tuple(bootstrap_ci(x[0], seed=4)) != tuple(bootstrap_ci(x[0], seed=5))
    wide, narrow = bootstrap_ci(x[0], level=0.99), bootstrap_ci(x[0], level=0.5)
    assert wide.lo < narrow.lo < narrow.hi < wide.hi
    median = bootstrap_ci(x[0], stat=np.median, n_boot=500)
    assert median.value == pytest.approx(np.median(x[0])) and median.lo < median.hi


@pytest.mark.parametrize("bad", [[], [1.0, float("nan")], [1.0, float("inf")]])
def test_bootstrap_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        bootstrap_ci(bad)


def test_paired_bootstrap_resamples_items_together():
    # Two settings on the same items with a difference of exactly 0 or 1: the resampled mean
    # difference is Binomial(n, p)/n, whatever the (large) spread of the items themselves.
    rng = np.random.default_rng(2)
    base = rng.normal(50, 20, size=400)
    diff = (rng.random(400) < 0.3).astype(float)
    ci = paired_bootstrap_ci(base + diff, base, n_boot=20_000)
    p = diff.mean()
    assert ci.value == pytest.approx(p)
    assert ci.lo == pytest.approx(stats.binom.ppf(0.025, 400, p) / 400, abs=0.004)
    assert ci.hi == pytest.approx(stats.binom.ppf(0.975, 400, p) / 400, abs=0.004)
    # An unpaired interval of the two means would be ~ 40 times wider: the pairing matters.
    assert ci.hi - ci.lo < 0.1
    assert tuple(paired_bootstrap_ci(base + 2.0, base + 2.0)) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError):
        paired_bootstrap_ci([1.0, 2.0], [1.0])


def test_pair_bootstrap_equals_materialised_resamples():
    rng = np.random.default_rng(3)
    a = rng.random((9, 9))  # not symmetric, diagonal not zero: the general case
    ci = pair_mean_ci(a, n_boot=300, seed=5, level=0.9)
    idx = np.random.default_rng(5).integers(0, 9, size=(300, 9))  # the same draws, as indices
    boots = []
    for row in idx:  # the resample as a new sample of 9 points: mean over positions p != q
        sub = a[np.ix_(row, row)]
        boots.append((sub.sum() - np.trace(sub)) / (9 * 8))
    lo, hi = np.percentile(boots, [5, 95])
    assert (ci.lo, ci.hi) == pytest.approx((lo, hi), rel=1e-12)
    assert ci.value == pytest.approx((a.sum() - np.trace(a)) / 72)


def test_t_interval_matches_scipy_and_one_seed_has_no_interval():
    v = [0.3, 0.5, 0.45]
    lo, hi = stats.t.interval(0.95, 2, loc=np.mean(v), scale=stats.sem(v))
    assert tuple(t_interval(v)) == pytest.approx((np.mean(v), lo, hi))
    one = t_interval([0.7])
    assert one.value == 0.7 and math.isnan(one.lo) and math.isnan(one.hi)
    assert tuple(t_interval([2.0, 2.0])) == (2.0, 2.0, 2.0)


def test_seed_summary_groups_in_first_seen_order():
    rows = [{"k": "b", "v": 1.0}, {"k": "a", "v": 3.0}, {"k": "b", "v": 3.0}]
    out = seed_summary(rows, ["k"], "v")
    assert [r["k"] for r in out] == ["b", "a"]
    assert out[0]["value"] == 2.0 and out[0]["n_seeds"] == 2 and out[0]["per_seed"] == [1.0, 3.0]
    assert out[0]["sd"] == pytest.approx(math.sqrt(2.0)) and math.isnan(out[1]["sd"])


def test_mcnemar_is_the_exact_binomial_test_on_the_discordant_pairs():
    a = np.array([1] * 30 + [1] * 12 + [0] * 3 + [0] * 55, dtype=bool)
    b = np.array([1] * 30 + [0] * 12 + [1] * 3 + [0] * 55, dtype=bool)
    res = mcnemar(a, b)
    assert (res["a_only"], res["b_only"]) == (12, 3)
    assert res["pvalue"] == pytest.approx(stats.binomtest(3, 15, 0.5).pvalue)
    assert mcnemar(a, a)["pvalue"] == pytest.approx(1.0)
