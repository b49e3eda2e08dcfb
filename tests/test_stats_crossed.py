"""The crossed uncertainty model (bench.stats.crossed_interval) against independent oracles: the
ANOVA variance components computed by hand on a small table, statsmodels' mixed model on a
balanced table, scipy's one-sample t where the design has one way only; its coverage by
simulation with a known truth; and the TOST built on it."""

import math

import numpy as np
import pytest
from scipy import stats

from bench.crossed import DESIGNS, crossed_interval, simulate_coverage, tost
from bench.stats import t_interval


def test_components_by_hand():
    # 2 seeds x 3 items; the two-way ANOVA done with pencil and paper:
    # grand 3, seed means 2 and 4, item means 1, 3, 5.
    d = np.array([[0.0, 2.0, 4.0], [2.0, 4.0, 6.0]])
    # residuals are 0: MS_res = 0; MS_seed = 3 * var([2, 4]) = 6; MS_item = 2 * var([1, 3, 5]) = 8.
    c = crossed_interval(d)
    assert c.value == pytest.approx(3.0)
    assert c.components == {"seed": pytest.approx(2.0), "item": pytest.approx(4.0), "residual": pytest.approx(0.0)}
    # Var(mean) = (6 + 8 - 0) / 6; Satterthwaite df = 14^2 / (6^2 / 1 + 8^2 / 2) = 196 / 68.
    se = math.sqrt(14 / 6)
    df = 196 / 68
    assert c.se == pytest.approx(se) and c.df == pytest.approx(df)
    assert c.hi - c.value == pytest.approx(stats.t.ppf(0.975, df) * se)


def test_variance_matches_the_mean_squares_identity():
    # With both components above zero, S*I*Var(mean) = MS_seed + MS_item - MS_res: the same
    # number as sigma_s^2/S + sigma_i^2/I + sigma_e^2/(SI) from the components reported.
    rng = np.random.default_rng(0)
    d = rng.normal(size=(4, 50)) + rng.normal(0, 2, (4, 1)) + rng.normal(0, 1, (1, 50))
    c = crossed_interval(d)
    s, i = d.shape
    comp = c.components
    assert c.se**2 == pytest.approx(comp["seed"] / s + comp["item"] / i + comp["residual"] / (s * i))


def test_agrees_with_a_mixed_model_on_the_components():
    # statsmodels' MixedLM with crossed random effects (variance components, REML): on a balanced
    # table REML and the ANOVA method of moments give the same components when both are positive.
    import pandas as pd
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(1)
    s, i = 6, 40
    d = 5 + rng.normal(0, 1.5, (s, 1)) + rng.normal(0, 1.0, (1, i)) + rng.normal(0, 0.7, (s, i))
    frame = pd.DataFrame({"y": d.ravel(), "seed": np.repeat(np.arange(s), i), "item": np.tile(np.arange(i), s), "g": 1})
    fit = smf.mixedlm(
        "y ~ 1", frame, groups="g", re_formula="0", vc_formula={"seed": "0 + C(seed)", "item": "0 + C(item)"}
    ).fit(reml=True)
    vc = dict(zip(fit.model.exog_vc.names, fit.vcomp))
    c = crossed_interval(d)
    assert c.components["seed"] == pytest.approx(vc["seed"], rel=1e-3)
    assert c.components["item"] == pytest.approx(vc["item"], rel=1e-3)
    assert c.components["residual"] == pytest.approx(fit.scale, rel=1e-3)
    assert c.value == pytest.approx(fit.fe_params["Intercept"])


def test_one_seed_is_a_t_over_items_and_one_item_a_t_over_seeds():
    rng = np.random.default_rng(2)
    x = rng.normal(size=30)
    c = crossed_interval(x[None, :])
    lo, hi = stats.t.interval(0.95, 29, loc=x.mean(), scale=stats.sem(x))
    assert (c.lo, c.hi) == (pytest.approx(lo), pytest.approx(hi))
    c = crossed_interval(x[:5, None])
    t = t_interval(x[:5])
    assert (c.lo, c.hi) == (pytest.approx(t.lo), pytest.approx(t.hi))


