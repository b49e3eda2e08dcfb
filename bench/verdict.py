"""The one verdict type of every report: what a reproduction says of a paper's claim, and why.

A verdict's rule comes from the claims registry (bench.claims), where each claim's bands are
stated once. Besides the three outcomes a rule can reach, a verdict is "withheld" when a model it
rests on fails a credibility bar (bench.claims.gates): no verdict on a generator that is not
credible; and "untestable" where the claim cannot be put to the subject at all (a model with no
prior to draw from).

A verdict may be provisional (its evidence too thin to see a source of noise, such as one
generator seed) and carries how stable it is (`stability`: the share of re-drawn image splits
and of moved band thresholds that give the same label; bench.claims.sensitivity); one that holds
in fewer than 80% of splits is fragile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any

LABELS = ("reproduced", "not reproduced", "inconclusive", "withheld", "untestable")
OUTCOMES = LABELS[:3]  # what a rule can decide; withheld and untestable are no verdict
FRAGILE = 0.8  # a verdict that holds in fewer than this share of re-drawn splits is fragile


@dataclass(frozen=True)
class Verdict:
    """`label` on `claim`, by `rule`, from `numbers` (the measured values the rule saw, as text)."""

    claim: str  # what is judged: "lsgan: (1) wasserstein is the best regulator or tied for best"
    label: str  # one of LABELS
    rule: str
    numbers: str = ""
    key: str = ""  # the claim's key in bench.claims ("" for a verdict outside the registry)
    note: str = ""  # beside the label: "larger", "not credible: ..."
    provisional: str = ""  # why the evidence cannot carry a firm verdict yet ("" when it can)
    stability: dict = field(default_factory=dict)  # bench.claims.sensitivity's shares
    # What the rule decided on (not saved): lets the sensitivity analysis move the thresholds.
    evidence: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if self.label not in LABELS:
            raise ValueError(f"verdict label {self.label!r}: expected one of {', '.join(LABELS)}")

    @property
    def fragile(self) -> bool:
        share = self.stability.get("splits")
        return share is not None and share < FRAGILE

    @property
    def shown(self) -> str:
        """The label as a report prints it: `not reproduced (larger)`, `withheld: not credible:
        ...`, with `provisional` and `fragile` marks where they apply."""
        if not self.note:
            text = self.label
        elif self.label in ("withheld", "untestable"):
            text = f"{self.label}: {self.note}"
        else:
            text = f"{self.label} ({self.note})"
        if self.provisional:
            text += f" [provisional: {self.provisional}]"
        if self.fragile:
            text += f" [fragile: {self.stability['splits']:.0%} of splits]"
        return text

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "evidence"}

    @classmethod
    def from_dict(cls, d: dict) -> Verdict:
        return cls(**d)


def verdict_tags(verdicts: list[Verdict]) -> dict[str, str]:
    """MLflow tags, one per verdict: `verdict.<claim key>` -> the label, plus `.<scope>` (the
    claim's text before its colon: a generator, an objective) where one key is judged several
    times; a verdict outside the registry is tagged by its claim text. MLflow allows letters,
    digits and `_-. :/` in a key: anything else becomes `_`."""
    keys = [v.key or v.claim for v in verdicts]
    out = {}
    for v, key in zip(verdicts, keys):
        if keys.count(key) > 1 and ":" in v.claim:
            key = f"{key}.{v.claim.split(':', 1)[0].strip()}"
        out[re.sub(r"[^\w\-. :/]", "_", f"verdict.{key}")[:250]] = v.label
    return out


def description(verdicts: list[Verdict], report: str) -> str:
    """The parent run's description in MLflow (`mlflow.note.content`): its verdicts as a table."""
    if not verdicts:
        return f"No verdicts. Report: `{report}`"
    lines = ["| claim | verdict |", "| --- | --- |"]
    lines += [f"| {v.claim.replace('|', '/')} | {v.shown.replace('|', '/')} |" for v in verdicts]
    return "\n".join(lines) + f"\n\nReport: `{report}`"


def rows(verdicts: list[Verdict]) -> list[dict]:
    """Verdicts as table rows (claim, verdict, numbers) for a report or the console."""
    return [{"claim": v.claim, "verdict": v.shown, "numbers": v.numbers} for v in verdicts]
