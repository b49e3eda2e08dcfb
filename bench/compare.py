"""Saved results compared cell by cell (`bench compare A.json B.json ...`), or a recovery result
against the paper's grid (`--paper`). Pure functions of the saved results: a markdown report and
a figure.

Cells of two results match on their cell (without the generator, so two generators can be set
against each other on the same grid). Recovery cells that recovered the same target images carry
per-image correctness: their difference is paired over those images (a paired bootstrap interval
and an exact McNemar test, bench.stats). Otherwise, and for the other experiments' numbers, the
difference is unpaired: each side's own interval, combined as independent, and the report says so.

`over_seeds` matches cells without their seeds (the recovery seed and the generator's) and sets
each result's seeds against the other's:
per number of the records, the difference of the means over seeds with Welch's t interval (the
models of two results are different models, so nothing is paired). This answers "within the seed
spread?": two runs that differ only in a setting that should not matter (a number format, say)
leave an interval that covers 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.errors import BenchError
from bench.pipeline import load
from bench.pipeline.registry import ensure_registered
from bench.recovery.codec import unpack_correct
from bench.stats import mcnemar, paired_bootstrap_ci, t_interval, unpaired_bootstrap_ci, welch_interval

N_BOOT = 2000
PAPER_NOTE = (
    "The paper's cell against the measured one: the interval is the measured cell's (Student-t over its runs, or "
    "its bootstrap over images with one run), so 'outside' means the paper's number lies outside what this run "
    "measured."
)


@dataclass(frozen=True)
class CellDiff:
    cell: str  # the matched cell, as text
    label: str  # which pair of results (and generators)
    metric: str
    a: float
    b: float
    diff: float  # b - a
    lo: float
    hi: float
    paired: bool
    pvalue: float | None = None  # McNemar, where paired
    group: str = ""  # what the figure colours by: the cell's regulator (or objective, dataset)

    @property
    def outside(self) -> bool:
        """The interval of the difference excludes 0."""
        return math.isfinite(self.lo) and (self.lo > 0 or self.hi < 0)


def _key(cell: dict, ignore: tuple[str, ...]) -> tuple:
    return tuple((k, v) for k, v in cell.items() if k not in ignore)


def _text(key: tuple) -> str:
    return "|".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in key)


def _finished(results) -> list[dict]:
    return [c for c in results.cells if c["status"] == "finished" and c["record"]]


def _recovery_diff(ra: dict, rb: dict, same_images: bool, seed: int) -> tuple[float, float, float, bool, float | None]:

    a = unpack_correct(ra["correct"], ra["n_images"]).astype(float) * 100
    b = unpack_correct(rb["correct"], rb["n_images"]).astype(float) * 100
    if same_images and a.shape == b.shape:
        ci = paired_bootstrap_ci(b, a, n_boot=N_BOOT, seed=seed)
        return ci.value, ci.lo, ci.hi, True, mcnemar(b > 0, a > 0)["pvalue"]
    ci = unpaired_bootstrap_ci(b, a, n_boot=N_BOOT, seed=seed)
    return ci.value, ci.lo, ci.hi, False, None


def _interval_diff(ra: dict, rb: dict, metric: str) -> tuple[float, float, float]:
    """b - a with the two records' own 95% intervals combined as independent (normal widths)."""
    d = rb[metric] - ra[metric]
    half = [(r[f"{metric}_hi"] - r[f"{metric}_lo"]) / 2 for r in (ra, rb) if f"{metric}_lo" in r]
    if len(half) < 2 or not all(math.isfinite(h) for h in half):
        return d, math.nan, math.nan
    w = math.sqrt(half[0] ** 2 + half[1] ** 2)
    return d, d - w, d + w


def _metrics(record: dict) -> list[str]:
    """The record's numbers that carry their own interval (x with x_lo and x_hi)."""
    return [k for k, v in record.items() if isinstance(v, (int, float)) and f"{k}_lo" in record and f"{k}_hi" in record]


# Record numbers that are not outcomes: bookkeeping, settings, and times (a number format or a
# machine changes those by design; they are shown by the reports themselves).
NOT_OUTCOMES = ("seed", "n_images", "n_nonfinite")
SEED_KEYS = ("seed", "generator_seed")  # what --over-seeds pools


def _outcomes(record: dict) -> dict[str, float]:
    """The record's top-level outcome numbers (what the tracker logs as metrics) less intervals'
    bounds, bookkeeping and times."""
    return {
        k: float(v)
        for k, v in record.items()
        if isinstance(v, (int, float))
        and not isinstance(v, bool)
        and not k.endswith(("_lo", "_hi", "_s"))
        and k not in NOT_OUTCOMES
    }


