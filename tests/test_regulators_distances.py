"""The batched 1-D distances against scipy (looped over leading dims: the slow reference), a pairwise
numpy reference, and finite differences (gradcheck)."""

import itertools

import numpy as np
import pytest
import scipy.stats
import torch

import regulators
from regulators import distances, fastsort
from regulators.distances import energy_1d, mean_abs_pair_difference, merge_counts, wasserstein_1d
from regulators.fastsort import argsort_rows, float32_keys, keys_to_float32, sort_last

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


# ---------------------------------------------------------------------------------------------
# The fast CPU route: sort_last and the packed keys (regulators/fastsort.py), the merge counts and
# the numpy route of the distances, checked against numpy/torch sorts, brute-force counting,
# scipy, and the torch route.

SPECIAL = np.array(
    [
        0x7FC00000,
        0xFFC00000,
        0x7F800001,
        0xFFFFFFFF,  # NaNs: quiet, negative, signalling, all ones
        0xFF800000,
        0x7F800000,
        0xFF7FFFFF,
        0x7F7FFFFF,  # -inf, +inf, -max, +max
        0x80000001,
        0x00000001,
        0x80000000,
        0x00000000,  # -/+ smallest subnormal, -0.0, 0.0
        0x807FFFFF,
        0x007FFFFF,
        0x00800000,
        0xBF800000,
        0x3F800000,
    ],  # subnormal edges, -1, 1
    dtype=np.uint32,
).view(np.float32)


def test_float32_keys_order_like_floats():
    # Random bit patterns cover every exponent, subnormals and both zeros; floats and keys must
    # order every adjacent pair the same way (equal keys exactly for equal floats).
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**32, size=20000, dtype=np.uint64).astype(np.uint32)
    x = np.concatenate([bits.view(np.float32), SPECIAL])
    x = x[~np.isnan(x)]
    x = x[np.argsort(x, kind="stable")]
    k = float32_keys(x)
    assert np.all((k[1:] > k[:-1]) == (x[1:] > x[:-1]))
    assert np.all((k[1:] == k[:-1]) == (x[1:] == x[:-1]))
    # NaN of any sign or payload gets the one largest key; -0.0 and 0.0 share 0.
    nan = SPECIAL[np.isnan(SPECIAL)]
    assert np.all(float32_keys(nan) == np.iinfo(np.int32).max)
    assert float32_keys(np.float32([-0.0, 0.0])).tolist() == [0, 0]
    # Decoding gives the floats back bit for bit, -0.0 as 0.0.
    back = keys_to_float32(k)
    assert np.array_equal(back.view(np.uint32), np.where(x == 0, np.float32(0), x).view(np.uint32))


