"""Is a number format's recovery equivalent to float32's? `bench compare BASE.json OTHER.json
--equivalence [--reseed RESEED.json]`, a pure function of saved recovery results.

The two results must recover the same target images through the same checkpoints with the same
scorer (only the number format, say, differs): every run of the grid is then paired image by
image. A cell-by-cell count of intervals that exclude 0 is the wrong test of "the same": it counts
the shared baseline runs once per table that holds them, and its percentile intervals run too
narrow when only a few images change outcome. Here:

- Each distinct run once (the weight-0 cells of tables 1-4 are one `none` run per learning rate).
- Equivalence by two one-sided tests (TOST, bench.stats.tost) on the per-image accuracy shift,
  averaged over the runs of each (generator seed, image), within +-MARGIN accuracy points: pooled
  over every run and per regulator; and on each claim contrast's shift, at the base's cross-fitted
  best cells in both results (the format's effect on the contrast, apart from which cells each
  result would choose; the verdicts side by side show the choice's effect), within +-2 MARGIN (a
  contrast is a difference of two levels). The interval counts images and generator seeds
  together (crossed).
- Per run an exact McNemar test of the two formats' right/wrong on the same images: the share
  with p < 0.05 beside the 5% chance alone gives (with its binomial 95% range).
- How many images change outcome per run, and, with a reseed (the same model and format, another
  recovery seed: RESEED), whether the format changes outcomes more often than a reseed does: per
  image the share of runs whose outcome flips under the format minus the share under the reseed,
  a t-interval over the images; the format's variance is not above a reseed's when that interval's
  upper end is at or below 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.crossed import tost
from bench.errors import BenchError
from bench.pipeline import load
from bench.recovery.codec import unpack_correct
from bench.recovery.grid import make_cell
from bench.recovery.reporting import evidence
from bench.report import markdown_table
from bench.stats import mcnemar, t_interval

MARGIN = 0.5  # accuracy points: a level shift under half a point, far inside every claim's band (the finest 2.85)
# A claim contrast is a difference of two levels, each within +-MARGIN: its shift within +-2 MARGIN.
CONTRAST_MARGIN = 2 * MARGIN


def _runs(results) -> dict[tuple, np.ndarray]:
    """(generator, generator seed, recovery seed, run id) -> right/wrong [images], each run once."""

    out = {}
    for c in results.cells:
        r, d = c["record"], c["cell"]
        if c["status"] != "finished" or not r or "correct" not in r:
            continue
        run = make_cell(d["regulator"], d["learning_rate"], d["hyperparameter"]).run
        out[(d["generator"], d["generator_seed"], d.get("seed", 0), run.run_id)] = unpack_correct(
            r["correct"], r["n_images"]
        )
    return out


def _check_pairable(base, other, names: tuple[str, str]) -> None:
    if {base.experiment, other.experiment} - {"recover", "dependence"}:
        raise BenchError("--equivalence: needs two recovery results (bench recover or bench dependence)")
    if base.context.get("image_ids") != other.context.get("image_ids"):
        raise BenchError(f"--equivalence: {names[1]} recovered other target images than {names[0]}")
    ca, cb = base.facts.get("checkpoints", {}), other.facts.get("checkpoints", {})
    differ = sorted(k for k in set(ca) & set(cb) if ca[k] != cb[k])
    if differ:
        raise BenchError(
            f"--equivalence: the checkpoints differ ({', '.join(differ)}): only the number format "
            "may differ between the two results"
        )


def _table(shifts: dict[tuple, np.ndarray], keep) -> np.ndarray | None:
    """[generator seeds, images]: the mean shift over the kept runs of each (seed, image)."""
    by: dict[int, list[np.ndarray]] = {}
    for key, d in shifts.items():
        if keep(key):
            by.setdefault(key[1], []).append(d)
    if not by:
        return None
    return np.stack([np.mean(by[s], axis=0) for s in sorted(by)])


def equivalence(
    base_path: str | Path, other_path: str | Path, reseed_path: str | Path | None = None, margin: float = MARGIN
) -> dict:
    """The equivalence analysis of OTHER against BASE (see the module docstring): a dict the
    markdown renders."""
    from scipy.stats import binom

    names = (Path(base_path).as_posix(), Path(other_path).as_posix())
    base, other = load(base_path), load(other_path)
    _check_pairable(base, other, names)
    ra, rb = _runs(base), _runs(other)
    common = sorted(set(ra) & set(rb))
    if not common:
        raise BenchError(f"--equivalence: {names[1]} and {names[0]} share no run of the grid")
    shifts = {k: 100.0 * (rb[k].astype(float) - ra[k]) for k in common}
    regulator = lambda key: key[3].split("|", 1)[0]
    pooled = tost(_table(shifts, lambda k: True), margin)
    per_reg = {
        r: tost(_table(shifts, lambda k, r=r: regulator(k) == r), margin)
        for r in dict.fromkeys(regulator(k) for k in common)
    }
    tests = [mcnemar(rb[k], ra[k])["pvalue"] for k in common]
    changed = [int((rb[k] != ra[k]).sum()) for k in common]
    low, high = binom.ppf([0.025, 0.975], len(common), 0.05)
    out = {
        "names": names,
        "margin": margin,
        "runs": len(common),
        "images": len(ra[common[0]]),
        "seeds": sorted({k[1] for k in common}),
        "mean_shift": float(np.mean([d.mean() for d in shifts.values()])),
        "pooled": pooled,
        "per_regulator": per_reg,
        "mcnemar": {"below_05": sum(p < 0.05 for p in tests), "chance_range": (int(low), int(high))},
        "changed_median": float(np.median(changed)),
        "contrast_margin": 2 * margin,
        "contrasts": _contrast_shifts(base, other, 2 * margin),
        "verdicts": _verdicts_side_by_side(base, other),
    }
    if reseed_path is not None:
        reseed = load(reseed_path)
        _check_pairable(base, reseed, (names[0], Path(reseed_path).as_posix()))
        rr = _runs(reseed)
        pairs = [(k, kr) for kr in rr for k in common if (k[0], k[1], k[3]) == (kr[0], kr[1], kr[3]) and k[2] != kr[2]]
        if pairs:
            fmt_flip = np.mean([rb[k] != ra[k] for k, _ in pairs], axis=0)
            reseed_flip = np.mean([rr[kr] != ra[k] for k, kr in pairs], axis=0)
            ci = t_interval(100 * (fmt_flip - reseed_flip))
            out["reseed"] = {
                "name": Path(reseed_path).as_posix(),
                "runs": len(pairs),
                "format_changed_median": float(np.median([(rb[k] != ra[k]).sum() for k, _ in pairs])),
                "reseed_changed_median": float(np.median([(rr[kr] != ra[k]).sum() for k, kr in pairs])),
                "excess": (ci.value, ci.lo, ci.hi),
                "not_above": bool(ci.hi <= 0),
            }
    out["equivalent"] = bool(
        pooled["equivalent"]
        and all(t["equivalent"] for t in per_reg.values())
        and all(c["tost"]["equivalent"] for c in out["contrasts"])
        and out.get("reseed", {}).get("not_above", True)
    )
    return out


def _contrast_shifts(base, other, margin: float) -> list[dict]:
    """Each claim contrast of claims 1-5 per generator: its shift between the two results at the
    base's cross-fitted best cells, per (generator seed, image), with a TOST."""

    ta = evidence.Table(base)
    tb = evidence.Table(other, choices_from=ta)
    regs = base.settings_obj().names()
    pairs = [(b, t) for t in ("wasserstein", "log_normal_density") for b in regs if b != t]
    pairs += [("wasserstein", "energy")] + [(r, "none") for r in regs if r != "none"]
    pairs += [(d, c) for d in evidence.DISTANCES for c in evidence.CUTOFFS]
    out = []
    for g in ta.generators():
        for a, b in dict.fromkeys(pairs):
            da, db = evidence.diff(ta, (g, a), (g, b)), evidence.diff(tb, (g, a), (g, b))
            if da is None or db is None or da.seeds != db.seeds:
                continue
            out.append(
                {
                    "generator": g,
                    "contrast": f"{a} - {b}",
                    "base": da.value,
                    "other": db.value,
                    "tost": tost(db.table - da.table, margin),
                }
            )
    return out


