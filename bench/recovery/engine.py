"""The recovery engine: every (cell, image, restart) of a chunk of grid cells recovered at once.

One latent tensor per block of rows holds its problems; Adam is written out by hand so its state
is per element and each cell has its own learning rate. The loss is the SUM over rows of each
row's own objective, mean |x - G(z)| + weight * R(z), so the gradient of a row is exactly the
gradient of its own problem: recovering the chunk equals recovering every image alone with
torch.optim.Adam (tests/test_recovery_engine.py checks this against that loop).

Randomness (streams.py): every random number is a counter-based draw, a hash of its coordinates
(seed, cell, purpose, step, image id, restart, column), so a block of cells is drawn in one call
and a cell's result depends only on (seed, its run id, the image ids, restarts), never on the
chunk it runs in (up to float rounding: BLAS sums a row's products in an order that may depend
on the batch size), on the device, or on the other images:
- z0 of (image, restart) is shared by every cell (common random numbers make cells comparable);
- per step, the prior sample of wasserstein/energy/... (step index `steps` for the final loss),
  the resampling trial uniforms and fresh values, the resampled generator noise.

Work: the chunk's cells x rows are cut into one share per CPU thread (work.py), each a list of
blocks of at most `max_batch` rows that own their z and Adam moments. The shares run in parallel
threads with one intra-op torch thread each (on CUDA: one share, in order). Blocks only split the
work, so they change results only through that same float rounding. G, and D where the trick
regulator needs it, run as compiled chains (fused.py) when they are plain Linear/activation
chains (the LSGAN's, and the LWGAN family's behind their rank-r padding and noise input), else
through autograd.

A partially stochastic generator G(z, eps) (noise_dim > 0) gets its noise as an input: by default
drawn once per (image, restart), like z0, and held fixed over the steps (SPEC part B), or given
by the caller (`noise_rows`, e.g. the noise that made an in-span target); with noise="resample"
drawn anew at every step from each cell's own stream.

Resampling regulators replace z after each Adam step and leave Adam's moments and step count as
they are: what the author's code does (tf.Variable.assign after apply_gradients) and what a torch
per-image loop does with `z.copy_(reg.resample(z, hp))` under no_grad. That is the SPEC's reading
and the default; other readings of the paper's rule are options (`resample_at`, READINGS):
"before" resamples at the start of each step, so the last Adam step follows the last resample;
"accept" keeps a row's resample only when it lowers that row's objective; `resample_every` k
resamples at every k-th step only.

No host-device synchronisation happens inside the step loop (no .item(), bool(tensor), nonzero()
or .cpu()): Adam's scalar schedule is precomputed, non-finite values are counted once at the end;
`check_sync=True` makes CUDA raise on any sync there (tests/test_recovery_cuda.py).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import replace

import torch

import regulators
from bench.progress import ProgressFn, null_progress
from bench.recovery import streams
from bench.recovery.fused import Autocast, Chain, channels_last, compile_chain, compile_generator
from bench.recovery.grid import Cell, unique_runs
from bench.recovery.recover_settings import DEFAULT_MAX_BATCH, READINGS
from bench.recovery.steploop import CellRecovery, StepLoop
from bench.recovery.streams import cell_draws, derive_seed, initial_latents, initial_noise  # noqa: F401 (the engine's API)

# Rows per forward pass (DEFAULT_MAX_BATCH, declared with the settings). Measured with the
# default LSGAN (MLP G, conv D with spectral norm) on a 1,000-image x 20-cell chunk: peak RSS
# 0.97 GiB for trick_discriminator, the heaviest (D's activations, ~150 KB a row; 2.2 GiB at
# 8,192 rows). GEMMs of 4,096 rows already run at full speed on a CPU, so a larger block buys
# memory use, not time.


@contextmanager
def _frozen(*modules):
    """Eval mode, no parameter gradients, restored afterwards (the caller's modules are borrowed)."""
    mods = [m for m in modules if m is not None]
    saved = [(m.training, [p.requires_grad for p in m.parameters()]) for m in mods]
    try:
        for m in mods:
            m.eval()
            m.requires_grad_(False)
        yield
    finally:
        for m, (training, flags) in zip(mods, saved):
            m.train(training)
            for p, flag in zip(m.parameters(), flags):
                p.requires_grad_(flag)


def _ticker(progress: ProgressFn, base: int, total: int, cells: int):
    return lambda t: progress("recover", base + t, total, cells=cells)


def _check(value, name: str, minimum: int) -> int:
    """The engine takes resolved values and says which argument is wrong; the command line has
    already refused bad options by name before any work."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        need = "a non-negative integer" if minimum == 0 else f"an integer >= {minimum}"
        raise ValueError(f"recover_cells: {name} must be {need}, got {value!r}")
    return value


def recover_cells(
    generator: torch.nn.Module,
    discriminator: torch.nn.Module | None,
    targets: torch.Tensor,
    cells: Sequence[Cell],
    *,
    steps: int = 200,
    restarts: int = 1,
    seed: int = 0,
    prior="normal",
    prior_samples: int | None = None,
    image_ids: Sequence[int] | None = None,
    latent_dim: int | None = None,
    device=None,
    max_batch: int = DEFAULT_MAX_BATCH,
    noise_dim: int = 0,
    noise: str = "fixed",
    noise_rows: torch.Tensor | None = None,
    progress: ProgressFn = null_progress,
    progress_every: int = 10,
    fused: bool = True,
    check_sync: bool = False,
    resample_at: str = "after",
    resample_every: int = 1,
    precision: str = "fp32",
) -> list[CellRecovery]:
    """Recover every target image for every cell; one CellRecovery per cell, in `cells` order.

    targets [images, 1, 28, 28] in G's pixel range; image_ids (default 0..images-1) name the images
    for the z0 seeds; prior_samples is m (default d_z); noise_dim > 0: G(z, eps), eps "fixed" per
    (image, restart) (`noise_rows` gives each image's) or "resample"d every step; resample_at /
    resample_every: the reading of the resampling rule; fused: plain chains compiled (fused.py);
    precision: "fp32" or "bf16" (resolved) for G's and D's passes; check_sync: on CUDA, raise on a
    host sync in the step loop. Shared runs (weight-0 cells, the baseline) are recovered once. A
    plain function of its inputs returning CPU tensors, so a chunk can run in another process."""
    _check_counts(steps, restarts, max_batch, prior_samples, resample_every)
    ids, d_z, device, prior = _resolve(
        generator, targets, cells, image_ids, latent_dim, device, prior, noise, resample_at
    )
    n = targets.shape[0]
    eps_rows = _noise_rows(noise_dim, noise_rows, n, restarts, seed, ids, device)
    z0 = initial_latents(seed, ids, restarts, d_z, prior).to(device)
    target_rows = targets.to(device=device, dtype=torch.float32).repeat_interleave(restarts, dim=0)
    runs = unique_runs(cells)
    groups: dict[str, list[Cell]] = {}
    for run in runs:
        groups.setdefault(run.regulator, []).append(run)

    if precision not in ("fp32", "bf16"):
        raise ValueError(f"recover_cells: precision must be fp32 or bf16 (resolved), got {precision!r}")
    rows, m, reading = streams.row_keys(ids, restarts, device), prior_samples or d_z, (resample_at, resample_every)
    shared = _loop_args(n, restarts, steps, seed, prior, device, rows, m, max_batch, eps_rows, noise, reading)
    # cached(): parametrised weights (D's spectral norm) are computed once, not at every forward
    with _frozen(generator, discriminator), torch.nn.utils.parametrize.cached():
        compute = torch.bfloat16 if precision == "bf16" else torch.float32
        G, D = _fast(generator, discriminator, d_z, noise_dim, fused, device, groups, compute)
        done: dict[str, CellRecovery] = {}
        # a float32 conv generator (neither a chain nor under autocast) runs its convolutions
        # channels-last; not D: the author's conv D measured slower so (its 1-channel input, pools)
        with channels_last(G) if fused else nullcontext():
            for k, (name, group) in enumerate(groups.items()):
                t0 = time.perf_counter()
                loop = StepLoop(G, D, name, group, z0, target_rows, **shared)
                tick = _ticker(progress, k * steps, steps * len(groups), len(group))
                loop.run(tick, max(1, progress_every), check_sync and device.type == "cuda")
                out = loop.result()
                wall = (time.perf_counter() - t0) / len(group)
                for run, rec in zip(group, out):
                    rec.wall_s = wall
                    done[run.id] = rec
    return [replace(done[c.run_id], cell=c) for c in cells]


def _loop_args(n, restarts, steps, seed, prior, device, row_keys, m, max_batch, eps_rows, noise, reading) -> dict:
    """What every regulator's StepLoop of a chunk shares."""
    threads = 1 if device.type != "cpu" else torch.get_num_threads()
    return {
        "n": n,
        "restarts": restarts,
        "steps": steps,
        "seed": seed,
        "prior": prior,
        "device": device,
        "row_keys": row_keys,
        "m": m,
        "max_batch": max_batch,
        "threads": threads,
        "eps_rows": eps_rows,
        "resample_noise": noise == "resample",
        "reading": reading,
    }


def _check_counts(steps, restarts, max_batch, prior_samples, resample_every) -> None:
    _check(steps, "steps", 0)
    _check(restarts, "restarts", 1)
    _check(max_batch, "max_batch", 1)
    _check(resample_every, "resample_every", 1)
    if prior_samples is not None:
        _check(prior_samples, "prior_samples", 1)


def _resolve(generator, targets, cells, image_ids, latent_dim, device, prior, noise, resample_at):
    """The arguments checked (a ValueError naming the argument): (image ids, d_z, device, prior)."""
    if not cells:
        raise ValueError("recover_cells: no cells given")
    n = targets.shape[0]
    if n == 0:
        raise ValueError("recover_cells: no target images to recover")
    ids = list(range(n)) if image_ids is None else [int(i) for i in image_ids]
    if len(ids) != n:
        raise ValueError(f"image_ids has {len(ids)} entries for {n} targets")
    d_z = latent_dim or getattr(generator, "latent_dim", None)
    if not d_z:
        raise ValueError("recover_cells: pass latent_dim (the generator has no latent_dim attribute)")
    if noise not in ("fixed", "resample"):
        raise ValueError(f"recover_cells: noise must be fixed or resample, got {noise!r}")
    if resample_at not in READINGS:
        raise ValueError(f"recover_cells: resample_at must be one of {', '.join(READINGS)}, got {resample_at!r}")
    prior = regulators.get_prior(prior) if isinstance(prior, str) else prior
    return ids, d_z, torch.device(device or "cpu"), prior


def _noise_rows(noise_dim, noise_rows, n, restarts, seed, ids, device):
    """The generator noise per (image, restart) row, held fixed over the steps; None without noise."""
    if not noise_dim:
        return None
    if noise_rows is not None:
        if tuple(noise_rows.shape) != (n, noise_dim):
            raise ValueError(f"noise_rows: expected [{n}, {noise_dim}], got {list(noise_rows.shape)}")
        return noise_rows.float().repeat_interleave(restarts, dim=0).to(device)
    return initial_noise(seed, ids, restarts, noise_dim).to(device)


def _fast(generator, discriminator, d_z, noise_dim, fused, device, groups, compute=torch.float32):
    """G and D as compiled chains where they are plain chains (see fused.py), else as given; in
    `compute` (bfloat16: chains cast to it, other modules under autocast), float32 out."""

    def reduced(module):
        if module is None or compute == torch.float32:
            return module
        return module.to(dtype=compute) if isinstance(module, Chain) else Autocast(module, device)

    if not fused:
        return reduced(generator), reduced(discriminator)
    G, D = compile_generator(generator, d_z, noise_dim, device=device) or generator, discriminator
    if (
        D is not None
        and not noise_dim
        and any("discriminator" in getattr(regulators.get(name), "context", ()) for name in groups)
    ):
        with torch.no_grad():
            image = generator(torch.zeros(1, d_z, device=device))
            D = compile_chain(discriminator, image.numel(), device=device) or discriminator
            D(image)  # fills parametrize's cache (spectral norm) before threads share it
    return reduced(G), reduced(D)
