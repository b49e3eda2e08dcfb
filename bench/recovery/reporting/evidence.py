"""Paired comparisons of recovery settings, and the verdicts on the latent-regulation paper's
claims and on the isometric regulariser; pure functions of the saved results.

Best cells are cross-fitted. The target images are cut, by a seeded permutation (`split_seed`,
fixed in the run's settings before any cell runs), into two halves. Each regulator's best cell
for a generator (lr and weight or hyperparameter; averaged over generator seeds and recovery
seeds) is chosen on one half and judged on the other, and the other way round, so every image is
judged once, at a cell that its own outcome did not choose. Choosing and judging on the same
images favours a regulator with many cells over one with few (the baseline has 4 cells, a loss
regulator 16-20): the maximum of noisy means is biased upward (tests/test_recovery_holdout).

Two regulators are compared on the same images: the per-image difference of their cross-fitted
cells at every generator seed is a [seeds, images] table, and its mean's interval counts the
images and the seeds together (bench.stats.crossed_interval): every seed recovers the same
images, so a t-interval over seed means alone would miss the images' share of the noise. With
fewer than FIRM_SEEDS generator seeds the seed variation is not seen, and the verdict says it is
provisional. Per seed, for reading, a t-interval over the images and an exact McNemar test on the
first recovery seed. The claims' bands are in bench.claims (the registry); the full-set grids
stay in the report for reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bench.claims import Estimate, gates, get
from bench.claims.catalog import FIRM_SEEDS
from bench.crossed import crossed_interval
from bench.recovery.codec import unpack_correct
from bench.recovery.grid import fmt, make_cell
from bench.stats import mcnemar
from bench.verdict import Verdict

DISTANCES = ("wasserstein", "energy")
CUTOFFS = ("logistic_cutoff", "truncated_normal_cutoff")
ISO_PAIRS = (("iso-lwgan", "lwgan"), ("iso-lwgan-stochastic", "lwgan"))


def split_halves(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The target images' indices cut into two seeded halves (the second takes the odd one out)."""
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[: n // 2]), np.sort(perm[n // 2 :])


def _regs(regs) -> tuple[str, ...]:
    return (regs,) if isinstance(regs, str) else tuple(regs)


class Table:
    """Per-image correctness of every finished cell, and each (generator, regulators)'s best cell
    cross-fitted over two halves of the images. `regs` may be one regulator or several (the best
    regulator and cell among them: the isometric question's "each generator at its best"). With
    holdout=False there is one fold, chosen and judged on every image (the full-set choice the
    report keeps for reference, biased upward). Each generator has its own halves: a generator may
    be recovered on fewer images (images_for). `split_seed` replaces the run's (sensitivity);
    `choices_from` takes another table's choices (the same cells judged in another run)."""

    def __init__(self, results, holdout: bool = True, split_seed: int | None = None, choices_from: Table | None = None):
        # (generator, gen seed, regulator actually run, lr, hp) -> {recovery seed: bool [n]}
        self.bits: dict[tuple, dict[int, np.ndarray]] = {}
        sizes: dict[str, int] = {}
        for c in results.cells:
            r = c["record"]
            if c["status"] != "finished" or not r or "correct" not in r:
                continue
            d = c["cell"]
            run = make_cell(d["regulator"], d["learning_rate"], d["hyperparameter"]).run
            key = (d["generator"], d["generator_seed"], run.regulator, run.lr, run.hp)
            self.bits.setdefault(key, {})[d.get("seed", 0)] = unpack_correct(r["correct"], r["n_images"])
            sizes[d["generator"]] = r["n_images"]
        self.holdout = holdout and all(n >= 2 for n in sizes.values())
        self.split_seed = int(results.settings.get("split_seed", 0)) if split_seed is None else split_seed
        self._folds = {}
        for g, n in sizes.items():
            if self.holdout:
                a, b = split_halves(n, self.split_seed)
                self._folds[g] = [(a, b), (b, a)]  # (judged, chosen on): fold k judges half k
            else:
                self._folds[g] = [(np.arange(n), np.arange(n))]
        # per cell: correct counts per image over every generator seed and recovery seed (the choice)
        self._counts: dict[tuple, tuple[np.ndarray, int]] = {}
        for (g, _, reg, lr, hp), runs in self.bits.items():
            total, k = self._counts.get((g, reg, lr, hp), (0, 0))
            self._counts[(g, reg, lr, hp)] = (total + np.sum(list(runs.values()), axis=0), k + len(runs))
        self._choices: dict[tuple, list] = {}
        self._borrow = choices_from
        self._by_cell: dict[tuple, list[int]] = {}  # (generator, regulator, lr, hp) -> generator seeds
        for g, gs, reg, lr, hp in sorted(self.bits):
            self._by_cell.setdefault((g, reg, lr, hp), []).append(gs)

    def folds(self, generator: str) -> list[tuple[np.ndarray, np.ndarray]]:
        """(images judged, images the choice was made on), one pair per fold."""
        return self._folds[generator]

    def images(self, generator: str) -> int:
        return sum(len(judged) for judged, _ in self._folds[generator])

    def generators(self) -> list[str]:
        return list(dict.fromkeys(k[0] for k in self.bits))

    def regulators(self, generator: str) -> list[str]:
        """The regulators with a finished cell for the generator (the baseline `none` first)."""
        regs = dict.fromkeys(k[2] for k in self.bits if k[0] == generator)
        return sorted(regs, key=lambda r: r != "none")

    def seeds(self, generator: str) -> list[int]:
        return sorted({k[1] for k in self.bits if k[0] == generator})

    def choices(self, generator: str, regs) -> list[tuple[str, float, float]] | None:
        """Per fold the (regulator, lr, hp) with the highest accuracy on the images the fold
        chooses on, among `regs`' cells; None when none has a cell. Ties: the first in grid order."""
        regs = _regs(regs)
        if self._borrow is not None:
            return self._borrow.choices(generator, regs)
        key = (generator, regs)
        if key not in self._choices:
            cand = [(k[1], k[2], k[3], c) for k, c in self._counts.items() if k[0] == generator and k[1] in regs]
            if not cand:
                self._choices[key] = None
            else:
                self._choices[key] = [
                    max(cand, key=lambda x: x[3][0][on].sum() / (x[3][1] * len(on)))[:3]
                    for _, on in self.folds(generator)
                ]
        return self._choices[key]

    def selection_accuracy(self, generator: str, regs) -> float | None:
        """What the choice saw: the chosen cells' accuracy on the images they were chosen on."""
        ch = self.choices(generator, regs)
        if ch is None:
            return None
        accs = [
            100 * self._counts[(generator, *c)][0][on].sum() / (self._counts[(generator, *c)][1] * len(on))
            for c, (_, on) in zip(ch, self.folds(generator))
        ]
        return float(np.mean(accs))

    def _crossfit(self, generator: str, seed: int, regs, first: bool) -> np.ndarray | None:
        ch = self.choices(generator, regs)
        if ch is None:
            return None
        out = np.zeros(self.images(generator))
        for (reg, lr, hp), (judged, _) in zip(ch, self.folds(generator)):
            runs = self.bits.get((generator, seed, reg, lr, hp))
            if not runs:
                return None
            x = runs[min(runs)] if first else np.mean(list(runs.values()), axis=0)
            out[judged] = x[judged]
        return out

    def per_image(self, generator: str, seed: int, regs) -> np.ndarray | None:
        """Per-image accuracy (%) at one generator seed, every image judged at the cell chosen on
        the other half, averaged over recovery seeds; None when a cell is missing."""
        x = self._crossfit(generator, seed, regs, first=False)
        return None if x is None else 100 * x

    def first_bits(self, generator: str, seed: int, regs) -> np.ndarray | None:
        """The same on the first recovery seed, as right/wrong (for McNemar)."""
        x = self._crossfit(generator, seed, regs, first=True)
        return None if x is None else x.astype(bool)

    def cell_level(self, generator: str, regulator: str, lr: float, hp: float):
        """One cell's accuracy (%) over every image and generator seed with its crossed interval
        (each seed's per-image accuracy averaged over its recovery seeds); None when missing."""

        seeds = self._by_cell.get((generator, regulator, lr, hp), [])
        rows = [100 * np.mean(list(self.bits[(generator, gs, regulator, lr, hp)].values()), axis=0) for gs in seeds]
        return crossed_interval(np.stack(rows)) if rows else None

    def level(self, generator: str, regs):
        """The cross-fitted accuracy (%) over the generator's seeds and images, with its crossed
        interval (bench.stats.Crossed); None when a cell is missing."""

        rows = [x for s in self.seeds(generator) if (x := self.per_image(generator, s, regs)) is not None]
        return crossed_interval(np.stack(rows)) if rows else None


@dataclass(frozen=True)
class Diff:
    """acc(a) - acc(b) in accuracy points, cross-fitted: the per-image differences at every
    generator seed both have ([seeds, images]) and their crossed mean with its interval."""

    a: str
    b: str
    seeds: tuple[int, ...]
    table: np.ndarray = field(repr=False)  # [seeds, images]
    first: dict = field(repr=False)  # seed -> (a's, b's right/wrong on the first recovery seed)

    @property
    def crossed(self):

        return crossed_interval(self.table)

    @property
    def value(self) -> float:
        return float(self.table.mean())

    @property
    def images(self) -> int:
        return self.table.shape[1]

    @property
    def interval(self) -> tuple[float, float]:
        c = self.crossed
        return c.lo, c.hi

    @property
    def per_seed(self) -> dict[int, tuple[float, float, float]]:
        """seed -> (gap, lo, hi) with a t-interval over that seed's images (for reading)."""

        return {s: tuple(crossed_interval(self.table[k : k + 1])[:3]) for k, s in enumerate(self.seeds)}

    @property
    def mcnemar_p(self) -> dict[int, float]:

        return {s: mcnemar(x, y)["pvalue"] for s, (x, y) in self.first.items()}

    @property
    def provisional(self) -> str:
        n = len(self.seeds)
        if n >= FIRM_SEEDS:
            return ""
        return f"{n} generator seed{'s' * (n != 1)}; a firm verdict needs {FIRM_SEEDS}"

    @property
    def where(self) -> str:
        n = len(self.seeds)
        return f"{n} generator seed{'s' * (n != 1)} x {self.images} images"

    def text(self) -> str:
        lo, hi = self.interval
        return f"{self.a} - {self.b}: {self.value:+.1f} [{lo:+.1f}, {hi:+.1f}] ({self.where})"

    def estimate(self) -> Estimate:
        lo, hi = self.interval
        return Estimate(f"{self.a} - {self.b}", self.value, lo, hi, self.where)


def diff(table: Table, a: tuple, b: tuple) -> Diff | None:
    """acc(a) - acc(b) for a = (generator, regulator or regulators) at its cross-fitted best
    cell, b likewise, over the generator seeds both have. None when either is missing."""
    rows, first, seeds = [], {}, []
    for s in sorted(set(table.seeds(a[0])) & set(table.seeds(b[0]))):
        x, y = table.per_image(a[0], s, a[1]), table.per_image(b[0], s, b[1])
        if x is None or y is None or x.shape != y.shape:
            continue
        rows.append(x - y)
        first[s] = (table.first_bits(a[0], s, a[1]), table.first_bits(b[0], s, b[1]))
        seeds.append(s)
    if not rows:
        return None

    def name(t):
        r = t[1] if isinstance(t[1], str) else "best regulator"
        return r if a[0] == b[0] else f"{t[0]}/{r}"

    return Diff(name(a), name(b), tuple(seeds), np.stack(rows), first)


def cell_text(cell: tuple | None) -> str:
    return "n/a" if cell is None else f"lr {fmt(cell[-2])}, hp {fmt(cell[-1])}"


def choice_text(choices: list | None, with_regulator: bool = False) -> str:
    """The cross-fitted choice as text: one cell, or one per half where they differ."""
    if not choices:
        return "n/a"
    texts = [(f"{c[0]} " if with_regulator else "") + cell_text(c) for c in choices]
    if len(set(texts)) == 1:
        return texts[0]
    return "; ".join(f"judging half {k + 1}: {t}" for k, t in enumerate(texts))


# ------------------------------------------------------------------------------------ claims

CLAIM_KEYS = ("wasserstein-best", "log-normal-density-best", "energy-close-behind",
              "regulators-beat-baseline", "cutoffs-below-distances")  # fmt: skip


def gate_failures(results, generator: str) -> list[str]:
    """The credibility bars that the scorer, the reference LSGAN or any seed of `generator` fails
    in this run, for claims judged on recovery of test images ([] when all clear). In-span
    targets are the generator's own images: its coverage of the data cannot cap their recovery,
    so only the scorer's bar and collapse apply there (bench.claims.gates.recovery_failures)."""

    g = gates.Gates.from_settings(results.settings_obj())
    ctx = results.context
    models = {k: m for k, m in ctx.get("models", {}).items() if m.get("generator") == generator}
    return gates.recovery_failures(ctx, models, g, in_span=results.settings.get("targets", "test") != "test")


def claim_verdicts(results, generator: str, regs: list[str], table: Table | None = None) -> list[Verdict]:
    """Claims 1-5 on one generator, each withheld when the generator fails a bar."""

    table = table or Table(results)
    failures = gate_failures(results, generator)
    others = lambda r: [x for x in regs if x != r and table.choices(generator, x) is not None]
    out = []

    def judge(key: str, diffs: list[Diff], missing: str):
        claim = get(key)
        if not diffs:
            out.append(claim.unjudged(generator, missing))
        elif failures:
            out.append(claim.withhold(generator, failures, "; ".join(d.text() for d in diffs)))
        else:
            est = [d.estimate() for d in diffs]
            out.append(
                claim.judge(
                    generator,
                    est if key != "energy-close-behind" else est[0],
                    "; ".join(d.text() for d in diffs),
                    provisional=diffs[0].provisional,
                )
            )

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


def iso_comparisons(results, regs: list[str], table: Table | None = None) -> list[dict]:
    """Per pair of ISO_PAIRS present (test targets only: generated targets differ by generator):
    the gap with each generator at its best regulator and cell (cross-fitted), and per regulator."""
    if results.settings.get("targets", "test") != "test":
        return []
    table = table or Table(results)
    out = []
    gens = table.generators()
    regs = tuple(regs)
    for iso_base, base_base in ISO_PAIRS:  # the same recipe on both sides (`iso-lwgan.x`, `lwgan.x`)
        pairs = [(g, base_base + g[len(iso_base) :]) for g in gens if g.split(".")[0] == iso_base]
        if not pairs or pairs[0][1] not in gens:
            continue
        iso, base = pairs[0]
        top = {g: table.choices(g, regs) for g in (iso, base)}
        headline = diff(table, (iso, regs), (base, regs)) if all(top.values()) else None
        per_reg = {r: diff(table, (iso, r), (base, r)) for r in regs}
        out.append(
            {
                "iso": iso,
                "base": base,
                "top": top,
                "headline": headline,
                "per_regulator": {r: d for r, d in per_reg.items() if d is not None},
            }
        )
    return out


def iso_verdicts(results, regs: list[str], table: Table | None = None) -> list[Verdict]:

    claim = get("isometric-recovery")
    out = []
    for c in iso_comparisons(results, regs, table):
        d: Diff | None = c["headline"]
        subject = f"{c['iso']} against {c['base']}"
        if d is None:
            out.append(claim.unjudged(subject, "no shared generator seed"))
            continue
        failures = gate_failures(results, c["iso"]) + gate_failures(results, c["base"])
        if failures:
            out.append(claim.withhold(subject, list(dict.fromkeys(failures)), d.text()))
        else:
            out.append(claim.judge(subject, [d.estimate()], d.text(), provisional=d.provisional))
    return out