def test_a_component_estimated_below_zero_is_dropped():
    # Seeds that agree more than their residuals allow: the seed component is set to zero and
    # the interval is the items' (MS_item / (S I) with I - 1 degrees of freedom).
    rng = np.random.default_rng(3)
    items = rng.normal(0, 3, 200)
    d = np.stack([items + rng.normal(0, 1, 200) for _ in range(3)])
    d -= d.mean(axis=1, keepdims=True)  # identical seed means: MS_seed = 0
    c = crossed_interval(d)
    assert c.components["seed"] == 0
    ms_item = 3 * d.mean(axis=0).var(ddof=1)
    assert c.se == pytest.approx(math.sqrt(ms_item / 600)) and c.df == pytest.approx(199)


def test_constant_table_is_a_point_and_bad_input_is_refused():
    c = crossed_interval(np.full((3, 10), 2.5))
    assert (c.value, c.lo, c.hi) == (2.5, 2.5, 2.5)
    with pytest.raises(ValueError, match="seeds, items"):
        crossed_interval(np.ones(4))
    with pytest.raises(ValueError, match="NaN"):
        crossed_interval(np.array([[1.0, math.nan], [0.0, 1.0]]))


@pytest.mark.parametrize("design", sorted(DESIGNS))
@pytest.mark.parametrize("seeds", [3, 5])
def test_coverage_by_simulation(design, seeds):
    """2,000 simulated studies per design of per-image Bernoulli outcomes with seed and image
    effects (a known population contrast): the crossed 95% interval covers it in 93-97% of them.
    The seed-only t-interval's coverage in the same studies is printed beside it (`pytest -s`):
    it falls to 85-92% where images carry part of the contrast."""
    r = simulate_coverage(design, seeds, studies=2000, seed=0)
    print(f"\n{design}, {seeds} seeds: crossed {r['crossed']:.3f}, seed-only t {r['seed_t']:.3f}")
    assert 0.93 <= r["crossed"] <= 0.97
    if design == "images matter":  # the defect the crossed model mends
        assert r["seed_t"] < 0.93


def test_tost_equivalence_decisions():
    rng = np.random.default_rng(4)
    base = rng.normal(0, 1, (1, 500))
    near = base + 0.05 + rng.normal(0, 0.3, (5, 500))
    res = tost(near, margin=0.5)
    assert res["equivalent"] and res["p"] < 0.05 and -0.5 < res["lo"] <= res["hi"] < 0.5
    far = base + 0.8 + rng.normal(0, 0.3, (5, 500))
    res = tost(far, margin=0.5)
    assert not res["equivalent"] and res["p"] > 0.5
    # The p-value is the larger of the two one-sided t-tests (scipy's, by hand on the same se/df).
    c = crossed_interval(near, level=0.9)
    p_low = stats.t.sf((c.value + 0.5) / c.se, c.df)
    p_high = stats.t.cdf((c.value - 0.5) / c.se, c.df)
    assert tost(near, margin=0.5)["p"] == pytest.approx(max(p_low, p_high))


def test_spearman_gap_against_a_loop_over_scipy():
    from bench.stats import spearman_gap_ci

    rng = np.random.default_rng(5)
    ref = rng.normal(size=40)
    x = ref + rng.normal(0, 0.5, 40)
    y = np.round(ref + rng.normal(0, 1.5, 40), 1)  # ties, as grids of accuracies have
    ci = spearman_gap_ci(x, y, ref, n_boot=300, seed=1)
    assert ci.value == pytest.approx(stats.spearmanr(x, ref).statistic - stats.spearmanr(y, ref).statistic)
    idx = np.random.default_rng(1).integers(0, 40, (300, 40))
    loop = [stats.spearmanr(x[i], ref[i]).statistic - stats.spearmanr(y[i], ref[i]).statistic for i in idx]
    assert (ci.lo, ci.hi) == pytest.approx(tuple(np.percentile(loop, [2.5, 97.5])))
    assert ci.lo > 0  # x follows the reference much more closely
