"""The batched 1-D distances against scipy (looped over leading dims: the slow reference), a pairwise
numpy reference, and finite differences (gradcheck)."""

import itertools

import numpy as np
import pytest
import scipy.stats
import torch

import regulators
from regulators.distances import energy_1d, mean_abs_pair_difference, wasserstein_1d

SCIPY = {
    wasserstein_1d: scipy.stats.wasserstein_distance,
    energy_1d: scipy.stats.energy_distance,
    mean_abs_pair_difference: lambda a, b: np.abs(a[:, None] - b[None, :]).mean(),
}
FNS = list(SCIPY)


def reference(fn, z, u):
    """Loop over the broadcast leading dims, one scipy/numpy call per 1-D pair."""
    lead = torch.broadcast_shapes(z.shape[:-1], u.shape[:-1])
    z = z.detach().double().expand(*lead, z.shape[-1]).numpy()
    u = u.detach().double().expand(*lead, u.shape[-1]).numpy()
    out = np.empty(lead)
    for idx in itertools.product(*map(range, lead)):
        out[idx] = SCIPY[fn](z[idx], u[idx])
    return out


@pytest.mark.parametrize("fn", FNS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("d,m", [(7, 7), (5, 11), (13, 4), (1, 3), (1, 1), (64, 64)])
def test_equals_reference_random(fn, d, m):
    g = torch.Generator().manual_seed(d * 100 + m)
    z = torch.randn(3, 4, d, generator=g, dtype=torch.float64) * 1.5 + 0.3
    u = torch.randn(3, 4, m, generator=g, dtype=torch.float64)
    got = fn(z, u)
    assert got.shape == (3, 4) and got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), reference(fn, z, u), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fn", FNS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("d,m", [(9, 9), (6, 10), (12, 5)])
def test_equals_reference_with_ties(fn, d, m):
    # Values from a 5-point grid: ties inside z, inside u and across the two, in every row.
    g = torch.Generator().manual_seed(7 + d + m)
    z = torch.randint(-2, 3, (4, 5, d), generator=g).double() * 0.5
    u = torch.randint(-2, 3, (4, 5, m), generator=g).double() * 0.5
    np.testing.assert_allclose(fn(z, u).numpy(), reference(fn, z, u), rtol=1e-12, atol=1e-12)
    # Identical samples (all values tied pairwise) are at distance 0 for W1 and energy.
    if fn is not mean_abs_pair_difference:
        assert torch.all(fn(z, z) == 0)


@pytest.mark.parametrize("fn", FNS, ids=lambda f: f.__name__)
def test_float32_within_1e5(fn):
    g = torch.Generator().manual_seed(1)
    z = torch.randn(2, 5, 256, generator=g)
    u = torch.randn(2, 5, 300, generator=g)
    got = fn(z, u)
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.double().numpy(), reference(fn, z, u), rtol=0, atol=1e-5)


@pytest.mark.parametrize("fn", FNS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "zshape,ushape",
    [((3, 4, 6), (8,)), ((3, 4, 6), (4, 8)), ((3, 1, 6), (1, 4, 8)), ((6,), (5, 8)), ((6,), (8,))],
)
def test_broadcasting_leading_dims(fn, zshape, ushape):
    g = torch.Generator().manual_seed(3)
    z = torch.randn(zshape, generator=g, dtype=torch.float64)
    u = torch.randn(ushape, generator=g, dtype=torch.float64)
    got = fn(z, u)
    assert got.shape == torch.broadcast_shapes(zshape[:-1], ushape[:-1])
    np.testing.assert_allclose(got.numpy(), reference(fn, z, u), rtol=1e-12, atol=1e-12)