def _verdicts_side_by_side(base, other) -> list[dict]:
    theirs = {v.claim: v for v in other.verdict_objs()}
    return [
        {"claim": v.claim, "base": v.label, "other": theirs[v.claim].label if v.claim in theirs else "n/a"}
        for v in base.verdict_objs()
    ]


def _row(name: str, t: dict) -> dict:
    return {
        "": name,
        "shift (points)": f"{t['mean']:+.3f}",
        "90% interval": f"[{t['lo']:+.3f}, {t['hi']:+.3f}]",
        "TOST p": f"{t['p']:.2g}",
        "within the margin": "yes" if t["equivalent"] else "no",
    }


def _reseed_lines(res: dict) -> list[str]:
    if "reseed" not in res:
        return []
    a = res["names"][0]
    lines = []
    r = res["reseed"]
    v, lo, hi = r["excess"]
    lines += [
        "## Against a reseed",
        "",
        (
            f"`{r['name']}`: the same checkpoints and format as `{a}`, another recovery seed, {r['runs']} runs. "
            f"Images changing outcome per run: a median {r['format_changed_median']:.0f} under the format, "
            f"{r['reseed_changed_median']:.0f} under the reseed. Per image, the share of runs it flips under "
            f"the format minus under the reseed: {v:+.2f} [{lo:+.2f}, {hi:+.2f}] points (t over images): "
            + ("not above a reseed's." if r["not_above"] else "not shown at or below a reseed's.")
        ),
        "",
    ]
    return lines


