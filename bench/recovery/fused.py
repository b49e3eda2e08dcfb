"""Chain networks (Linear, BatchNorm1d, ReLU, LeakyReLU, Tanh, ...) with a hand-written backward.

Why: the recovery engine spends its time in G's forward and input-gradient pass. The GEMMs of
the default MLP generator already run at the machine's matmul rate; what autograd adds around
them is elementwise work on [rows, 784] tensors: tanh (torch's CPU tanh is ~10x slower than its
sigmoid), batch norm forward and backward, a sign, a multiply, a division, fresh allocations.
A chain compiled here folds each eval-mode BatchNorm1d into the Linear before it, applies every
activation in place on the GEMM's output, computes tanh as 2 sigmoid(2x) - 1, saves only the
activations' outputs (each derivative is a function of them) and backpropagates with one
fused elementwise op per activation and one GEMM per layer (in bfloat16 on the CPU the forward's
bias and activation go into oneDNN's GEMM epilogue: see ONEDNN_EPILOGUE). benchmarks/recovery_throughput.py
measures the gain; tests/test_recovery_fused.py checks values and input gradients against the
module itself through autograd.

`compile_chain(module)` returns None when the module is not such a chain (a conv net, a forward
that does more than its Sequential, ...), or when the compiled chain does not reproduce the module
on a probe batch: the engine then uses the module through autograd, as before.
`compile_generator` also takes the LWGAN family's `RankedGenerator` (z [N, r] -> G([z, 0],
sigma eps)): the padding zeros drop all but the first r columns of the first weight, and the
generator noise enters the first layer through its own columns as a per-row bias (eps is an input,
never differentiated). Parameters are frozen at compile time (the engine borrows G and D in eval
mode for the whole call).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cache

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
    """A compiled chain: call it like the module (any input whose rows flatten to in_features),
    with `eps` [N, k] where the first layer has noise columns (`side` [out, k]).

    Its weights' dtype is its compute dtype: `to(dtype=torch.bfloat16)` makes a chain that casts
    its input in, runs every GEMM and activation in bfloat16, and hands back float32 (its output
    and the input gradient), so what accumulates outside it stays float32."""

    def __init__(self, layers: list[_Layer], out_shape: tuple[int, ...], side: torch.Tensor | None = None):
        self.layers, self.out_shape, self.side = layers, out_shape, side

    @property
    def dtype(self) -> torch.dtype:
        return self.layers[0].weight.dtype

    def __call__(self, x: torch.Tensor, eps: torch.Tensor | None = None) -> torch.Tensor:
        if eps is not None and self.side is None:
            raise ValueError("this chain takes no noise input")
        return _ChainFn.apply(x.reshape(x.shape[0], -1), self, eps).view(x.shape[0], *self.out_shape)

    def to(self, device=None, dtype: torch.dtype | None = None) -> Chain:
        def cast(t):
            return None if t is None else t.to(device=device, dtype=dtype)

        moved = [replace(layer, weight=cast(layer.weight), bias=cast(layer.bias)) for layer in self.layers]
        return Chain(moved, self.out_shape, cast(self.side))


def _activate_(h: torch.Tensor, layer: _Layer) -> torch.Tensor:
    if layer.activation == "relu":
        return h.clamp_min_(0)
    if layer.activation == "leaky_relu":
        return torch.nn.functional.leaky_relu_(h, layer.slope)
    if layer.activation == "tanh":  # tanh(x) = 2 sigmoid(2x) - 1: one fast transcendental
        return h.mul_(2).sigmoid_().mul_(2).sub_(1)
    return h


# oneDNN's linear with a post-op: in bfloat16 on the CPU the bias and activation are applied to
# each tile of the GEMM's output as it is written, not in a second pass over [rows, width]
# (relu, leaky relu and tanh; identity layers keep addmm). A G step of the default LSGAN at 2,048
# rows took 0.90-0.95x the two-pass time (one thread, 2026-12-07); float32 keeps addmm, so its
# numbers stay bit for bit. The benchmark turns this off for its before column.
ONEDNN_EPILOGUE = True
_POST_OPS = {"relu": "relu", "leaky_relu": "leaky_relu", "tanh": "tanh"}


@cache
def _onednn_bf16() -> bool:
    """oneDNN is built in and this CPU runs its bfloat16 kernels."""
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def engine_key(precision: str, device) -> dict:
    """What the bf16 route adds to a recovery's cell-store identity: the fused epilogue where it
    runs (oneDNN on the CPU), so cells recovered through the two-pass route are never resumed into
    a run of this one (their numbers differ by bf16 rounding)."""
    on = precision == "bf16" and torch.device(device).type == "cpu" and ONEDNN_EPILOGUE and _onednn_bf16()
    return {"epilogue": "onednn"} if on else {}


def _linear_activated(h: torch.Tensor, layer: _Layer, bias: torch.Tensor | None) -> torch.Tensor:
    """act(h W^T + bias) for one layer: one oneDNN call with the epilogue fused where it applies
    (bfloat16 on the CPU, a per-feature bias), else addmm and the activation in place."""
    w = layer.weight
    post = _POST_OPS.get(layer.activation)
    if (
        ONEDNN_EPILOGUE
        and post is not None
        and h.dtype == torch.bfloat16
        and h.device.type == "cpu"
        and (bias is None or bias.dim() == 1)
        and _onednn_bf16()
    ):
        return torch.ops.mkldnn._linear_pointwise(h, w, bias, post, [layer.slope] if post == "leaky_relu" else [], "")
    h = torch.mm(h, w.t()) if bias is None else torch.addmm(bias, h, w.t())
    return _activate_(h, layer)


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
    def forward(ctx, x, chain, eps):
        compute = chain.dtype
        h, saved = x.to(compute), []
        if eps is not None:
            eps = eps.to(compute)
        for i, layer in enumerate(chain.layers):
            bias = layer.bias
            if i == 0 and eps is not None:  # the noise columns: a per-row bias of the first layer
                bias = torch.mm(eps, chain.side.t()) if bias is None else torch.addmm(bias, eps, chain.side.t())
            h = _linear_activated(h, layer, bias)
            saved.append(h)
        ctx.chain, ctx.in_dtype = chain, x.dtype
        ctx.save_for_backward(*saved)
        return h if compute == x.dtype else h.to(x.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        outs, layers = ctx.saved_tensors, ctx.chain.layers
        g = g.to(ctx.chain.dtype)
        for i in range(len(layers) - 1, -1, -1):
            g = torch.mm(_activation_backward(g, outs[i], layers[i]), layers[i].weight)
        return g.to(ctx.in_dtype), None, None


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
        if isinstance(m, (nn.Flatten, nn.Unflatten, nn.Identity, nn.Dropout)):  # shape: the probe's
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
    layers = _layers(module)
    if layers is None or layers[0].weight.shape[1] != in_features:
        return None
    return _probed(module, Chain(layers, ()), in_features, 0, device)


def compile_generator(G: nn.Module, d_z: int, noise_dim: int = 0, *, device=None) -> Chain | None:
    """G as the engine calls it, G(z) or G(z, eps), as a Chain; or None.

    A plain chain of d_z inputs (no noise input), or a generator with a `chain_view()` (the
    LWGAN family's RankedGenerator) that feeds a plain chain the row [z ; 0 ; sigma * eps]: then
    only the first d_z columns of the first weight stay, and its noise columns, times sigma,
    become the chain's `side`.
    """
    view = getattr(G, "chain_view", None)
    if view is None:
        return None if noise_dim else compile_chain(G, d_z, device=device)
    net, z_max, sigma = view()
    layers = _layers(net)
    width = None if layers is None else layers[0].weight.shape[1]
    # With noise, its columns must match eps; without, any columns past z_max meet zeros.
    if width is None or d_z > z_max or (width != z_max + noise_dim if noise_dim else width < z_max):
        return None
    first = layers[0]
    side = first.weight[:, z_max:] * sigma if noise_dim else None
    first.weight = first.weight[:, :d_z].contiguous()
    return _probed(G, Chain(layers, (), side), d_z, noise_dim, device)


def _layers(module) -> list[_Layer] | None:
    if not isinstance(module, nn.Module) or module.training:
        return None
    leaves = _flatten(module)
    return None if leaves is None else _build(leaves)


def _probed(module, chain: Chain, in_features: int, noise_dim: int, device) -> Chain | None:
    """The chain, its output shape taken from the module on a probe batch, if it reproduces the
    module there; else None."""
    g = torch.Generator().manual_seed(0)
    w = chain.layers[0].weight
    probe = torch.randn(64, in_features, generator=g).to(device=w.device, dtype=w.dtype)
    eps = torch.randn(64, noise_dim, generator=g).to(device=w.device, dtype=w.dtype) if noise_dim else None
    args = (probe,) if eps is None else (probe, eps)
    with torch.no_grad():
        try:
            want = module(*args)
        except RuntimeError:  # e.g. a module that wants image-shaped input: not a plain chain
            return None
        chain.out_shape = tuple(want.shape[1:])
        got = chain(*args)
    if got.shape != want.shape or not torch.allclose(got, want, atol=PROBE_TOLERANCE, rtol=0):
        return None
    return chain if device is None else chain.to(device)


_CONVS = (nn.Conv2d, nn.ConvTranspose2d)


@contextmanager
def channels_last(module):
    """Every convolution of `module` fed channels-last input while the block runs, its output
    handed back NCHW (hooks, removed afterwards; the borrowed module's weights are not touched).
    Yields whether anything was hooked: not for a module without convolutions, nor for what is
    not an nn.Module (a Chain, an Autocast wrapper).

    Why: at the small channel counts of a CPU-sized conv generator (8-32), oneDNN's float32
    convolutions run at 15-50 GFLOP/s on NCHW input and 1.7-2.9x faster on channels-last input
    (forward and input gradient, `lsgan.cho32`'s layers at 500 rows, one thread); the elementwise
    layers between them keep the format, so only the first convolution converts. In the engine,
    unregulated and Wasserstein runs through `lsgan.cho32` took 0.61-0.79x their NCHW time (two runs)
    (benchmarks/conv_generator.py); the author's conv discriminator (1-channel input, average
    pools) took 1.17x, so the engine converts G only. The output goes back to NCHW because a
    1-channel channels-last image would carry the format into D. In bfloat16, autocast on NCHW
    measured faster still, so the bf16 path (Autocast) goes without."""
    convs = [m for m in module.modules() if isinstance(m, _CONVS)] if isinstance(module, nn.Module) else []
    handles = [m.register_forward_pre_hook(_to_channels_last) for m in convs]
    if convs:
        handles.append(module.register_forward_hook(_to_contiguous))
    try:
        yield bool(handles)
    finally:
        for h in handles:
            h.remove()


def _to_channels_last(_module, args):
    return tuple(a.contiguous(memory_format=torch.channels_last) if a.dim() == 4 else a for a in args)


def _to_contiguous(_module, _args, out):
    return out.contiguous() if isinstance(out, torch.Tensor) else out


class Autocast:
    """A module that is not a plain chain, run under bfloat16 autocast with float32 output (the
    engine's reduced-precision path for conv generators and user modules)."""

    def __init__(self, module, device):
        self.module, self.device_type = module, torch.device(device).type

    def __call__(self, *args):
        with torch.autocast(self.device_type, dtype=torch.bfloat16):
            out = self.module(*args)
        return out.float()


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
