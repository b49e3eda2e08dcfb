"""Throughput of the recovery engine against the loops it replaces (run by hand; prints figures).

On the same cells in one run it times
  (a) the engine: every (cell, image) of the chunk in one batched step loop,
  (b) a per-cell loop: the engine on one cell at a time (all images batched),
  (c) the engine with G and D through autograd instead of compiled chains (fused.py),
  (d) a per-image loop: one image at a time with torch.optim.Adam, as the author's code does
      (timed on a subset of images and extrapolated),
and prints sample-steps/s (one image, one cell, one step = one sample-step), the speed-ups, and
the achieved GFLOP/s in G (its forward + input-gradient FLOPs of Linear/Conv layers) as a share of
this machine's float32 matmul rate measured in the same run; "G+D" also counts D's FLOPs where
the trick regulator runs D. `--full-paper` times the paper grid (124 cells = 112 runs) per
regulator and in all, with peak memory; `--per-cell` adds the per-cell loop per regulator (at
--per-cell-steps steps, against the engine at as many). `--sort-share` times the sorts' share of a
Wasserstein and an energy step. `--device cuda` (the default where CUDA is present) runs all of it
on the GPU, after checking that no step syncs with the host.

    .venv/bin/python benchmarks/recovery_throughput.py                           # ~1 minute
    .venv/bin/python benchmarks/recovery_throughput.py --full-paper --per-cell   # ~9 minutes
    .venv/bin/python benchmarks/recovery_throughput.py --generator lwgan --full-paper --per-cell  # ~2 minutes

Measured 2026-12-01 on 2 cores, nothing else running (load 2.0 at the start: the tail of a run I
stopped), AMD EPYC with AVX-512, torch 2.13 CPU, float32 matmul 217 GFLOP/s, --full-paper --per-cell:

    regulator                runs   wall s  sample-steps/s  G share  G+D share  per-cell s  speed-up
    none                        4     10.4          77,163      85%        85%        11.7     1.09x
    wasserstein                16     49.3          64,877      72%        72%        60.0     1.22x
    energy                     16     55.4          57,740      64%        64%        73.3     1.26x
    trick_discriminator        20     95.8          41,767      46%        87%       104.2     1.10x
    log_normal_density         16     41.7          76,656      85%        85%        48.8     1.11x
    logistic_cutoff            20     58.0          68,908      76%        76%        65.4     1.09x
    truncated_normal_cutoff    20     60.9          65,688      73%        73%        73.0     1.15x
    wall 371.6 s (6.2 min); G 144.2 GFLOP/s = 66% of matmul; G+D 77%; peak RSS 0.97 GiB

The engine before this version (autograd G, one torch.Generator per cell, every op over two
threads; commit e9e3991) took 431.4 s (7.2 min, G at 124 GFLOP/s) on the same machine the same day.

The LWGAN family (`--generator lwgan`: the MNIST MLP generator, 13 + 10 noise inputs -> 256 ->
784, 0.82 MFLOP per sample-step; no trick regulator, it has no LSGAN discriminator), measured
2026-12-01 08:47 UTC (load 1.4 at the start, the tail of the previous benchmark; matmul 199-211):

    regulator                runs   wall s  sample-steps/s  G share  per-cell s  speed-up
    none                        4      4.4         182,748      75%         5.4     1.19x
    wasserstein                16     18.0         177,399      73%        23.5     1.26x
    energy                     16     18.3         174,557      72%        25.7     1.33x
    log_normal_density         16     16.7         192,109      79%        19.3     1.12x
    logistic_cutoff            20     21.6         185,464      76%        27.5     1.24x
    truncated_normal_cutoff    20     21.5         186,082      76%        28.7     1.33x
    wall 100.5 s (1.7 min); G 149.5 GFLOP/s = 73% of matmul; peak RSS 0.69 GiB

Its compiled chain (fused.py, behind RankedGenerator's padding and noise input) runs 1.17x the same
engine through autograd (9 Wasserstein runs, 1,000 images, 50 steps: 187,459 against 160,011
sample-steps/s; the per-cell loop 140,600). No GPU has been lent to a session yet: the CUDA path
is tested for syncs and CPU agreement only where CUDA is present (tests/test_recovery_cuda.py).

Both precisions in one run, `--full-paper --precision both --steps 50` (figures projected to 200
steps), measured 2026-12-06 10:28 UTC on the same kind of machine, nothing else running (load 1.6
at the start, the tail of a stopped run); matmul at G's shapes: float32 177.6, bfloat16 433.8
GFLOP/s (2.44x):

    regulator                runs  fp32 s  bf16 s  bf16/fp32  G share fp32  G share bf16
    none                        4     3.3     2.0      0.61x           82%           54%
    wasserstein                16    16.1     9.5      0.59x           67%           47%
    energy                     16    18.6    13.3      0.72x           58%           33%
    trick_discriminator        20    33.3    15.8      0.47x           40%           35%
    log_normal_density         16    13.5     7.5      0.56x           80%           59%
    logistic_cutoff            20    19.5    11.6      0.59x           69%           48%
    truncated_normal_cutoff    20    21.4    12.8      0.60x           63%           43%
    wall: float32 125.7 s (8.4 min at 200 steps), bfloat16 72.5 s (4.8 min): 0.58x (goal 0.55x);
    G at 78% of the float32 matmul rate, 49% of the bfloat16 one (goal 70%)

(Each share is against its own dtype's rate, the mean of the rate measured before and after; the
float32 rate measured after the grid was 95.6, against 177.6 before, on this shared host.)

Re-run 2026-12-06 12:49 UTC on a quieter host (load 1.06 at the start; matmul float32 194.7,
bfloat16 434.7, 2.23x): float32 117.8 s, bfloat16 68.3 s, again 0.58x; unregulated 0.55x (G at 80%
and 65% of the rates), Wasserstein 0.60x, energy 0.64x, trick 0.49x; G at 61% and 46% overall.
benchmarks/precision_breakdown.py says why: bfloat16 GEMMs take 0.36-0.44x their float32 time,
the rest (casts, bias, activations, loss, Adam, the regulators' float32 sorts and distances) 0.88-
0.99x, so the rest is a third to half of bfloat16's time.

With the bf16 chains' bias and activation in oneDNN's GEMM epilogue (bench/recovery/fused.py),
`--full-paper --precision both --steps 50 --epilogue both` (the two-pass route timed in the same
run), 2026-12-07 19:19 UTC, load 0.9 at the start; matmul at G's shapes float32 165.4, bfloat16
424.0 GFLOP/s (2.56x): float32 112.6 s (7.5 min at 200 steps), bfloat16 two-pass 68.9 s (4.6 min,
0.61x), fused 63.4 s (4.2 min, 0.56x; 0.92x two-pass). G at 47% of the bfloat16 rate two-pass,
50% fused; the unregulated and log-normal runs' G at 66% (two-pass 65% and 60%); trick 0.92x,
logistic 0.86x, truncated 0.88x, Wasserstein 1.01x. Goals: 0.45x and G at 65% overall, missed.

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
from bench.recovery import fused as fused_mod


def build_models(latent_dim: int, family: str = "lsgan") -> tuple[nn.Module, nn.Module | None, str]:
    if family == "lwgan":  # what `bench recover --generator iso-lwgan-stochastic` recovers through
        from lwgan.model import RankedGenerator
        from lwgan.networks import image_mlp_generator

        z_max, width, noise = 20, 256, 10  # lwgan/recipes.py MNIST, iso-lwgan-stochastic's noise
        G = RankedGenerator(image_mlp_generator(z_max, width, noise, 0.1), z_max, latent_dim)
        return G, None, f"Iso-LWGAN stochastic MNIST MLP (z_max {z_max}, rank {latent_dim}, noise {noise} x 0.1)"
    from lwgan.lsgan import LSGANConfig, build_lsgan

    cfg = LSGANConfig(latent_dim=latent_dim)
    G, D = build_lsgan(cfg)
    if not hasattr(G, "latent_dim"):
        G.latent_dim = latent_dim
    return G, D, f"lwgan.lsgan default ({cfg.arch}, hidden {cfg.hidden})"


def flops_per_row(net: nn.Module, example: torch.Tensor) -> int:
    """net's forward + input-gradient FLOPs per input row: 2 x (2 FLOPs per MAC) per Linear/Conv
    weight use (the backward to the input costs what the forward does; no weight gradients)."""
    macs = []

    def hook(mod, inp, out):
        if isinstance(mod, nn.Linear):
            macs.append(mod.in_features * mod.out_features)
        elif isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d)):
            k = mod.kernel_size[0] * mod.kernel_size[1] * mod.in_channels // mod.groups
            spatial = (out if isinstance(mod, nn.Conv2d) else inp[0])[0, 0].numel()
            macs.append(k * mod.out_channels * spatial)

    kinds = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)
    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, kinds)]
    net.eval()
    with torch.no_grad():
        net(example[:1])
    for h in handles:
        h.remove()
    return 4 * sum(macs)


def matmul_gflops(n: int = 1024, reps: int = 10, device="cpu", dtype=torch.float32, shape=None) -> float:
    """The matmul rate: square n x n, or `shape` (m, k, n) such as the engine's G layers."""
    if torch.device(device).type == "cuda" and shape is None:
        n, reps = 8192, 20
    m, k, n2 = shape or (n, n, n)
    a, b = torch.randn(m, k, device=device, dtype=dtype), torch.randn(k, n2, device=device, dtype=dtype)
    a @ b
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    _sync(device)
    return 2 * m * k * n2 * reps / (time.perf_counter() - t0) / 1e9


