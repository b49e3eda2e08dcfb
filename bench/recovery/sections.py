"""Report sections of a recovery sweep over several generators: the models, the regulators x
generators table, in-span recovery, the isometric question and the paired comparisons. Pure
functions of the saved results (bench.recovery.report assembles them)."""

from __future__ import annotations

import math

import numpy as np

from bench.recovery import compare
from bench.report import markdown_table


def targets_line(s) -> str:
    if s.targets == "generated":
        return (f"- Targets: {s.images} in-span images G(z*) per generator, z* drawn from the "
                f"generator's prior (seed {s.subset_seed}) with its noise held at the noise that "
                "made the target, labelled by the classifier; a latent is recovered when "
                f"||z - z*|| / sqrt(d) <= {s.latent_tol:g}.")  # fmt: skip
    noise = "drawn once per (image, restart) and held fixed" if s.noise == "fixed" else "drawn anew at every step"
    return (f"- Targets: {s.images} test images (a fixed subset, subset seed {s.subset_seed}), the same "
            f"for every generator. LWGAN-family latent rank: `{s.latent_rank}`; a stochastic "
            f"generator's noise is {noise}.")  # fmt: skip


READING_TEXT = {
    "after": "after each Adam step (the SPEC's reading)",
    "before": "before each Adam step, so the last Adam step follows the last resample",
    "accept": "after each Adam step, kept for an image only where it lowers that image's objective",
}


def reading_line(s) -> str:
    """How the resampling cutoffs act (SPEC: readings of the resampling cutoffs)."""
    every = "" if s.resample_every == 1 else f", at every {s.resample_every}th step only"
    return f"- Resampling cutoffs: each element is resampled {READING_TEXT[s.resample_at]}{every}."


def models_markdown(results) -> str:
    """One row per trained generator, and the scorer."""
    f = results.context
    rows = []
    for key, m in f["models"].items():
        rows.append({
            "model": key, "family": m["family"],
            "latent rank / z_max": f"{m['latent_rank']} / {m['z_max']}"
            + (f" (estimated {m['rank_estimate']})" if m.get("rank_estimate") is not None else ""),
            "noise channels": m["noise_dim"],
            "Frechet (classifier features)": m["frechet"],
            "lowest digit share": f"{100 * m['min_share']:.1f}% (digit {m['min_share_digit']})",
            "train s": m.get("train_seconds"), "cached": m.get("loaded"), "digest": m["digest"][:16],
        })  # fmt: skip
    head = (f"Classifier (scorer): test accuracy {f['classifier_test_accuracy']:.2f}% on the 10,000 MNIST "
            "test images (trained on the training set only; the paper's: 99.4%). Each generator is "
            f"judged on {next(iter(f['models'].values()))['quality_samples']:,} draws from its prior; "
            "training time is when the checkpoint was made (not this run's, if cached).")  # fmt: skip
    return head + "\n\n" + markdown_table(rows, floatfmt={"Frechet (classifier features)": ".2f", "train s": ".0f"})


def _best_acc(results, table: compare.Table, generator: str, regulator: str) -> tuple[str, float, float]:
    """The regulator's best cell for the generator (chosen on the selection half), scored on the
    evaluation half: the mean over generator seeds with a t-interval, or with one generator seed
    a bootstrap interval over the evaluation images; (text, lo, hi)."""
    from bench.stats import bootstrap_ci, t_interval

    cell = table.best(generator, regulator)
    if cell is None:
        return "n/a", math.nan, math.nan
    per_image = [x for s in table.seeds(generator) if (x := table.per_image(generator, s, regulator, cell)) is not None]
    if not per_image:
        return "n/a", math.nan, math.nan
    ci = t_interval([float(np.mean(x)) for x in per_image]) if len(per_image) > 1 else bootstrap_ci(per_image[0])
    return f"{ci.value:.1f} [{ci.lo:.1f}, {ci.hi:.1f}]", ci.lo, ci.hi


