"""Two saved recover results, cell by cell: how far did a re-run move? (run by hand; prints).

For an engine change that keeps the method but changes its random streams (or its float
rounding), the cells should move within noise and the conclusions should hold. Per cell (same
generator, generator seed, regulator, learning rate, hyperparameter, recovery seed) it prints the
accuracy difference new - old, whether the new value lies outside the old cell's 95% interval,
and an exact McNemar test on the same images (the per-image correctness bits both results
carry); then the distribution of differences, the claim verdicts and the Spearman correlation
with the paper of both results.

    .venv/bin/python benchmarks/report_drift.py OLD.json NEW.json [--list] [--ignore-seed]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

import bench.experiments.recover  # noqa: F401 (registers the experiment)
from bench.pipeline import results as saved
from bench.recovery.metrics import unpack_correct
from bench.recovery.tables import generator_summary, spearman
from bench.stats import mcnemar


def _cells(path: str, ignore_seed: bool) -> dict[str, dict]:
    with open(path) as f:
        data = json.load(f)
    key = (lambda k: k.rsplit("|seed=", 1)[0]) if ignore_seed else (lambda k: k)
    return {key(c["key"]): c["record"] for c in data["cells"] if c["status"] == "finished"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--list", action="store_true", help="print every cell, not only the moved ones")
    p.add_argument(
        "--ignore-seed",
        action="store_true",
        help="match cells whatever their recovery seed (to compare two seeds of one engine)",
    )
    args = p.parse_args()
    old, new = _cells(args.old, args.ignore_seed), _cells(args.new, args.ignore_seed)
    keys = [k for k in old if k in new]
    print(f"{len(keys)} cells in both ({len(old)} old, {len(new)} new)")
    rows = []
    for k in keys:
        a, b = old[k], new[k]
        d = b["accuracy"] - a["accuracy"]
        outside = not (a["accuracy_lo"] <= b["accuracy"] <= a["accuracy_hi"])
        m = mcnemar(unpack_correct(b["correct"], b["n_images"]), unpack_correct(a["correct"], a["n_images"]))
        rows.append((k, a["accuracy"], b["accuracy"], d, outside, m["pvalue"], m["a_only"] + m["b_only"]))
    diffs = np.array([r[3] for r in rows])
    print(f"{'cell':52s} {'old':>6s} {'new':>6s} {'new-old':>8s} {'outside':>8s} {'McNemar p':>10s} {'flips':>6s}")
    for k, a, b, d, outside, pv, flips in rows:
        if args.list or outside or pv < 0.05:
            print(f"{k:52s} {a:6.1f} {b:6.1f} {d:+8.1f} {'yes' if outside else '':>8s} {pv:10.3g} {flips:6d}")
    n_out = sum(r[4] for r in rows)
    n_sig = sum(r[5] < 0.05 for r in rows)
    q = np.percentile(np.abs(diffs), [50, 90, 100])
    print(
        f"differences new - old: mean {diffs.mean():+.2f}, sd {diffs.std(ddof=1):.2f} points; |d| median "
        f"{q[0]:.1f}, 90th percentile {q[1]:.1f}, max {q[2]:.1f}"
    )
    print(
        f"outside the old cell's 95% interval: {n_out} of {len(rows)} ({n_out / len(rows):.1%}; about 5% "
        f"expected of two independent runs, fewer when their images are the same); McNemar p < 0.05: {n_sig}"
    )
    for what, pick in (
        ("learning rate", lambda k: k.split("|lr=")[1].split("|")[0]),
        ("regulator", lambda k: k.split("|")[2]),
    ):
        groups: dict[str, list] = {}
        for r in rows:
            groups.setdefault(pick(r[0]), []).append(r)
        print(f"by {what}: " + "; ".join(
            f"{g} |d| {np.mean([abs(r[3]) for r in rs]):.1f}, {sum(r[4] for r in rs)}/{len(rs)} outside"
            for g, rs in groups.items()))  # fmt: skip
    for path in (args.old, args.new):
        res = saved.load(path)
        print(f"\n{path}:")
        for v in res.verdict_objs():
            print(f"  {v.label:15s} {v.claim}")
        for g in dict.fromkeys(c["cell"]["generator"] for c in res.cells):
            rho, pv, n = spearman(generator_summary(res, g))
            print(f"  {g}: Spearman rho {rho:.2f} (p {pv:.2g}) against the paper over {n} cells")


if __name__ == "__main__":
    main()
