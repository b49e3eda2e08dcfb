"""Compiled chains against the modules they compile: values and input gradients through autograd."""

import pytest
import torch
from torch import nn

from bench.recovery.engine import recover_cells
from bench.recovery.fused import channels_last, compile_chain, compile_generator, l1_rows
from bench.recovery.grid import Cell
from lwgan.lsgan import ConvDiscriminator, MLPDiscriminator, MLPGenerator
from lwgan.model import RankedGenerator
from lwgan.networks import conv_generator, image_mlp_generator


def _randomised(module: nn.Module, seed: int = 0) -> nn.Module:
    """Eval mode, float64, random weights and batch-norm statistics (identity BN would hide a
    wrong fold)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
        for m in module.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g))
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            if hasattr(m, "running") and m.running.dim() == 0:  # MinibatchStd's statistic
                m.running.fill_(0.7)
    return module.double().eval().requires_grad_(False)


def _value_and_grad(fn, x, weight):
    x = x.detach().requires_grad_(True)
    y = fn(x)
    (g,) = torch.autograd.grad((y * weight).sum(), x)
    return y.detach(), g


@pytest.mark.parametrize(
    "make, width",
    [
        (lambda: MLPGenerator(16, [32, 24]), 16),
        (lambda: MLPDiscriminator(width=4, mbstd=True), 784),
        (lambda: MLPDiscriminator(width=4, mbstd=False), 784),
        (
            lambda: nn.Sequential(
                nn.Linear(5, 7),
                nn.LeakyReLU(0.1),
                nn.Linear(7, 3, bias=False),
                nn.BatchNorm1d(3),
                nn.Tanh(),
                nn.Flatten(),
                nn.Linear(3, 2),
            ),
            5,
        ),
    ],
)
def test_chain_equals_module_values_and_input_gradients(make, width):
    module = _randomised(make())
    chain = compile_chain(module, width)
    assert chain is not None
    g = torch.Generator().manual_seed(1)
    x = torch.randn(33, width, generator=g, dtype=torch.float64)
    if isinstance(module, MLPDiscriminator):
        x = x.view(33, 1, 28, 28)  # D sees images
    w = torch.randn(module(x).shape, generator=g, dtype=torch.float64)  # upstream gradient, for both
    want, want_grad = _value_and_grad(module, x, w)
    got, got_grad = _value_and_grad(chain, x, w)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(got_grad, want_grad, atol=1e-12, rtol=1e-10)
    assert want_grad.abs().max() > 0  # the test would see a zero gradient


class _Scaled(MLPGenerator):
    def forward(self, z):  # not the chain its .net suggests
        return super().forward(2 * z)


@pytest.mark.parametrize(
    "make, width",
    [
        (lambda: ConvDiscriminator(width=4), 784),  # convs: not a chain
        (lambda: _Scaled(8, [16]), 8),  # the probe catches a forward that is not its Sequential
        (lambda: nn.Sequential(nn.Linear(4, 4), nn.LeakyReLU(-0.5)), 4),  # sign-flipping slope: unsupported
        (lambda: nn.Sequential(nn.Linear(4, 4), nn.GELU()), 4),
    ],
)
def test_what_is_not_a_chain_is_not_compiled(make, width):
    assert compile_chain(_randomised(make()), width) is None


def test_training_mode_is_not_compiled():
    module = _randomised(MLPGenerator(8, [16]))
    assert compile_chain(module, 8) is not None
    assert compile_chain(module.train(), 8) is None  # batch norm would use batch statistics


def test_l1_rows_equals_autograd_including_zero_residuals():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(3, 5, 40, generator=g, dtype=torch.float64)
    t = torch.randn(1, 5, 40, generator=g, dtype=torch.float64)
    a[0, 0, :10] = t[0, 0, :10]  # |0| has derivative 0 (torch's sign), not +-1
    w = torch.randn(3, 5, generator=g, dtype=torch.float64)
    want, want_grad = _value_and_grad(lambda x: (x - t).abs().mean(-1), a, w)
    got, got_grad = _value_and_grad(lambda x: l1_rows(x, t), a, w)
    torch.testing.assert_close(got, want, atol=0, rtol=1e-14)
    torch.testing.assert_close(got_grad, want_grad, atol=0, rtol=1e-14)
    assert (got_grad[0, 0, :10] == 0).all()


@pytest.mark.parametrize("regulator", ["wasserstein", "trick_discriminator", "truncated_normal_cutoff"])
def test_engine_fused_equals_engine_through_autograd(regulator):
    """The default LSGAN architecture (G and the mbstd MLP D), both routes of the engine."""
    torch.manual_seed(0)
    G, D = MLPGenerator(32, [64, 48]), MLPDiscriminator(width=4)
    _randomised(G), _randomised(D)
    G, D = G.float(), D.float()
    targets = torch.sign(torch.randn(6, 1, 28, 28, generator=torch.Generator().manual_seed(3))) * 1.5
    cells = [Cell(regulator, 0.05, 0.5), Cell(regulator, 0.01, 2.0)]
    fast = recover_cells(G, D, targets, cells, steps=10, seed=2)
    slow = recover_cells(G, D, targets, cells, steps=10, seed=2, fused=False)
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a.z_final, b.z_final, atol=1e-4, rtol=0)
        torch.testing.assert_close(a.final_loss, b.final_loss, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(a.images_rec, b.images_rec, atol=1e-4, rtol=0)


def _ranked(noise_dim: int, sigma: float, z_max: int = 6, rank: int = 4, dtype=torch.float64) -> RankedGenerator:
    G = _randomised(image_mlp_generator(z_max, 16, noise_dim, sigma))
    with torch.no_grad():  # the padded columns must not matter: make them large
        G.body[0][0].weight[:, rank:z_max] += 5.0
    return RankedGenerator(G, z_max, rank).to(dtype).eval()


@pytest.mark.parametrize("noise_dim, sigma", [(0, 0.0), (3, 0.5), (3, 0.0)])
def test_ranked_generator_chain_equals_module(noise_dim, sigma):
    """The LWGAN family behind its rank-r padding and noise input, against RankedGenerator itself."""
    G = _ranked(noise_dim, sigma)
    chain = compile_generator(G, G.latent_dim, G.noise_dim)
    assert chain is not None and chain.layers[0].weight.shape[1] == G.latent_dim
    g = torch.Generator().manual_seed(4)
    z = torch.randn(17, G.latent_dim, generator=g, dtype=torch.float64)
    eps = torch.randn(17, noise_dim, generator=g, dtype=torch.float64) if G.noise_dim else None
    w = torch.randn(17, 1, 28, 28, generator=g, dtype=torch.float64)
    call = (lambda f: lambda x: f(x, eps)) if eps is not None else (lambda f: f)
    want, want_grad = _value_and_grad(call(G), z, w)
    got, got_grad = _value_and_grad(call(chain), z, w)
    torch.testing.assert_close(got, want, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(got_grad, want_grad, atol=1e-12, rtol=1e-10)
    if eps is not None:  # the noise changes the images: the chain does not ignore it
        assert (chain(z, eps) - chain(z, torch.zeros_like(eps))).abs().max() > 1e-3


def test_ranked_generators_that_are_not_chains_are_not_compiled():
    conv = RankedGenerator(_randomised(conv_generator(6, 4)), 6, 4)
    assert compile_generator(conv, 4) is None
    assert compile_generator(_ranked(0, 0.0), 3) is None  # d_z is not the generator's rank
    plain = _randomised(MLPGenerator(8, [16]))
    assert compile_generator(plain, 8) is not None
    assert compile_generator(plain, 8, noise_dim=2) is None  # a noise input it does not have


@pytest.mark.parametrize("noise", ["fixed", "resample"])
def test_engine_fused_equals_autograd_for_a_stochastic_ranked_generator(noise):
    G = _ranked(3, 0.5, dtype=torch.float32)
    targets = torch.sign(torch.randn(5, 1, 28, 28, generator=torch.Generator().manual_seed(3)))
    cells = [Cell("wasserstein", 0.05, 0.5), Cell("logistic_cutoff", 0.1, 2.0)]
    kw = {"steps": 8, "seed": 1, "noise_dim": 3, "noise": noise, "restarts": 2}
    fast = recover_cells(G, None, targets, cells, **kw)
    slow = recover_cells(G, None, targets, cells, fused=False, **kw)
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a.z_final, b.z_final, atol=1e-4, rtol=0)
        torch.testing.assert_close(a.final_loss, b.final_loss, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(a.images_rec, b.images_rec, atol=1e-4, rtol=0)


def test_channels_last_conv_generator_equals_the_module_and_leaves_it_as_it_was():
    """The author's conv generator with channels-last convolutions: the same images and input
    gradients as the module in NCHW (float64, so layout-dependent rounding stays far below the
    tolerance), NCHW images handed back, and no hook left on the borrowed module afterwards."""
    from lwgan.lsgan_nets import ChoGenerator

    G = _randomised(ChoGenerator(16, 8, depth=2))
    z, weight = torch.randn(6, 16, dtype=torch.float64), torch.randn(6, 1, 28, 28, dtype=torch.float64)
    want, want_g = _value_and_grad(G, z, weight)
    with channels_last(G) as hooked:
        got, got_g = _value_and_grad(G, z, weight)
        inner = torch.nn.functional.interpolate(torch.randn(2, 8, 7, 7, dtype=torch.float64), scale_factor=2)
        seen = G.body[2](inner.contiguous())  # a convolution inside: fed channels-last
    assert hooked and got.is_contiguous() and seen.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(got_g, want_g, rtol=1e-10, atol=1e-12)
    assert all(not m._forward_pre_hooks and not m._forward_hooks for m in G.modules())
    with channels_last(compile_generator(_randomised(MLPGenerator(8, [16])), 8)) as hooked:
        assert not hooked  # a compiled chain is not a module: nothing to hook


def test_engine_recovers_a_conv_generator_as_through_autograd():
    """fused=True (channels-last convolutions) against fused=False (the module as given) on the
    engine: the same recovered latents to float32 rounding over a few steps."""
    from lwgan.lsgan_nets import ChoGenerator

    torch.manual_seed(0)
    G = ChoGenerator(8, 8, depth=1).eval()
    targets = torch.rand(5, 1, 28, 28) * 2 - 1
    cells = [Cell("wasserstein", 0.01, 0.1), Cell("none", 0.01, 0.0)]
    fast = recover_cells(G, None, targets, cells, steps=5, seed=1)
    slow = recover_cells(G, None, targets, cells, steps=5, seed=1, fused=False)
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a.z_final, b.z_final, rtol=1e-4, atol=1e-5)
    assert all(not m._forward_pre_hooks for m in G.modules())