def engine_matmul(device, dtype) -> float:
    """The rate at the default LSGAN's G shapes (4096 rows: 256 -> 512, 512 -> 784), the mean of both."""
    shapes = [(4096, 256, 512), (4096, 512, 784)]
    return sum(matmul_gflops(reps=20, device=device, dtype=dtype, shape=sh) for sh in shapes) / len(shapes)


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


def compare(args, G, D, targets, fl: dict) -> None:
    lrs = [float(v) for v in args.lr.split(",")]
    hps = [float(v) for v in args.hp.split(",")]
    cells = expand_grid((lrs, hps), [args.regulator])
    runs = unique_runs(cells)
    n, c, s = targets.shape[0], len(runs), args.steps
    work = n * c * s
    print(f"cells: {c} runs of {args.regulator} (lr {args.lr}, hp {args.hp}); images {n}; steps {s}")
    rate = matmul_gflops(device=args.device)
    time_engine(G, D, targets, runs, 2, args)  # warm-up: first allocations, lazy initialisation
    times = {"engine": time_engine(G, D, targets, runs, s, args)}
    times["per-cell loop"] = sum(time_engine(G, D, targets, [r], s, args) for r in runs)
    times["engine, G and D through autograd"] = time_engine(G, D, targets, runs, s, args, fused=False)
    k = min(args.subset, n)
    if k:
        G_, D_ = G.to("cpu"), D.to("cpu")
        times[f"per-image loop ({k} images, extrapolated)"] = (
            per_image_loop(G_, D_, targets[:k].cpu(), runs, s, args.latent_dim) * n / k
        )
        G.to(args.device), D.to(args.device)
    print(f"{'method':44s} {'sample-steps/s':>15s} {'wall s':>9s}")
    for name, t in times.items():
        print(f"{name:44s} {work / t:15,.0f} {t:9.2f}")
    t_e = times["engine"]
    if k:
        print(
            f"engine speed-up over the per-image loop: {times[f'per-image loop ({k} images, extrapolated)'] / t_e:.1f}x"
        )
    print(
        f"engine speed-up over the per-cell loop: {times['per-cell loop'] / t_e:.2f}x; "
        f"over itself through autograd: {times['engine, G and D through autograd'] / t_e:.2f}x"
    )
    model = fl["G"] + (fl["D"] if args.regulator == "trick_discriminator" else 0)
    print(
        f"engine: {fl['G'] * work / t_e / 1e9:.1f} GFLOP/s achieved in G ({fl['G'] / 1e6:.2f} MFLOP per "
        f"sample-step) = {fl['G'] * work / t_e / 1e9 / rate:.0%} of float32 matmul on this machine "
        f"({rate:.1f} GFLOP/s, same run); G and D: {model * work / t_e / 1e9 / rate:.0%}"
    )


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def time_engine(G, D, targets, runs, steps, args, fused: bool = True, precision: str = "fp32") -> float:
    _sync(args.device)
    t0 = time.perf_counter()
    out = recover_cells(
        G,
        D,
        targets,
        runs,
        steps=steps,
        max_batch=args.max_batch,
        device=args.device,
        fused=fused,
        noise_dim=getattr(G, "noise_dim", 0),
        precision=precision,
    )
    _sync(args.device)
    bad = sum(o.n_nonfinite for o in out)
    if bad:
        print(f"    ({bad} non-finite images)")
    return time.perf_counter() - t0


