"""What runs in a worker process (local, Ray or SLURM): a chunk of cells, shipped as plain data.
The executors (bench.pipeline.executor, .on_ray, .on_slurm) send `shippable(ctx)`; `run_shipped`
rebuilds the run there and runs the chunk.

Progress: as each cell of a chunk finishes, the worker reports `ctx.progress(CELL_DONE, k, n,
chunk=i)`; every executor carries that back to the driver (a queue, a Ray queue actor, a file
beside the SLURM job), so the driver's bar counts cells, not chunks.
"""

from __future__ import annotations

import dataclasses

from bench import plugins
from bench.memory import keep_freed_memory
from bench.pipeline.registry import get
from bench.pipeline.results import settings_from_dict

CELL_DONE = "cell done"  # the progress task name a worker reports finished cells under
_PROCESS_MEMO: dict = {}  # heavy objects (data, models) kept across the chunks one process runs


def shippable(ctx) -> tuple:
    """(Context without settings, settings as a dict): what a chunk takes to another process. A
    plugin's settings class cannot be unpickled there before the plugin is loaded, so the
    settings travel as plain data and `run_shipped` rebuilds them."""
    return dataclasses.replace(ctx, settings=None), dataclasses.asdict(ctx.settings)


def run_reporting(exp, chunk: list[dict], ctx, chunk_id: int) -> list[dict]:
    """One chunk of `exp`, saying each finished cell: cell by cell for a run_cell experiment, the
    whole chunk at once for a run_chunk one (its cells finish together)."""
    if exp.run_chunk is not None:
        records = exp.chunk(chunk, ctx)
        ctx.progress(CELL_DONE, len(chunk), len(chunk), chunk=chunk_id)
        return records
    records = []
    for cell in chunk:
        records.append(exp.run_cell(cell, ctx))
        ctx.progress(CELL_DONE, len(records), len(chunk), chunk=chunk_id)
    return records


def run_shipped(name: str, chunk: list[dict], ctx, settings: dict, chunk_id: int = 0) -> list[dict]:
    """In a worker process (local, Ray or SLURM): load the run's plugins, rebuild the settings,
    keep heavy objects across the chunks this process runs, and run one chunk of `name`."""
    import torch

    keep_freed_memory()  # as the command's own process does (bench/cli.py)
    for spec in ctx.plugins:
        plugins.load(spec)
    ctx.settings = settings_from_dict(get(name).settings, settings)
    if ctx.threads:
        torch.set_num_threads(ctx.threads)
    ctx._memo = _PROCESS_MEMO
    return run_reporting(get(name), chunk, ctx, chunk_id)