def best_rows(results, generator: str) -> list[dict]:
    """Per regulator: the best cell chosen on the selection half and its accuracy on the
    evaluation half; beside it, for reference, the best cell chosen and scored on every image,
    and the paper's best cell."""
    from bench.recovery.tables import best_cells, generator_summary

    table = compare.Table(results)
    full = best_cells(generator_summary(results, generator)).set_index("regulator")
    rows = []
    for r in results.settings_obj().names():
        if r == "none" or r not in full.index:
            continue
        text, _, _ = _best_acc(results, table, generator, r)
        f = full.loc[r]
        rows.append({"regulator": r, "chosen on the selection half": compare.cell_text(table.best(generator, r)),
                     "held-out accuracy %": text, "_sort": table.heldout_accuracy(generator, r) or -1,
                     "full-set best cell": f["measured_best_cell"], "full-set accuracy %": f["measured_ci"],
                     "paper best cell": f["paper_best_cell"], "paper %": f["paper_accuracy"]})  # fmt: skip
    rows.sort(key=lambda x: -x.pop("_sort"))
    return rows


def _record(results, generator, regulator, cell):
    from bench.recovery.grid import make_cell

    for c in results.cells:
        d = c["cell"]
        if (
            c["status"] == "finished"
            and d["generator"] == generator
            and (d["learning_rate"], d["hyperparameter"]) == cell
            and make_cell(d["regulator"], *cell).run.regulator == regulator
        ):
            return c["record"]
    return None


def generator_sections(results) -> list[str]:
    """Regulators x generators, in-span recovery, and the isometric question (lines)."""
    s = results.settings_obj()
    table = compare.Table(results)
    regs = s.names()
    gens = [g for g in s.generators if g in table.generators()]
    seeds = max(len(s.seeds_of(g)) for g in gens) if gens else 1
    best = {(g, r): _best_acc(results, table, g, r) for g in gens for r in regs}
    rows = [{"regulator": r, **{f"`{g}`": best[g, r][0] for g in gens}} for r in regs]
    rank = {g: ", ".join(str(results.context["models"][f"{g} s{gs}"]["latent_rank"]) for gs in s.seeds_of(g))
            for g in gens}  # fmt: skip
    rows.append({"regulator": "latent rank r per generator seed", **{f"`{g}`": rank[g] for g in gens}})
    out = [
        "## Regulators x generators",
        "",
        (
            "Each regulator's best cell per generator, chosen on the selection half of the images: "
            "its accuracy (%) on the evaluation half, "
            + (
                f"mean over {seeds} generator seeds [95% t-interval]."
                if seeds > 1
                else "[95% bootstrap interval over the evaluation images]."
            )
        ),
        "",
        markdown_table(rows),
        "",
    ]
    if any(lo < 0 or hi > 100 for _, lo, hi in best.values()):  # NaN (no interval) compares False
        out += [
            (
                "A t-interval over few generator seeds that disagree can reach below 0 or above 100%: "
                "it is shown as computed; the per-seed paired intervals below say more."
            ),
            "",
        ]
    if s.targets == "generated":
        out += _in_span(results, table, gens, regs)
    iso = compare.iso_comparisons(results, regs)
    if iso:
        from bench.claims import get

        out += ["## Does the isometric regulariser make recovery easier?", "",
                f"Rule: {get('isometric-recovery').rule()}", ""]  # fmt: skip
        for c in iso:
            h = c["headline"]
            out += [f"`{c['iso']}` against `{c['base']}`, each at its best regulator ({c['top'][c['iso']]} and "
                    f"{c['top'][c['base']]}): " + (h.text() if h else "n/a") + ".", ""]  # fmt: skip
            rows = [{"regulator": r, "gap (points)": d.text().split(": ", 1)[1],
                     "per generator seed": "; ".join(f"s{k}: {v[0]:+.1f} [{v[1]:+.1f}, {v[2]:+.1f}]"
                                                     for k, v in d.per_seed.items())}
                    for r, d in c["per_regulator"].items()]  # fmt: skip
            out += ["Per regulator (each generator at that regulator's best cell):", "", markdown_table(rows), ""]
        out += [
            (
                "Each generator's latent rank (table above) is part of the model as trained: where "
                "the ranks differ, the comparison includes that difference."
            ),
            "",
        ]
    return out