def _check_like_torch_sort(x):
    values, indices = sort_last(x)
    ref_values, ref_indices = torch.sort(x, dim=-1, stable=True)
    assert indices.dtype == torch.int64 and indices.shape == x.shape
    assert torch.equal(indices, ref_indices)
    # The same bits, signed zeros included (NaN != NaN, so compare bit patterns; float16 and
    # bfloat16 widen to float32 exactly).
    assert np.array_equal(
        values.detach().float().numpy().view(np.uint32), ref_values.detach().float().numpy().view(np.uint32)
    )
    # A valid permutation of each row.
    assert torch.equal(indices.sort(-1).values, torch.arange(x.shape[-1]).expand_as(indices))
    return values, indices


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_sort_last_random_equals_torch_stable_sort(dtype):
    g = torch.Generator().manual_seed(11)
    for shape in [(7, 33), (3, 4, 300), (1,), (5, 1)]:
        _check_like_torch_sort(torch.randn(shape, generator=g).to(dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_sort_last_ties_zeros_inf_nan(dtype):
    g = torch.Generator().manual_seed(12)
    # Ties: a 5-value grid, so every row has long runs of equal values; the columns must come out
    # in index order (stable).
    _check_like_torch_sort((torch.randint(-2, 3, (6, 50), generator=g) * 0.5).to(dtype))
    # -0.0 and 0.0 compare equal: index order, each keeping its sign bit.
    zeros = torch.where(torch.rand(4, 40, generator=g) < 0.5, -0.0, 0.0)
    zeros[:, ::7] = 1.0
    values, _ = _check_like_torch_sort(zeros.to(dtype))
    assert torch.equal(torch.signbit(values), torch.signbit(torch.sort(zeros.to(dtype), stable=True).values))
    # +-inf, NaN of both signs (x86's 0 * inf is a negative NaN) and ordinary values.
    special = torch.from_numpy(SPECIAL.copy())
    row = torch.cat([special, torch.randn(20, generator=g), special])
    rows = torch.stack([row[torch.randperm(len(row), generator=g)] for _ in range(5)])
    values, _ = _check_like_torch_sort(rows.to(dtype))
    n_nan = int(torch.isnan(rows[0]).sum())
    assert torch.isnan(values[:, -n_nan:]).all() and not torch.isnan(values[:, :-n_nan]).any()


def test_sort_last_gradient_equals_torch_sort():
    g = torch.Generator().manual_seed(13)
    x = torch.randn(4, 5, 64, generator=g, dtype=torch.float64)
    x[0, 0, :10] = 0.25  # ties: the gradient goes to the same (stable) positions as torch's
    w = torch.randn(4, 5, 64, generator=g, dtype=torch.float64)
    a = x.clone().requires_grad_()
    (sort_last(a)[0] * w).sum().backward()
    b = x.clone().requires_grad_()
    (torch.sort(b, dim=-1, stable=True).values * w).sum().backward()
    assert torch.equal(a.grad, b.grad)


def test_sort_last_other_inputs_go_through_torch_sort():
    ints = torch.tensor([[3, 1, 2, 1], [0, 0, -1, 5]])
    values, indices = sort_last(ints)
    assert torch.equal(indices, torch.sort(ints, stable=True).indices) and torch.equal(values, ints.sort().values)
    assert sort_last(torch.tensor(2.5))[0].item() == 2.5
    assert sort_last(torch.zeros(3, 0))[1].shape == (3, 0)


def test_argsort_rows_threads_and_chunks_match_numpy_stable(monkeypatch):
    # Small chunks so that 300 rows make several chunks, spread over 2 threads.
    monkeypatch.setattr(fastsort, "CHUNK", 64 * 50)
    rng = np.random.default_rng(14)
    for a in [
        rng.integers(-3, 4, (300, 50)).astype(np.float32) * 0.5,  # ties
        rng.standard_normal((300, 50)).astype(np.float32),
        rng.standard_normal((300, 50)),
    ]:
        expected = np.argsort(a, axis=-1, kind="stable")
        for threads in (1, 2):
            assert np.array_equal(argsort_rows(a, threads=threads), expected)
    with pytest.raises(ValueError, match="2-D"):
        argsort_rows(np.zeros(3))


def _brute_counts(zs, us):
    """How many u are strictly below each z, how many z are at or below each u: a z goes before
    an equal u. By comparing every pair, O(d m) per row."""
    return (us[:, None, :] < zs[:, :, None]).sum(-1), (zs[:, None, :] <= us[:, :, None]).sum(-1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_merge_counts_equal_brute_force(dtype, monkeypatch):
    redone = []
    exact = distances._exact_from_u
    monkeypatch.setattr(distances, "_exact_from_u", lambda zs, us: redone.append(len(zs)) or exact(zs, us))
    rng = np.random.default_rng(15)
    cases = [
        (rng.standard_normal((40, 30)), rng.standard_normal((40, 17))),
        (rng.integers(-2, 3, (40, 12)) * 0.5, rng.integers(-2, 3, (40, 9)) * 0.5),  # ties across
    ]
    # Neighbours one ulp apart share a key up to the lowest bit: the float32 sort of keys whose
    # lowest bit is the source cannot order them, so these rows must be redone exactly. Both
    # signs, both parities of the key, and exact ties of -0.0 with 0.0.
    x = rng.standard_normal((40, 10)).astype(np.float32)
    up = np.nextafter(x, np.float32(np.inf))
    down = np.nextafter(x, np.float32(-np.inf))
    z = np.concatenate([x, up[:, :5], np.full((40, 1), -0.0, np.float32)], axis=1)
    u = np.concatenate([down, up[:, 5:], np.zeros((40, 1), np.float32)], axis=1)
    cases.append((z, u))
    cases.append((u, z))
    for z, u in cases:
        zs, us = np.sort(z.astype(dtype), -1), np.sort(u.astype(dtype), -1)
        c, e = merge_counts(zs, us)
        c_ref, e_ref = _brute_counts(zs, us)
        assert np.array_equal(c, c_ref) and np.array_equal(e, e_ref)
    if dtype == np.float32:  # the exact redo ran, for the tie and one-ulp rows only
        assert 0 < sum(redone) < 4 * 40


ROUTED = [wasserstein_1d, energy_1d, mean_abs_pair_difference]


@pytest.mark.parametrize("fn", ROUTED, ids=lambda f: f.__name__)
@pytest.mark.parametrize("route", ["numpy", "torch"])
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
@pytest.mark.parametrize("d,m", [(16, 16), (9, 14), (20, 6)])
def test_routes_equal_reference(fn, route, dtype, tol, d, m):
    g = torch.Generator().manual_seed(d * 31 + m)
    z = (torch.randn(3, 5, d, generator=g, dtype=torch.float64) * 1.3 + 0.2).to(dtype)
    u = torch.randn(3, 5, m, generator=g, dtype=torch.float64).to(dtype)
    z[0, 0, :3] = u[0, 0, :3]  # exact ties across the samples
    z[1, 1] = (torch.randint(-2, 3, (d,), generator=g) * 0.5).to(dtype)  # ties within z
    got = fn(z, u, route=route)
    assert got.dtype == dtype and got.shape == (3, 5)
    np.testing.assert_allclose(got.double().numpy(), reference(fn, z, u), rtol=tol, atol=tol)


@pytest.mark.parametrize("fn", ROUTED, ids=lambda f: f.__name__)
@pytest.mark.parametrize("d,m", [(6, 6), (5, 8), (9, 4)])
def test_numpy_route_gradient_equals_torch_route_and_gradcheck_in_u(fn, d, m):
    z, u = distinct_pair(d, m, seed=3 * d + m)
    grads = []
    for route in ("numpy", "torch"):
        zz, uu = z.clone().requires_grad_(), u.clone().requires_grad_()
        w = torch.linspace(0.5, 2.0, 6, dtype=torch.float64).view(2, 3)
        (fn(zz, uu, route=route) * w).sum().backward()
        grads.append((zz.grad, uu.grad))
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grads[0][1], grads[1][1], rtol=1e-12, atol=1e-14)
    uu = u.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda x: fn(z, x, route="numpy"), (uu,), eps=1e-6, atol=1e-7)


def test_numpy_route_float32_gradient_close_to_torch_route():
    # The engine's dtype: derivatives are exact rationals (counts / d m), so they match the torch
    # route's autograd up to float32 rounding.
    g = torch.Generator().manual_seed(16)
    z = torch.randn(4, 6, 64, generator=g)
    u = torch.randn(4, 6, 80, generator=g)
    for fn in ROUTED:
        for uu in (u, u[..., :64]):
            out = []
            for route in ("numpy", "torch"):
                zz = z.clone().requires_grad_()
                (fn(zz, uu, route=route)).sum().backward()
                out.append(zz.grad)
            torch.testing.assert_close(out[0], out[1], rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("fn", ROUTED, ids=lambda f: f.__name__)
def test_numpy_route_chunks_and_threads_do_not_change_rows(fn, monkeypatch):
    # 300 rows in chunks of 16 rows over 2 threads: every row bit-identical to computing it alone,
    # and the derivatives too.
    monkeypatch.setattr(fastsort, "CHUNK", 16 * 96)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        g = torch.Generator().manual_seed(17)
        z = torch.randn(3, 100, 48, generator=g).requires_grad_()
        u = torch.randn(3, 100, 48 if fn is wasserstein_1d else 40, generator=g)
        whole = fn(z, u)
        (gz,) = torch.autograd.grad(whole.sum(), z)
        for c, i in [(0, 0), (1, 37), (2, 99)]:
            zi = z[c, i].detach().requires_grad_()
            one = fn(zi, u[c, i])
            (gi,) = torch.autograd.grad(one, zi)
            assert torch.equal(one, whole[c, i]) and torch.equal(gi, gz[c, i])
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("fn", ROUTED, ids=lambda f: f.__name__)
@pytest.mark.parametrize("route", ["numpy", "torch"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_nan_and_inf_rows(fn, route, dtype):
    # A NaN anywhere in a row makes that row NaN; one infinite element makes it inf, as scipy
    # says; the other rows are untouched, and nothing raises.
    g = torch.Generator().manual_seed(18)
    z = torch.randn(5, 7, generator=g, dtype=dtype)
    u = torch.randn(5, 9, generator=g, dtype=dtype)
    clean = fn(z, u, route=route)
    z[0, 3] = float("nan")
    u[1, 0] = -float("nan")
    z[2, 6] = float("inf")
    u[3, 2] = -float("inf")
    got = fn(z, u, route=route)
    assert torch.isnan(got[:2]).all()
    np.testing.assert_array_equal(got[2:4].double().numpy(), reference(fn, z[2:4], u[2:4]))
    assert torch.isinf(got[2:4]).all()
    assert torch.equal(got[4], clean[4])


def test_no_grad_and_route_errors():
    z = torch.randn(4, 8, requires_grad=True)
    u = torch.randn(4, 8)
    with torch.no_grad():
        out = energy_1d(z, u)
    assert not out.requires_grad
    torch.testing.assert_close(out, energy_1d(z, u).detach(), rtol=0, atol=0)
    with pytest.raises(ValueError, match="auto, numpy, torch"):
        wasserstein_1d(z, u, route="fast")
    with pytest.raises(ValueError, match="float32/float64 on the CPU"):
        wasserstein_1d(z.half(), u, route="numpy")
    # Other dtypes take the torch route under "auto".
    half = wasserstein_1d(z.detach().bfloat16(), u.bfloat16())
    assert half.dtype == torch.bfloat16


def test_registry_penalties_use_the_fast_route_with_the_same_values():
    g = torch.Generator().manual_seed(19)
    z = torch.randn(2, 30, 64, generator=g)
    u = torch.randn(2, 30, 64, generator=g)
    for name, fn in [
        ("wasserstein", wasserstein_1d),
        ("energy", energy_1d),
        ("lukaszyk_karmowski", mean_abs_pair_difference),
    ]:
        got = regulators.get(name).penalty(z, prior_sample=u)
        torch.testing.assert_close(got, fn(z, u, route="torch"), rtol=0, atol=1e-5)
