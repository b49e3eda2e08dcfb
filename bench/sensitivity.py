"""How stable each verdict is: re-judged on other splits of the images and with each band's
numbers moved, from the saved results alone.

- Splits: an experiment whose verdicts choose on one half of the images and judge on the other
  (recovery's cross-fitted best cells, `split_seed`) is re-judged on SPLITS other seeded splits.
  The run's own split was fixed before any cell ran; these are the splits it could have drawn.
  A verdict that keeps its label in fewer than 80% of them is fragile (bench.verdict.FRAGILE):
  which half of the images chose the cells decided it, not the data.
- Thresholds: every number of a claim's band (`Claim.constants`) at 0.5x and 1.5x (a ratio's
  distance from 1 on the log scale), each on its own, re-deciding the same evidence.

`measure` fills each verdict's `stability` (saved with the results, printed by every report);
`bench claims --results DIR --sensitivity` prints the same shares for every saved result.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict

from bench.claims import get
from bench.report import markdown_table
from bench.verdict import Verdict

SPLITS = 20
SCALES = (0.5, 1.5)


def split_seeds(run_seed: int, n: int = SPLITS) -> list[int]:
    """n split seeds other than the run's own, the same for every report."""
    return [run_seed + 1 + k for k in range(n)]


def _key(v: Verdict) -> tuple[str, str]:
    return v.key, v.claim


def _threshold_labels(v: Verdict) -> list[tuple[str, str]]:
    """(which number moved, label) for each of the claim's band numbers at each scale."""

    if v.evidence is None or not v.key or v.label not in ("reproduced", "not reproduced", "inconclusive"):
        return []
    claim = get(v.key)
    return [
        (f"{name} x{f:g}", claim.outcome(v.evidence, claim.scaled(name, f)).label)
        for name in claim.constants
        for f in SCALES
    ]


def measure(exp, results, verdicts: list[Verdict], splits: int = SPLITS) -> list[Verdict]:
    """`verdicts` (of `results`, by `exp.verdicts`) with their stability filled in: the share of
    re-drawn splits and of moved thresholds that give the same label, and what flips."""
    by_split: dict[tuple, list[str]] = defaultdict(list)
    if "split_seed" in results.settings and verdicts:
        for seed in split_seeds(int(results.settings["split_seed"]), splits):
            other = dataclasses.replace(results, settings={**results.settings, "split_seed": seed})
            for v in exp.verdicts(other):
                by_split[_key(v)].append(v.label)
    out = []
    for v in verdicts:
        if v.label not in ("reproduced", "not reproduced", "inconclusive"):
            out.append(v)
            continue
        stab: dict = {}
        labels = by_split.get(_key(v))
        if labels:
            stab.update(
                splits=sum(x == v.label for x in labels) / len(labels),
                n_splits=len(labels),
                split_labels=dict(sorted(_counts(labels).items())),
            )
        moved = _threshold_labels(v)
        if moved:
            stab.update(
                thresholds=sum(lab == v.label for _, lab in moved) / len(moved),
                n_thresholds=len(moved),
                flips=[f"{what}: {lab}" for what, lab in moved if lab != v.label],
            )
        out.append(dataclasses.replace(v, stability=stab))
    return out


def _counts(labels: list[str]) -> dict[str, int]:
    c: dict[str, int] = {}
    for x in labels:
        c[x] = c.get(x, 0) + 1
    return c


def rows(verdicts: list[Verdict]) -> list[dict]:
    """The report's "how stable is each verdict" table (a pure function of the saved verdicts)."""
    out = []
    for v in verdicts:
        s = v.stability
        if not s:
            continue
        split = (
            f"{s['splits']:.0%} of {s['n_splits']}" + (" (fragile)" if v.fragile else "")
            if "splits" in s
            else "no split: nothing chosen on the data judged"
        )
        thr = f"{s['thresholds']:.0%} of {s['n_thresholds']}" if "thresholds" in s else "n/a"
        flips = "; ".join(s.get("flips", [])) or "none"
        out.append(
            {
                "claim": v.claim,
                "verdict": v.label,
                "same label over splits": split,
                "over band numbers x0.5, x1.5": thr,
                "moved numbers that flip it": flips,
            }
        )
    return out


def markdown(verdicts: list[Verdict]) -> list[str]:
    """The section every report with verdicts carries (lines; none when no verdict has shares)."""

    table = rows(verdicts)
    if not table:
        return []
    return [
        "## How stable is each verdict",
        "",
        (
            f"Each verdict re-judged from the saved results: on {SPLITS} other seeded splits of the images "
            "(where the verdict chooses best cells on one half; the run's own split was fixed before any "
            "cell ran), and with each number of its band at 0.5x and 1.5x. A verdict that keeps its "
            "label in fewer than 80% of the splits is marked fragile: which images chose the cells decided "
            "it. `bench claims --results DIR --sensitivity` prints the same."
        ),
        "",
        markdown_table(table),
        "",
    ]