def full_paper(args, G, D, targets, fl: dict) -> None:
    """The paper grid per regulator, in each precision asked for (--precision both: float32 then
    bfloat16 in the same run, each G share against its own dtype's matmul rate at G's shapes)."""
    names = [
        r
        for r in regulators.names(include_extras=False)  # the paper's seven, not the author's extras
        if D is not None or "discriminator" not in getattr(regulators.get(r), "context", ())
    ]  # the LWGAN family has no LSGAN discriminator
    cells = expand_grid("paper", names)
    runs = unique_runs(cells)
    n, s = targets.shape[0], args.steps
    precisions = ["fp32", "bf16"] if args.precision == "both" else [args.precision]
    if "bf16" in precisions and args.epilogue == "both":  # the two-pass bf16 route first, same run
        precisions.insert(precisions.index("bf16"), "bf16-2pass")
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16, "bf16-2pass": torch.bfloat16}
    rates0 = {p: engine_matmul(args.device, dtypes[p]) for p in ("fp32", "bf16")}
    print(
        f"paper grid: {len(cells)} cells, {len(runs)} runs; images {n}; steps {s}; max_batch {args.max_batch}; "
        f"matmul at G's shapes: float32 {rates0['fp32']:.1f}, bfloat16 {rates0['bf16']:.1f} GFLOP/s "
        f"({rates0['bf16'] / rates0['fp32']:.2f}x)"
    )
    groups: dict[str, list[Cell]] = {}
    for r in runs:
        groups.setdefault(r.regulator, []).append(r)
    rates0["bf16-2pass"] = rates0["bf16"]
    totals = {}
    for label in precisions:
        precision, rate0 = label.removesuffix("-2pass"), rates0[label]
        fused_mod.ONEDNN_EPILOGUE = args.epilogue == "on" or (args.epilogue == "both" and label == "bf16")
        print(
            f"  [{label}] {'regulator':24s} {'runs':>4s} {'wall s':>8s} {'sample-steps/s':>15s} "
            f"{'G GFLOP/s':>10s} {'G share':>8s} {'G+D share':>9s}"
            + (f" {'per-cell s':>10s} {'speed-up':>8s}" if args.per_cell else "")
        )
        walls, flops_g, flops_all = {}, 0.0, 0.0
        for name, group in groups.items():
            dt = time_engine(G, D, targets, group, s, args, precision=precision)
            work = n * len(group) * s
            model = fl["G"] + (fl["D"] if name == "trick_discriminator" else 0)
            walls[name] = dt
            flops_g += fl["G"] * work
            flops_all += model * work
            line = (
                f"  [{label}] {name:24s} {len(group):4d} {dt:8.1f} {work / dt:15,.0f} "
                f"{fl['G'] * work / dt / 1e9:10.1f} {fl['G'] * work / dt / 1e9 / rate0:8.0%} "
                f"{model * work / dt / 1e9 / rate0:9.0%}"
            )
            if args.per_cell:  # the same runs one at a time, fewer steps (both scale linearly)
                k = args.per_cell_steps
                t_cell = sum(time_engine(G, D, targets, [r], k, args, precision=precision) for r in group)
                t_eng = time_engine(G, D, targets, group, k, args, precision=precision)
                line += f" {t_cell * s / k:10.1f} {t_cell / t_eng:7.2f}x"
            print(line, flush=True)
        rate1 = engine_matmul(args.device, dtypes[precision])
        wall = sum(walls.values())
        totals[label] = wall
        work = n * len(runs) * s
        rate = (rate0 + rate1) / 2
        print(
            f"  [{label}] wall {wall:.1f} s ({wall / 60:.1f} min); {work / wall:,.0f} sample-steps/s; "
            f"G {flops_g / wall / 1e9:.1f} GFLOP/s = {flops_g / wall / 1e9 / rate:.0%} of its matmul rate "
            f"({rate:.1f} GFLOP/s, mean of {rate0:.1f} before and {rate1:.1f} after); "
            f"G+D {flops_all / wall / 1e9 / rate:.0%}; peak RSS {peak_rss_gib():.2f} GiB"
        )
        if (n, s) != (1000, 200):
            full = wall * (1000 * 200) / (n * s) / 60
            print(f"  [{label}] extrapolated to 1,000 images x 200 steps: {full:.1f} min")
    if "fp32" in totals and "bf16" in totals:
        print(f"bfloat16 / float32 wall time: {totals['bf16'] / totals['fp32']:.2f}x (goal: at most 0.45x)")
    if "bf16-2pass" in totals:
        print(
            f"bfloat16 with oneDNN's fused epilogues / two-pass: {totals['bf16'] / totals['bf16-2pass']:.2f}x"
            + (f"; two-pass / float32: {totals['bf16-2pass'] / totals['fp32']:.2f}x" if "fp32" in totals else "")
        )