def _over_seeds(base, other, label: str) -> list[CellDiff]:
    """Each cell's numbers, mean over the seeds of `other` against the mean over `base`'s (Welch);
    numbers equal in every seed of both (settings) are left out."""

    def groups(results) -> dict[tuple, list[dict]]:
        out: dict[tuple, list[dict]] = {}
        for c in _finished(results):
            out.setdefault(_key(c["cell"], ("generator", *SEED_KEYS)), []).append(_outcomes(c["record"]))
        return out

    mine, rows = groups(other), []
    for key, recs_a in groups(base).items():
        recs_b = mine.get(key, [])
        for m in recs_a[0] if recs_b else ():
            a = [r[m] for r in recs_a if m in r and math.isfinite(r[m])]
            b = [r[m] for r in recs_b if m in r and math.isfinite(r[m])]
            if not a or not b or len(set(a + b)) == 1:
                continue
            ci = welch_interval(a, b)
            rows.append(
                CellDiff(
                    _text(key),
                    label,
                    m,
                    float(np.mean(a)),
                    float(np.mean(b)),
                    ci.value,
                    ci.lo,
                    ci.hi,
                    False,
                    group=_group(dict(key)),
                )
            )
    return rows


def _seeds(results) -> str:
    """The seeds a result's cells vary over, as text: "seed 0, 1, 2" or "generator_seed 0, 1, 2"."""
    parts = []
    for k in SEED_KEYS:
        values = sorted({c["cell"][k] for c in _finished(results) if k in c["cell"]})
        if values:
            parts.append(f"{k} {', '.join(map(str, values))}")
    return "; ".join(parts) or "none"


def short_names(paths: list[str | Path]) -> list[str]:
    """Names that tell the files apart: the shortest tail of each path, without `.json`, that
    differs (`recover-paper` and `recover-paper-bf16/recover-paper`, not two absolute paths)."""
    parts = [(*Path(p).resolve().parts[:-1], Path(p).stem) for p in paths]
    for k in range(1, max(len(p) for p in parts) + 1):
        tails = ["/".join(p[-k:]) for p in parts]
        if len(set(tails)) == len(tails):
            return tails
    return [Path(p).as_posix() for p in paths]


GROUP_KEYS = ("regulator", "objective", "model", "config", "dataset")  # what a point's colour says


def _group(cell: dict) -> str:
    return next((str(cell[k]) for k in GROUP_KEYS if k in cell), "")


def compare(paths: list[str | Path], *, ignore_seed: bool = False, over_seeds: bool = False) -> dict:
    """Every cell of each later result against the first's: {"rows": [CellDiff], "notes": [...],
    "names": [...]}; `over_seeds`: seeds pooled per cell (Welch). A BenchError (one line) for
    results of different experiments."""

    if len(paths) < 2:
        raise BenchError("bench compare: give at least two results files (or one with --paper)")
    resolved = [Path(p).resolve() for p in paths]
    if len(set(resolved)) < len(resolved):
        raise BenchError("bench compare: a results file is given twice; compare two different runs")
    loaded = [load(p) for p in paths]
    for p, r in zip(paths, loaded):
        ensure_registered(r.experiment, r.facts.get("plugins", []), str(p))
    kinds = {r.experiment for r in loaded}
    if len(kinds) > 1:
        raise BenchError(f"bench compare: the results come from different experiments ({', '.join(sorted(kinds))})")
    base, rows, notes = loaded[0], [], []
    ignore = ("generator", "seed") if ignore_seed else ("generator",)
    names = short_names(paths)
    if over_seeds:
        notes.append(
            "seeds pooled per cell: the difference of the means over seeds, Welch's t interval (95%); "
            "two results' models are different models, so nothing is paired"
        )
        for name, r in zip(names, loaded):
            if not any(len({c["cell"].get(k) for c in _finished(r)} - {None}) > 1 for k in SEED_KEYS):
                raise BenchError(
                    f"--over-seeds: {name} has one seed per cell ({_seeds(r)}); Welch's interval needs at least "
                    "two on each side (compare cell by cell without --over-seeds)"
                )
        for name, other in zip(names[1:], loaded[1:]):
            rows += _over_seeds(base, other, name)
            seeds = [_seeds(r) for r in (base, other)]
            notes.append(f"`{name}`: {seeds[1]} against `{names[0]}`'s {seeds[0]}")
        return {"rows": rows, "notes": notes, "names": names, "paths": paths, "experiment": base.experiment}
    for name, other in zip(names[1:], loaded[1:]):
        same_images = base.context.get("image_ids") is not None and base.context.get("image_ids") == other.context.get(
            "image_ids"
        )
        if base.experiment in ("recover", "dependence"):
            how = (
                "the same target images: differences paired over them (bootstrap, McNemar)"
                if same_images
                else "different target images: differences unpaired (independent bootstrap)"
            )
            notes.append(f"`{names[0]}` against `{name}`: {how}")
        index: dict[tuple, list[dict]] = {}
        for c in _finished(base):
            index.setdefault(_key(c["cell"], ignore), []).append(c)
        if not any(_key(c["cell"], ignore) in index for c in _finished(other)):
            hint = "" if ignore_seed else "; recovered at another seed? --ignore-seed matches cells whatever their seed"
            notes.append(f"warning: `{name}` matches no cell of `{names[0]}`{hint}")
        for c in _finished(other):
            for b0 in index.get(_key(c["cell"], ignore), []):
                label = name
                ga, gb = b0["cell"].get("generator"), c["cell"].get("generator")
                if ga is not None and (ga != gb or len({x["cell"].get("generator") for x in _finished(base)}) > 1):
                    label = f"{name}: {gb} - {ga}"
                key = _text(_key(c["cell"], ignore))
                if all(isinstance(r.get("correct"), str) and "n_images" in r for r in (b0["record"], c["record"])):
                    d, lo, hi, paired, pv = _recovery_diff(b0["record"], c["record"], same_images, len(rows))
                    ra, rb = b0["record"]["accuracy"], c["record"]["accuracy"]
                    rows.append(CellDiff(key, label, "accuracy", ra, rb, d, lo, hi, paired, pv, _group(c["cell"])))
                    continue
                for m in _metrics(b0["record"]):
                    if m in c["record"]:
                        d, lo, hi = _interval_diff(b0["record"], c["record"], m)
                        a, b = b0["record"][m], c["record"][m]
                        rows.append(CellDiff(key, label, m, a, b, d, lo, hi, False, group=_group(c["cell"])))
    notes += verdict_notes(names, loaded)
    return {"rows": rows, "notes": notes, "names": names, "paths": paths, "experiment": base.experiment}


