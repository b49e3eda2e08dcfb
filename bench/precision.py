"""The number format of the heavy passes: `--precision fp32|bf16|auto`.

bf16 runs G's (and D's) forward and backward in bfloat16 and keeps everything that accumulates in
float32: the latents, Adam's moments, the regulators' sorts and distances, the loss. `auto` is
bf16 only where the device computes it natively (a GPU that supports it; a CPU with AVX512-BF16
or AMX-BF16), since emulated bfloat16 is slower than float32. A resolved precision other than
fp32 enters the cell-store and model-cache keys, so results of two precisions never mix; fp32
leaves the keys as they were before precisions existed.
"""

from __future__ import annotations

from pathlib import Path

# torch is imported inside the functions that need it: the settings (and so `bench --help`) read
# PRECISIONS from here, and must stay light.
PRECISIONS = ("fp32", "bf16", "auto")
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo names of native bfloat16 arithmetic


def cpu_flags() -> set[str]:
    """The CPU's feature flags (Linux; elsewhere none are known, so `auto` stays fp32)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def native_bf16(device, flags: set[str] | None = None) -> bool:
    """Whether `device` computes bfloat16 natively (`flags`: the CPU's, for tests)."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        return any(f in (cpu_flags() if flags is None else flags) for f in CPU_BF16_FLAGS)
    return False


def resolve(precision: str, device, flags: set[str] | None = None) -> str:
    """fp32 or bf16: `auto` decided by the device."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision: expected one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        return "bf16" if native_bf16(device, flags) else "fp32"
    return precision


def for_model(requested: str, device, pays: bool, flags: set[str] | None = None) -> str:
    """A model's training format (fp32 or bf16): `auto` is bf16 only where the device computes it
    natively and the model is one bf16 was measured faster for (`pays`: Family.bf16_pays; tiny
    toy nets spend more on autocast's casts than they save)."""
    if requested == "auto":
        return "bf16" if pays and native_bf16(device, flags) else "fp32"
    return resolve(requested, device, flags)


def run_label(requested: str, device, flags: set[str] | None = None) -> str:
    """What a run's training format adds to its resume key: fp32 (nothing), bf16, or auto where
    auto may pick bf16 here (its models are a mix, so neither fp32's nor bf16's cells)."""
    if requested == "auto":
        return "auto" if native_bf16(device, flags) else "fp32"
    return resolve(requested, device, flags)


def key_extra(precision: str) -> dict:
    """What a resolved training precision adds to a model-cache key: nothing for fp32 (the keys
    of the checkpoints made before precisions existed); for bf16 the format and the optimiser
    kernel (lwgan.numerics.adam: fused in bf16 since 2026-12-07), so a bf16 checkpoint trained by
    the earlier per-tensor Adam is never mistaken for one of today's."""
    from lwgan import numerics

    return {} if numerics.check(precision) == "fp32" else {"precision": precision, "adam": "fused"}


def dtype(precision: str):
    """The compute dtype (a torch.dtype) of a resolved precision."""
    import torch

    return torch.bfloat16 if precision == "bf16" else torch.float32


def describe(device, train: str, recovery: str | None = None) -> str:
    """The run facts' line on number formats: training's (`train`: run_label's), recovery's (when
    the experiment recovers) and, on CUDA, whether float32 matmuls may use TF32 (torch's switch,
    left to the user: `torch.backends.cuda.matmul.allow_tf32`)."""
    if train == "auto":
        train = "auto (bf16 for the models it was measured faster for, fp32 for the rest; each checkpoint says which)"
    parts = [f"training {train}"]
    if recovery is not None:
        parts.append(f"recovery {recovery} (G's and D's passes)")
    if str(device).startswith("cuda"):
        import torch

        tf32 = torch.backends.cuda.matmul.allow_tf32
        parts.append(f"float32 matmuls {'may use TF32' if tf32 else 'in full float32 (TF32 off)'}")
    return "; ".join(parts)
