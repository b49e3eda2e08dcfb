"""Paired comparisons of recovery settings, and the verdicts on the latent-regulation paper's
claims and on the isometric regulariser; pure functions of the saved results.

Best cells are chosen on held-out images. The target images are split, by a seeded
permutation (`split_seed`), into a selection half and an evaluation half. Each regulator's best
cell for a generator (lr and weight or hyperparameter) is the one with the highest accuracy on
the selection half (averaged over generator seeds and recovery seeds); it is then scored on the
evaluation half only. Choosing and judging on the same images favours a regulator with many
cells over one with few (the baseline has 4 cells, a loss regulator 16-20): the maximum of noisy
means is biased upward. Choosing on other images removes that bias (tests/test_recovery_holdout).

Two regulators are compared on the same evaluation images: per generator seed a paired
bootstrap interval of the per-image difference (and an exact McNemar test on the first recovery
seed); over generator seeds a Student-t interval of the per-seed differences. The claims' bands
are in bench.claims (the registry); the full-set grids stay in the report for reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.claims import Estimate
from bench.recovery.grid import fmt, make_cell
from bench.recovery.metrics import unpack_correct
from bench.verdict import Verdict

N_BOOT = 2000
DISTANCES = ("wasserstein", "energy")
CUTOFFS = ("logistic_cutoff", "truncated_normal_cutoff")
ISO_PAIRS = (("iso-lwgan", "lwgan"), ("iso-lwgan-stochastic", "lwgan"))


def split_halves(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(selection, evaluation): the target images' indices cut into two seeded halves (the
    evaluation half takes the odd one out)."""
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[: n // 2]), np.sort(perm[n // 2 :])


@dataclass(frozen=True)
class Diff:
    """acc(a) - acc(b) in accuracy points on the evaluation images: per generator seed (value,
    lo, hi) and McNemar p; over generator seeds (value, lo, hi) or None with one seed."""

    a: str
    b: str
    per_seed: dict
    mcnemar_p: dict
    over: tuple | None
    images: int = 0

    @property
    def value(self) -> float:
        return self.over[0] if self.over else next(iter(self.per_seed.values()))[0]

    @property
    def interval(self) -> tuple[float, float]:
        """The interval a claim is judged on (see the module docstring)."""
        if self.over:
            return self.over[1], self.over[2]
        ((_, lo, hi),) = self.per_seed.values()
        return lo, hi

    @property
    def where(self) -> str:
        if self.over:
            return f"t over {len(self.per_seed)} generator seeds"
        return f"paired over {self.images} held-out images"

    def text(self) -> str:
        lo, hi = self.interval
        return f"{self.a} - {self.b}: {self.value:+.1f} [{lo:+.1f}, {hi:+.1f}] ({self.where})"

    def estimate(self) -> Estimate:
        lo, hi = self.interval
        per = tuple(self.per_seed.values()) if self.over else ()
        return Estimate(f"{self.a} - {self.b}", self.value, lo, hi, per, self.where)


class Table:
    """Per-image correctness of every finished cell: (generator, gen seed, regulator, lr, hp)
    -> one bool [images] array per recovery seed; each (generator, regulator)'s best cell chosen
    on the selection half, scored on the evaluation half. With holdout=False both halves are
    every image (the full-set choice the report keeps for reference). Each generator has its own
    halves: a generator may be recovered on fewer images (images_for)."""

    def __init__(self, results, holdout: bool = True):
        self.bits, self._score_cache = {}, {}
        sizes: dict[str, int] = {}
        for c in results.cells:
            r = c["record"]
            if c["status"] != "finished" or not r or "correct" not in r:
                continue
            d = c["cell"]
            key = (d["generator"], d["generator_seed"], d["regulator"], d["learning_rate"], d["hyperparameter"])
            self.bits.setdefault(key, []).append(unpack_correct(r["correct"], r["n_images"]))
            sizes[d["generator"]] = r["n_images"]
        self.holdout = holdout and all(n >= 2 for n in sizes.values())
        seed = int(results.settings.get("split_seed", 0))
        self._halves = {g: split_halves(n, seed) if self.holdout else (np.arange(n), np.arange(n))
                        for g, n in sizes.items()}  # fmt: skip

    def half(self, generator: str, which: str) -> np.ndarray:
        """The image indices of the generator's "select" or "evaluate" half."""
        select, evaluate = self._halves[generator]
        return select if which == "select" else evaluate

    def generators(self) -> list[str]:
        return list(dict.fromkeys(k[0] for k in self.bits))

    def regulators(self, generator: str) -> list[str]:
        """The regulators with a finished cell for the generator (the baseline `none` first)."""
        regs = dict.fromkeys(make_cell(r, lr, hp).run.regulator for g, _, r, lr, hp in self.bits if g == generator)
        return sorted(regs, key=lambda r: r != "none")

    def seeds(self, generator: str) -> list[int]:
        return sorted({k[1] for k in self.bits if k[0] == generator})

    def _scores(self, generator: str, regulator: str, half: str) -> dict[tuple, list[float]]:
        """(lr, hp) -> accuracy (%) on one half of every run of the regulator's cells for the
        generator (the baseline `none`: the shared weight-0 cells, under whichever table holds
        them)."""
        key = (generator, regulator, half)
        if key not in self._score_cache:
            idx = self.half(generator, half)
            scores: dict[tuple, list[float]] = {}
            for (g, _, reg, lr, hp), runs in self.bits.items():
                cell = make_cell(reg, lr, hp)
                if g == generator and cell.run.regulator == regulator and (regulator == "none" or not cell.shared):
                    scores.setdefault((lr, hp), []).extend(100 * float(b[idx].mean()) for b in runs)
            self._score_cache[key] = scores
        return self._score_cache[key]

    def best(self, generator: str, regulator: str) -> tuple[float, float] | None:
        """(lr, hp) of the regulator's best cell on the selection half; None when it has no
        cell. Ties: the first in grid order."""
        scores = self._scores(generator, regulator, "select")
        return max(scores, key=lambda k: np.mean(scores[k])) if scores else None

    def best_accuracy(self, generator: str, regulator: str) -> float | None:
        """The best cell's accuracy on the selection half (what the choice saw)."""
        cell = self.best(generator, regulator)
        return None if cell is None else float(np.mean(self._scores(generator, regulator, "select")[cell]))

    def heldout_accuracy(self, generator: str, regulator: str) -> float | None:
        """The best cell's accuracy on the evaluation half (what the verdicts judge)."""
        cell = self.best(generator, regulator)
        return None if cell is None else float(np.mean(self._scores(generator, regulator, "evaluate")[cell]))

    def _runs(self, generator: str, seed: int, regulator: str, cell: tuple) -> list[np.ndarray] | None:
        """A cell's per-image correctness on the evaluation half at one generator seed, one array
        per recovery seed."""
        for (g, gs, reg, lr, hp), bits in self.bits.items():
            if g == generator and gs == seed and (lr, hp) == cell and make_cell(reg, lr, hp).run.regulator == regulator:
                return [b[self.half(generator, "evaluate")] for b in bits]
        return None

    def per_image(self, generator: str, seed: int, regulator: str, cell: tuple) -> np.ndarray | None:
        """Per-image accuracy (%) of a cell at one generator seed on the evaluation half,
        averaged over recovery seeds."""
        bits = self._runs(generator, seed, regulator, cell)
        return None if bits is None else np.mean(bits, axis=0) * 100

    def first_bits(self, generator: str, seed: int, regulator: str, cell: tuple) -> np.ndarray | None:
        bits = self._runs(generator, seed, regulator, cell)
        return None if bits is None else bits[0]


def diff(table: Table, a: tuple[str, str], b: tuple[str, str], n_boot: int = N_BOOT) -> Diff | None:
    """acc(a) - acc(b) for a = (generator, regulator) at its best cell, b likewise, paired over
    the evaluation images of each generator seed both have. None when either is missing."""
    from bench.stats import mcnemar, paired_bootstrap_ci, t_interval

    cell_a, cell_b = table.best(*a), table.best(*b)
    if cell_a is None or cell_b is None:
        return None
    per, p = {}, {}
    images = 0
    for s in sorted(set(table.seeds(a[0])) & set(table.seeds(b[0]))):
        x, y = table.per_image(a[0], s, a[1], cell_a), table.per_image(b[0], s, b[1], cell_b)
        if x is None or y is None or x.shape != y.shape:
            continue
        ci = paired_bootstrap_ci(x, y, n_boot=n_boot, seed=s)
        per[s] = (ci.value, ci.lo, ci.hi)
        p[s] = mcnemar(table.first_bits(a[0], s, a[1], cell_a), table.first_bits(b[0], s, b[1], cell_b))["pvalue"]
        images = len(x)
    if not per:
        return None
    over = tuple(t_interval([v[0] for v in per.values()])) if len(per) > 1 else None
    name = lambda t: t[1] if a[0] == b[0] else f"{t[0]}/{t[1]}"
    return Diff(name(a), name(b), per, p, over, images)


def cell_text(cell: tuple | None) -> str:
    return "n/a" if cell is None else f"lr {fmt(cell[0])}, hp {fmt(cell[1])}"


# ------------------------------------------------------------------------------------ claims

CLAIM_KEYS = ("wasserstein-best", "log-normal-density-best", "energy-close-behind",
              "regulators-beat-baseline", "cutoffs-below-distances")  # fmt: skip
GATE_BARS = ("scorer", "reference_frechet", "frechet_ratio", "min_share")


def gate_failures(results, generator: str) -> list[str]:
    """The credibility bars (bench.claims.gates) that the scorer, the reference LSGAN or any seed
    of `generator` fails in this run; [] when all clear."""
    from bench.claims import gates

    g = gates.Gates.from_settings(results.settings_obj())
    ctx = results.context
    ref = (ctx.get("reference") or {}).get("frechet")
    out = gates.scorer_failures(ctx.get("classifier_test_accuracy"), g) + gates.reference_failures(ref, g)
    for key, m in ctx.get("models", {}).items():
        if m.get("generator") == generator:
            out += gates.generator_failures(key, m, ref, g)
    return out


def claim_verdicts(results, generator: str, regs: list[str]) -> list[Verdict]:
    """Claims 1-5 on one generator, each withheld when the generator fails a bar."""
    from bench.claims import get

    table = Table(results)
    failures = gate_failures(results, generator)
    others = lambda r: [x for x in regs if x != r and table.best(generator, x) is not None]
    out = []

    def judge(key: str, diffs: list[Diff], missing: str):
        claim = get(key)
        if not diffs:
            out.append(claim.unjudged(generator, missing))
        elif failures:
            out.append(claim.withhold(generator, failures, "; ".join(d.text() for d in diffs)))
        else:
            est = [d.estimate() for d in diffs]
            out.append(claim.judge(generator, est if key != "energy-close-behind" else est[0],
                                   "; ".join(d.text() for d in diffs)))  # fmt: skip

    for key, target in (("wasserstein-best", "wasserstein"), ("log-normal-density-best", "log_normal_density")):
        diffs = [d for b in others(target) if (d := diff(table, (generator, b), (generator, target)))]
        judge(key, sorted(diffs, key=lambda d: -d.value), f"needs {target} and another regulator")
    d = diff(table, (generator, "wasserstein"), (generator, "energy"))
    judge("energy-close-behind", [d] if d else [], "needs wasserstein and energy")
    diffs = [d for r in others("none") if (d := diff(table, (generator, r), (generator, "none")))]
    judge("regulators-beat-baseline", diffs, "needs the baseline none and a regulator")
    diffs = [d for dist in DISTANCES for c in CUTOFFS if (d := diff(table, (generator, dist), (generator, c)))]
    judge("cutoffs-below-distances", diffs, "needs a distance regulator and a resampling cutoff")
    return out


# ----------------------------------------------------------------------------- isometric term


def iso_comparisons(results, regs: list[str]) -> list[dict]:
    """Per pair of ISO_PAIRS present (test targets only: generated targets differ by generator):
    the gap at each generator's best regulator, and per regulator."""
    if results.settings.get("targets", "test") != "test":
        return []
    table = Table(results)
    out = []
    gens = table.generators()
    for iso_base, base_base in ISO_PAIRS:  # the same recipe on both sides (`iso-lwgan.x`, `lwgan.x`)
        pairs = [(g, base_base + g[len(iso_base) :]) for g in gens if g.split(".")[0] == iso_base]
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
    """The regulator whose best cell has the highest accuracy for the generator on the
    selection half."""
    best = [(acc, r) for r in regs if (acc := table.best_accuracy(generator, r)) is not None]
    return max(best)[1] if best else None


def iso_verdicts(results, regs: list[str]) -> list[Verdict]:
    from bench.claims import get

    claim = get("isometric-recovery")
    out = []
    for c in iso_comparisons(results, regs):
        d: Diff | None = c["headline"]
        subject = f"{c['iso']} against {c['base']}"
        if d is None:
            out.append(claim.unjudged(subject, "no shared generator seed"))
            continue
        failures = gate_failures(results, c["iso"]) + gate_failures(results, c["base"])
        if failures:
            out.append(claim.withhold(subject, list(dict.fromkeys(failures)), d.text()))
        else:
            out.append(claim.judge(subject, [d.estimate()], d.text()))
    return out
