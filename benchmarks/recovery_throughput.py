"""Throughput of the recovery engine against the loops it replaces (run by hand; prints figures).

On the same cells in one run it times
  (a) the engine: every (cell, image) of the chunk in one batched step loop,
  (b) a per-cell loop: the engine on one cell at a time (all images batched),
  (c) a per-image loop: one image at a time with torch.optim.Adam, as the author's code does
      (timed on a subset of images and extrapolated),
and prints sample-steps/s (one image, one cell, one step = one sample-step), the engine's
speed-up over (c), the engine's achieved GFLOP/s (G's forward + input-gradient FLOPs of its
Linear/Conv layers) beside this machine's float32 matmul GFLOP/s measured in the same run.
`--full-paper` times the paper grid (124 cells = 112 runs) and prints wall time and peak memory;
with --images/--steps below 1000/200 it also extrapolates linearly to the full size.

    .venv/bin/python benchmarks/recovery_throughput.py                 # ~1-2 minutes on 2 cores
    .venv/bin/python benchmarks/recovery_throughput.py --full-paper    # the real thing (~20 min)

Random weights are fine for speed: the default LSGAN architecture of lwgan/lsgan.py.
"""

from __future__ import annotations

import argparse
import platform
import resource
import time

import torch
from torch import nn

import regulators
from bench.recovery import DEFAULT_MAX_BATCH, Cell, expand_grid, recover_cells, unique_runs


def build_models(latent_dim: int) -> tuple[nn.Module, nn.Module, str]:
    from lwgan.lsgan import LSGANConfig, build_lsgan

    cfg = LSGANConfig(latent_dim=latent_dim)
    G, D = build_lsgan(cfg)
    if not hasattr(G, "latent_dim"):
        G.latent_dim = latent_dim
    return G, D, f"lwgan.lsgan default ({cfg.arch}, hidden {cfg.hidden})"


def flops_per_row(G: nn.Module, d_z: int) -> int:
    """G's forward + input-gradient FLOPs per latent: 2 x (2 MACs) per Linear/Conv weight use."""
    macs = []

    def hook(mod, inp, out):
        if isinstance(mod, nn.Linear):
            macs.append(mod.in_features * mod.out_features)
        elif isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d)):
            k = mod.kernel_size[0] * mod.kernel_size[1] * mod.in_channels // mod.groups
            spatial = (out if isinstance(mod, nn.Conv2d) else inp[0])[0, 0].numel()
            macs.append(k * mod.out_channels * spatial)

    handles = [m.register_forward_hook(hook) for m in G.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))]
    G.eval()
    with torch.no_grad():
        G(torch.zeros(2, d_z))
    for h in handles:
        h.remove()
    return 4 * sum(macs)  # 2 FLOPs per MAC, forward and the same again for d/d(input)


