"""Paired comparisons of recovery settings, and the verdicts on the latent-regulation paper's
claims and on the isometric regulariser; pure functions of the saved results.

Regulators are compared on the same images: each regulator's best cell for a generator (the
cell with the highest accuracy averaged over generator seeds and recovery seeds) is scored per
image, and two regulators' per-image correctness is differenced. Per generator seed that gives a
paired bootstrap interval over the images (and an exact McNemar test on the first recovery
seed); over generator seeds, a Student-t interval of the per-seed differences. A claim is judged
on the interval over generator seeds when there are two or more, else on the paired interval of
the one seed. Choosing the best cell on the same images it is judged on favours every regulator
alike (each gets its best), so the comparison is of the regulators at their best settings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.recovery.grid import fmt, make_cell
from bench.recovery.metrics import unpack_correct
from bench.verdict import Verdict

N_BOOT = 2000
CLOSE = 5.0  # claim 3: "close behind" = at most this many accuracy points behind
DISTANCES = ("wasserstein", "energy")
CUTOFFS = ("logistic_cutoff", "truncated_normal_cutoff")
ISO_PAIRS = (("iso-lwgan", "lwgan"), ("iso-lwgan-stochastic", "lwgan"))


@dataclass(frozen=True)
class Diff:
    """acc(a) - acc(b) in accuracy points: per generator seed (value, lo, hi) and McNemar p; over
    generator seeds (value, lo, hi) or None with one seed."""

    a: str
    b: str
    per_seed: dict
    mcnemar_p: dict
    over: tuple | None

    @property
    def value(self) -> float:
        return self.over[0] if self.over else next(iter(self.per_seed.values()))[0]

    @property
    def interval(self) -> tuple[float, float]:
        """The interval a claim is judged on (see the module docstring)."""
        if self.over:
            return self.over[1], self.over[2]
        (_, lo, hi), = self.per_seed.values()
        return lo, hi

    def text(self) -> str:
        lo, hi = self.interval
        where = f"t over {len(self.per_seed)} generator seeds" if self.over else "paired over images"
        return f"{self.a} - {self.b}: {self.value:+.1f} [{lo:+.1f}, {hi:+.1f}] ({where})"


class Table:
    """Per-image correctness of every finished cell: (generator, gen seed, regulator, lr, hp,
    seed) -> bool [images]; and each (generator, regulator)'s best cell."""

    def __init__(self, results):
        self.bits, self.acc, self._score_cache = {}, {}, {}
        for c in results.cells:
            r = c["record"]
            if c["status"] != "finished" or not r or "correct" not in r:
                continue
            d = c["cell"]
            key = (d["generator"], d["generator_seed"], d["regulator"], d["learning_rate"], d["hyperparameter"])
            self.bits.setdefault(key, []).append(unpack_correct(r["correct"], r["n_images"]))
            self.acc.setdefault(key, []).append(r["accuracy"])

    def generators(self) -> list[str]:
        return list(dict.fromkeys(k[0] for k in self.bits))

    def seeds(self, generator: str) -> list[int]:
        return sorted({k[1] for k in self.bits if k[0] == generator})

    def _scores(self, generator: str, regulator: str) -> dict[tuple, list[float]]:
        """(lr, hp) -> accuracies of every run of the regulator's cells for the generator (the
        baseline `none`: the shared weight-0 cells, under whichever table holds them)."""
        key = (generator, regulator)
        if key not in self._score_cache:
            scores: dict[tuple, list[float]] = {}
            for (g, _, reg, lr, hp), accs in self.acc.items():
                cell = make_cell(reg, lr, hp)
                if g == generator and cell.run.regulator == regulator and (regulator == "none" or not cell.shared):
                    scores.setdefault((lr, hp), []).extend(accs)
            self._score_cache[key] = scores
        return self._score_cache[key]

    def best(self, generator: str, regulator: str) -> tuple[float, float] | None:
        """(lr, hp) of the regulator's best cell (accuracy averaged over every run of it); None
        when it has no cell. Ties: the first in grid order."""
        scores = self._scores(generator, regulator)
        return max(scores, key=lambda k: np.mean(scores[k])) if scores else None

    def best_accuracy(self, generator: str, regulator: str) -> float | None:
        cell = self.best(generator, regulator)
        return None if cell is None else float(np.mean(self._scores(generator, regulator)[cell]))

    def _runs(self, generator: str, seed: int, regulator: str, cell: tuple) -> list[np.ndarray] | None:
        """The per-image correctness of a cell at one generator seed, one array per recovery seed."""
        for (g, gs, reg, lr, hp), bits in self.bits.items():
            if g == generator and gs == seed and (lr, hp) == cell and make_cell(reg, lr, hp).run.regulator == regulator:
                return bits
        return None

    def per_image(self, generator: str, seed: int, regulator: str, cell: tuple) -> np.ndarray | None:
        """Per-image accuracy (%) of a cell at one generator seed, averaged over recovery seeds."""
        bits = self._runs(generator, seed, regulator, cell)
        return None if bits is None else np.mean(bits, axis=0) * 100

    def first_bits(self, generator: str, seed: int, regulator: str, cell: tuple) -> np.ndarray | None:
        bits = self._runs(generator, seed, regulator, cell)
        return None if bits is None else bits[0]


