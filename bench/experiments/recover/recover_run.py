"""`bench recover`: latent vector recovery under every latent regulator (tables 1-6 of Cho's
latent regulation paper), as an experiment of the pipeline.

The grid (bench.recovery.grid) gives the cells: (regulator, learning rate, hyperparameter) x
recovery seed. Cells of one regulator at one seed form a chunk that the batched engine recovers
in one tensor (bench.recovery.sweep.run_chunk); the weight-0 cells of tables 1-4 share the `none`
baseline's run and are recovered once. `prepare` trains or loads the scorer and the generator
and judges the generator; the report (bench.recovery.reporting.render) is a pure function of the results.
"""

from __future__ import annotations

import math

from bench.experiments.recover import recover_models as models
from bench.experiments.recover.recover_models import cells, grid_cell, model_key
from bench.pipeline import Experiment, register
from bench.recovery.codec import pack_uint8_images, unpack_images
from bench.recovery.grid import cell_id
from bench.recovery.recover_settings import RecoverSettings
from bench.recovery.reporting import render, tables
from bench.recovery.reporting.evidence import Table
from bench.settings import unkeyed_fields


def cell_name(cell: dict) -> str:
    return (
        f"{cell['generator']}|g{cell['generator_seed']}|"
        f"{cell_id(cell['regulator'], cell['learning_rate'], cell['hyperparameter'])}|seed={cell['seed']}"
        + (f"|images={cell['images']}" if "images" in cell else "")
    )


def chunk_key(cell: dict) -> list:
    """One chunk per (generator, its seed, recovery seed, regulator actually recovered): the
    engine batches a chunk's cells."""
    return [cell["generator"], cell["generator_seed"], cell["seed"], grid_cell(cell).run.regulator]


def chunk(cells_: list[dict], ctx, settings: RecoverSettings | None = None) -> list[dict]:
    """Recover and score one chunk (one regulator's cells of one generator at one seed);
    `settings` replaces the run's (another reading of the resampling rule, say)."""
    from bench.recovery.sweep import run_chunk

    s: RecoverSettings = settings or ctx.settings
    first = cells_[0]
    classifier, _ = models.scorer(ctx)
    model = models.generator_model(ctx, first["generator"], first["generator_seed"])
    ids, targets, labels, z_star, eps = models.target_images(ctx, model)
    grid = [grid_cell(c) for c in cells_]
    records = run_chunk(
        model,
        classifier,
        targets,
        labels,
        ids,
        grid,
        first["seed"],
        s,
        device=ctx.torch_device,
        z_star=z_star,
        precision=ctx.prepared.precision or "fp32",
        noise_rows=eps if model.noise_dim else None,
        progress=ctx.progress,
    )
    out = []
    for c, r in zip(grid, records):
        params = {
            "table": c.table or "",
            "shared_baseline": c.shared,
            "run_id": c.run_id,
            # The MLflow chart view has no log axis: a scatter of accuracy against this one is
            # readable where one against learning_rate (0.001 ... 1) is not.
            "log10_lr": round(math.log10(c.lr), 6),
            "latent_rank": model.latent_dim,
            "images": s.images,
            "targets": s.targets,
            "steps": s.steps,
            "restarts": s.restarts,
            "prior": model.prior,
            "prior_samples": s.prior_samples or "d_z",
            "noise": s.noise if model.noise_dim else "none",
        }
        extra = {"paper_accuracy": c.paper_accuracy} if c.paper_accuracy is not None else {}
        out.append({**r, **extra, "latent_rank": model.latent_dim, "params": params})
    return out


def slim(record: dict, cell: dict, settings: dict) -> dict:
    """The record the saved results keep: no loss curve (MLflow has it; no report reads it), and
    the recovered images only where the report's figure shows them (the first generator at its
    first seed and first recovery seed), compressed. A study's results stay a few MB, not 35."""

    g0 = settings["generators"][0]
    seed0 = (settings.get("seeds_for") or {}).get(g0, settings["generator_seeds"])[0]
    shown = (cell["generator"], cell["generator_seed"], cell.get("seed")) == (
        g0,
        seed0,
        settings["seeds"][0],
    ) and "reading" not in cell
    out = {k: v for k, v in record.items() if k != "histories" and (shown or k != "preview")}
    if shown and isinstance(out.get("preview"), str):
        out["preview"] = pack_uint8_images(unpack_images(out["preview"]))  # older records: plain base64
    return out


def cell_tags(cell: dict, facts: dict) -> dict:
    """The digests of the generator a cell recovers with and of the scorer."""
    model = facts.get("models", {}).get(model_key(cell["generator"], cell["generator_seed"]), {})
    tags = {"classifier_checkpoint": facts.get("checkpoints", {}).get("classifier")}
    tags["checkpoint"] = model.get("digest")
    return {k: v for k, v in tags.items() if v}


def summary_metrics(results) -> dict:
    """Per generator: the best cell's accuracy; per regulator `best/<generator>/<regulator>`
    (its best cell on every image) and `heldout/<generator>/<regulator>` (cross-fitted: each half
    of the images judged at the cell chosen on the other, what the verdicts judge), so the MLflow
    chart view compares regulators across runs. The first generator's best regulator and cell as
    tags."""

    out = {}
    full, held = Table(results, holdout=False), Table(results)
    for i, g in enumerate(results.settings["generators"]):
        best = tables.best_cells(tables.generator_summary(results, g))
        fin = best[best["measured_accuracy"].notna()]
        if len(fin):
            top = fin.iloc[0]
            out[f"best_accuracy_{g}"] = float(top["measured_accuracy"])
            if i == 0:  # tags of the first generator's best cell
                out.update(best_regulator=top["regulator"], best_cell=top["measured_best_cell"])
        for reg in full.regulators(g):
            if (value := full.selection_accuracy(g, reg)) is not None:
                out[f"best/{g}/{reg}"] = value
            if (lev := held.level(g, reg)) is not None:
                out[f"heldout/{g}/{reg}"] = lev.value
    return out


EXPERIMENT = register(
    Experiment(
        name="recover",
        description="latent vector recovery under every regulator: tables 1-6 of Cho's paper",
        settings=RecoverSettings,
        cells=cells,
        run_chunk=chunk,
        chunk_key=chunk_key,
        render=render.render,
        verdicts=render.verdicts,
        figures=render.figures,
        prepare=models.prepare,
        plan=models.plan,
        rows=tables.rows,
        cell_name=cell_name,
        report_name=lambda s: f"recover-{s.grid}",
        summary_metrics=summary_metrics,
        estimate=models.estimate_seconds,
        cell_tags=cell_tags,
        slim=slim,
        # 2: generators x generator seeds, per-image correctness, in-span targets; 3: counter-based draws, fused G
        version=3,
        judging=unkeyed_fields(RecoverSettings),  # the split is keyed: fixed before any cell runs
    )
)
