"""The recovery engine: every (cell, image, restart) of a chunk of grid cells recovered at once.

One latent tensor z [cells, images * restarts, d_z] holds every problem; Adam is written out by
hand so its state is per element and each cell has its own learning rate. The loss is the SUM
over rows of each row's own objective, mean |x - G(z)| + weight * R(z), so the gradient of a row
is exactly the gradient of its own problem: recovering the chunk equals recovering every image
alone with torch.optim.Adam (tests/test_recovery_engine.py checks this against that loop).

Randomness, chosen so a cell's result depends only on (seed, its run id, the image ids, restarts):
- z0 of (image, restart) comes from a CPU generator seeded by (seed, image id, restart): every cell
  starts from the same z0 for the same image (common random numbers make cells comparable), on
  every device.
- Per-step draws (the prior sample of wasserstein/energy/..., the resampling draws) come from one
  generator per cell seeded by (seed, run id), drawn for all of the cell's rows in a fixed order.
  A cell therefore gives the same z alone or in any chunk (up to float rounding: BLAS sums a
  row's products in an order that may depend on the batch size). This is the one per-cell loop
  inside a step: it only draws random numbers; all compute is batched over the chunk.
- Memory is bounded by evaluating the objective in blocks of at most `max_batch` rows (whole cells
  when they fit, else row ranges of one cell); blocks only split the work, so max_batch changes
  results only through that same float rounding.

A partially stochastic generator G(z, eps) (noise_dim > 0) gets its noise as an input: by default
drawn once per (image, restart) from a generator seeded by (seed, image id, restart), like z0,
and held fixed over the steps (SPEC part B), or given by the caller (`noise_rows`, e.g. the noise
that made an in-span target); with noise="resample" drawn anew at every step from each cell's own
stream, after the prior sample.

Resampling regulators replace z after each Adam step and leave Adam's moments and step count as
they are: what the author's code does (tf.Variable.assign after apply_gradients) and what a torch
per-image loop does with `z.copy_(reg.resample(z, hp))` under no_grad.

No host-device synchronisation happens inside the step loop (no .item(), bool(tensor), nonzero()
or .cpu()): Adam's scalar schedule is precomputed, non-finite values are counted once at the end.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

import torch

import regulators
from bench.errors import BenchError
from bench.progress import ProgressFn, null_progress
from bench.recovery.grid import BASELINE, Cell, unique_runs

BETAS = (0.9, 0.999)  # torch.optim.Adam defaults, as the paper ("Adam", no settings given)
EPS = 1e-8
# Rows per forward pass. Measured with the default LSGAN (MLP G, conv D with spectral norm) on a
# 1,000-image x 20-cell chunk: peak RSS 0.97 GiB for trick_discriminator, the heaviest (D's
# activations, ~150 KB a row; 2.2 GiB at 8,192 rows). GEMMs of 4,096 rows already run at
# full speed on a CPU, so a larger block buys memory use, not time.
DEFAULT_MAX_BATCH = 4096


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


def derive_seed(*parts) -> int:
    """A 63-bit seed from any tuple of ints and strings, stable across processes and platforms."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def _per_row(seed: int, tag: str, image_ids: Sequence[int], restarts: int, draw) -> torch.Tensor:
    """[len(image_ids) * restarts, ...] (row = image * restarts + restart), on the CPU: one torch
    generator per (tag, image, restart), so a row never depends on the other images, on the
    number of restarts, on the cell or on the device."""
    return torch.stack([draw(torch.Generator().manual_seed(derive_seed(int(seed), tag, int(i), r)))
                        for i in image_ids for r in range(restarts)])  # fmt: skip


def initial_latents(seed: int, image_ids: Sequence[int], restarts: int, d_z: int, prior) -> torch.Tensor:
    """z0 [len(image_ids) * restarts, d_z] drawn from the prior."""
    return _per_row(seed, "z0", image_ids, restarts,
                    lambda g: prior.sample((d_z,), generator=g, device="cpu", dtype=torch.float32))


def initial_noise(seed: int, image_ids: Sequence[int], restarts: int, k: int) -> torch.Tensor:
    """Fixed generator noise eps [len(image_ids) * restarts, k] ~ N(0, I), drawn as z0 is."""
    return _per_row(seed, "noise", image_ids, restarts, lambda g: torch.randn(k, generator=g))