def _verdict_lines(res: dict) -> list[str]:
    lines = []
    changed = [v for v in res["verdicts"] if v["base"] != v["other"]]
    lines += [
        "## Verdicts",
        "",
        (
            f"Every claim's verdict is the same in both ({len(res['verdicts'])})."
            if not changed
            else f"{len(changed)} of {len(res['verdicts'])} verdicts differ:"
        ),
        "",
    ]
    if changed:
        lines += [markdown_table(changed), ""]
    return lines


def markdown(res: dict) -> str:
    """The equivalence report (compare.md): the decision, the shifts, against a reseed, the verdicts."""

    a, b = res["names"]
    m = res["margin"]

    mc = res["mcnemar"]
    lines = [
        f"# Equivalence: `{b}` against `{a}`",
        "",
        (
            f"**{'Equivalent' if res['equivalent'] else 'Not shown equivalent'}** within +-{m:g} accuracy points: "
            f"pooled and per regulator, and within +-{res['contrast_margin']:g} on every claim contrast, by two "
            "one-sided tests (TOST at 5%, the 90% "
            "interval over images and generator seeds inside the margin)"
            + (", and the format changes outcomes no more often than a reseed does" if "reseed" in res else "")
            + f". What holds: {tally(res)}."
        ),
        "",
        (
            f"{res['runs']} distinct runs (shared baselines once) x {res['images']} images, generator seeds "
            f"{', '.join(map(str, res['seeds']))}; mean shift {res['mean_shift']:+.3f} points; a median "
            f"{res['changed_median']:.0f} of {res['images']} images change outcome per run. Exact McNemar per run: "
            f"{mc['below_05']} of {res['runs']} at p < 0.05, where chance alone gives {mc['chance_range'][0]}-"
            f"{mc['chance_range'][1]} (95% binomial range at 5%)."
        ),
        "",
        f"## The shift, pooled and per regulator (margin +-{m:g})",
        "",
        markdown_table([_row("pooled", res["pooled"]), *(_row(r, t) for r, t in res["per_regulator"].items())]),
        "",
        (
            f"## Each claim contrast's shift (both at the base's cross-fitted best cells; margin "
            f"+-{res['contrast_margin']:g}, a contrast being a difference of two levels)"
        ),
        "",
        markdown_table(
            [
                {
                    **_row(f"{c['generator']}: {c['contrast']}", c["tost"]),
                    "base": f"{c['base']:+.2f}",
                    "other": f"{c['other']:+.2f}",
                }
                for c in res["contrasts"]
            ]
        )
        if res["contrasts"]
        else "none",
        "",
    ]
    lines += _reseed_lines(res)
    lines += _verdict_lines(res)
    return "\n".join(lines).rstrip() + "\n"


def tally(res: dict) -> str:
    """Which parts of the test pass: pooled, regulators, claim contrasts, the reseed check."""
    regs = list(res["per_regulator"].values())
    parts = [
        f"pooled {'within' if res['pooled']['equivalent'] else 'not shown within'} +-{res['margin']:g}",
        f"{sum(t['equivalent'] for t in regs)} of {len(regs)} regulators within +-{res['margin']:g}",
        (
            f"{sum(c['tost']['equivalent'] for c in res['contrasts'])} of {len(res['contrasts'])} claim contrasts "
            f"within +-{res['contrast_margin']:g}"
        ),
    ]
    if "reseed" in res:
        parts.append(
            "outcomes changed "
            + (
                "no more often than under a reseed"
                if res["reseed"]["not_above"]
                else "not shown to change less than under a reseed"
            )
        )
    return "; ".join(parts)


def summary_line(res: dict) -> str:
    p = res["pooled"]
    return (
        f"{'equivalent' if res['equivalent'] else 'not shown equivalent'}: {tally(res)} (pooled shift "
        f"{p['mean']:+.3f} [{p['lo']:+.3f}, {p['hi']:+.3f}] over {res['runs']} runs)"
    )