def sort_share(args, G, D, targets, fl: dict) -> None:
    """The sorts' share of one engine step of wasserstein and energy at m = d_z, as a share runs
    it: one block of --images rows on one thread (the engine gives each thread its own share)."""
    import numpy as np

    from bench.recovery import streams
    from bench.recovery.fused import compile_chain, l1_rows
    from regulators.fastsort import for_row_blocks, sort_rows

    torch.set_num_threads(1)
    rows, d = targets.shape[0], args.latent_dim
    chain = compile_chain(G.eval(), d) or G
    x = targets.reshape(1, rows, -1)
    keys = streams.block_keys(streams.cell_keys([1]), "prior", 0, streams.row_keys(range(rows), 1))
    prior = regulators.get_prior("normal")
    z = torch.randn(1, rows, d, generator=torch.Generator().manual_seed(1))

    def med(fn, reps=15):
        fn()
        out = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
        return sorted(out)[reps // 2] * 1e3

    print(f"one block of {rows} rows, d_z = m = {d}, 1 thread; medians in ms")
    print(
        f"  {'regulator':12s} {'step':>7s} {'G + L1':>7s} {'penalty':>8s} {'draw u':>7s} {'sorts':>7s} "
        f"{'sort share':>10s}"
    )
    for name in ("wasserstein", "energy"):
        reg = regulators.get(name)
        u = streams.sample(prior, keys, d)

        def step(reg=reg, u=u):
            zb = z.detach().requires_grad_(True)
            obj = l1_rows(chain(zb.reshape(rows, d)).reshape(1, rows, -1), x) + 0.5 * reg.penalty(zb, prior_sample=u)
            torch.autograd.grad(obj.sum(), zb)

        def g_only():
            zb = z.detach().requires_grad_(True)
            torch.autograd.grad(l1_rows(chain(zb.reshape(rows, d)).reshape(1, rows, -1), x).sum(), zb)

        def penalty(reg=reg, u=u):
            zb = z.detach().requires_grad_(True)
            torch.autograd.grad(reg.penalty(zb, prior_sample=u).sum(), zb)

        zn, un = z[0].numpy(), u[0].numpy()

        def sorts(zn=zn, un=un):  # what the numpy route sorts: z with its permutation, u by value
            for_row_blocks(lambda a, b: (sort_rows(a, True), np.sort(b, axis=-1)), [zn, un], 2 * d)

        t_step, t_g, t_pen = med(step), med(g_only), med(penalty)
        t_draw, t_sort = med(lambda: streams.sample(prior, keys, d)), med(sorts)
        total = t_step + t_draw
        print(f"  {name:12s} {total:7.2f} {t_g:7.2f} {t_pen:8.2f} {t_draw:7.2f} {t_sort:7.2f} {t_sort / total:10.1%}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=None, help="target images (default 200; 1000 with --full-paper)")
    p.add_argument("--steps", type=int, default=None, help="Adam steps (default 20; 200 with --full-paper)")
    p.add_argument("--regulator", default="wasserstein")
    p.add_argument("--lr", default="0.01,0.1")
    p.add_argument("--hp", default="0.1,1")
    p.add_argument("--subset", type=int, default=5, help="images timed in the per-image loop (0: skip it)")
    p.add_argument(
        "--generator",
        choices=("lsgan", "lwgan"),
        default="lsgan",
        help="lwgan: the LWGAN family's MNIST generator behind its rank-r prior, with noise",
    )
    p.add_argument(
        "--latent-dim", type=int, default=None, help="d_z (lsgan, default 256) or the rank (lwgan, default 13)"
    )
    p.add_argument("--max-batch", type=int, default=None, help="rows per forward pass (default: the engine's)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--full-paper", action="store_true", help="time the paper grid (124 cells)")
    p.add_argument(
        "--per-cell",
        action="store_true",
        help="with --full-paper: also time each regulator's "
        "runs one at a time (at --per-cell-steps steps, against the engine at as many)",
    )
    p.add_argument("--per-cell-steps", type=int, default=20)
    p.add_argument(
        "--precision",
        choices=("fp32", "bf16", "both"),
        default="fp32",
        help="--full-paper in float32, bfloat16 or both in one run (G and D's passes; see bench/precision.py)",
    )
    p.add_argument(
        "--epilogue",
        choices=("on", "off", "both"),
        default="on",
        help="bfloat16 chains: bias and activation fused into oneDNN's GEMM (on), two passes (off), "
        "or both in one run (bench/recovery/fused.py, ONEDNN_EPILOGUE)",
    )
    p.add_argument("--sort-share", action="store_true", help="the sorts' share of a wasserstein/energy step")
    p.add_argument(
        "--malloc",
        choices=("keep", "default"),
        default="keep",
        help="keep: the allocator settings of the bench commands (bench/memory.py)",
    )
    args = p.parse_args()
    if args.malloc == "keep":
        from bench.memory import keep_freed_memory

        print(f"allocator keeps freed memory: {keep_freed_memory()}")
    if args.threads:
        torch.set_num_threads(args.threads)
    args.images = args.images or (1000 if args.full_paper else 200)
    args.steps = args.steps or (200 if args.full_paper else 20)
    args.max_batch = args.max_batch or DEFAULT_MAX_BATCH

    args.latent_dim = args.latent_dim or (13 if args.generator == "lwgan" else 256)
    G, D, desc = build_models(args.latent_dim, args.generator)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        G.eval()
        targets = G(torch.randn(args.images, args.latent_dim, generator=gen))
        targets = (targets + 0.1 * torch.randn(targets.shape, generator=gen)).clamp(-1, 1)
    if D is None:  # the LWGAN family: no LSGAN discriminator for the per-image loop or the trick regulator
        args.subset = 0
        # The work recovery needs: the rank's columns of the first layer, not the padding's or the
        # noise's (the module multiplies those too; the compiled chain does not).
        w = G.G.body[0][0].out_features
        fl = {"G": 4 * (args.latent_dim * w + w * 784), "D": 0}
    else:
        fl = {"G": flops_per_row(G, torch.zeros(1, args.latent_dim)), "D": flops_per_row(D, targets[:1])}
    G, targets = G.to(args.device), targets.to(args.device)
    D = None if D is None else D.to(args.device)
    if args.device.startswith("cuda"):  # the step loop must not sync: any sync raises here
        recover_cells(
            G, D, targets[:8], expand_grid("quick", regulators.names()), steps=2, device=args.device, check_sync=True
        )
        print("CUDA: no host sync in the step loop of any regulator (torch.cuda.set_sync_debug_mode('error'))")
    where = (
        torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or platform.machine()
    )
    print(f"generator: {desc}; torch {torch.__version__}, {torch.get_num_threads()} threads, {args.device}: {where}")
    if args.sort_share:
        sort_share(args, G, D, targets, fl)
    elif args.full_paper:
        full_paper(args, G, D, targets, fl)
    else:
        compare(args, G, D, targets, fl)


if __name__ == "__main__":
    main()