def distinct_pair(d, m, seed, lead=(2, 3)):
    """z and u whose merged values are all at least ~0.1 apart, so finite differences never
    reorder them (the distances are not differentiable at ties)."""
    g = torch.Generator().manual_seed(seed)
    n = d + m
    grid = torch.linspace(-2.5, 2.5, n, dtype=torch.float64)
    rows = [grid[torch.randperm(n, generator=g)] for _ in range(int(np.prod(lead)))]
    both = torch.stack(rows).reshape(*lead, n)
    both = both + 0.01 * torch.rand(both.shape, generator=g, dtype=torch.float64)
    return both[..., :d].clone(), both[..., d:].clone()


@pytest.mark.parametrize("fn", FNS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("d,m", [(6, 6), (5, 8)])
def test_gradcheck(fn, d, m):
    z, u = distinct_pair(d, m, seed=d + m)
    z.requires_grad_()
    assert torch.autograd.gradcheck(lambda x: fn(x, u), (z,), eps=1e-6, atol=1e-7)


def test_w1_gradient_hand_computed():
    # z = (0, 3), u = (1, 2): W1 = (|0-1| + |3-2|) / 2 = 1; moving z_0 up by h shrinks it by h/2.
    z = torch.tensor([0.0, 3.0], dtype=torch.float64, requires_grad=True)
    u = torch.tensor([1.0, 2.0], dtype=torch.float64)
    w = wasserstein_1d(z, u)
    w.backward()
    assert w.item() == pytest.approx(1.0)
    assert z.grad.tolist() == pytest.approx([-0.5, 0.5])


def test_energy_at_zero_distance_has_finite_gradient():
    z = torch.tensor([[0.1, -0.4, 1.2]], dtype=torch.float64, requires_grad=True)
    e = energy_1d(z, z.detach().clone())
    e.sum().backward()
    assert e.item() == 0 and torch.all(torch.isfinite(z.grad))


def test_batched_equals_slice_wise_at_engine_shape():
    # The recovery engine's layout: z [cells, images, d], one prior sample per (cell, image).
    g = torch.Generator().manual_seed(5)
    z = torch.randn(3, 7, 32, generator=g)
    u = torch.randn(3, 7, 40, generator=g)
    for fn in FNS:
        whole = fn(z, u)
        for c in range(3):
            torch.testing.assert_close(whole[c], fn(z[c], u[c]), rtol=0, atol=0)
            for i in range(7):
                torch.testing.assert_close(whole[c, i], fn(z[c, i], u[c, i]), rtol=0, atol=0)


def test_empty_sample_is_rejected():
    with pytest.raises(ValueError, match="non-empty"):
        wasserstein_1d(torch.zeros(3, 0), torch.zeros(3, 4))


def test_priors_cdf_and_sample():
    x = torch.linspace(-4, 4, 41, dtype=torch.float64)
    normal, uniform = regulators.get_prior("normal"), regulators.get_prior("uniform")
    np.testing.assert_allclose(normal.cdf(x).numpy(), scipy.stats.norm.cdf(x.numpy()), atol=1e-14)
    np.testing.assert_allclose(uniform.cdf(x).numpy(), scipy.stats.uniform(-1, 2).cdf(x.numpy()), atol=1e-14)
    g = torch.Generator().manual_seed(0)
    s = normal.sample((4000,), generator=g, dtype=torch.float64)
    assert s.shape == (4000,) and s.dtype == torch.float64
    assert scipy.stats.kstest(s.numpy(), "norm").pvalue > 1e-3
    s = uniform.sample((4000,), generator=g)
    assert s.dtype == torch.float32 and s.min() >= -1 and s.max() <= 1
    assert scipy.stats.kstest(s.numpy(), scipy.stats.uniform(-1, 2).cdf).pvalue > 1e-3
    # Same seed, same draws.
    a = normal.sample((5,), generator=torch.Generator().manual_seed(9))
    b = normal.sample((5,), generator=torch.Generator().manual_seed(9))
    assert torch.equal(a, b)
    assert regulators.prior_names()[0] == regulators.DEFAULT_PRIOR == "normal"
    with pytest.raises(ValueError, match="normal, uniform"):
        regulators.get_prior("cauchy")
