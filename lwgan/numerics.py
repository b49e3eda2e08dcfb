"""Training's number format: float32, or bfloat16 autocast with float32 weights and optimiser state.

Under `autocast(device, "bf16")` the matmuls and convolutions of a forward pass run in bfloat16,
while the parameters, their gradients and Adam's moments stay float32: the update is as exact
as in float32, only the products are rounded. The trainers wrap their forward passes and losses
in it and call backward outside it, as torch's mixed-precision recipe asks. bfloat16 has
float32's exponent range, so no loss scaling is needed (float16 would). Which format a run uses
is the harness's choice (bench.precision resolves `auto` from the hardware); this module only
applies a resolved one.
"""

from __future__ import annotations

import contextlib

import torch

TRAIN_PRECISIONS = ("fp32", "bf16")  # resolved formats a trainer accepts


def check(precision: str, where: str = "precision") -> str:
    if precision not in TRAIN_PRECISIONS:
        raise ValueError(f"{where}: expected a resolved precision ({', '.join(TRAIN_PRECISIONS)}), got {precision!r}")
    return precision


def autocast(device, precision: str):
    """bfloat16 autocast on `device` for "bf16", nothing for "fp32"."""
    if check(precision) == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


def adam(params, precision: str, *, decoupled: bool = False, **kw) -> torch.optim.Optimizer:
    """Adam (AdamW with `decoupled`) for a training in `precision`: torch's fused kernel in bf16,
    its default (one tensor at a time) in fp32.

    Why: in a bfloat16 training step the GEMMs shrink and the optimiser does not; under the
    profiler Adam's per-tensor ops were 26% of a bf16 LSGAN step (batch 64, 2 cores), and the
    fused kernel (one pass per parameter over its value, gradient and two moments) brought a
    whole bf16 LSGAN training to 0.92x (benchmarks/cold_start.py, its bf16-before column, two
    runs; precision_breakdown.py's 100-batch slice gave 0.85x and 1.02x in two runs). Same formula,
    float32 state; only rounding differs, so a bf16 checkpoint's cache key names it
    (bench.precision.key_extra). fp32 keeps the default, so the float32 checkpoints of every
    committed report stay bit for bit reproducible."""
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    return cls(params, **kw, **({"fused": True} if check(precision) == "bf16" else {}))


def exact(device, precision: str):
    """Inside an autocast region: float32 again (distances and kernels whose differences bfloat16
    would round away: the MMD, the isometric term). Callers cast their inputs with .float()."""
    if check(precision) == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, enabled=False)
