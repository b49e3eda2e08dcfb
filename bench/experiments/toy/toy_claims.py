"""The evidence the toy experiments (`bench isometry`, `bench stochastic`) hand to the claims
registry: intervals over seeds, ratios paired by seed, the rank estimates' margins, and the
collapse gate. Pure functions of the saved cells."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from bench.claims import Estimate, get
from bench.claims.catalog_lwgan import log_ratio_estimate
from bench.stats import t_interval
from bench.verdict import Verdict


def over_seeds(name: str, values: Sequence[float]) -> Estimate:
    """The mean of `values` (one per seed) with its Student-t interval."""

    ci = t_interval(list(values))
    return Estimate(name, ci.value, ci.lo, ci.hi, where=f"t over {len(values)} seeds")


def _logs(cells, base: dict, value: Callable) -> list[float]:
    return [
        math.log(value(c) / value(base[c.seed]))
        for c in cells
        if c.seed in base and value(c) > 0 and value(base[c.seed]) > 0
    ]


def paired_ratio(name: str, cells, base: dict, value: Callable) -> Estimate | None:
    """value(cell) / value(base[cell.seed]) over the cells whose seed has a base cell (paired by
    seed: same data draw and initialisation), as an Estimate: the exp of the Student-t interval
    of the per-seed log ratios; None without a pair."""
    logs = _logs(cells, base, value)
    return log_ratio_estimate(name, logs) if logs else None


def paired_log_ratio(name: str, cells, base: dict, value: Callable) -> Estimate | None:
    """The same on the log scale (a drop is above 0)."""
    logs = _logs(cells, base, value)
    return over_seeds(name, logs) if logs else None


def ratio_text(e: Estimate, digits: int = 2) -> str:
    if not e.finite():
        return f"x{e.value:.{digits}f}"
    return f"x{e.value:.{digits}f} [x{e.lo:.{digits}f}, x{e.hi:.{digits}f}]"


def collapsed(cells) -> list[str]:
    """The collapse gate: the models that collapsed (named), [] when none did."""
    return [f"{c.label} collapsed" for c in cells if c.collapsed]


def rank_evidence(cells) -> list[dict]:
    """Claim 9's evidence from LWGAN-objective toy cells: per model its estimate, the data's true
    dimension and the estimate's margin in standard errors."""
    return [
        {"estimate": c.rank_estimate, "truth": c.rank_truth, "margin": c.rank_margin, "label": c.label}
        for c in cells
        if c.rank_estimate is not None and c.rank_margin is not None
    ]


def rank_verdict(cells, subject: str) -> Verdict | None:
    """Claim 9 on the toy models (their rank estimates judged as `bench rank` judges its own);
    None when no model has a rank score (the published autoencoder has no critic)."""
    ev = rank_evidence(cells)
    if not ev:
        return None
    claim = get("rank-finds-dimension")
    numbers = f"truth {ev[0]['truth']}; estimates (margin in SE): " + ", ".join(
        f"{e['estimate']} ({e['margin']:.1f})" for e in ev
    )
    bad = collapsed(cells)
    return claim.withhold(subject, bad, numbers) if bad else claim.judge(subject, ev, numbers)
