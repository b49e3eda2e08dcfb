"""`bench dependence`: is the regulators' ranking a property of the regulators, or of one generator?

The paper grid of the recovery study swept over a family of LSGANs (registered recipes of the
`lsgan` variant, trained through the cache): the default at shorter training budgets, a smaller
latent, the author's optimiser, and the author's conv architecture at a width a CPU can sweep.
Each generator gets the five claims' verdicts (best cells chosen on held-out images, the
credibility bars applied), its agreement with the paper's grid, and each regulator's lift over
the baseline, set against the generator's quality. Beside them, the resampling cutoffs'
cells under other readings of their rule (SPEC: readings of the resampling cutoffs), on the
first generator's first seed, measured against the paper's tables 5 and 6.

The unit of work is recover's (bench.experiments.recover.recover_run): the same cells, chunks, models and
records, so `bench recover` and this study agree cell for cell on the generators they share.
The report adds its sections (bench.recovery.reporting.dependence_report) to recover's.
"""

from __future__ import annotations

import dataclasses

from bench.experiments.recover import recover_models
from bench.experiments.recover import recover_run as recover
from bench.pipeline import Experiment, register
from bench.recovery.recover_settings import DependenceSettings, parse_reading
from bench.recovery.reporting import dependence_plots, dependence_report
from bench.settings import unkeyed_fields

CUTOFF_TABLES = ("table5", "table6")


def cells(s: DependenceSettings) -> list[dict]:
    """recover's cells for every generator and seed, then the cutoff cells of the first
    generator's first seed under each other reading."""
    main = recover_models.cells(s)
    ref, seed = s.generators[0], s.seeds_of(s.generators[0])[0]
    cutoffs = [
        c
        for c in main
        if c["generator"] == ref and c["generator_seed"] == seed and recover_models.grid_cell(c).table in CUTOFF_TABLES
    ]
    return main + [{**c, "reading": r} for r in s.readings for c in cutoffs]


def cell_name(cell: dict) -> str:
    return recover.cell_name(cell) + (f"|reading={cell['reading']}" if "reading" in cell else "")


def chunk_key(cell: dict) -> list:
    return [*recover.chunk_key(cell), cell.get("reading", "")]


def chunk(cells_: list[dict], ctx) -> list[dict]:
    reading = cells_[0].get("reading")
    if reading is None:
        return recover.chunk(cells_, ctx)
    at, every = parse_reading(reading)
    records = recover.chunk(cells_, ctx, dataclasses.replace(ctx.settings, resample_at=at, resample_every=every))
    return [{**r, "params": {**r["params"], "reading": reading}} for r in records]


def plan(ctx) -> list[str]:
    s = ctx.settings
    lines = recover_models.plan(ctx)
    if s.readings:
        n = len(
            [
                c
                for c in recover_models.cells(s)
                if recover_models.grid_cell(c).table in ("table5", "table6")
                and c["generator"] == s.generators[0]
                and c["generator_seed"] == s.seeds_of(s.generators[0])[0]
            ]
        )
        lines.append(
            f"  readings of the resampling cutoffs: {n} cells x {len(s.readings)} reading(s) "
            f"({', '.join(s.readings)}) on {s.generators[0]} s{s.seeds_of(s.generators[0])[0]}"
        )
    return lines


EXPERIMENT = register(
    Experiment(
        name="dependence",
        description="the recovery study's paper grid over a family of LSGANs, and the cutoffs' readings",
        settings=DependenceSettings,
        cells=cells,
        run_chunk=chunk,
        chunk_key=chunk_key,
        render=dependence_report.render,
        verdicts=dependence_report.verdicts,
        figures=dependence_plots.figures,
        prepare=recover_models.prepare,
        plan=plan,
        rows=dependence_report.rows,
        cell_name=cell_name,
        summary_metrics=dependence_report.summary_metrics,
        estimate=recover_models.estimate_seconds,
        slim=recover.slim,
        version=recover.EXPERIMENT.version,
        judging=unkeyed_fields(DependenceSettings),
        out="reports/dependence",
    )
)
