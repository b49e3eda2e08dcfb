"""Process-wide allocator settings for the commands and their worker processes."""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3  # glibc's mallopt parameters
_done = False


def keep_freed_memory() -> bool:
    """glibc only: keep freed memory in the process instead of handing it back to the kernel.

    Why: the recovery engine frees and reallocates the same 2-12 MB tensors at every step. By
    default glibc serves such sizes with fresh mappings (or trims the heap after them), so every
    step page-faults them in again: the 3-seed paper grid took 93 million minor page faults and
    186 s of kernel time in 23 min (`/usr/bin/time -v`). With allocations up to 32 MB (glibc's
    largest mmap threshold) served from the heap and no trimming, the memory is reused.
    Returns whether the settings took (False on musl, macOS, or where mallopt refuses)."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    ok = all(
        mallopt(param, value) == 1
        for param, value in ((M_MMAP_THRESHOLD, 32 << 20), (M_TRIM_THRESHOLD, 1 << 30), (M_TOP_PAD, 64 << 20))
    )
    _done = ok
    return ok
