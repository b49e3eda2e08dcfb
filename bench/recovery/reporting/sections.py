"""Report sections of a recovery sweep over several generators: the models, the regulators x
generators table, in-span recovery, the isometric question and the paired comparisons. Pure
functions of the saved results (bench.recovery.reporting.render assembles them)."""

from __future__ import annotations

import math

from bench.claims import gates, get
from bench.recovery.grid import make_cell
from bench.recovery.reporting import evidence
from bench.report import markdown_table


def targets_line(s) -> str:
    if s.targets == "generated":
        return (
            f"- Targets: {s.images} in-span images G(z*) per generator, z* drawn from the "
            f"generator's prior (seed {s.subset_seed}) with its noise held at the noise that "
            "made the target, labelled by the classifier; a latent is recovered when "
            f"||z - z*|| / sqrt(d) <= {s.latent_tol:g}."
        )
    noise = "drawn once per (image, restart) and held fixed" if s.noise == "fixed" else "drawn anew at every step"
    return (
        f"- Targets: {s.images} test images (a fixed subset, subset seed {s.subset_seed}), the same "
        f"for every generator. LWGAN-family latent rank: `{s.latent_rank}`; a stochastic "
        f"generator's noise is {noise}."
    )


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
        rows.append(
            {
                "model": key,
                "family": m["family"],
                "latent rank / z_max": f"{m['latent_rank']} / {m['z_max']}"
                + (f" (estimated {m['rank_estimate']})" if m.get("rank_estimate") is not None else ""),
                "noise channels": m["noise_dim"],
                "Frechet (classifier features)": m["frechet"],
                "lowest digit share": f"{100 * m['min_share']:.1f}% (digit {m['min_share_digit']})",
                "train s": m.get("train_seconds"),
                "cached": m.get("loaded"),
                "digest": m["digest"][:16],
            }
        )
    head = (
        f"Classifier (scorer): test accuracy {f['classifier_test_accuracy']:.2f}% on the 10,000 MNIST "
        "test images (trained on the training set only; the paper's: 99.4%). Each generator is "
        f"judged on {next(iter(f['models'].values()))['quality_samples']:,} draws from its prior; "
        "training time is when the checkpoint was made (not this run's, if cached)."
    )
    return head + "\n\n" + markdown_table(rows, floatfmt={"Frechet (classifier features)": ".2f", "train s": ".0f"})


def _best_acc(table: evidence.Table, generator: str, regulator: str) -> tuple[str, float, float]:
    """The regulator's cross-fitted accuracy for the generator (each half judged at the cell chosen
    on the other): the mean over images and generator seeds with its crossed interval; (text,
    lo, hi)."""
    lev = table.level(generator, regulator)
    if lev is None:
        return "n/a", math.nan, math.nan
    return f"{lev.value:.1f} [{lev.lo:.1f}, {lev.hi:.1f}]", lev.lo, lev.hi


def best_rows(results, generator: str, table: evidence.Table | None = None) -> list[dict]:
    """Per regulator: the cross-fitted best cell and its accuracy; beside it, for reference, the
    best cell chosen and scored on every image, and the paper's best cell."""
    from bench.recovery.reporting.tables import best_cells, generator_summary

    table = table or evidence.Table(results)
    full = best_cells(generator_summary(results, generator)).set_index("regulator")
    rows = []
    for r in results.settings_obj().names():
        if r == "none" or r not in full.index:
            continue
        text, lo, hi = _best_acc(table, generator, r)
        f = full.loc[r]
        rows.append(
            {
                "regulator": r,
                "chosen on the other half": evidence.choice_text(table.choices(generator, r)),
                "cross-fitted accuracy %": text,
                "_sort": (lo + hi) / 2 if math.isfinite(lo) else -1,
                "full-set best cell": f["measured_best_cell"],
                "full-set accuracy %": f["measured_ci"],
                "paper best cell": f["paper_best_cell"],
                "paper %": f["paper_accuracy"],
            }
        )
    rows.sort(key=lambda x: -x.pop("_sort"))
    return rows


def _record(results, generator, regulator, cell):

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


