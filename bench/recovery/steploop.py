"""The step loop of the recovery engine (bench.recovery.engine): all runs of one regulator over
every (image, restart) row, in blocks that own their latents and Adam moments, stepped in parallel
shares; then each image's best restart kept. See the engine's docstring for why it is shaped so
(per-row objectives summed, Adam by hand, counter-based draws, no host sync in the loop)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

import regulators
from bench.recovery import streams, work
from bench.recovery.fused import l1_rows
from bench.recovery.grid import BASELINE, Cell
from bench.recovery.streams import derive_seed

BETAS = (0.9, 0.999)  # torch.optim.Adam defaults, as the paper ("Adam", no settings given)
EPS = 1e-8


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


def objective(G, D, reg, z, target, weight, u, eps=None) -> torch.Tensor:
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


class StepLoop:
    """All runs of one regulator: their blocks, their keyed draws, Adam's schedule, the loop."""

    def __init__(
        self,
        G,
        D,
        name: str,
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
        eps_rows,
        resample_noise,
        reading=("after", 1),
    ):
        reg = regulators.get(name)
        if reg.kind == "resample" and reg.prior != prior.name:
            reg = regulators.get(name, prior=prior.name)
        self.G, self.D, self.reg, self.runs, self.prior = G, D, reg, runs, prior
        self.n, self.restarts, self.steps, self.m, self.device = n, restarts, steps, m, device
        self.target_rows, self.row_keys, self.eps_rows, self.max_batch = target_rows, row_keys, eps_rows, max_batch
        self.resample_noise, (self.at, self.k) = resample_noise, reading
        C, R, d = len(runs), z0.shape[0], z0.shape[1]
        self.shape = (C, R, d)
        penalised = reg.kind == "loss" and name != BASELINE  # the baseline is l1 alone, as in the author's code
        self.needs_u = penalised and "prior_sample" in reg.context
        self.hp = torch.tensor([r.hp for r in runs], dtype=torch.float32, device=device).view(C, 1)
        self.weight = self.hp if penalised else None
        self.cells = streams.cell_keys([derive_seed(int(seed), "draws", r.id) for r in runs], device)
        self.parts = work.parts(C, R, max_batch, threads)
        # Adam's scalar schedule, precomputed in float64 exactly as torch.optim.Adam does per step
        # (step_size = lr / (1 - beta1^t), cast to float32 by addcdiv), so the loop never syncs.
        b1 = BETAS[0]
        self.neg_step = (
            torch.tensor(
                [[-(float(r.lr) / (1 - b1 ** float(t))) for r in runs] for t in range(1, steps + 1)],
                dtype=torch.float64,
            )
            .to(device=device, dtype=torch.float32)
            .view(steps, C, 1, 1)
        )
        # Each block owns its z and Adam moments: in-place updates of one block never touch a tensor
        # (or a version counter) that another thread's autograd graph has saved.
        self.state = [
            [
                (
                    z0[r0:r1].unsqueeze(0).repeat(c1 - c0, 1, 1),
                    torch.zeros(c1 - c0, r1 - r0, d, device=device),
                    torch.zeros(c1 - c0, r1 - r0, d, device=device),
                )
                for c0, c1, r0, r1 in part
            ]
            for part in self.parts
        ]
        self.history = torch.zeros(len(self.parts), steps, C, device=device)  # one per part: no shared writes

    def draw(self, purpose, t, dist, width, c0, c1, r0, r1):  # [c1 - c0, r1 - r0, width], one call
        return streams.draw(self.cells[c0:c1], purpose, t, self.row_keys[r0:r1], width, dist)

    def inputs(self, t, c0, c1, r0, r1):
        """The block's prior sample u and generator noise at step t."""
        u = self.draw("prior", t, self.prior, self.m, c0, c1, r0, r1) if self.needs_u else None
        if self.eps_rows is None:
            return u, None
        if self.resample_noise:  # fresh at every step
            normal = regulators.get_prior("normal")
            return u, self.draw("step-noise", t, normal, self.eps_rows.shape[1], c0, c1, r0, r1)
        return u, self.eps_rows[r0:r1].expand(c1 - c0, -1, -1)

    def resampled(self, zs, t, c0, c1, r0, r1):  # the block's draws in one call each
        d = self.shape[2]
        fire = self.draw("fire", t, None, d, c0, c1, r0, r1)
        return self.reg.resample_with(zs, self.hp[c0:c1], fire, self.draw("fresh", t, self.prior, d, c0, c1, r0, r1))

    def weight_of(self, c0, c1):
        return None if self.weight is None else self.weight[c0:c1]

    def step(self, t: int, p: int) -> None:
        """Step t of part p's blocks: objective, gradient, Adam, resampling. Blocks are independent
        (Adam and resampling are per element), so a part never waits for another inside a step."""
        b1, b2 = BETAS
        bias_correction2_sqrt = (1 - b2 ** float(t + 1)) ** 0.5
        fires = self.reg.kind == "resample" and (t + 1) % self.k == 0
        G, D, reg = self.G, self.D, self.reg
        for (c0, c1, r0, r1), (zs, m1, m2) in zip(self.parts[p], self.state[p]):
            if fires and self.at == "before":
                zs.copy_(self.resampled(zs, t, c0, c1, r0, r1))
            zb = zs.detach().requires_grad_(True)
            u, eps = self.inputs(t, c0, c1, r0, r1)
            obj = objective(G, D, reg, zb, self.target_rows[r0:r1], self.weight_of(c0, c1), u, eps)
            (grad,) = torch.autograd.grad(obj.sum(), zb)
            self.history[p, t, c0:c1] += obj.detach().sum(1)
            # torch.optim.Adam (single-tensor path), same operations in the same order; addcdiv's
            # value * t1 / t2 becomes (t1 * value) / t2 with a per-cell value.
            m1.lerp_(grad, 1 - b1)
            m2.mul_(b2).addcmul_(grad, grad, value=1 - b2)
            denom = (m2.sqrt() / bias_correction2_sqrt).add_(EPS)
            zs.add_((m1 * self.neg_step[t, c0:c1]) / denom)
            if fires and self.at != "before":
                new = self.resampled(zs, t, c0, c1, r0, r1)
                if self.at == "accept":  # a row keeps its resample only if it lowers its objective
                    with torch.no_grad():
                        target = self.target_rows[r0:r1]
                        better = objective(G, D, reg, new, target, None, u, eps) < objective(
                            G, D, reg, zs, target, None, u, eps
                        )
                    new = torch.where(better.unsqueeze(-1), new, zs)
                zs.copy_(new)

    def run(self, tick, every: int, check_sync: bool) -> None:
        with work.threads(len(self.parts)) as run, work.sync_check(check_sync):
            for t in range(self.steps):
                run(self.step, t)
                if (t + 1) % every == 0 or t + 1 == self.steps:
                    tick(t + 1)

    def result(self) -> list[CellRecovery]:
        """Per run: each image's restart with the lowest final loss (step `steps`), its image."""
        C, R, d = self.shape
        n, restarts, device, G = self.n, self.restarts, self.device, self.G
        z = torch.empty(C, R, d, device=device)
        for part, states in zip(self.parts, self.state):
            for (c0, c1, r0, r1), (zs, _, _) in zip(part, states):
                z[c0:c1, r0:r1] = zs
        with torch.no_grad():
            final = torch.empty(C, R, device=device)
            noise = torch.empty(C, R, self.eps_rows.shape[1], device=device) if self.eps_rows is not None else None
            for c0, c1, r0, r1 in (b for part in self.parts for b in part):  # the final loss: step `steps`
                u, eps = self.inputs(self.steps, c0, c1, r0, r1)
                final[c0:c1, r0:r1] = objective(
                    G, self.D, self.reg, z[c0:c1, r0:r1], self.target_rows[r0:r1], self.weight_of(c0, c1), u, eps
                )
                if noise is not None:
                    noise[c0:c1, r0:r1] = eps
            # NaN sorts last so a finite candidate always wins; ties keep the first restart.
            best = final.nan_to_num(nan=float("inf")).view(C, n, restarts).argmin(-1)  # [C, n]
            rows = torch.arange(n, device=device).view(1, n) * restarts + best
            z_best = z.gather(1, rows.unsqueeze(-1).expand(C, n, d))
            loss_best = final.gather(1, rows)
            images = self._images(z_best, noise, rows)
            images = images.reshape(C, n, *images.shape[1:])
            bad = (~(torch.isfinite(z_best).all(-1) & torch.isfinite(loss_best))).sum(1)
        history = (self.history.sum(0) / R).T.cpu()  # one sync, after the loop
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
            for c, run in enumerate(self.runs)
        ]

    def _images(self, z_best, noise, rows):
        C, n, d = z_best.shape
        flat, mb, G = z_best.reshape(C * n, d), self.max_batch, self.G
        if noise is None:
            return torch.cat([G(flat[i : i + mb]) for i in range(0, C * n, mb)])
        # the noise the kept candidate's final loss was measured with
        e = noise.gather(1, rows.unsqueeze(-1).expand(C, n, noise.shape[-1])).reshape(C * n, -1)
        return torch.cat([G(flat[i : i + mb], e[i : i + mb]) for i in range(0, C * n, mb)])
