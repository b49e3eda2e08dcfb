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
from contextlib import contextmanager
from dataclasses import replace

import torch

import regulators
from bench.errors import BenchError
from bench.progress import ProgressFn, null_progress
from bench.recovery import streams
from bench.recovery.fused import Autocast, Chain, compile_chain, compile_generator
from bench.recovery.grid import Cell, unique_runs
from bench.recovery.settings import DEFAULT_MAX_BATCH, READINGS
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


def _check(value, option: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        need = "a non-negative integer" if minimum == 0 else f"an integer >= {minimum}"
        raise BenchError(f"{option}: expected {need}, got {value!r}")
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

    targets [images, 1, 28, 28] in G's pixel range; image_ids (default 0..images-1) name the
    images for the z0 seeds; prior is a name or a regulators.Prior; prior_samples is m, the
    size of the per-step prior sample (default d_z); latent_dim defaults to G.latent_dim.
    noise_dim > 0: G is called as G(z, eps) with eps [rows, noise_dim]: noise "fixed" (per image
    and restart; `noise_rows` [images, noise_dim] gives each image's, shared by its restarts) or
    "resample" (fresh at every step).
    check_sync: on CUDA, raise if anything in the step loop synchronises with the host.
    resample_at / resample_every: the reading of the resampling rule (READINGS; the module doc).
    fused: run G (and D, for the trick regulator) as compiled chains (fused.py) where they are
    plain Linear/activation chains; False: always through autograd.
    precision: "fp32" or "bf16" (resolved; bench.precision): G's and D's passes in bfloat16, the
    latents, Adam, the regulators and the loss in float32.
    Cells that share a run (weight-0 cells and the baseline) are recovered once. A plain function
    of its inputs returning CPU tensors, so a chunk can run in another process.
    """
    _check(steps, "--steps", 0)
    _check(restarts, "--restarts", 1)
    _check(max_batch, "--max-batch", 1)
    if prior_samples is not None:
        _check(prior_samples, "--prior-samples", 1)
    if not cells:
        raise ValueError("recover_cells: no cells given")
    n = targets.shape[0]
    if n == 0:
        raise BenchError("--images: no target images to recover")
    ids = list(range(n)) if image_ids is None else [int(i) for i in image_ids]
    if len(ids) != n:
        raise ValueError(f"image_ids has {len(ids)} entries for {n} targets")
    d_z = latent_dim or getattr(generator, "latent_dim", None)
    if not d_z:
        raise ValueError("recover_cells: pass latent_dim (the generator has no latent_dim attribute)")
    device = torch.device(device or "cpu")
    prior = regulators.get_prior(prior) if isinstance(prior, str) else prior

    if noise not in ("fixed", "resample"):
        raise BenchError(f"--noise: expected fixed or resample, got {noise!r}")
    if resample_at not in READINGS:
        raise BenchError(f"--resample-at: expected one of {', '.join(READINGS)}, got {resample_at!r}")
    _check(resample_every, "--resample-every", 1)
    eps_rows = None
    if noise_dim:
        if noise_rows is not None:
            if tuple(noise_rows.shape) != (n, noise_dim):
                raise ValueError(f"noise_rows: expected [{n}, {noise_dim}], got {list(noise_rows.shape)}")
            eps_rows = noise_rows.float().repeat_interleave(restarts, dim=0)
        else:
            eps_rows = initial_noise(seed, ids, restarts, noise_dim)
        eps_rows = eps_rows.to(device)
    z0 = initial_latents(seed, ids, restarts, d_z, prior).to(device)
    target_rows = targets.to(device=device, dtype=torch.float32).repeat_interleave(restarts, dim=0)
    runs = unique_runs(cells)
    groups: dict[str, list[Cell]] = {}
    for run in runs:
        groups.setdefault(run.regulator, []).append(run)

    done: dict[str, CellRecovery] = {}
    total = steps * len(groups)
    threads = 1 if device.type != "cpu" else torch.get_num_threads()
    rows = streams.row_keys(ids, restarts, device)
    # cached(): parametrised weights (D's spectral norm) are computed once, not at every forward
    with _frozen(generator, discriminator), torch.nn.utils.parametrize.cached():
        if precision not in ("fp32", "bf16"):
            raise ValueError(f"recover_cells: precision must be fp32 or bf16 (resolved), got {precision!r}")
        compute = torch.bfloat16 if precision == "bf16" else torch.float32
        G, D = _fast(generator, discriminator, d_z, noise_dim, fused, device, groups, compute)
        for k, (name, group) in enumerate(groups.items()):
            t0 = time.perf_counter()
            tick = _ticker(progress, k * steps, total, len(group))
            loop = StepLoop(
                G,
                D,
                name,
                group,
                z0,
                target_rows,
                n=n,
                restarts=restarts,
                steps=steps,
                seed=seed,
                prior=prior,
                row_keys=rows,
                m=prior_samples or d_z,
                device=device,
                max_batch=max_batch,
                threads=threads,
                eps_rows=eps_rows,
                resample_noise=noise == "resample",
                reading=(resample_at, resample_every),
            )
            loop.run(tick, max(1, progress_every), check_sync and device.type == "cuda")
            out = loop.result()
            wall = (time.perf_counter() - t0) / len(group)
            for run, rec in zip(group, out):
                rec.wall_s = wall
                done[run.id] = rec
    return [replace(done[c.run_id], cell=c) for c in cells]


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