def verdict_notes(names: list[str], loaded: list) -> list[str]:
    """Whether any claim's verdict differs between the results (labels, by claim and subject)."""
    verdicts = [{v.claim: v.label for v in r.verdict_objs()} for r in loaded]
    if not verdicts[0]:
        return []
    out = []
    for name, mine in zip(names[1:], verdicts[1:]):
        changed = [
            f"{c}: {verdicts[0][c]} -> {mine[c]}" for c in verdicts[0] if c in mine and mine[c] != verdicts[0][c]
        ]
        shared = sum(c in mine for c in verdicts[0])
        out.append(
            f"verdicts of `{name}`: "
            + (f"{len(changed)} of {shared} differ ({'; '.join(changed)})" if changed else f"all {shared} the same")
        )
    return out


def chance_range(n: int, level: float = 0.95) -> tuple[int, int]:
    """How many of n 95% intervals miss their truth by chance alone: the central 95% of Binomial(n, 0.05)."""
    from scipy.stats import binom

    lo, hi = binom.interval(level, n, 1 - 0.95)
    return int(lo), int(hi)


def counts(rows: list[CellDiff]) -> str:
    """One line: cells (not cells x numbers), numbers outside their interval, and chance's share."""
    cells = len({(r.label, r.cell) for r in rows})
    outside = sum(r.outside for r in rows)
    lo, hi = chance_range(len(rows)) if rows else (0, 0)
    numbers = f" ({len(rows)} numbers)" if len(rows) != cells else ""
    return (
        f"{cells} cells compared{numbers}, {outside} outside their 95% interval, where chance alone puts "
        f"{lo}-{hi} (if nothing changed)"
    )


def against_paper(path: str | Path) -> dict:
    """A recovery result's cells (mean over runs, with the spread of the runs) against the paper's."""
    from bench.recovery.reporting.tables import cell_frame, spearman, summary_frame

    results = load(path)
    if results.experiment not in ("recover", "dependence"):
        raise BenchError(f"--paper: {path} is a {results.experiment} result; the paper's grid is the recovery study's")
    frame = cell_frame(results)
    frame = frame[frame["paper_accuracy"].notna() & frame["status"].eq("finished")]
    rows, notes = [], [PAPER_NOTE]
    for g, f in frame.groupby("generator", sort=False):
        summary = summary_frame(f)
        for _, r in summary.iterrows():
            runs = f[
                (f["table"] == r["table"])
                & (f["learning_rate"] == r["learning_rate"])
                & (f["hyperparameter"] == r["hyperparameter"])
            ]["accuracy"]
            if len(runs) > 1:
                ci = t_interval(runs.to_numpy())
                lo, hi = ci.lo, ci.hi
            else:
                lo, hi = float(r["accuracy_lo"]), float(r["accuracy_hi"])
            cell = f"{r['table']}|{r['regulator']}|lr={r['learning_rate']:g}|hp={r['hyperparameter']:g}"
            paper = float(r["paper_accuracy"])
            rows.append(
                CellDiff(
                    cell,
                    f"paper - {g}",
                    "accuracy",
                    float(r["accuracy"]),
                    paper,
                    paper - float(r["accuracy"]),
                    paper - hi,
                    paper - lo,
                    False,
                    group=str(r["regulator"]),
                )
            )
        rho, _, n = spearman(summary)
        notes.append(
            f"`{g}`: Spearman rho {rho:.2f} with the paper over {n} cells"
            if math.isfinite(rho)
            else f"`{g}`: Spearman rho n/a"
        )
    return {
        "rows": rows,
        "notes": notes,
        "names": [short_names([path])[0], "the paper"],
        "paths": [path],
        "experiment": results.experiment,
    }
