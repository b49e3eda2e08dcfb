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
from registries import Registry


@dataclass(frozen=True)
class Band:
    rule: str  # when the band applies, in words with its numbers
    reason: str  # why the band is where it is (from the paper's numbers where it has any)


@dataclass(frozen=True)
class Outcome:
    """What a rule decided: a label, a note beside it ("larger", "energy ahead"), and the
    smallest differences the rule could call with the evidence it had ("resolution")."""

    label: str
    note: str = ""
    resolution: str = ""
    half_width: float = 0.0  # of the widest interval the rule read (combine keeps the widest's text)


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
    # decide(evidence, constants) -> Outcome: the rule, reading its band's numbers from
    # `constants` (so a sensitivity analysis can move them without editing the rule)
    decide: Callable[..., Outcome] = field(repr=False, compare=False)
    constants: dict = field(default_factory=dict)  # the band's numbers, by name
    ratios: tuple[str, ...] = ()  # constants that are ratios: scaled on the log scale
    gate: str = ""  # what a verdict rests on, and so which credibility bars apply (bench.claims.gates)

    @property
    def title(self) -> str:
        return f"({self.number}) {self.statement}"

    def rule(self) -> str:
        """The rule as one paragraph, for reports."""
        return (
            f"Claim {self.number} ({self.paper}): {self.statement}. Measured: {self.quantity}. "
            f"Paper: {self.paper_value}. Reproduced: {self.reproduced.rule} ({self.reproduced.reason}). "
            f"Not reproduced: {self.not_reproduced.rule} ({self.not_reproduced.reason}). "
            f"Inconclusive: {self.inconclusive.rule} ({self.inconclusive.reason})."
        )

    def scaled(self, name: str, factor: float) -> dict:
        """The constants with `name` moved by `factor` (a ratio's distance from 1 on the log
        scale: 0.9 at 1.5x is 0.9^1.5), for the sensitivity of a verdict to its band."""
        c = dict(self.constants)
        c[name] = c[name] ** factor if name in self.ratios else c[name] * factor
        return c

    def outcome(self, evidence, constants: dict | None = None) -> Outcome:
        return self.decide(evidence, self.constants if constants is None else constants)

    def judge(self, subject: str, evidence, numbers: str, provisional: str = "") -> Verdict:
        """The verdict on `subject` (a generator, an objective, a dataset) from the evidence.
        `provisional`: why the evidence cannot yet carry a firm verdict (too few seeds to see
        their variation), printed beside the label."""
        out = self.outcome(evidence)
        if out.resolution:
            numbers = f"{numbers}; resolution: {out.resolution}" if numbers else f"resolution: {out.resolution}"
        return Verdict(
            f"{subject}: {self.title}",
            out.label,
            self.rule(),
            numbers,
            key=self.key,
            note=out.note,
            provisional=provisional,
            evidence=evidence,
        )

    def withhold(self, subject: str, failures: Sequence[str], numbers: str = "") -> Verdict:
        """No verdict: a model the claim rests on fails a credibility bar (named in the note)."""
        note = "not credible: " + "; ".join(failures)
        return Verdict(f"{subject}: {self.title}", "withheld", self.rule(), numbers, key=self.key, note=note)

    def untestable(self, subject: str, why: str, numbers: str = "") -> Verdict:
        """No verdict: the claim cannot be tested on this subject (a model with no prior to draw
        from, a dataset no encoder into R^d can represent); `why` says so."""
        return Verdict(f"{subject}: {self.title}", "untestable", self.rule(), numbers, key=self.key, note=why)

    def unjudged(self, subject: str, why: str) -> Verdict:
        """Inconclusive for want of evidence (a grid without the settings the claim compares)."""
        return Verdict(f"{subject}: {self.title}", "inconclusive", self.rule(), why, key=self.key, note="not measured")


CLAIMS: Registry[Claim] = Registry("claim")


def register(claim: Claim) -> Claim:
    if any(c.number == claim.number for c in CLAIMS.values()):
        raise ValueError(f"claim number {claim.number!r} is registered twice")
    return CLAIMS.add(claim.key, claim)


def names() -> list[str]:
    return CLAIMS.names()


