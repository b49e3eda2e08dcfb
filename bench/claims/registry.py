"""The claims registry: every claim of the two papers, stated once.

A claim carries what is measured, the paper's value, the band that counts as reproduced, the band
that counts as not reproduced (inconclusive otherwise) and the reason for each band, and a
`decide` function that turns the measured evidence into one of the three labels. Experiments
compute the evidence (intervals, counts) from their saved results and call `judge`; reports, the
README and `bench claims` print the rule from here, so a band is written in one place.

Shaped like the other registries (STYLE.md): a dict, `register`, `get`, `names`; a duplicate key
is an error at import, an unknown key a ValueError that lists the valid ones. The papers' claims
(bench.claims.catalog) are registered when the package `bench.claims` is imported.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench.verdict import Verdict


@dataclass(frozen=True)
class Band:
    rule: str  # when the band applies, in words with its numbers
    reason: str  # why the band is where it is (from the paper's numbers where it has any)


@dataclass(frozen=True)
class Outcome:
    """What a rule decided: a label, and a note beside it ("larger", "energy ahead")."""

    label: str
    note: str = ""


@dataclass(frozen=True)
class Claim:
    key: str  # the name: `bench claims`, verdicts and the README refer to it
    number: str  # the harness's claim number (1-10, 7a-7c; Q for the harness's own question)
    paper: str  # whose claim: "Cho", "Iso-LWGAN", "LWGAN", or "this harness"
    statement: str  # the claim as the paper makes it
    quantity: str  # what the harness measures to judge it
    paper_value: str  # the paper's number(s)
    reproduced: Band
    not_reproduced: Band
    inconclusive: Band  # "otherwise ..." and why that is not a verdict either way
    reports: tuple[str, ...]  # the committed reports that judge it
    decide: Callable[..., Outcome] = field(repr=False, compare=False)
    constants: dict = field(default_factory=dict)  # the band's numbers, by name

    @property
    def title(self) -> str:
        return f"({self.number}) {self.statement}"

    def rule(self) -> str:
        """The rule as one paragraph, for reports."""
        return (f"Claim {self.number} ({self.paper}): {self.statement}. Measured: {self.quantity}. "
                f"Paper: {self.paper_value}. Reproduced: {self.reproduced.rule} ({self.reproduced.reason}). "
                f"Not reproduced: {self.not_reproduced.rule} ({self.not_reproduced.reason}). "
                f"Inconclusive: {self.inconclusive.rule} ({self.inconclusive.reason}).")  # fmt: skip

    def judge(self, subject: str, evidence, numbers: str) -> Verdict:
        """The verdict on `subject` (a generator, an objective, a dataset) from the evidence."""
        outcome = self.decide(evidence)
        return Verdict(f"{subject}: {self.title}", outcome.label, self.rule(), numbers,
                       key=self.key, note=outcome.note)  # fmt: skip

    def withhold(self, subject: str, failures: Sequence[str], numbers: str = "") -> Verdict:
        """No verdict: a model the claim rests on fails a credibility bar (named in the note)."""
        note = "generator not credible: " + "; ".join(failures)
        return Verdict(f"{subject}: {self.title}", "withheld", self.rule(), numbers, key=self.key, note=note)

    def unjudged(self, subject: str, why: str) -> Verdict:
        """Inconclusive for want of evidence (a grid without the settings the claim compares)."""
        return Verdict(f"{subject}: {self.title}", "inconclusive", self.rule(), why, key=self.key,
                       note="not measured")  # fmt: skip


_REGISTRY: dict[str, Claim] = {}


def register(claim: Claim) -> Claim:
    if claim.key in _REGISTRY:
        raise ValueError(f"claim {claim.key!r} is registered twice")
    if any(c.number == claim.number for c in _REGISTRY.values()):
        raise ValueError(f"claim number {claim.number!r} is registered twice")
    _REGISTRY[claim.key] = claim
    return claim


def names() -> list[str]:
    return list(_REGISTRY)


def get(key: str) -> Claim:
    try:
        return _REGISTRY[key]
    except KeyError:
        raise ValueError(f"unknown claim {key!r}; valid: {', '.join(_REGISTRY)}") from None


def all_claims() -> list[Claim]:
    return list(_REGISTRY.values())


# ---------------------------------------------------------------------------------- evidence


@dataclass(frozen=True)
class Estimate:
    """A measured quantity with its 95% interval. `per_seed`: the same quantity's interval on
    each generator (or training) seed alone, when the main interval is over seeds."""

    name: str
    value: float
    lo: float
    hi: float
    per_seed: tuple[tuple[float, float, float], ...] = ()
    where: str = ""

    def text(self, digits: int = 1, signed: bool = True, unit: str = "") -> str:
        f = f"{{:{'+' if signed else ''}.{digits}f}}"
        if not (math.isfinite(self.lo) and math.isfinite(self.hi)):
            body = f.format(self.value) + unit + " [no interval]"
        else:
            body = f"{f.format(self.value)}{unit} [{f.format(self.lo)}, {f.format(self.hi)}]"
        return f"{self.name}: {body}" + (f" ({self.where})" if self.where else "")

    def finite(self) -> bool:
        return math.isfinite(self.lo) and math.isfinite(self.hi)


def all_seeds(e: Estimate, test: Callable[[float, float], bool]) -> bool:
    """Every per-seed interval passes `test(lo, hi)` (needs two or more seeds)."""
    return len(e.per_seed) >= 2 and all(test(lo, hi) for _, lo, hi in e.per_seed)


def _names(es: Sequence[Estimate]) -> str:
    return ", ".join(dict.fromkeys(e.name.split(" - ")[0] for e in es))


def at_most(estimates: Sequence[Estimate], bound: float, what: str = "beyond the bound") -> Outcome:
    """Reproduced when every interval lies at or below `bound`; not reproduced when one lies
    above it, or every seed's interval of one does; inconclusive otherwise (or without an
    interval)."""
    if not estimates or not all(e.finite() for e in estimates):
        return Outcome("inconclusive", "no interval")
    beyond = [e for e in estimates if e.lo > bound or all_seeds(e, lambda lo, hi: lo > bound)]
    if beyond:
        return Outcome("not reproduced", f"{_names(beyond)} {what}")
    if all(e.hi <= bound for e in estimates):
        return Outcome("reproduced")
    return Outcome("inconclusive")


def above(estimates: Sequence[Estimate], bound: float, what: str = "short") -> Outcome:
    """Reproduced when every interval lies above `bound`; not reproduced when one lies below it
    (or every seed's interval of one does); inconclusive otherwise."""
    if not estimates or not all(e.finite() for e in estimates):
        return Outcome("inconclusive", "no interval")
    short = [e for e in estimates if e.hi < bound or all_seeds(e, lambda lo, hi: hi < bound)]
    if short:
        return Outcome("not reproduced", f"{', '.join(e.name for e in short)}: {what}")
    if all(e.lo > bound for e in estimates):
        return Outcome("reproduced")
    return Outcome("inconclusive")


def inside(e: Estimate, low: float, high: float, below: str = "smaller", beyond: str = "larger") -> Outcome:
    """Reproduced when the interval lies within [low, high]; not reproduced (`beyond` or
    `below`) when it lies above high or below low, or every seed's does; inconclusive otherwise."""
    if not e.finite():
        return Outcome("inconclusive", "no interval")
    if e.lo > high or all_seeds(e, lambda lo, hi: lo > high):
        return Outcome("not reproduced", beyond)
    if e.hi < low or all_seeds(e, lambda lo, hi: hi < low):
        return Outcome("not reproduced", below)
    if low <= e.lo and e.hi <= high:
        return Outcome("reproduced")
    return Outcome("inconclusive")


def combine(outcomes: Sequence[Outcome]) -> Outcome:
    """Parts of one claim: not reproduced if any part is, reproduced if every part is."""
    if any(o.label == "not reproduced" for o in outcomes):
        return Outcome("not reproduced", "; ".join(o.note for o in outcomes if o.label == "not reproduced" and o.note))
    if outcomes and all(o.label == "reproduced" for o in outcomes):
        return Outcome("reproduced")
    return Outcome("inconclusive")
