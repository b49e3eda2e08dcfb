"""What Ray costs a sweep on one machine: the recovery grid through the local executor and through
a local 2-CPU Ray cluster, in one run, on the same cached models (run by hand; prints figures).

Both runs go through the pipeline as `bench recover` does (no MLflow, fresh output folders, so
nothing is resumed); the Ray run includes starting and stopping its cluster, which a user pays
too, and that share is printed apart. The overhead is the ratio of wall times (goal: at most
1.10 on the paper grid). The two CSVs are compared as well: the results must be identical but for
the timings.

    .venv/bin/python benchmarks/executor_overhead.py --data-dir ../shared/data/mnist            # paper grid, ~17 min
    .venv/bin/python benchmarks/executor_overhead.py --grid quick --images 200 --data-dir ...   # ~1 min check

The models (classifier, LSGAN seed 0) are trained first if the cache lacks them; that time is
not counted.

Measured 2026-12-01 on 2 idle CPU cores (load 0.1 before), paper grid, 124 cells x 1000 images:
local executor 610.1 s, Ray 656.1 s + cluster start 3.0 s and stop 1.4 s: 1.075x without the
start and stop, 1.083x with them (goal 1.10); identical results. (Quick grid at 200 images: 30.0
against 33.0 s, 1.10x, 1.23x with the start and stop, which weigh more on a short sweep.)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def run(settings, out: Path, data_dir: str, executor: str = "local", executor_settings=None) -> float:
    from bench.pipeline import RunOptions, run_experiment

    t0 = time.perf_counter()
    options = RunOptions(
        out=out, track=False, data_dir=data_dir, executor=executor, executor_settings=executor_settings
    )
    run_experiment("recover", settings, options)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default=os.environ.get("BENCH_DATA_DIR"))
    ap.add_argument("--grid", default="paper")
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument(
        "--cpus-per-task",
        type=float,
        default=2.0,
        help="2 (default): one task at a time on both cores, as the local executor runs",
    )
    args = ap.parse_args()

    import pandas as pd
    import ray

    from bench.pipeline import get
    from bench.pipeline.on_ray import RaySettings

    settings = get("recover").settings(grid=args.grid, images=args.images)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run(
            dataclass_replace(settings, images=min(8, args.images), steps=1),
            tmp / "warm",
            args.data_dir,
        )  # trains or loads the models; not timed
        local = run(settings, tmp / "local", args.data_dir)
        t0 = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        start = time.perf_counter() - t0
        try:
            remote = run(settings, tmp / "ray", args.data_dir, "ray", RaySettings(cpus_per_task=args.cpus_per_task))
        finally:
            t0 = time.perf_counter()
            ray.shutdown()
            stop = time.perf_counter() - t0
        name = f"recover-{args.grid}.csv"
        a, b = pd.read_csv(tmp / "local" / name), pd.read_csv(tmp / "ray" / name)
        cols = [c for c in a.columns if c != "wall_s"]
        same = a[cols].equals(b[cols])
    cells = len(a)
    total = remote + start + stop
    print(f"grid {args.grid}: {cells} cells x {args.images} images; load {os.getloadavg()[0]:.2f} after the runs")
    print(f"  local executor:               {local:8.1f} s")
    print(f"  Ray (2-CPU local cluster):    {remote:8.1f} s  + cluster start {start:.1f} s, stop {stop:.1f} s")
    print(f"  overhead: {remote / local:.3f}x without the cluster's start and stop, {total / local:.3f}x with them")
    print(f"  same results (every column but wall_s): {same}")


def dataclass_replace(obj, **changes):
    import dataclasses

    return dataclasses.replace(obj, **changes)


if __name__ == "__main__":
    main()