def _in_span(results, table, gens, regs) -> list[str]:
    """In-span recovery: does the optimiser find z*? Per generator and regulator's best cell."""
    rows = []
    for g in gens:
        for r in regs:
            cell = table.best(g, r)
            rec = _record(results, g, r, cell) if cell else None
            if rec is None or "latent_rmse" not in rec:
                continue
            rows.append({"generator": g, "regulator": r, "best cell": compare.cell_text(cell),
                         "accuracy %": rec["accuracy"], "l2 pixel error": rec["l2"],
                         "||z - z*||": rec["latent_error"], "per element": rec["latent_rmse"],
                         "z recovered %": rec["latent_recovered"]})  # fmt: skip
    return ["## In-span targets: pixel against latent error", "",
            ("Recovering images the generator itself made separates the optimiser from the generator's "
             "coverage: a low pixel error with a large latent error means another z makes the same "
             "image; a large pixel error means the optimiser did not get there. First generator seed "
             "and recovery seed."), "",
            markdown_table(rows, floatfmt=".3g"), ""]  # fmt: skip


def paired_table(results, generator: str) -> list[str]:
    """Every regulator's best cell against wasserstein's on the same images."""
    table = compare.Table(results)
    regs = [r for r in results.settings_obj().names() if r != "wasserstein"]
    rows = []
    for r in regs:
        d = compare.diff(table, (generator, r), (generator, "wasserstein"))
        if d is None:
            continue
        p = "; ".join(f"s{k}: {v:.2g}" for k, v in d.mcnemar_p.items())
        rows.append(
            {
                "regulator": r,
                "best cell": compare.cell_text(table.best(generator, r)),
                "acc - acc(wasserstein)": d.text().split(": ", 1)[1],
                "McNemar p (first recovery seed)": p,
            }
        )
    if not rows:
        return []
    return [
        (
            f"Paired against wasserstein's best cell ({compare.cell_text(table.best(generator, 'wasserstein'))}), "
            "each cell chosen on the selection half, on the same evaluation images:"
        ),
        "",
        markdown_table(rows),
        "",
    ]


def gates_markdown(results) -> list[str]:
    """The credibility bars this run applies, with their reasons, and which models fail one."""
    from bench.claims import gates

    s = results.settings_obj()
    g = gates.Gates.from_settings(s)
    ref = results.context.get("reference") or {}
    fails = {gen: compare.gate_failures(results, gen) for gen in s.generators}
    lines = ["### Credibility bars", "",
             ("A verdict rests on a generator only when the scorer, the reference LSGAN and every seed "
              "of that generator clear these bars; otherwise it is withheld, naming the bar. Each bar "
              "can be set by its option (0 turns it off)."), "",
             markdown_table(gates.bars_rows(g, compare.GATE_BARS)), ""]  # fmt: skip
    if ref:
        lines += [f"Reference LSGAN: `{ref['name']}` seed {ref['seed']}, Frechet {ref['frechet']:.2f} "
                  f"(digest {ref['digest'][:16]})" + (", a model of this sweep." if ref.get("in_sweep") else
                                                        ", loaded for this yardstick."), ""]  # fmt: skip
    else:
        lines += ["No reference LSGAN in these results: the Frechet ratio bar is not applied.", ""]
    lines += [f"- `{gen}`: " + ("clears every bar." if not f else "fails: " + "; ".join(f) + ".")
              for gen, f in fails.items()]  # fmt: skip
    return lines + [""]