def get(key: str) -> Claim:
    return CLAIMS.get(key)


def all_claims() -> list[Claim]:
    return list(CLAIMS.values())


# ---------------------------------------------------------------------------------- evidence


@dataclass(frozen=True)
class Estimate:
    """A measured quantity with its 95% interval, and where the interval comes from."""

    name: str
    value: float
    lo: float
    hi: float
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

    @property
    def half_width(self) -> float:
        return (self.hi - self.lo) / 2


def _names(es: Sequence[Estimate]) -> str:
    return ", ".join(dict.fromkeys(e.name.split(" - ")[0] for e in es))


def _widest(estimates: Sequence[Estimate]) -> float:
    return max(e.half_width for e in estimates)


def at_most(estimates: Sequence[Estimate], bound: float, what: str = "beyond the bound") -> Outcome:
    """Reproduced when every interval lies at or below `bound`; not reproduced when one lies
    above it; inconclusive otherwise (or without an interval). Resolution: with the widest
    half-width h, a true value under bound - h can pass and one over bound + h can fail."""
    if not estimates or not all(e.finite() for e in estimates):
        return Outcome("inconclusive", "no interval")
    h = _widest(estimates)
    res = f"passes at or below {bound - h:+.3g}, fails above {bound + h:+.3g} (half-width {h:.2g})"
    beyond = [e for e in estimates if e.lo > bound]
    if beyond:
        return Outcome("not reproduced", f"{_names(beyond)} {what}", res, h)
    if all(e.hi <= bound for e in estimates):
        return Outcome("reproduced", "", res, h)
    return Outcome("inconclusive", "", res, h)


def above(estimates: Sequence[Estimate], bound: float, what: str = "short", fail: float | None = None) -> Outcome:
    """Reproduced when every interval lies above `bound`; not reproduced when one lies below
    `fail` (default: `bound`); inconclusive otherwise."""
    if not estimates or not all(e.finite() for e in estimates):
        return Outcome("inconclusive", "no interval")
    fail = bound if fail is None else fail
    h = _widest(estimates)
    res = f"passes above {bound + h:+.3g}, fails below {fail - h:+.3g} (half-width {h:.2g})"
    short = [e for e in estimates if e.hi < fail]
    if short:
        return Outcome("not reproduced", f"{', '.join(e.name for e in short)}: {what}", res, h)
    if all(e.lo > bound for e in estimates):
        return Outcome("reproduced", "", res, h)
    return Outcome("inconclusive", "", res, h)


def inside(e: Estimate, low: float, high: float, below: str = "smaller", beyond: str = "larger") -> Outcome:
    """Reproduced when the interval lies within [low, high]; not reproduced (`beyond` or
    `below`) when it lies above high or below low; inconclusive otherwise."""
    if not e.finite():
        return Outcome("inconclusive", "no interval")
    h = e.half_width
    res = (
        f"passes within [{low + h:+.3g}, {high - h:+.3g}], fails outside [{low - h:+.3g}, {high + h:+.3g}] "
        f"(half-width {h:.2g})"
        if high - low > 2 * h
        else f"cannot pass: the half-width {h:.2g} exceeds half the band"
    )
    if e.lo > high:
        return Outcome("not reproduced", beyond, res, h)
    if e.hi < low:
        return Outcome("not reproduced", below, res, h)
    if low <= e.lo and e.hi <= high:
        return Outcome("reproduced", "", res, h)
    return Outcome("inconclusive", "", res, h)


def combine(outcomes: Sequence[Outcome]) -> Outcome:
    """Parts of one claim: not reproduced if any part is, reproduced if every part is."""
    widest = max(outcomes, key=lambda o: o.half_width, default=Outcome(""))
    res, h = widest.resolution, widest.half_width
    if any(o.label == "not reproduced" for o in outcomes):
        note = "; ".join(o.note for o in outcomes if o.label == "not reproduced" and o.note)
        return Outcome("not reproduced", note, res, h)
    if outcomes and all(o.label == "reproduced" for o in outcomes):
        return Outcome("reproduced", "", res, h)
    return Outcome("inconclusive", "", res, h)
