"""Resampling regulators: probabilities against the formulas written out by hand (math module),
empirical replacement frequencies within binomial bounds, edge cases, seeding and per-cell hp."""

import math

import numpy as np
import pytest
import scipy.stats
import torch

import regulators
from regulators import logistic_cutoff_probability, truncated_normal_cutoff_probability

N = 20_000  # draws per (hp, |z|) pair


def logistic(z, a, b=2.0):
    return 1.0 / (1.0 + math.exp(-a * (abs(z) - b)))


def truncated(z, c):
    return math.exp(-(c * c - z * z) / 2) if abs(z) < c else 1.0


CASES = {
    "logistic_cutoff": ([-1.0, 0.0, 1.0, 2.0], logistic),
    "truncated_normal_cutoff": ([0.0, 1.0, 2.0, 3.0], truncated),
}
ZS = [0.0, 0.5, -1.5, 2.0, 2.5, -3.5]


@pytest.mark.parametrize("name", list(CASES))
def test_probability_matches_formula(name):
    hps, formula = CASES[name]
    reg = regulators.get(name)
    z = torch.tensor(ZS, dtype=torch.float64).expand(len(hps), 3, len(ZS))  # [cells, images, d]
    hp = torch.tensor(hps, dtype=torch.float64)[:, None]  # one value per cell
    p = reg.replace_probability(z, hp)
    assert p.shape == z.shape
    for i, h in enumerate(hps):
        for j, v in enumerate(ZS):
            assert p[i, 1, j].item() == pytest.approx(formula(v, h), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("name", list(CASES))
def test_empirical_frequency_within_binomial_bound(name):
    hps, formula = CASES[name]
    z = torch.tensor(ZS, dtype=torch.float64)[None, :, None].expand(len(hps), len(ZS), N).contiguous()
    hp = torch.tensor(hps, dtype=torch.float64)[:, None]
    out = regulators.get(name).resample(z, hp, generator=torch.Generator().manual_seed(123))
    # A fresh continuous draw equals the old value with probability 0, so "changed" = "replaced".
    counts = (out != z).sum(-1)
    k = len(hps) * len(ZS)
    level = 1 - 1e-3 / k  # 99.9% for the whole table (Bonferroni)
    for i, h in enumerate(hps):
        for j, v in enumerate(ZS):
            p = formula(v, h)
            lo, hi = scipy.stats.binom.interval(level, N, p)
            assert lo <= counts[i, j].item() <= hi, (name, h, v, p, counts[i, j].item() / N)


def test_edge_cases():
    z = torch.tensor([[0.0, 0.3, -1.0, 5.0, -40.0]], dtype=torch.float64)
    # c = 0: every element is replaced with probability 1, even z = 0.
    assert torch.all(truncated_normal_cutoff_probability(z, 0.0) == 1)
    tnc = regulators.get("truncated_normal_cutoff")
    out = tnc.resample(z.expand(200, 5), torch.zeros(200), generator=torch.Generator().manual_seed(0))
    assert torch.all(out != z)
    # a = 0: one half everywhere, whatever |z| and b.
    assert torch.all(logistic_cutoff_probability(z, 0.0) == 0.5)
    assert torch.all(logistic_cutoff_probability(z, 0.0, b=7.0) == 0.5)
    # |z| >= c gives 1 (the boundary included); deep inside a large cutoff, exp(-c^2/2).
    assert truncated_normal_cutoff_probability(torch.tensor([2.0, -2.0, 2.5]), 2.0).tolist() == [1, 1, 1]
    assert truncated_normal_cutoff_probability(torch.tensor([0.0], dtype=torch.float64), 3.0).item() == (
        pytest.approx(math.exp(-4.5), rel=1e-14)
    )
    # Extreme slopes saturate to exactly 0 or 1 instead of overflowing.
    p = logistic_cutoff_probability(torch.tensor([0.0, 40.0]), 100.0)
    assert p.tolist() == [0.0, 1.0]


def test_b_is_configurable():
    z = torch.tensor([3.0, -3.0, 2.0], dtype=torch.float64)
    p = regulators.get("logistic_cutoff", b=3.0).replace_probability(z, torch.tensor(5.0))
    assert p[:2].tolist() == [0.5, 0.5]
    assert p[2].item() == pytest.approx(logistic(2.0, 5.0, b=3.0), rel=1e-12)
    default = regulators.get("logistic_cutoff").replace_probability(z, torch.tensor(5.0))
    assert default[2].item() == 0.5


@pytest.mark.parametrize("prior", ["normal", "uniform"])
def test_replacements_come_from_the_prior(prior):
    reg = regulators.get("truncated_normal_cutoff", prior=prior)
    z = torch.full((5000,), 7.0)
    out = reg.resample(z, 0.0, generator=torch.Generator().manual_seed(4))  # c = 0: all replaced
    ref = scipy.stats.norm.cdf if prior == "normal" else scipy.stats.uniform(-1, 2).cdf
    assert scipy.stats.kstest(out.numpy(), ref).pvalue > 1e-3
    if prior == "uniform":
        assert out.abs().max() <= 1


def test_kept_elements_are_untouched_and_seed_reproduces():
    reg = regulators.get("logistic_cutoff")
    z = torch.randn(4, 6, 32, generator=torch.Generator().manual_seed(0))
    hp = torch.tensor([-1.0, 0.0, 1.0, 2.0])[:, None]
    a = reg.resample(z, hp, generator=torch.Generator().manual_seed(5))
    b = reg.resample(z, hp, generator=torch.Generator().manual_seed(5))
    c = reg.resample(z, hp, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    kept = a == z
    assert 0 < kept.float().mean() < 1
    assert torch.equal(a[kept], z[kept])


def test_per_cell_hp_equals_slice_wise():
    z = torch.randn(4, 5, 16, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for name, (hps, _) in CASES.items():
        reg = regulators.get(name)
        whole = reg.replace_probability(z, torch.tensor(hps, dtype=torch.float64)[:, None])
        per_image = torch.arange(20, dtype=torch.float64).reshape(4, 5) / 5  # one hp per image
        whole_img = reg.replace_probability(z, per_image)
        for c, h in enumerate(hps):
            torch.testing.assert_close(whole[c], reg.replace_probability(z[c], h), rtol=0, atol=0)
            for i in range(5):
                one = reg.replace_probability(z[c, i], per_image[c, i])
                torch.testing.assert_close(whole_img[c, i], one, rtol=0, atol=0)


def test_hp_that_does_not_broadcast_is_rejected():
    z = torch.randn(4, 5, 16)
    with pytest.raises(ValueError, match=r"\[cells, 1\]"):
        regulators.get("logistic_cutoff").resample(z, torch.ones(4))  # needs [4, 1]
    with pytest.raises(ValueError, match="broadcast"):
        regulators.get("truncated_normal_cutoff").replace_probability(z, torch.ones(4, 5, 16))


def test_probability_is_in_unit_interval():
    z = torch.linspace(-6, 6, 241, dtype=torch.float64)
    for a in (-3.0, -1.0, 0.0, 1.0, 2.0, 30.0):
        p = logistic_cutoff_probability(z, a).numpy()
        assert np.all((p >= 0) & (p <= 1))
    for c in (0.0, 0.5, 1.0, 3.0, 10.0):
        p = truncated_normal_cutoff_probability(z, c).numpy()
        assert np.all((p > 0) & (p <= 1))
