"""Chain networks (Linear, BatchNorm1d, ReLU, LeakyReLU, Tanh, ...) with a hand-written backward.

Why: the recovery engine spends its time in G's forward and input-gradient pass. The GEMMs of
the default MLP generator already run at the machine's matmul rate; what autograd adds around
them is elementwise work on [rows, 784] tensors: tanh (torch's CPU tanh is ~10x slower than its
sigmoid), batch norm forward and backward, a sign, a multiply, a division, fresh allocations.
A chain compiled here folds each eval-mode BatchNorm1d into the Linear before it, applies every
activation in place on the GEMM's output, computes tanh as 2 sigmoid(2x) - 1, saves only the
activations' outputs (each derivative is a function of them) and backpropagates with one
fused elementwise op per activation and one GEMM per layer. benchmarks/recovery_throughput.py
measures the gain; tests/test_recovery_fused.py checks values and input gradients against the
module itself through autograd.

`compile_chain(module)` returns None when the module is not such a chain (an LWGAN generator with
a noise input, a conv net, ...), or when the compiled chain does not reproduce the module on a
probe batch: the engine then uses the module through autograd, as before. Parameters are frozen
at compile time (the engine borrows G and D in eval mode for the whole call).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn
from torch.autograd.function import once_differentiable

# How far the compiled chain may differ from the module on the probe: tanh through sigmoid and
# the folded batch norm round differently, by a few float32 ulps of values of order 1.
PROBE_TOLERANCE = 1e-4


@dataclass
class _Layer:
    weight: torch.Tensor  # [out, in]
    bias: torch.Tensor | None  # [out]
    activation: str = "identity"  # identity | relu | leaky_relu | tanh
    slope: float = 0.0  # leaky_relu's negative slope


class Chain:
    """A compiled chain: call it like the module (any input whose rows flatten to in_features)."""

    def __init__(self, layers: list[_Layer], out_shape: tuple[int, ...]):
        self.layers, self.out_shape = layers, out_shape

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return _ChainFn.apply(x.reshape(x.shape[0], -1), self).view(x.shape[0], *self.out_shape)

    def to(self, device) -> Chain:
        moved = [replace(layer, weight=layer.weight.to(device), bias=None if layer.bias is None else layer.bias.to(device))
                 for layer in self.layers]  # fmt: skip
        return Chain(moved, self.out_shape)


def _activate_(h: torch.Tensor, layer: _Layer) -> torch.Tensor:
    if layer.activation == "relu":
        return h.clamp_min_(0)
    if layer.activation == "leaky_relu":
        return torch.nn.functional.leaky_relu_(h, layer.slope)
    if layer.activation == "tanh":  # tanh(x) = 2 sigmoid(2x) - 1: one fast transcendental
        return h.mul_(2).sigmoid_().mul_(2).sub_(1)
    return h


def _activation_backward(g: torch.Tensor, out: torch.Tensor, layer: _Layer) -> torch.Tensor:
    """The gradient before the activation from the one after it and the activation's output."""
    if layer.activation == "relu":
        return torch.ops.aten.threshold_backward(g, out, 0)
    if layer.activation == "leaky_relu":  # a positive slope keeps the output's sign
        return torch.ops.aten.leaky_relu_backward(g, out, layer.slope, True)
    if layer.activation == "tanh":
        return torch.ops.aten.tanh_backward(g, out)
    return g


class _ChainFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, chain):
        h, saved = x, []
        for layer in chain.layers:
            w = layer.weight.t()
            h = torch.mm(h, w) if layer.bias is None else torch.addmm(layer.bias, h, w)
            saved.append(_activate_(h, layer))
        ctx.chain = chain
        ctx.save_for_backward(*saved)
        return h

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        outs, layers = ctx.saved_tensors, ctx.chain.layers
        for i in range(len(layers) - 1, -1, -1):
            g = torch.mm(_activation_backward(g, outs[i], layers[i]), layers[i].weight)
        return g, None