def generator_sections(results, table: evidence.Table | None = None) -> list[str]:
    """Regulators x generators, in-span recovery, and the isometric question (lines)."""
    s = results.settings_obj()
    table = table or evidence.Table(results)
    regs = s.names()
    gens = [g for g in s.generators if g in table.generators()]
    seeds = max(len(s.seeds_of(g)) for g in gens) if gens else 1
    best = {(g, r): _best_acc(table, g, r) for g in gens for r in regs}
    rows = [{"regulator": r, **{f"`{g}`": best[g, r][0] for g in gens}} for r in regs]
    rank = {
        g: ", ".join(str(results.context["models"][f"{g} s{gs}"]["latent_rank"]) for gs in s.seeds_of(g)) for g in gens
    }
    rows.append({"regulator": "latent rank r per generator seed", **{f"`{g}`": rank[g] for g in gens}})
    out = [
        "## Regulators x generators",
        "",
        (
            "Each regulator's best cell per generator, cross-fitted (each half of the images judged at "
            "the cell chosen on the other): its accuracy (%) over every image"
            + (
                f" and the {seeds} generator seeds [95% interval over images and seeds together]."
                if seeds > 1
                else " [95% interval over the images; one generator seed, so seed variation is not counted]."
            )
        ),
        "",
        markdown_table(rows),
        "",
    ]
    if s.targets == "generated":
        out += _in_span(results, table, gens, regs)
    iso = evidence.iso_comparisons(results, regs, table)
    if iso:
        out += [
            "## Does the isometric regulariser make recovery easier?",
            "",
            f"Rule: {get('isometric-recovery').rule()}",
            "",
        ]
        for c in iso:
            h = c["headline"]
            tops = {g: evidence.choice_text(ch, with_regulator=True) for g, ch in c["top"].items()}
            out += [
                f"`{c['iso']}` against `{c['base']}`, each at its best regulator and cell ({tops[c['iso']]}; "
                f"{tops[c['base']]}): " + (h.text() if h else "n/a") + ".",
                "",
            ]
            rows = [
                {
                    "regulator": r,
                    "gap (points)": d.text().split(": ", 1)[1],
                    "per generator seed": "; ".join(
                        f"s{k}: {v[0]:+.1f} [{v[1]:+.1f}, {v[2]:+.1f}]" for k, v in d.per_seed.items()
                    ),
                }
                for r, d in c["per_regulator"].items()
            ]
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
            ch = table.choices(g, r)
            cell = ch[0][1:] if ch else None  # the first half's choice
            rec = _record(results, g, r, cell) if cell else None
            if rec is None or "latent_rmse" not in rec:
                continue
            rows.append(
                {
                    "generator": g,
                    "regulator": r,
                    "best cell": evidence.cell_text(cell),
                    "accuracy %": rec["accuracy"],
                    "l2 pixel error": rec["l2"],
                    "||z - z*||": rec["latent_error"],
                    "per element": rec["latent_rmse"],
                    "z recovered %": rec["latent_recovered"],
                }
            )
    return [
        "## In-span targets: pixel against latent error",
        "",
        (
            "Recovering images the generator itself made separates the optimiser from the generator's "
            "coverage: a low pixel error with a large latent error means another z makes the same "
            "image; a large pixel error means the optimiser did not get there. First generator seed "
            "and recovery seed, the cell chosen on the first half."
        ),
        "",
        markdown_table(rows, floatfmt=".3g"),
        "",
    ]


def paired_table(results, generator: str, table: evidence.Table | None = None) -> list[str]:
    """Every regulator's cross-fitted best cell against wasserstein's on the same images."""
    table = table or evidence.Table(results)
    regs = [r for r in results.settings_obj().names() if r != "wasserstein"]
    rows = []
    for r in regs:
        d = evidence.diff(table, (generator, r), (generator, "wasserstein"))
        if d is None:
            continue
        p = "; ".join(f"s{k}: {v:.2g}" for k, v in d.mcnemar_p.items())
        rows.append(
            {
                "regulator": r,
                "best cell": evidence.choice_text(table.choices(generator, r)),
                "acc - acc(wasserstein)": d.text().split(": ", 1)[1],
                "McNemar p (first recovery seed)": p,
            }
        )
    if not rows:
        return []
    return [
        (
            f"Paired against wasserstein's cross-fitted best cell "
            f"({evidence.choice_text(table.choices(generator, 'wasserstein'))}), on the same images:"
        ),
        "",
        markdown_table(rows),
        "",
    ]


def gates_markdown(results) -> list[str]:
    """The credibility bars this run applies, with their reasons, and which models fail one."""

    s = results.settings_obj()
    g = gates.Gates.from_settings(s)
    ref = results.context.get("reference") or {}
    fails = {gen: evidence.gate_failures(results, gen) for gen in s.generators}
    in_span = s.targets != "test"
    bars = ("scorer", "collapse") if in_span else gates.SAMPLE_BARS
    lines = [
        "### Credibility bars",
        "",
        (
            "A verdict rests on a generator only when the scorer, the reference LSGAN and every seed "
            "of that generator clear these bars; otherwise it is withheld, naming the bar. Each bar "
            "can be set by its option (0 turns it off)."
            if not in_span
            else "In-span targets are the generator's own images: its coverage of the data cannot cap their "
            "recovery, so only the scorer's bar and collapse apply; each can be set by its option."
        ),
        "",
        markdown_table(gates.bars_rows(g, bars)),
        "",
    ]
    if ref:
        lines += [
            f"Reference LSGAN: `{ref['name']}` seed {ref['seed']}, Frechet {ref['frechet']:.2f} "
            f"(digest {ref['digest'][:16]})"
            + (", a model of this sweep." if ref.get("in_sweep") else ", loaded for this yardstick."),
            "",
        ]
    else:
        lines += ["No reference LSGAN in these results: the Frechet ratio bar is not applied.", ""]
    lines += [
        f"- `{gen}`: " + ("clears every bar." if not f else "fails: " + "; ".join(f) + ".") for gen, f in fails.items()
    ]
    return lines + [""]
