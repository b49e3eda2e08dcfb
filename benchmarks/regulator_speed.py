"""Per-call cost of the latent regulators at the recovery engine's shape (run by hand; prints figures).

Part 1, the sorts behind the 1-D distances, on [rows, n] float32 along the last dim: torch.sort,
torch.topk, numpy's np.sort (values only) and np.argsort, the packed-key stable argsort of
regulators/fastsort.py (on one thread and on row blocks over threads), and sort_last.

Part 2, every regulator on z [cells, images, d] with a prior sample u [cells, images, m], as the
engine calls it once per Adam step: forward, and forward + backward (torch.autograd.grad of the
summed penalty, as the engine does) for the loss regulators; resample() for the resampling ones.
For wasserstein, energy and lukaszyk_karmowski "before" is the torch route (torch.sort of
cat(z, u) and torch ops, the implementation this replaced; still the CUDA route) and "after" the
registry's default (the numpy route on the CPU), with the speed-up; the others have one route.

Figures are medians over --repeat calls, after one warm-up call, of wall-clock time and of this
process's CPU time (all threads). On a shared machine wall time includes waiting for a core, and
torch's OpenMP threads then stall each other: compare the CPU figures, or rerun with --threads 1.

    .venv/bin/python benchmarks/regulator_speed.py                  # ~1-2 minutes on 2 cores
    .venv/bin/python benchmarks/regulator_speed.py --repeat 3 --images 200
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

import regulators
from regulators import distances
from regulators.fastsort import _packed_argsort, argsort_rows, sort_last

ROUTED = {
    "wasserstein": distances.wasserstein_1d,
    "energy": distances.energy_1d,
    "lukaszyk_karmowski": distances.mean_abs_pair_difference,
}
HP = {"logistic_cutoff": 1.0, "truncated_normal_cutoff": 2.0}


def timed(fn, repeat: int) -> tuple[float, float]:
    """Median wall-clock and median CPU seconds (this process, all threads) of fn() over
    `repeat` calls, after one warm-up call. On a shared machine wall time includes waiting for a
    core; CPU time does not (but adds up the threads)."""
    fn()
    wall, cpu = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


def fmt(t: tuple[float, float]) -> str:
    return f"{t[0]:.4f} / {t[1]:.4f}"


def ratio(before: tuple[float, float], after: tuple[float, float]) -> str:
    return f"{before[0] / after[0]:.1f}x / {before[1] / max(after[1], 1e-9):.1f}x"


def sort_row(x: torch.Tensor, repeat: int, threads: int) -> list[tuple[float, float]]:
    a = x.numpy()
    n = x.shape[-1]

    def packed_threads():
        blocks = np.array_split(a, threads)
        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(_packed_argsort, blocks))

    assert np.array_equal(argsort_rows(a), np.argsort(a, axis=-1, kind="stable"))
    return [
        timed(lambda: torch.sort(x, dim=-1), repeat),
        timed(lambda: torch.topk(x, n, dim=-1, largest=False), repeat),
        timed(lambda: np.sort(a, axis=-1), repeat),
        timed(lambda: np.argsort(a, axis=-1), repeat),
        timed(lambda: _packed_argsort(a), repeat),
        timed(packed_threads, repeat),
        timed(lambda: sort_last(x), repeat),
    ]


def sort_table(rows: int, widths: list[int], repeat: int, threads: int) -> None:
    print(f"\n## Sorting [{rows}, n] float32 along the last dim (median s per call: wall / CPU)\n")
    print(
        f"| n | torch.sort | torch.topk | np.sort (values) | np.argsort | packed, 1 thread | "
        f"packed, {threads} threads | sort_last |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    g = torch.Generator().manual_seed(0)
    for n in widths:
        cells = sort_row(torch.randn(rows, n, generator=g), repeat, threads)
        print(f"| {n} | " + " | ".join(fmt(t) for t in cells) + " |", flush=True)


def forward_backward(penalty, z: torch.Tensor):
    """The engine's use: the gradient of the summed penalty with respect to z."""
    zz = z.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(penalty(zz).sum(), zz)
    return grad


def regulator_row(name: str, z: torch.Tensor, u: torch.Tensor, repeat: int) -> str | None:
    """One table row for regulator `name`, or None for one this table does not time."""
    reg = regulators.get(name)
    if reg.kind == "resample":
        hp = torch.full((z.shape[0], 1), HP.get(name, 1.0))
        gen = torch.Generator().manual_seed(2)
        t = timed(lambda: reg.resample(z, hp, generator=gen), repeat)
        return f"| {name} (resample) | | {fmt(t)} | | | | |"
    if reg.context and "prior_sample" not in reg.context:
        return None  # trick_discriminator needs G and D: its cost is theirs (recovery_throughput)

    def after(x):
        return reg.penalty(x, prior_sample=u)

    fwd_after = timed(lambda: after(z), repeat)
    fb_after = timed(lambda: forward_backward(after, z), repeat)
    if name not in ROUTED:
        return f"| {name} | | {fmt(fwd_after)} | | | {fmt(fb_after)} | |"

    def before(x):
        return ROUTED[name](x, u, route="torch")

    torch.testing.assert_close(after(z), before(z), rtol=0, atol=1e-5)  # the same figures
    fwd_before = timed(lambda: before(z), repeat)
    fb_before = timed(lambda: forward_backward(before, z), repeat)
    return (
        f"| {name} | {fmt(fwd_before)} | {fmt(fwd_after)} | {ratio(fwd_before, fwd_after)} | "
        f"{fmt(fb_before)} | {fmt(fb_after)} | {ratio(fb_before, fb_after)} |"
    )


def regulator_table(cells: int, images: int, d: int, m: int, repeat: int) -> None:
    g = torch.Generator().manual_seed(1)
    z = torch.randn(cells, images, d, generator=g)
    u = torch.randn(cells, images, m, generator=g)
    print(f"\n## Regulators on z [{cells}, {images}, {d}], prior sample m = {m} (median s per call: wall / CPU)\n")
    print("| regulator | fwd before | fwd after | fwd speed-up | fwd+bwd before | fwd+bwd after | fwd+bwd speed-up |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in regulators.names():
        row = regulator_row(name, z, u, repeat)
        if row:
            print(row, flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, default=20)
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--d", type=int, default=256, help="latent size d_z")
    p.add_argument("--m", type=int, default=256, help="prior sample size per row")
    p.add_argument(
        "--extra-m",
        type=int,
        nargs="*",
        default=[1000],
        help="further prior sample sizes to time (the author's code used 1000)",
    )
    p.add_argument("--sort-rows", type=int, default=20000)
    p.add_argument("--sort-widths", type=int, nargs="*", default=[256, 512])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--threads", type=int, default=None, help="torch (and sort) threads")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    print(
        f"# regulator speed: torch {torch.__version__}, numpy {np.__version__}, "
        f"{platform.processor() or platform.machine()}, {threads} threads, repeat {args.repeat}"
    )
    sort_table(args.sort_rows, args.sort_widths, args.repeat, threads)
    for m in [args.m, *args.extra_m]:
        regulator_table(args.cells, args.images, args.d, m, args.repeat)


if __name__ == "__main__":
    main()
