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
from dataclasses import dataclass, replace

import torch

import regulators
from bench.errors import BenchError
from bench.progress import ProgressFn, null_progress
from bench.recovery import streams, work
from bench.recovery.fused import Autocast, Chain, compile_chain, compile_generator, l1_rows
from bench.recovery.grid import BASELINE, Cell, unique_runs
from bench.recovery.settings import DEFAULT_MAX_BATCH, READINGS
from bench.recovery.streams import cell_draws, derive_seed, initial_latents, initial_noise  # noqa: F401 (the engine's API)

BETAS = (0.9, 0.999)  # torch.optim.Adam defaults, as the paper ("Adam", no settings given)
EPS = 1e-8
# Rows per forward pass (DEFAULT_MAX_BATCH, declared with the settings). Measured with the
# default LSGAN (MLP G, conv D with spectral norm) on a 1,000-image x 20-cell chunk: peak RSS
# 0.97 GiB for trick_discriminator, the heaviest (D's activations, ~150 KB a row; 2.2 GiB at
# 8,192 rows). GEMMs of 4,096 rows already run at full speed on a CPU, so a larger block buys
# memory use, not time.


@dataclass
class CellRecovery:
    cell: Cell
    z_final: torch.Tensor  # [images, d_z]: per image, the restart with the lowest final loss
    final_loss: torch.Tensor  # [images]: mean |x - G(z_final)| + weight * R(z_final)
    images_rec: torch.Tensor  # [images, 1, 28, 28]: G(z_final)
    n_nonfinite: int  # images whose kept z or final loss is NaN or inf
    wall_s: float  # this cell's share of its chunk's wall time
    restart: torch.Tensor  # [images]: index of the kept restart
    loss_history: list[float]  # per step: mean objective over the cell's images x restarts


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


class _SameImages:
    """G as seen by the trick discriminator's penalty, which calls G on z.reshape(-1, d_z): that is
    the very tensor whose images the objective has just computed, so hand those back instead of a
    second forward and backward pass through G. Any other input goes to G itself."""

    def __init__(self, g, flat: torch.Tensor, images: torch.Tensor):
        self.g, self.flat, self.images = g, flat, images

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        f = self.flat
        if z.shape == f.shape and z.stride() == f.stride() and z.dtype == f.dtype and z.data_ptr() == f.data_ptr():
            return self.images
        return self.g(z)


def _objective(G, D, reg, z, target, weight, u, eps=None) -> torch.Tensor:
    """Per-row objective [kc, kr] of a block z [kc, kr, d]; target [kr, ...]; weight [kc, 1];
    eps [kc, kr, k] the generator's noise (None: a deterministic G)."""
    kc, kr, d = z.shape
    flat = z.reshape(-1, d)
    images = G(flat) if eps is None else G(flat, eps.reshape(kc * kr, -1))
    diff = l1_rows(images.reshape(kc, kr, -1), target.reshape(1, kr, -1))
    if weight is None:  # the baseline and the resampling regulators: l1 alone
        return diff
    context = {"prior_sample": u, "generator": _SameImages(G, flat, images), "discriminator": D}
    return diff + weight * reg.penalty(z, **context)


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
            out = _recover_group(
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
                check_sync=check_sync and device.type == "cuda",
                eps_rows=eps_rows,
                resample_noise=noise == "resample",
                tick=tick,
                every=max(1, progress_every),
                reading=(resample_at, resample_every),
            )
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