def cell_generator(seed: int, run_id: str, device) -> torch.Generator:
    """The generator of a cell's per-step draws. Order of use, per step: the prior sample
    [rows, m] before the objective (regulators whose context has prior_sample), or the resampling
    draws after the Adam step (reg.resample on the cell's [rows, d_z]); then one last prior sample
    for the final loss."""
    return torch.Generator(device=device).manual_seed(derive_seed(int(seed), "draws", run_id))


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
    diff = (images.reshape(kc, kr, -1) - target.reshape(1, kr, -1)).abs().mean(-1)
    if weight is None:  # the baseline and the resampling regulators: l1 alone
        return diff
    context = {"prior_sample": u, "generator": _SameImages(G, flat, images), "discriminator": D}
    return diff + weight * reg.penalty(z, **context)


def _blocks(cells: int, rows: int, max_batch: int) -> list[tuple[int, int, int, int]]:
    """(c0, c1, r0, r1) blocks of at most max_batch rows: whole cells, or row ranges of one cell."""
    if rows <= max_batch:
        k = max(1, max_batch // rows)
        return [(c, min(c + k, cells), 0, rows) for c in range(0, cells, k)]
    return [(c, c + 1, r, min(r + max_batch, rows)) for c in range(cells) for r in range(0, rows, max_batch)]


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
) -> list[CellRecovery]:
    """Recover every target image for every cell; one CellRecovery per cell, in `cells` order.

    targets [images, 1, 28, 28] in G's pixel range; image_ids (default 0..images-1) name the
    images for the z0 seeds; prior is a name or a regulators.Prior; prior_samples is m, the
    size of the per-step prior sample (default d_z); latent_dim defaults to G.latent_dim.
    noise_dim > 0: G is called as G(z, eps) with eps [rows, noise_dim]: noise "fixed" (per image
    and restart; `noise_rows` [images, noise_dim] gives each image's, shared by its restarts) or
    "resample" (fresh at every step).
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
    # cached(): parametrised weights (D's spectral norm) are computed once, not at every forward
    with _frozen(generator, discriminator), torch.nn.utils.parametrize.cached():
        for k, (name, group) in enumerate(groups.items()):
            t0 = time.perf_counter()
            tick = _ticker(progress, k * steps, total, len(group))
            out = _recover_group(
                generator, discriminator, name, group, z0, target_rows,
                n=n, restarts=restarts, steps=steps, seed=seed, prior=prior,
                m=prior_samples or d_z, device=device, max_batch=max_batch,
                eps_rows=eps_rows, resample_noise=noise == "resample",
                tick=tick, every=max(1, progress_every),
            )
            wall = (time.perf_counter() - t0) / len(group)
            for run, rec in zip(group, out):
                rec.wall_s = wall
                done[run.id] = rec
    return [replace(done[c.run_id], cell=c) for c in cells]


def _recover_group(G, D, name, runs, z0, target_rows, *, n, restarts, steps, seed, prior, m,
                   device, max_batch, eps_rows, resample_noise, tick, every) -> list[CellRecovery]:
    """All runs of one regulator: the step loop."""
    reg = regulators.get(name)
    if reg.kind == "resample" and reg.prior != prior.name:
        reg = regulators.get(name, prior=prior.name)
    C, R, d = len(runs), z0.shape[0], z0.shape[1]
    penalised = reg.kind == "loss" and name != BASELINE  # the baseline is l1 alone, as in the author's code
    needs_u = penalised and "prior_sample" in reg.context
    hp = torch.tensor([r.hp for r in runs], dtype=torch.float32, device=device).view(C, 1)
    weight = hp if penalised else None
    gens = [cell_generator(seed, r.id, device) for r in runs]
    blocks = _blocks(C, R, max_batch)

    def draw_u():  # [C, R, m]; one call per cell so each cell keeps its own stream
        return torch.stack([prior.sample((R, m), generator=g, device=device, dtype=z0.dtype) for g in gens])

    def noise_for():  # [C or 1, R, k], or None for a deterministic G
        if eps_rows is None:
            return None
        if not resample_noise:
            return eps_rows.unsqueeze(0)
        k = eps_rows.shape[1]  # fresh draws from each cell's stream, after its prior sample
        return torch.stack([torch.randn(R, k, generator=g, device=device) for g in gens])

    def block_eps(eps, c0, c1, r0, r1):
        if eps is None:
            return None
        e = eps[:, r0:r1] if eps.shape[0] == 1 else eps[c0:c1, r0:r1]
        return e.expand(c1 - c0, -1, -1)

    # Adam's scalar schedule, precomputed in float64 exactly as torch.optim.Adam does per step
    # (step_size = lr / (1 - beta1^t), cast to float32 by addcdiv), so the loop never syncs.
    b1, b2 = BETAS
    lrs = [float(r.lr) for r in runs]
    neg_step = torch.tensor(
        [[-(lr / (1 - b1 ** float(t))) for lr in lrs] for t in range(1, steps + 1)], dtype=torch.float64
    ).to(device=device, dtype=torch.float32).view(steps, C, 1, 1)

    z = z0.unsqueeze(0).repeat(C, 1, 1)
    exp_avg, exp_avg_sq = torch.zeros_like(z), torch.zeros_like(z)
    grad = torch.empty_like(z) if len(blocks) > 1 else None
    history = torch.zeros(steps, C, device=device)
    for t in range(steps):
        u = draw_u() if needs_u else None
        eps = noise_for()
        for c0, c1, r0, r1 in blocks:
            zb = z[c0:c1, r0:r1].detach().requires_grad_(True)
            obj = _objective(G, D, reg, zb, target_rows[r0:r1], None if weight is None else weight[c0:c1],
                             None if u is None else u[c0:c1, r0:r1], block_eps(eps, c0, c1, r0, r1))
            (gb,) = torch.autograd.grad(obj.sum(), zb)
            if len(blocks) == 1:
                grad = gb
            else:
                grad[c0:c1, r0:r1] = gb
            history[t, c0:c1] += obj.detach().sum(1)
        # torch.optim.Adam (single-tensor path), same operations in the same order; addcdiv's
        # value * t1 / t2 becomes (t1 * value) / t2 with a per-cell value.
        exp_avg.lerp_(grad, 1 - b1)
        exp_avg_sq.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        bias_correction2_sqrt = (1 - b2 ** float(t + 1)) ** 0.5
        denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(EPS)
        z.add_((exp_avg * neg_step[t]) / denom)
        if reg.kind == "resample":
            for c in range(C):  # random draws only, from each cell's own generator
                z[c] = reg.resample(z[c], hp[c], generator=gens[c])
        if (t + 1) % every == 0 or t + 1 == steps:
            tick(t + 1)

    with torch.no_grad():
        u = draw_u() if needs_u else None
        eps = noise_for()
        final = torch.empty(C, R, device=device)
        for c0, c1, r0, r1 in blocks:
            final[c0:c1, r0:r1] = _objective(
                G, D, reg, z[c0:c1, r0:r1], target_rows[r0:r1],
                None if weight is None else weight[c0:c1], None if u is None else u[c0:c1, r0:r1],
                block_eps(eps, c0, c1, r0, r1),
            )
        # NaN sorts last so a finite candidate always wins; ties keep the first restart.
        best = final.nan_to_num(nan=float("inf")).view(C, n, restarts).argmin(-1)  # [C, n]
        rows = torch.arange(n, device=device).view(1, n) * restarts + best
        z_best = z.gather(1, rows.unsqueeze(-1).expand(C, n, d))
        loss_best = final.gather(1, rows)
        flat = z_best.reshape(C * n, d)
        if eps is None:
            images = torch.cat([G(flat[i : i + max_batch]) for i in range(0, C * n, max_batch)])
        else:  # the noise the kept candidate's final loss was measured with
            e = eps.expand(C, -1, -1).gather(1, rows.unsqueeze(-1).expand(C, n, eps.shape[-1]))
            e = e.reshape(C * n, -1)
            images = torch.cat([G(flat[i : i + max_batch], e[i : i + max_batch])
                                for i in range(0, C * n, max_batch)])  # fmt: skip
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
