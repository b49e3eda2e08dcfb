"""How the engine cuts a chunk's work and runs it: shares of blocks, one thread per share.

A chunk is cells x rows (rows = images x restarts). `parts` cuts it into one near-equal share
per CPU thread, each a list of (c0, c1, r0, r1) blocks of at most max_batch rows; `threads` runs
a step of every share in parallel threads with one intra-op torch thread each. Shares never
touch each other's rows, so they need no locks; a block's size only changes float rounding.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import torch


def parts(cells: int, rows: int, max_batch: int, n: int) -> list[list[tuple[int, int, int, int]]]:
    """The chunk's cells x rows split into `n` near-equal shares of (c0, c1, r0, r1) blocks, in
    order: whole cells where a share holds them, else row ranges of one cell; no block over
    max_batch rows. Every share has the same number of (cell, row) pairs, give or take one."""
    total = cells * rows
    out = []
    for p in range(n):
        a, b = p * total // n, (p + 1) * total // n
        blocks = []
        while a < b:
            c, r = divmod(a, rows)
            k = min((b - a) // rows, max_batch // rows)
            if r == 0 and k >= 1:  # whole cells
                blocks.append((c, c + k, 0, rows))
                a += k * rows
            else:
                r1 = min(rows, r + (b - a), r + max_batch)
                blocks.append((c, c + 1, r, r1))
                a += r1 - r
        if blocks:
            out.append(blocks)
    return out


@contextmanager
def threads(parts: int):
    """run(fn, t): fn(t, p) for every part p, the parts in parallel threads (part 0 on the
    caller's) each with one intra-op torch thread, restored afterwards. Torch's kernels and
    numpy's release the GIL; one thread per share keeps both cores on GEMMs, with none of the
    fork-join and spin-wait of splitting every op over two threads (see benchmarks/)."""
    if parts == 1:
        yield lambda fn, t: fn(t, 0)
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    pool = ThreadPoolExecutor(parts - 1, thread_name_prefix="recover")
    try:

        def run(fn, t):
            futures = [pool.submit(fn, t, p) for p in range(1, parts)]
            fn(t, 0)
            for f in futures:
                f.result()

        yield run
    finally:
        pool.shutdown()
        torch.set_num_threads(before)


@contextmanager
def sync_check(on: bool):
    """CUDA's sync debug mode "error" for the duration: any host-device sync raises."""
    if not on:
        yield
        return
    before = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode("error")
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode(before)
