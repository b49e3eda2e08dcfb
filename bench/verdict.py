"""The one verdict type of every report: what a reproduction says of a paper's claim, and why."""

from __future__ import annotations

from dataclasses import asdict, dataclass

LABELS = ("reproduced", "not reproduced", "inconclusive")


@dataclass(frozen=True)
class Verdict:
    """`label` on `claim`, by `rule`, from `numbers` (the measured values the rule saw, as text)."""

    claim: str  # what is judged: "lwgan objective", "swissroll", "the paper's ranking"
    label: str  # one of LABELS
    rule: str
    numbers: str = ""

    def __post_init__(self):
        if self.label not in LABELS:
            raise ValueError(f"verdict label {self.label!r}: expected one of {', '.join(LABELS)}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Verdict:
        return cls(**d)


def rows(verdicts: list[Verdict]) -> list[dict]:
    """Verdicts as table rows (claim, verdict, numbers) for a report or the console."""
    return [{"claim": v.claim, "verdict": v.label, "numbers": v.numbers} for v in verdicts]
