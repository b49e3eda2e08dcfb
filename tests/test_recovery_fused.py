"""Compiled chains against the modules they compile: values and input gradients through autograd."""

import pytest
import torch
from torch import nn

from bench.recovery.engine import recover_cells
from bench.recovery.fused import compile_chain, l1_rows
from bench.recovery.grid import Cell
from lwgan.lsgan import ConvDiscriminator, MLPDiscriminator, MLPGenerator


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


@pytest.mark.parametrize("make, width", [
    (lambda: MLPGenerator(16, [32, 24]), 16),
    (lambda: MLPDiscriminator(width=4, mbstd=True), 784),
    (lambda: MLPDiscriminator(width=4, mbstd=False), 784),
    (lambda: nn.Sequential(nn.Linear(5, 7), nn.LeakyReLU(0.1), nn.Linear(7, 3, bias=False), nn.BatchNorm1d(3),
                           nn.Tanh(), nn.Flatten(), nn.Linear(3, 2)), 5),
])  # fmt: skip
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


@pytest.mark.parametrize("make, width", [
    (lambda: ConvDiscriminator(width=4), 784),  # convs: not a chain
    (lambda: _Scaled(8, [16]), 8),  # the probe catches a forward that is not its Sequential
    (lambda: nn.Sequential(nn.Linear(4, 4), nn.LeakyReLU(-0.5)), 4),  # sign-flipping slope: unsupported
    (lambda: nn.Sequential(nn.Linear(4, 4), nn.GELU()), 4),
])  # fmt: skip
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
