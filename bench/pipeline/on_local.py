"""The `local` executor: the chunks of a sweep run in this process, or in local worker processes.

`execute` yields (index, chunk, records) as each chunk finishes, or (index, chunk, exception)
when its work raised: the caller records those cells as failed and the sweep goes on. Cells
finished inside a chunk still running are reported as progress (bench.pipeline.worker.CELL_DONE). Workers only compute:
they return plain records and never touch MLflow or the result store (the driver writes both).
Every worker is a fresh (spawned) process that loads the run's plugins, imports the experiment by
name and gets the Context by pickle, so what runs there is exactly what runs here.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue as queue_mod
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from bench.pipeline.executors import Executor, register_executor
from bench.pipeline.worker import run_reporting, run_shipped, shippable


def default_workers(exp, device: str, cells: int) -> int:
    """The cores when an experiment's cells run on one thread each, else one process."""
    if exp.workers != "cores" or str(device).startswith("cuda"):
        return 1
    return max(1, min(os.cpu_count() or 1, cells))


@register_executor
class Local(Executor):
    name = "local"
    description = "this process, or local worker processes (--workers)"

    def where(self, s, workers: int) -> str:
        return f" in {workers} worker processes" if workers > 1 else ""

    def execute(self, exp, chunks, ctx, s, *, workers: int, state=None, collect: bool = False) -> Iterator[tuple]:
        workers = max(1, min(int(workers), len(chunks)))
        if workers == 1:
            yield from _serial(exp, chunks, ctx)
        else:
            yield from _parallel(exp, chunks, ctx, workers)


def _serial(exp, chunks, ctx) -> Iterator[tuple]:
    import torch

    before = torch.get_num_threads()
    if ctx.threads:
        torch.set_num_threads(ctx.threads)
    try:
        for i, chunk in enumerate(chunks):
            try:
                records = run_reporting(exp, chunk, ctx, i)
            except Exception as e:  # noqa: BLE001 - a failed chunk is recorded; the sweep goes on
                yield i, chunk, e
            else:
                yield i, chunk, records
    finally:
        torch.set_num_threads(before)


def _work(name: str, chunk: list[dict], ctx, settings: dict, messages, chunk_id: int) -> list[dict]:
    """A local worker's job: one chunk, its progress and notices sent to the driver."""
    ctx.progress = lambda task, done, total, **info: messages.put(("progress", task, done, total, info))
    ctx.event = lambda message: messages.put(("event", message))
    return run_shipped(name, chunk, ctx, settings, chunk_id)


def _parallel(exp, chunks, ctx, workers: int) -> Iterator[tuple]:

    if ctx.threads is None:
        ctx.threads = max(1, (os.cpu_count() or 1) // workers)
    mp_ctx = mp.get_context("spawn")  # no fork of a process that has started torch's thread pools
    progress, event = ctx.progress, ctx.event

    def drain(messages) -> None:
        while True:
            try:
                msg = messages.get_nowait()
            except queue_mod.Empty:
                return
            if msg[0] == "progress":
                progress(msg[1], msg[2], msg[3], **msg[4])
            else:
                event(msg[1])

    with mp_ctx.Manager() as manager, ProcessPoolExecutor(workers, mp_context=mp_ctx) as pool:
        messages = manager.Queue()
        shipped, settings = shippable(ctx)
        pending = {
            pool.submit(_work, exp.name, chunk, shipped, settings, messages, i): (i, chunk)
            for i, chunk in enumerate(chunks)
        }
        try:
            while pending:
                finished, _ = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                drain(messages)
                for fut in finished:
                    i, chunk = pending.pop(fut)
                    error = fut.exception()
                    yield (i, chunk, error) if error is not None else (i, chunk, fut.result())
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise
        drain(messages)