def matmul_gflops(n: int = 1024, reps: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9


def per_image_loop(G, D, targets, cells, steps: int, m: int) -> float:
    """The author's way: each image alone, torch.optim.Adam on its own z. Returns seconds."""
    prior = regulators.get_prior("normal")
    gen = torch.Generator().manual_seed(0)
    G.eval().requires_grad_(False)
    D.eval().requires_grad_(False)
    t0 = time.perf_counter()
    for cell in cells:
        reg = regulators.get(cell.run.regulator)
        for x in targets:
            z = prior.sample((1, G.latent_dim), generator=gen).requires_grad_(True)
            opt = torch.optim.Adam([z], lr=cell.lr)
            for _ in range(steps):
                loss = (x - G(z)[0]).abs().mean()
                if reg.kind == "loss" and reg.name != "none":
                    u = prior.sample((1, m), generator=gen)
                    loss = loss + cell.hp * reg.penalty(z, prior_sample=u, generator=G, discriminator=D)[0]
                opt.zero_grad()
                loss.backward()
                opt.step()
                if reg.kind == "resample":
                    with torch.no_grad():
                        z.copy_(reg.resample(z, torch.tensor(cell.hp), generator=gen))
    return time.perf_counter() - t0


def peak_rss_gib() -> float:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kib / 2**20


def compare(args, G, D, targets, fl: int) -> None:
    lrs = [float(v) for v in args.lr.split(",")]
    hps = [float(v) for v in args.hp.split(",")]
    cells = expand_grid((lrs, hps), [args.regulator])
    n, c, s = targets.shape[0], len(unique_runs(cells)), args.steps
    work = n * c * s
    print(f"cells: {c} runs of {args.regulator} (lr {args.lr}, hp {args.hp}); images {n}; steps {s}")

    t0 = time.perf_counter()
    recover_cells(G, D, targets, cells, steps=s, max_batch=args.max_batch)
    t_engine = time.perf_counter() - t0

    t0 = time.perf_counter()
    for cell in unique_runs(cells):
        recover_cells(G, D, targets, [cell], steps=s, max_batch=args.max_batch)
    t_cell = time.perf_counter() - t0

    k = min(args.subset, n)
    t_img = per_image_loop(G, D, targets[:k], unique_runs(cells), s, G.latent_dim) * n / k

    rate = {"engine": work / t_engine, "per-cell loop": work / t_cell, f"per-image loop ({k} images, extrapolated)": work / t_img}
    print(f"{'method':44s} {'sample-steps/s':>15s} {'wall s':>9s}")
    for (name, r), t in zip(rate.items(), (t_engine, t_cell, t_img)):
        print(f"{name:44s} {r:15,.0f} {t:9.2f}")
    print(f"engine speed-up over the per-image loop: {t_img / t_engine:.1f}x (goal >= 10x); "
          f"over the per-cell loop: {t_cell / t_engine:.2f}x")
    print(f"engine: {fl * work / t_engine / 1e9:.1f} GFLOP/s achieved in G ({fl / 1e6:.2f} MFLOP per sample-step); "
          f"float32 matmul on this machine: {matmul_gflops():.1f} GFLOP/s")


def full_paper(args, G, D, targets, fl: int) -> None:
    cells = expand_grid("paper", regulators.names())
    runs = unique_runs(cells)
    n, s = targets.shape[0], args.steps
    print(f"paper grid: {len(cells)} cells, {len(runs)} runs; images {n}; steps {s}; max_batch {args.max_batch}")
    groups: dict[str, list[Cell]] = {}
    for r in runs:
        groups.setdefault(r.regulator, []).append(r)
    t_all = time.perf_counter()
    for name, group in groups.items():
        t0 = time.perf_counter()
        out = recover_cells(G, D, targets, group, steps=s, max_batch=args.max_batch)
        dt = time.perf_counter() - t0
        bad = sum(o.n_nonfinite for o in out)
        print(f"  {name:26s} {len(group):3d} runs {dt:8.1f} s  {n * len(group) * s / dt:10,.0f} sample-steps/s"
              f"  non-finite images {bad}")
    wall = time.perf_counter() - t_all
    work = n * len(runs) * s
    print(f"wall {wall:.1f} s; {work / wall:,.0f} sample-steps/s; {fl * work / wall / 1e9:.1f} GFLOP/s in G; "
          f"peak RSS {peak_rss_gib():.2f} GiB")
    if (n, s) != (1000, 200):
        print(f"extrapolated to 1,000 images x 200 steps: {wall * (1000 * 200) / (n * s) / 60:.1f} min")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=None, help="target images (default 200; 1000 with --full-paper)")
    p.add_argument("--steps", type=int, default=None, help="Adam steps (default 20; 200 with --full-paper)")
    p.add_argument("--regulator", default="wasserstein")
    p.add_argument("--lr", default="0.01,0.1")
    p.add_argument("--hp", default="0.1,1")
    p.add_argument("--subset", type=int, default=5, help="images timed in the per-image loop")
    p.add_argument("--latent-dim", type=int, default=256)
    p.add_argument("--max-batch", type=int, default=None, help="rows per forward pass (default: the engine's)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--full-paper", action="store_true", help="time the paper grid (124 cells)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.images = args.images or (1000 if args.full_paper else 200)
    args.steps = args.steps or (200 if args.full_paper else 20)
    args.max_batch = args.max_batch or DEFAULT_MAX_BATCH

    G, D, desc = build_models(args.latent_dim)
    fl = flops_per_row(G, args.latent_dim)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        G.eval()
        targets = G(torch.randn(args.images, args.latent_dim, generator=gen))
        targets = (targets + 0.1 * torch.randn(targets.shape, generator=gen)).clamp(-1, 1)
    print(f"generator: {desc}; torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}")
    if args.full_paper:
        full_paper(args, G, D, targets, fl)
    else:
        compare(args, G, D, targets, fl)


if __name__ == "__main__":
    main()
