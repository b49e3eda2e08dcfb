"""The one verdict type of every report: what a reproduction says of a paper's claim, and why.

A verdict's rule comes from the claims registry (bench.claims), where each claim's bands are
stated once. Besides the three outcomes a rule can reach, a verdict is "withheld" when a model it
rests on fails a credibility bar (bench.claims.gates): no verdict on a generator that is not
credible.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

LABELS = ("reproduced", "not reproduced", "inconclusive", "withheld")


@dataclass(frozen=True)
class Verdict:
    """`label` on `claim`, by `rule`, from `numbers` (the measured values the rule saw, as text)."""

    claim: str  # what is judged: "lsgan: (1) wasserstein is the best regulator or tied for best"
    label: str  # one of LABELS
    rule: str
    numbers: str = ""
    key: str = ""  # the claim's key in bench.claims ("" for a verdict outside the registry)
    note: str = ""  # beside the label: "larger", "generator not credible: ..."

    def __post_init__(self):
        if self.label not in LABELS:
            raise ValueError(f"verdict label {self.label!r}: expected one of {', '.join(LABELS)}")

    @property
    def shown(self) -> str:
        """The label as a report prints it: `not reproduced (larger)`, `withheld: generator ...`."""
        if not self.note:
            return self.label
        return f"{self.label}: {self.note}" if self.label == "withheld" else f"{self.label} ({self.note})"

    def to_dict(self) -> dict:
        return asdict(self)

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


def rows(verdicts: list[Verdict]) -> list[dict]:
    """Verdicts as table rows (claim, verdict, numbers) for a report or the console."""
    return [{"claim": v.claim, "verdict": v.shown, "numbers": v.numbers} for v in verdicts]