def diff(table: Table, a: tuple[str, str], b: tuple[str, str], n_boot: int = N_BOOT) -> Diff | None:
    """acc(a) - acc(b) for a = (generator, regulator) at its best cell, b likewise, paired over
    the images of each generator seed both have. None when either is missing."""
    from bench.stats import mcnemar, paired_bootstrap_ci, t_interval

    cell_a, cell_b = table.best(*a), table.best(*b)
    if cell_a is None or cell_b is None:
        return None
    per, p = {}, {}
    for s in sorted(set(table.seeds(a[0])) & set(table.seeds(b[0]))):
        x, y = table.per_image(a[0], s, a[1], cell_a), table.per_image(b[0], s, b[1], cell_b)
        if x is None or y is None or x.shape != y.shape:
            continue
        ci = paired_bootstrap_ci(x, y, n_boot=n_boot, seed=s)
        per[s] = (ci.value, ci.lo, ci.hi)
        p[s] = mcnemar(table.first_bits(a[0], s, a[1], cell_a), table.first_bits(b[0], s, b[1], cell_b))["pvalue"]
    if not per:
        return None
    over = tuple(t_interval([v[0] for v in per.values()])) if len(per) > 1 else None
    name = lambda t: t[1] if a[0] == b[0] else f"{t[0]}/{t[1]}"
    return Diff(name(a), name(b), per, p, over)


def cell_text(cell: tuple | None) -> str:
    return "n/a" if cell is None else f"lr {fmt(cell[0])}, hp {fmt(cell[1])}"


# ------------------------------------------------------------------------------------ claims

CLAIMS = {
    1: "wasserstein is the best regulator or tied for best",
    2: "log_normal_density is tied for best",
    3: f"energy is close behind wasserstein (at most {CLOSE:g} points)",
    4: "every regulator's best cell beats the unregulated baseline's best",
    5: "the resampling cutoffs score below the distance regulators",
}
RULES = {
    1: "no other regulator's best cell beats wasserstein's: for every other regulator B, the interval "
       "of acc(B) - acc(wasserstein) reaches 0 or below. Not reproduced if one lies above 0",
    2: "the same rule for log_normal_density",
    3: f"d = acc(wasserstein) - acc(energy): reproduced if d's mean is >= 0 and its interval's upper "
       f"bound <= {CLOSE:g}; not reproduced if its lower bound > {CLOSE:g} (far behind) or its upper "
       "bound < 0 (energy ahead); inconclusive otherwise",
    4: "for every regulator R, the interval of acc(R) - acc(none): reproduced if every one lies above "
       "0, not reproduced if one lies below 0, inconclusive otherwise",
    5: "for each cutoff C and distance regulator D, the interval of acc(D) - acc(C): reproduced if "
       "every one lies above 0, not reproduced if one lies below 0, inconclusive otherwise",
}
PREAMBLE = ("Each regulator at its best cell, compared on the same images (paired bootstrap over "
            "images per generator seed, Student-t over generator seeds when there are two or more): ")


def _all_above(diffs: list[Diff]) -> str:
    if any(d.interval[1] < 0 for d in diffs):
        return "not reproduced"
    return "reproduced" if all(d.interval[0] > 0 for d in diffs) else "inconclusive"