def _recover_group(
    G,
    D,
    name,
    runs,
    z0,
    target_rows,
    *,
    n,
    restarts,
    steps,
    seed,
    prior,
    row_keys,
    m,
    device,
    max_batch,
    threads,
    check_sync,
    eps_rows,
    resample_noise,
    tick,
    every,
    reading=("after", 1),
) -> list[CellRecovery]:
    """All runs of one regulator: the step loop."""
    reg = regulators.get(name)
    if reg.kind == "resample" and reg.prior != prior.name:
        reg = regulators.get(name, prior=prior.name)
    C, R, d = len(runs), z0.shape[0], z0.shape[1]
    penalised = reg.kind == "loss" and name != BASELINE  # the baseline is l1 alone, as in the author's code
    needs_u = penalised and "prior_sample" in reg.context
    hp = torch.tensor([r.hp for r in runs], dtype=torch.float32, device=device).view(C, 1)
    weight = hp if penalised else None
    cells = streams.cell_keys([derive_seed(int(seed), "draws", r.id) for r in runs], device)
    parts = work.parts(C, R, max_batch, threads)
    normal = regulators.get_prior("normal")

    def draw(purpose, t, dist, width, c0=0, c1=C, r0=0, r1=R):  # [c1 - c0, r1 - r0, width], one call
        return streams.draw(cells[c0:c1], purpose, t, row_keys[r0:r1], width, dist)

    def block_inputs(t, c0, c1, r0, r1):  # the prior sample u and the generator noise of a block
        u = draw("prior", t, prior, m, c0, c1, r0, r1) if needs_u else None
        if eps_rows is None:
            return u, None
        if resample_noise:  # fresh at every step
            return u, draw("step-noise", t, normal, eps_rows.shape[1], c0, c1, r0, r1)
        return u, eps_rows[r0:r1].expand(c1 - c0, -1, -1)

    # Adam's scalar schedule, precomputed in float64 exactly as torch.optim.Adam does per step
    # (step_size = lr / (1 - beta1^t), cast to float32 by addcdiv), so the loop never syncs.
    b1, b2 = BETAS
    lrs = [float(r.lr) for r in runs]
    neg_step = (
        torch.tensor([[-(lr / (1 - b1 ** float(t))) for lr in lrs] for t in range(1, steps + 1)], dtype=torch.float64)
        .to(device=device, dtype=torch.float32)
        .view(steps, C, 1, 1)
    )

    # Each block owns its z and Adam moments: in-place updates of one block never touch a tensor
    # (or a version counter) that another thread's autograd graph has saved.
    state = [
        [
            (
                z0[r0:r1].unsqueeze(0).repeat(c1 - c0, 1, 1),
                torch.zeros(c1 - c0, r1 - r0, d, device=device),
                torch.zeros(c1 - c0, r1 - r0, d, device=device),
            )
            for c0, c1, r0, r1 in part
        ]
        for part in parts
    ]
    history = torch.zeros(len(parts), steps, C, device=device)  # one per part: no shared writes

    at, k = reading
    resamples = reg.kind == "resample"

    def resampled(zs, t, c0, c1, r0, r1):  # the block's draws in one call each
        return reg.resample_with(
            zs, hp[c0:c1], draw("fire", t, None, d, c0, c1, r0, r1), draw("fresh", t, prior, d, c0, c1, r0, r1)
        )

    def step(t: int, p: int) -> None:
        """Step t of part p's blocks: objective, gradient, Adam, resampling. Blocks are independent
        (Adam and resampling are per element), so a part never waits for another inside a step."""
        bias_correction2_sqrt = (1 - b2 ** float(t + 1)) ** 0.5
        fires = resamples and (t + 1) % k == 0
        for (c0, c1, r0, r1), (zs, m1, m2) in zip(parts[p], state[p]):
            if fires and at == "before":
                zs.copy_(resampled(zs, t, c0, c1, r0, r1))
            zb = zs.detach().requires_grad_(True)
            u, eps = block_inputs(t, c0, c1, r0, r1)
            obj = _objective(G, D, reg, zb, target_rows[r0:r1], None if weight is None else weight[c0:c1], u, eps)
            (grad,) = torch.autograd.grad(obj.sum(), zb)
            history[p, t, c0:c1] += obj.detach().sum(1)
            # torch.optim.Adam (single-tensor path), same operations in the same order; addcdiv's
            # value * t1 / t2 becomes (t1 * value) / t2 with a per-cell value.
            m1.lerp_(grad, 1 - b1)
            m2.mul_(b2).addcmul_(grad, grad, value=1 - b2)
            denom = (m2.sqrt() / bias_correction2_sqrt).add_(EPS)
            zs.add_((m1 * neg_step[t, c0:c1]) / denom)
            if fires and at != "before":
                new = resampled(zs, t, c0, c1, r0, r1)
                if at == "accept":  # a row keeps its resample only if it lowers its objective
                    with torch.no_grad():
                        target = target_rows[r0:r1]
                        better = _objective(G, D, reg, new, target, None, u, eps) < _objective(
                            G, D, reg, zs, target, None, u, eps
                        )
                    new = torch.where(better.unsqueeze(-1), new, zs)
                zs.copy_(new)

    with work.threads(len(parts)) as run, work.sync_check(check_sync):
        for t in range(steps):
            run(step, t)
            if (t + 1) % every == 0 or t + 1 == steps:
                tick(t + 1)
    history = history.sum(0)
    z = torch.empty(C, R, d, device=device)
    for part, states in zip(parts, state):
        for (c0, c1, r0, r1), (zs, _, _) in zip(part, states):
            z[c0:c1, r0:r1] = zs

    with torch.no_grad():
        final = torch.empty(C, R, device=device)
        noise = torch.empty(C, R, eps_rows.shape[1], device=device) if eps_rows is not None else None
        for c0, c1, r0, r1 in (b for part in parts for b in part):  # the final loss: step `steps`
            u, eps = block_inputs(steps, c0, c1, r0, r1)
            final[c0:c1, r0:r1] = _objective(
                G, D, reg, z[c0:c1, r0:r1], target_rows[r0:r1], None if weight is None else weight[c0:c1], u, eps
            )
            if noise is not None:
                noise[c0:c1, r0:r1] = eps
        # NaN sorts last so a finite candidate always wins; ties keep the first restart.
        best = final.nan_to_num(nan=float("inf")).view(C, n, restarts).argmin(-1)  # [C, n]
        rows = torch.arange(n, device=device).view(1, n) * restarts + best
        z_best = z.gather(1, rows.unsqueeze(-1).expand(C, n, d))
        loss_best = final.gather(1, rows)
        flat = z_best.reshape(C * n, d)
        if noise is None:
            images = torch.cat([G(flat[i : i + max_batch]) for i in range(0, C * n, max_batch)])
        else:  # the noise the kept candidate's final loss was measured with
            e = noise.gather(1, rows.unsqueeze(-1).expand(C, n, noise.shape[-1]))
            e = e.reshape(C * n, -1)
            images = torch.cat([G(flat[i : i + max_batch], e[i : i + max_batch]) for i in range(0, C * n, max_batch)])
        images = images.reshape(C, n, *images.shape[1:])
        bad = (~(torch.isfinite(z_best).all(-1) & torch.isfinite(loss_best))).sum(1)

    history = (history / R).T.cpu()  # one sync, after the loop
    bad = bad.tolist()
    return [
        CellRecovery(
            cell=run,
            z_final=z_best[c].cpu(),
            final_loss=loss_best[c].cpu(),
            images_rec=images[c].cpu(),
            n_nonfinite=int(bad[c]),
            wall_s=0.0,
            restart=best[c].cpu(),
            loss_history=history[c].tolist(),
        )
        for c, run in enumerate(runs)
    ]
