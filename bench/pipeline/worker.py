"""What runs in a worker process (local, Ray or SLURM): a chunk of cells, shipped as plain data.
The executors (bench.pipeline.executor, .remote) send `shippable(ctx)`; `run_shipped` rebuilds
the run there and runs the chunk."""

from __future__ import annotations

import dataclasses

_PROCESS_MEMO: dict = {}  # heavy objects (data, models) kept across the chunks one process runs


def shippable(ctx) -> tuple:
    """(Context without settings, settings as a dict): what a chunk takes to another process. A
    plugin's settings class cannot be unpickled there before the plugin is loaded, so the
    settings travel as plain data and `run_shipped` rebuilds them."""
    return dataclasses.replace(ctx, settings=None), dataclasses.asdict(ctx.settings)


def run_shipped(name: str, chunk: list[dict], ctx, settings: dict) -> list[dict]:
    """In a worker process (local, Ray or SLURM): load the run's plugins, rebuild the settings,
    keep heavy objects across the chunks this process runs, and run one chunk of `name`."""
    import torch

    from bench import plugins
    from bench.memory import keep_freed_memory
    from bench.pipeline.registry import get
    from bench.pipeline.results import settings_from_dict

    keep_freed_memory()  # as the command's own process does (bench/cli.py)
    for spec in ctx.plugins:
        plugins.load(spec)
    ctx.settings = settings_from_dict(get(name).settings, settings)
    if ctx.threads:
        torch.set_num_threads(ctx.threads)
    ctx._memo = _PROCESS_MEMO
    return get(name).chunk(chunk, ctx)