def _flatten(module: nn.Module) -> list[nn.Module] | None:
    """The module's leaves in call order if its forward is a plain Sequential (possibly held as
    `.net`, possibly followed by a reshape): else None."""
    seq = module if isinstance(module, nn.Sequential) else getattr(module, "net", None)
    if not isinstance(seq, nn.Sequential):
        return None
    leaves = []
    for m in seq:
        if isinstance(m, nn.Sequential):
            sub = _flatten(m)
            if sub is None:
                return None
            leaves += sub
        else:
            leaves.append(m)
    return leaves


def _build(leaves: list[nn.Module]) -> list[_Layer] | None:
    from lwgan.lsgan import MinibatchStd  # eval mode: a constant extra feature

    layers: list[_Layer] = []
    extra: float | None = None  # a constant feature appended before the next Linear
    for m in leaves:
        if isinstance(m, (nn.Flatten, nn.Identity, nn.Dropout)):
            continue
        if isinstance(m, nn.Linear):
            w = m.weight.detach().clone()
            b = None if m.bias is None else m.bias.detach().clone()
            if extra is not None:  # W [x, s] + b = W[:, :-1] x + (W[:, -1] s + b)
                const = w[:, -1] * extra
                b, w = const if b is None else b + const, w[:, :-1].contiguous()
                extra = None
            layers.append(_Layer(w, b))
        elif isinstance(m, nn.BatchNorm1d) and layers and layers[-1].activation == "identity":
            if m.training or m.running_mean is None or extra is not None:
                return None
            scale = (m.weight.detach() if m.affine else 1.0) / torch.sqrt(m.running_var + m.eps)
            shift = (m.bias.detach() if m.affine else 0.0) - m.running_mean * scale
            last = layers[-1]
            last.weight = (last.weight * scale[:, None]).contiguous()
            last.bias = shift if last.bias is None else last.bias * scale + shift
        elif isinstance(m, (nn.ReLU, nn.LeakyReLU, nn.Tanh)) and layers and layers[-1].activation == "identity":
            if isinstance(m, nn.LeakyReLU):
                if m.negative_slope <= 0:
                    return None
                layers[-1].activation, layers[-1].slope = "leaky_relu", float(m.negative_slope)
            else:
                layers[-1].activation = "relu" if isinstance(m, nn.ReLU) else "tanh"
        elif isinstance(m, MinibatchStd) and not m.training and extra is None:
            extra = float(m.running)
        else:
            return None
    return layers if layers and extra is None else None


def compile_chain(module: nn.Module, in_features: int, *, device=None) -> Chain | None:
    """The module as a Chain, or None (not a supported chain, or not reproduced on a probe).

    The module must be in eval mode. `in_features` is the width of one input row (d_z for G,
    784 for an MLP D).
    """
    if module.training:
        return None
    leaves = _flatten(module)
    layers = None if leaves is None else _build(leaves)
    if layers is None or layers[0].weight.shape[1] != in_features:
        return None
    probe = torch.randn(64, in_features, generator=torch.Generator().manual_seed(0))
    probe = probe.to(device=layers[0].weight.device, dtype=layers[0].weight.dtype)
    with torch.no_grad():
        try:
            want = module(probe)
        except RuntimeError:  # e.g. a module that wants image-shaped input: not a plain chain
            return None
        chain = Chain(layers, tuple(want.shape[1:]))
        got = chain(probe)
    if got.shape != want.shape or not torch.allclose(got, want, atol=PROBE_TOLERANCE, rtol=0):
        return None
    return chain if device is None else chain.to(device)


class _L1Rows(torch.autograd.Function):
    """mean |a - t| over the last dim, with a backward of one sign and one multiply (autograd's
    abs-then-mean backward takes a sign, a multiply, an expand and a division)."""

    @staticmethod
    def forward(ctx, a, t):
        r = a - t
        ctx.save_for_backward(r)
        return r.abs().mean(-1)

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        (r,) = ctx.saved_tensors
        return torch.sign(r).mul_((g / r.shape[-1]).unsqueeze(-1)), None


def l1_rows(a: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """mean |a - t| over the last dim (t broadcast against a, never differentiated)."""
    return _L1Rows.apply(a, t.detach())
