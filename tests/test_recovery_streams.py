"""The engine's counter-based random streams: the hash against Python's integers, the draws against
scipy's distributions, and every draw a function of its coordinates only."""

import random

import numpy as np
import pytest
import torch
from scipy import stats

import regulators
from bench.recovery import streams

NORMAL, UNIFORM = regulators.get_prior("normal"), regulators.get_prior("uniform")


def _keys(cells=(11, 22, 33), purpose="prior", step=0, images=range(400), restarts=1, device=None):
    return streams.block_keys(
        streams.cell_keys(cells, device), purpose, step, streams.row_keys(images, restarts, device)
    )


def test_mix64_equals_python_integers():
    rng = random.Random(0)
    values = [rng.getrandbits(64) for _ in range(2000)] + [0, 1, 2**63 - 1, 2**63, 2**64 - 1]
    signed = torch.tensor([v - 2**64 if v >= 2**63 else v for v in values], dtype=torch.int64)
    got = [v % 2**64 for v in streams.mix64(signed).tolist()]
    assert got == [streams.mix64_int(v) for v in values]
    # the reference is SplitMix64's output function: its first output from seed 0 is known
    assert streams.mix64_int(0x9E3779B97F4A7C15) == 0xE220A8397B1DCDAF


def test_uniforms_are_uniform_on_the_open_interval():
    u = streams.uniforms(_keys(), 256).double()
    assert u.shape == (3, 400, 256)
    assert u.min() > 0 and u.max() < 1
    assert stats.kstest(u.flatten().numpy(), "uniform").pvalue > 1e-3
    # neighbouring columns, the two halves of one hash, and two cells are uncorrelated
    flat = u.reshape(-1, 256).numpy()
    for a, b in [(flat[:, :-1], flat[:, 1:]), (flat[:, :128], flat[:, 128:]), (u[0].numpy(), u[1].numpy())]:
        _uncorrelated(a, b)


def _uncorrelated(a, b):
    """|sample correlation| under 5 standard errors (1/sqrt(n) when independent)."""
    a, b = np.ravel(a), np.ravel(b)
    assert abs(np.corrcoef(a, b)[0, 1]) < 5 / np.sqrt(a.size)


@pytest.mark.parametrize("n", [256, 7, 1])
def test_normal_draws_are_standard_normal(n):
    x = streams.sample(NORMAL, _keys(images=range(4000 // n + 50)), n).double()
    assert x.shape[-1] == n and torch.isfinite(x).all()
    assert stats.kstest(x.flatten().numpy(), "norm").pvalue > 1e-3
    if n > 1:  # the two halves of Box-Muller pairs are independent normals too
        h = n // 2
        a, b = x[..., :h].numpy(), x[..., h : 2 * h].numpy()
        _uncorrelated(a, b)
        _uncorrelated(a**2, b**2)  # sharing a radius would correlate the squares


def test_uniform_prior_maps_through_its_inverse_cdf():
    x = streams.sample(UNIFORM, _keys(), 64).double()
    assert x.min() > -1 and x.max() < 1
    assert stats.kstest(x.flatten().numpy(), stats.uniform(-1, 2).cdf).pvalue > 1e-3


def test_a_draw_depends_only_on_its_own_coordinates():
    full = streams.sample(NORMAL, _keys(cells=(5, 6, 7), images=[3, 8, 9], restarts=2), 16)
    # one cell alone, one image alone, in another order: the same numbers, bit for bit
    alone = streams.sample(NORMAL, _keys(cells=(6,), images=[8], restarts=2), 16)
    assert torch.equal(alone[0], full[1, 2:4])
    swapped = streams.sample(NORMAL, _keys(cells=(7, 5), images=[9, 3], restarts=2), 16)
    assert torch.equal(swapped[1, 2:4], full[0, 0:2])
    # every coordinate matters: cell, purpose, step, image, restart
    base = full[0, 0]
    for other in (
        full[1, 0],
        full[0, 1],
        full[0, 2],
        streams.sample(NORMAL, _keys(cells=(5,), purpose="fresh", images=[3], restarts=2), 16)[0, 0],
        streams.sample(NORMAL, _keys(cells=(5,), step=1, images=[3], restarts=2), 16)[0, 0],
    ):
        assert not torch.equal(base, other)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_same_draws_on_cuda():
    keys = _keys(cells=(1, 2), images=range(50))
    gpu = _keys(cells=(1, 2), images=range(50), device="cuda")
    assert torch.equal(keys, gpu.cpu())
    torch.testing.assert_close(
        streams.sample(NORMAL, gpu, 32).cpu(), streams.sample(NORMAL, keys, 32), atol=1e-5, rtol=0
    )
