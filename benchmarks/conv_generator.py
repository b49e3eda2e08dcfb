"""The conv generator through the recovery engine: before and after, float32 and bfloat16, in one run
(run by hand; prints figures).

`lsgan.cho32` (the author's conv architecture at 1/16 of its channels, 8.0 MFLOP a forward pass)
is the one generator of the dependence study that is not a plain Linear chain, so the engine runs
it as a module through autograd. On the same cells, images and steps this times, per regulator:

  autograd    the module as given, float32, NCHW (the engine with fused=False: what ran before)
  fp32        the engine's float32 path: the generator's convolutions fed channels-last input
  bf16        the engine's bfloat16 path: G (and D) under bfloat16 autocast, NCHW

and prints seconds a run (one cell on all images, projected to 200 steps), each path's ratio to
`autograd` measured in the same run, and G's achieved GFLOP/s (forward + input gradient of its
convolutions and Linear, over the run's whole wall time: with the trick regulator, D's time too).
The issue's goal: at most 30 s a run on 500 images on 2 cores. The trick regulator also runs the
author's conv D (NCHW on every path: channels-last made it slower), so its runs cost more.

    .venv/bin/python benchmarks/conv_generator.py               # ~4 minutes (10 steps)

Random weights are fine for speed. Measured 2026-12-07 16:59 UTC on 2 cores, nothing else
running (load 1.0 at the start, the tail of a probe), torch 2.13 CPU, 500 images, 10 steps
projected to 200, 4 runs (lr 0.01-10, weight 0.1) per regulator:

    regulator              runs   autograd       fp32       bf16   ratio to autograd, G GFLOP/s
    none                      4     71.8 s     43.9 s     29.8 s   autograd 1.00x 22, fp32 0.61x 37, bf16 0.42x 54
    wasserstein               4     69.1 s     45.4 s     27.3 s   autograd 1.00x 23, fp32 0.66x 35, bf16 0.40x 59
    trick_discriminator       4     74.7 s     83.2 s     46.7 s   autograd 1.00x 22, fp32 1.11x 19, bf16 0.62x 34
    all runs: autograd 14.4 min (1.00x), fp32 11.5 min (0.80x), bf16 6.9 min (0.48x)

A re-run of the Wasserstein row after a refactor (18:54 UTC, load 0.5, nothing else running):
autograd 53.5 s, fp32 42.1 s (0.79x), bf16 21.1 s (0.39x): the host's speed and the fp32 gain
vary between runs, so compare only within one.

The goal is met in bfloat16 where only G runs (21-30 s a run), not in float32 (42-45 s) nor with
the trick regulator's conv D (47 s in bfloat16; in float32 the channels-last G gains nothing
there, 0.96-1.11x over two runs: D's NCHW convolutions dominate). The profile of the float32
module (torch.profiler, 500 rows, one thread): 70% of the time in oneDNN's convolutions (forward
35%, input gradient 35%) at 15-50 GFLOP/s for 8-32 channels, 10% instance norm, 10% copies.
torch.compile (inductor, CPU) of the module measured slower than eager (469 against 384 ms a step,
one thread, after a 24 s compile), so the engine does not compile it.
"""

from __future__ import annotations

import argparse
import time

import torch
from recovery_throughput import flops_per_row  # benchmarks/ is on the path of a script run from it

from bench.recovery import Cell, recover_cells
from lwgan.lsgan import LSGANConfig, build_lsgan

PATHS = (("autograd", "fp32", False), ("fp32", "fp32", True), ("bf16", "bf16", True))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=500)
    p.add_argument("--steps", type=int, default=10, help="steps timed (figures projected to 200)")
    p.add_argument("--regulators", default="none,wasserstein,trick_discriminator")
    p.add_argument("--width", type=int, default=32, help="G's dense channels (lsgan.cho32: 32; the author's: 512)")
    args = p.parse_args()

    cfg = LSGANConfig(arch="cho", cho_width=args.width, cho_d_width=args.width // 2)
    torch.manual_seed(0)
    G, D = build_lsgan(cfg)
    G.eval(), D.eval()
    targets = torch.rand(args.images, 1, 28, 28) * 2 - 1
    flops = flops_per_row(G, torch.zeros(1, cfg.latent_dim))
    print(
        f"lsgan cho width {args.width}: G {flops / 2e6:.1f} MFLOP a forward pass; {args.images} images, "
        f"{args.steps} steps timed, {torch.get_num_threads()} threads, torch {torch.__version__}"
    )
    rate = args.images * 200 * flops / 1e9  # G's GFLOP in one run
    print(
        f"{'regulator':22s}{'runs':>5s}" + "".join(f"{n:>11s}" for n, _, _ in PATHS) + "   ratio to autograd, G GFLOP/s"
    )
    total = dict.fromkeys((n for n, _, _ in PATHS), 0.0)
    for reg in args.regulators.split(","):
        hp = 0.0 if reg == "none" else 0.1
        cells = [Cell(reg, lr, hp) for lr in (0.01, 0.1, 1.0, 10.0)]
        per_run = {}
        for name, precision, fused in PATHS:
            t0 = time.perf_counter()
            recover_cells(G, D, targets, cells, steps=args.steps, precision=precision, fused=fused)
            per_run[name] = (time.perf_counter() - t0) / len(cells) * 200 / args.steps
            total[name] += per_run[name] * len(cells)
        base = per_run["autograd"]
        print(
            f"{reg:22s}{len(cells):5d}"
            + "".join(f"{per_run[n]:9.1f} s" for n, _, _ in PATHS)
            + "   "
            + ", ".join(f"{n} {per_run[n] / base:.2f}x {rate / per_run[n]:.0f}" for n, _, _ in PATHS)
        )
    print(
        "all runs: "
        + ", ".join(f"{n} {total[n] / 60:.1f} min ({total[n] / total['autograd']:.2f}x)" for n, _, _ in PATHS)
    )


if __name__ == "__main__":
    main()
