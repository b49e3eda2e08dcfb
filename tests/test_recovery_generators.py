"""Recovery through generators other than the LSGAN: rank-masked latents against a per-image
loop, fixed and resampled noise, in-span targets, a user's generator module, bad --generator."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import regulators
from bench.recovery.engine import initial_latents, recover_cells
from bench.recovery.grid import Cell
from bench.recovery.metrics import latent_errors
from lwgan.model import RankedGenerator
from lwgan.networks import image_mlp_generator

Z_MAX, RANK = 6, 3


def _generator(noise_dim=0, sigma=0.0, seed=0):
    torch.manual_seed(seed)
    G = image_mlp_generator(Z_MAX, width=16, noise_dim=noise_dim, sigma_noise=sigma)
    return G.eval().requires_grad_(False)


def _targets(n=3, seed=1):
    # Outside tanh's range, so no residual crosses 0 (see tests/test_recovery_engine.py).
    return 1.5 * torch.randn(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed)).sign()


def test_rank_masked_recovery_matches_a_per_image_loop_and_keeps_the_rest_at_zero():
    G = _generator()
    targets = _targets()
    cell = Cell("log_normal_density", 0.05, 0.5)
    steps = 8
    (rec,) = recover_cells(RankedGenerator(G, Z_MAX, RANK), None, targets, [cell], steps=steps, seed=3, latent_dim=RANK)
    assert rec.z_final.shape == (3, RANK)
    z0 = initial_latents(3, range(3), 1, RANK, regulators.get_prior("normal"))
    for i in range(3):
        # The oracle: the whole z_max-vector optimised by torch.optim.Adam, the gradient of the
        # coordinates past the rank zeroed by a hook; log-normal density over the first r only.
        z = torch.zeros(Z_MAX)
        z[:RANK] = z0[i]
        z.requires_grad_(True)
        z.register_hook(lambda g: torch.cat([g[:RANK], torch.zeros(Z_MAX - RANK)]))
        opt = torch.optim.Adam([z], lr=cell.lr)
        for _ in range(steps):
            opt.zero_grad()
            loss = (G(z[None]) - targets[i]).abs().mean() + cell.hp * z[:RANK].square().mean()
            loss.backward()
            opt.step()
        assert torch.all(z.detach()[RANK:] == 0)
        torch.testing.assert_close(rec.z_final[i], z.detach()[:RANK], atol=1e-5, rtol=1e-4)
    # G sees the padded vector: its image is G([z, 0]).
    full = torch.cat([rec.z_final, torch.zeros(3, Z_MAX - RANK)], 1)
    torch.testing.assert_close(rec.images_rec, G(full), atol=1e-6, rtol=1e-5)


def _stochastic_recover(cells, *, noise="fixed", seed=0):
    G = RankedGenerator(_generator(noise_dim=2, sigma=0.5), Z_MAX, RANK)
    return recover_cells(
        G, None, _targets(), cells, steps=6, seed=seed, latent_dim=RANK, noise_dim=G.noise_dim, noise=noise
    )


def test_fixed_noise_makes_a_stochastic_generator_deterministic():
    cells = [Cell("wasserstein", 0.05, 0.5), Cell("log_normal_density", 0.05, 0.5)]
    a, b = _stochastic_recover(cells), _stochastic_recover(cells)
    for x, y in zip(a, b):
        assert torch.equal(x.z_final, y.z_final) and torch.equal(x.images_rec, y.images_rec)
    # ... and a cell gives the same result alone as beside another, with either noise mode.
    for noise in ("fixed", "resample"):
        alone = _stochastic_recover(cells[:1], noise=noise)[0]
        both = _stochastic_recover([cells[1], cells[0]], noise=noise)[1]
        torch.testing.assert_close(alone.z_final, both.z_final, atol=1e-5, rtol=1e-4)
    # The noise is an input that matters: resampled noise gives another recovery than fixed.
    fixed, fresh = _stochastic_recover(cells[:1])[0], _stochastic_recover(cells[:1], noise="resample")[0]
    assert not torch.allclose(fixed.z_final, fresh.z_final)


class Linear(nn.Module):
    """A tiny linear generator: injective on its 4-d latent."""

    latent_dim = 4

    def __init__(self):
        super().__init__()
        self.W = nn.Parameter(torch.randn(784, 4, generator=torch.Generator().manual_seed(0)) * 0.3)

    def forward(self, z):
        return (z @ self.W.T).view(-1, 1, 28, 28)


def test_in_span_recovery_of_a_linear_generator_finds_z_star():
    G = Linear().requires_grad_(False)
    z_star = torch.randn(5, 4, generator=torch.Generator().manual_seed(7))
    (rec,) = recover_cells(G, None, G(z_star), [Cell("none", 0.01, 0.0)], steps=600, seed=0)
    err = latent_errors(rec.z_final, z_star, tol=0.05)
    assert err["latent_rmse"] < 0.02 and err["latent_recovered"] == 100.0
    # The oracle of latent_errors: hand-computed distances.
    d = (rec.z_final - z_star).norm(dim=1)
    assert err["latent_error"] == pytest.approx(float(d.mean()), rel=1e-6)
