"""Where bfloat16's time goes: each workload's CPU time split into GEMMs and the rest, in float32
and bfloat16, in one run (run by hand; prints figures).

The bfloat16 goals of issue 24 (the paper grid at 0.55x the float32 time, the cold start in 8 min,
`bench mnist` in 14) assume the time is the GEMMs', which run about 2.4x faster in bfloat16 on
this CPU. This benchmark measures how much of each workload is GEMMs at all. Under torch.profiler
it sums the self CPU time of the matrix products and convolutions (GEMM_OPS) and of everything
else (elementwise ops, casts, Adam, reductions, the regulators' sorts, the dispatcher), per
precision, on a slice of each workload:

  recovery/none         the paper grid's unregulated runs (4 runs x 1,000 images, random-weight LSGAN G)
  recovery/wasserstein  the Wasserstein runs (16 x 1,000): sorts and distances stay float32
  classifier            100 training batches of the scorer (batch 128; channels-last in bf16)
  lsgan                 100 training batches of the LSGAN (batch 64)
  lwgan.mnist (1 thr)   100 adversarial iterations of `lwgan.mnist` with the isometric term, on
                        one thread, as `bench mnist` runs two models side by side

and prints per workload: wall time without the profiler, the GEMMs' and the rest's CPU time, each
one's bf16/fp32 ratio, and "floor": the bf16/fp32 wall ratio if bfloat16 GEMMs took no time at
all (the rest in bf16 over the fp32 total). A floor above a goal says the goal cannot be met by
faster GEMMs. The profiler adds a few microseconds per op, so shares of op-heavy workloads (the
LWGAN's) lean towards the rest; the wall times are measured without it.

    .venv/bin/python benchmarks/precision_breakdown.py --data-dir ../shared/data/mnist   # ~2 min

Measured 2026-12-06 12:44 UTC on 2 cores, nothing else running (load 0.45 at the start), torch 2.13
CPU; seconds: wall (without the profiler) and the GEMMs' and the rest's CPU time, each first in
float32 then in bfloat16; rest%: the rest's share of bfloat16's CPU time:

    workload              wall  bf16 ratio |  GEMM  bf16 ratio |  rest  bf16 ratio | rest% floor
    recovery/none         1.01  0.45  0.44 |  0.76  0.28  0.36 |  0.16  0.15  0.99 |   36%  0.17
    recovery/wasserstein  3.48  2.12  0.61 |  2.69  1.07  0.40 |  0.98  0.89  0.91 |   45%  0.24
    classifier            6.87  3.40  0.49 |  3.72  1.87  0.50 |  3.28  1.48  0.45 |   44%  0.21
    lsgan                 1.33  1.19  0.90 |  0.69  0.49  0.71 |  0.65  0.73  1.12 |   60%  0.54
    lwgan.mnist (1 thr)   4.01  3.33  0.83 |  2.43  1.53  0.63 |  1.37  1.75  1.28 |   53%  0.46

A second run of recovery/none, recovery/wasserstein and lsgan (load 0.91) gave 0.43, 0.54 and
0.75 wall, GEMMs 0.44, 0.38 and 0.65, the rest 0.92, 0.88 and 1.01. A third run of all five, with
the allocator setting the commands use (bench.memory.keep_freed_memory; the runs above went without
it; 12:56 UTC, load 0.95): wall 0.43, 0.56, 0.62, 0.82, 0.79; GEMMs 0.44, 0.44, 0.45, 0.55, 0.63;
the rest 0.90, 1.18, 0.40, 0.87, 1.23; floors 0.17, 0.32, 0.19, 0.43, 0.45. What it says:
- Recovery: bfloat16 GEMMs take 0.36-0.44x their float32 time, as the matmul rates promise; the
  rest (casts, bias, activations, the l1 loss, Adam, the regulators' float32 sorts and distances)
  takes 0.88-0.99x. In bfloat16 the rest is a third (unregulated) to nearly half (Wasserstein) of
  the time, so G cannot reach 70% of the bfloat16 matmul rate (the unregulated runs' G share is
  at most 64-67% even with GEMMs at the full rate), and the regulators' float32 work, which the
  issue keeps in float32, holds the grid at about 0.58x.
- The classifier's convolutions and its elementwise work both halve (channels-last bfloat16).
- LSGAN (batch 64) and the LWGAN family's MNIST nets (batch 128, width 256, one thread): their
  GEMMs are small, so bfloat16 gains only 0.55-0.71x on them, and autocast's casts leave the rest
  at 0.87-1.28x. Even with free GEMMs the LWGAN's bfloat16 time would be 0.45-0.46x float32's and
  the LSGAN's 0.43-0.54x (three runs); measured they train at 0.79-0.83x and 0.75-0.90x. `bench
  mnist`'s 24 models in 14 min (0.55x of 25.5) is out of reach through the number format on this CPU.

Issue 34, 2026-12-07 19:25 UTC (load 0.75 at the start), with the last column "bf16 before,
after/before, its rest%": before is bf16 as it ran before the issue, in the same run (recovery
with two-pass epilogues, training on the per-tensor Adam). oneDNN's fused epilogue counts with its
GEMM (mkldnn::_linear_pointwise):

    workload              wall  bf16 ratio |  GEMM  bf16 ratio |  rest  bf16 ratio | rest% floor | before
    recovery/none         0.73  0.39  0.53 |  0.65  0.27  0.41 |  0.16  0.08  0.50 |   23%  0.10 |  0.43  0.91   31%
    recovery/wasserstein  3.56  1.95  0.55 |  2.24  1.03  0.46 |  0.76  0.75  1.00 |   42%  0.25 |  1.93  1.01   43%
    classifier            4.02  2.77  0.69 |  2.73  1.62  0.59 |  1.83  1.12  0.61 |   41%  0.25 |  2.81  0.99   41%
    lsgan                 1.19  1.05  0.88 |  0.68  0.40  0.60 |  0.60  0.45  0.75 |   53%  0.35 |  1.02  1.02   57%
    lwgan.mnist (1 thr)   4.56  3.22  0.71 |  2.45  1.54  0.63 |  1.39  1.55  1.11 |   50%  0.40 |  3.88  0.83   54%

The unregulated runs' rest falls from 31% to 23% of their bf16 time; the Wasserstein runs' rest is
their float32 regulator, which the epilogue does not touch (43% to 42%). The fused Adam measured
0.85x on the LSGAN slice at 17:05 UTC and 1.02x here: these 100-batch slices move by 15% between
runs, so the cold start's full epochs (cold_start.py: 0.92x, twice) are the better figure.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import time

import torch

GEMM_OPS = {
    "aten::mm",
    "aten::addmm",
    "aten::bmm",
    "aten::baddbmm",
    "aten::mkldnn_convolution",
    "aten::convolution_backward",
    "aten::_mkldnn_convolution",
    "aten::mkldnn_linear",
    # bf16 chains: oneDNN's GEMM with bias and activation applied as it writes (fused.py); the
    # epilogue cannot be timed apart from it, so it counts here and leaves the rest
    "mkldnn::_linear_pointwise",
}
PRECISIONS = ("fp32", "bf16")


def workloads(data_dir: str) -> dict:
    """name -> (threads, fn(precision)); each fn runs one slice of the workload."""
    from cold_start import random_grid  # benchmarks/ is on the path of a script run from it

    from bench.classifier import ClassifierConfig, train_classifier
    from bench.data import load_mnist, to_pixels
    from bench.recovery.engine import recover_cells
    from lwgan.lsgan import LSGANConfig, train_lsgan
    from lwgan.registry import get_generator
    from lwgan.trainer import train_lwgan

    mnist = load_mnist(data_dir)
    x, y = to_pixels(mnist.train_images[:12800]), mnist.train_labels[:12800]
    G, D, targets, runs = random_grid()
    cfg = LSGANConfig()

    def recovery(name):
        mine = [r for r in runs if r.regulator == name]
        return lambda p: recover_cells(G, D, targets, mine, steps=10, precision=p)

    spec = get_generator("lwgan.mnist")
    lw_cfg = dataclasses.replace(
        spec.config,
        iterations=100,
        adversarial_start=0.0,
        iso_start=0.0,
        lambda_iso=1.0,
        critic_warmup=0,
        critic_burst_every=0,
    )
    one_epoch = dataclasses.replace(cfg, epochs=1)
    clf_cfg = dataclasses.replace(ClassifierConfig(), epochs=1)
    threads = torch.get_num_threads()
    return {
        "recovery/none": (threads, recovery("none")),
        "recovery/wasserstein": (threads, recovery("wasserstein")),
        "classifier": (threads, lambda p: train_classifier(x, y, seed=0, device="cpu", cfg=clf_cfg, precision=p)),
        "lsgan": (threads, lambda p: train_lsgan(one_epoch, x[:6400], seed=0, device="cpu", precision=p)),
        "lwgan.mnist (1 thr)": (1, lambda p: train_lwgan(spec.build(seed=0), x, lw_cfg, seed=0, precision=p)),
    }


@contextlib.contextmanager
def per_tensor_adam():
    """bf16 training as it was before the fused optimiser (lwgan.numerics.adam): torch's default
    Adam kernel in every precision, for the before/after column of the same run."""
    from lwgan import numerics

    fused = numerics.adam

    def plain(params, precision, *, decoupled=False, **kw):
        return fused(params, "fp32", decoupled=decoupled, **kw)

    numerics.adam = plain
    try:
        yield
    finally:
        numerics.adam = fused


@contextlib.contextmanager
def two_pass_epilogue():
    """bf16 recovery as it was before oneDNN's fused epilogues: addmm, then the activation in a
    second pass (bench.recovery.fused.ONEDNN_EPILOGUE off), for the before/after column."""
    from bench.recovery import fused

    was, fused.ONEDNN_EPILOGUE = fused.ONEDNN_EPILOGUE, False
    try:
        yield
    finally:
        fused.ONEDNN_EPILOGUE = was


def split(fn, precision: str, ops: int = 0) -> tuple[float, float]:
    """(GEMM, rest) self CPU seconds of one run of fn under the profiler; with ops, print the top
    ops by self CPU time and their shares."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fn(precision)
    if ops:
        events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
        total = sum(e.self_cpu_time_total for e in events)
        for e in events[:ops]:
            print(f"    [{precision}] {e.key:40s} {e.self_cpu_time_total / total:6.1%}")
    gemm = rest = 0.0
    for e in prof.key_averages():  # self times partition the profiled CPU time
        if e.key in GEMM_OPS:
            gemm += e.self_cpu_time_total / 1e6
        else:
            rest += e.self_cpu_time_total / 1e6
    return gemm, rest


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="../shared/data/mnist")
    p.add_argument("--only", default=None, help="comma-separated workload names")
    p.add_argument("--ops", type=int, default=0, help="also print each workload's top N ops in bf16 (self CPU)")
    args = p.parse_args()
    from bench.memory import keep_freed_memory

    keep_freed_memory()  # as bench's commands do: no page faults on the tensors each step reallocates
    work = workloads(args.data_dir)
    names = args.only.split(",") if args.only else list(work)
    default_threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {default_threads} threads")
    print(
        f"{'workload':20s} {'wall':>5s} {'bf16':>5s} {'ratio':>5s} | {'GEMM':>5s} {'bf16':>5s} {'ratio':>5s} | "
        f"{'rest':>5s} {'bf16':>5s} {'ratio':>5s} | {'rest%':>5s} {'floor':>5s} | bf16 before, after/before, its rest%"
    )
    for name in names:
        threads, fn = work[name]
        torch.set_num_threads(threads)
        for prec in PRECISIONS:  # warm-up: first-call allocations and oneDNN primitive caches
            fn(prec)
        wall = {}
        for prec in PRECISIONS:
            t0 = time.perf_counter()
            fn(prec)
            wall[prec] = time.perf_counter() - t0
        # bf16 as it was before this change, same run: recovery with two-pass epilogues,
        # training with the per-tensor Adam; its rest% beside the rest% after
        was = two_pass_epilogue if name.startswith("recovery") else per_tensor_adam
        with was():
            t0 = time.perf_counter()
            fn("bf16")
            old = time.perf_counter() - t0
            go, ro = split(fn, "bf16")
        before = f" | {old:5.2f} {wall['bf16'] / old:5.2f} {ro / (go + ro):5.0%}"
        parts = {prec: split(fn, prec, args.ops if prec == "bf16" else 0) for prec in PRECISIONS}
        (gf, rf), (gb, rb) = parts["fp32"], parts["bf16"]
        share = rb / (gb + rb)
        floor = rb / (gf + rf)
        print(
            f"{name:20s} {wall['fp32']:5.2f} {wall['bf16']:5.2f} {wall['bf16'] / wall['fp32']:5.2f} | "
            f"{gf:5.2f} {gb:5.2f} {gb / gf:5.2f} | {rf:5.2f} {rb:5.2f} {rb / rf:5.2f} | {share:5.0%} {floor:5.2f}"
            + before,
            flush=True,
        )
        torch.set_num_threads(default_threads)


if __name__ == "__main__":
    main()