def claim_verdicts(results, generator: str, regs: list[str]) -> list[Verdict]:
    table = Table(results)
    others = lambda r: [x for x in regs if x != r and table.best(generator, x) is not None]
    out = []

    def add(n: int, label: str, numbers: str):
        out.append(Verdict(f"{generator}: ({n}) {CLAIMS[n]}", label, PREAMBLE + RULES[n], numbers))

    for n, target in ((1, "wasserstein"), (2, "log_normal_density")):
        diffs = [d for b in others(target) if (d := diff(table, (generator, b), (generator, target)))]
        if table.best(generator, target) is None or not diffs:
            add(n, "inconclusive", f"needs {target} and another regulator")
            continue
        beat = [d for d in diffs if d.interval[0] > 0]
        label = "not reproduced" if beat else "reproduced"
        closest = max(diffs, key=lambda d: d.value)
        add(n, label, "; ".join(d.text() for d in beat) if beat else f"closest: {closest.text()}")
    d = diff(table, (generator, "wasserstein"), (generator, "energy"))
    if d is None:
        add(3, "inconclusive", "needs wasserstein and energy")
    else:
        lo, hi = d.interval
        label = ("not reproduced" if lo > CLOSE or hi < 0 else
                 "reproduced" if d.value >= 0 and hi <= CLOSE else "inconclusive")  # fmt: skip
        add(3, label, d.text())
    diffs = [d for r in others("none") if (d := diff(table, (generator, r), (generator, "none")))]
    if table.best(generator, "none") is None or not diffs:
        add(4, "inconclusive", "needs the baseline none and a regulator")
    else:
        add(4, _all_above(diffs), "; ".join(d.text() for d in diffs))
    diffs = [d for dist in DISTANCES for c in CUTOFFS
             if (d := diff(table, (generator, dist), (generator, c)))]  # fmt: skip
    if not diffs:
        add(5, "inconclusive", "needs a distance regulator and a resampling cutoff")
    else:
        add(5, _all_above(diffs), "; ".join(d.text() for d in diffs))
    return out


# ----------------------------------------------------------------------------- isometric term

ISO_CLAIM = "the isometric regulariser makes latent recovery easier"
ISO_RULE = (
    "each generator at its best regulator and cell (highest accuracy over the grid), "
    "acc(Iso-LWGAN) - acc(LWGAN) on the same test images, same training budget: per generator "
    "seed a paired bootstrap interval over images, over generator seeds a Student-t interval. "
    "Easier (reproduced) if the t-interval and every seed's paired interval lie above 0 (one "
    "seed: the paired interval); harder (not reproduced) if the t-interval (one seed: the paired "
    "interval) lies below 0; inconclusive otherwise, or without both generators"
)


def iso_comparisons(results, regs: list[str]) -> list[dict]:
    """Per pair of ISO_PAIRS present (test targets only: generated targets differ by generator):
    the gap at each generator's best regulator, and per regulator."""
    if results.settings.get("targets", "test") != "test":
        return []
    table = Table(results)
    out = []
    gens = table.generators()
    for iso_base, base_base in ISO_PAIRS:  # the same recipe on both sides (`iso-lwgan.x`, `lwgan.x`)
        pairs = [(g, base_base + g[len(iso_base):]) for g in gens if g.split(".")[0] == iso_base]
        if not pairs or pairs[0][1] not in gens:
            continue
        iso, base = pairs[0]
        top = {g: _top(table, g, regs) for g in (iso, base)}
        headline = diff(table, (iso, top[iso]), (base, top[base])) if all(top.values()) else None
        per_reg = {r: diff(table, (iso, r), (base, r)) for r in regs}
        out.append({"iso": iso, "base": base, "top": top, "headline": headline,
                    "per_regulator": {r: d for r, d in per_reg.items() if d is not None}})  # fmt: skip
    return out


def _top(table: Table, generator: str, regs: list[str]) -> str | None:
    """The regulator whose best cell has the highest accuracy for the generator."""
    best = [(acc, r) for r in regs if (acc := table.best_accuracy(generator, r)) is not None]
    return max(best)[1] if best else None


def iso_verdicts(results, regs: list[str]) -> list[Verdict]:
    out = []
    for c in iso_comparisons(results, regs):
        d: Diff | None = c["headline"]
        claim = f"{ISO_CLAIM} ({c['iso']} against {c['base']})"
        if d is None:
            out.append(Verdict(claim, "inconclusive", ISO_RULE, "no shared generator seed"))
            continue
        lo, hi = d.interval
        seeds_above = all(v[1] > 0 for v in d.per_seed.values())
        label = ("reproduced" if lo > 0 and seeds_above else "not reproduced" if hi < 0 else "inconclusive")
        out.append(Verdict(claim, label, ISO_RULE, d.text()))
    return out

