"""Row-wise stable argsort on CPU through numpy's SIMD sorts, and `sort_last` for torch tensors.

Why: torch.sort on this project's CPU build is slow: [20000, 256] float32 along the last dim
takes about 0.25 s of CPU (0.4-0.8 s wall on the shared 2 cores), while numpy 2.x sorts rows of
32- and 64-bit values with AVX-512/AVX2 sorting networks in about 0.008 s (values only). numpy's
argsort is slower than its value sort, so float32 rows are sorted as int64 "packed keys": an
order-preserving int32 image of each float in the high half and its column in the low half.
Sorting those values sorts the floats and carries the permutation along (about 0.03 s), and ties
come out in column order (a stable sort) for free. benchmarks/regulator_speed.py re-measures all
of this. (numpy's 64-bit network ends at 256 columns and its 32-bit one at 512: wider rows are
several times slower per element, still well ahead of torch.sort.)

Order, on every route (the same as torch.sort(stable=True)): ascending; equal values, -0.0 and
0.0 included, in column order; NaN (any sign or payload) after +inf, in column order.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

_MAGNITUDE = np.int32(0x7FFFFFFF)
_INF_BITS = 0x7F800000
_NAN_KEY = np.int32(0x7FFFFFFF)  # above +inf's key
# Work in row chunks of about this many elements: temporaries then stay in cache and are reused
# by the allocator (a 40 MB numpy temporary is a fresh mmap, page-faulted on every call).
CHUNK = 1 << 17


def float32_keys(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """int32 keys with the order of the float32 array a: -0.0 and 0.0 share the key 0, NaN is last.

    The key is the float's magnitude bits, negated for a negative sign: |x| bits order the
    magnitudes, and -0.0 and 0.0 both have magnitude 0. `out` (int32, a's shape) may be a view.
    """
    b = a.view(np.int32)
    keys = np.bitwise_and(b, _MAGNITUDE, out=out)
    nan = keys.size and keys.max() > _INF_BITS  # one reduction, no temporary
    sign = b >> 31  # 0 or -1
    keys ^= sign
    keys -= sign  # (x ^ -1) + 1 = -x
    if nan:  # x86 makes negative NaNs (0 * inf): without this they would sort first
        keys[np.isnan(a)] = _NAN_KEY
    return keys


def keys_to_float32(keys: np.ndarray) -> np.ndarray:
    """Inverse of float32_keys; -0.0 comes back as 0.0 and every NaN as one NaN."""
    return (np.abs(keys) | (keys & np.int32(-(2**31)))).view(np.float32)


def _packed_argsort(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stable argsort of float32 rows a [R, n] (int32 columns) and the sorted keys (a strided
    int32 view), by one int64 value sort: key in the high half, column in the low half."""
    rows, n = a.shape
    # Keys on contiguous memory, then widened and shifted into the high half (about 3x faster than
    # computing them into the strided high halves); the column (< 2^31) fills the low half.
    packed = float32_keys(a).astype(np.int64)
    packed <<= 32
    packed |= np.arange(n, dtype=np.int64)
    packed.sort(axis=-1)
    halves = packed.view(np.int32).reshape(rows, n, 2)  # little-endian: [..., 0] low, [..., 1] high
    return halves[..., 0], halves[..., 1]


def _argsort_float64(a: np.ndarray) -> np.ndarray:
    """Stable argsort of float64 rows: a key plus a column does not fit 64 bits, so take numpy's
    SIMD argsort (unstable) and redo the rare rows that have ties (or NaN) with a stable sort."""
    order = np.argsort(a, axis=-1)
    if a.shape[-1] < 2:
        return order
    v = np.take_along_axis(a, order, axis=-1)
    redo = ((v[:, 1:] == v[:, :-1]) | np.isnan(v[:, 1:])).any(axis=-1)
    if redo.any():
        order[redo] = np.argsort(a[redo], axis=-1, kind="stable")
    return order


def _argsort_block(a: np.ndarray) -> np.ndarray:
    if a.dtype == np.float32 and sys.byteorder == "little" and a.shape[-1] < 2**31:
        return _packed_argsort(a)[0].astype(np.int64)
    if a.dtype == np.float64:
        return _argsort_float64(a)
    return np.argsort(a, axis=-1, kind="stable")


def row_chunks(rows: int, width: int) -> list[slice]:
    """Consecutive row ranges of about CHUNK elements each (at least one row, at least one range)."""
    step = max(1, CHUNK // max(1, width))
    return [slice(i, min(i + step, rows)) for i in range(0, rows, step)] or [slice(0, 0)]


def for_row_blocks(fn, arrays: list[np.ndarray], width: int, threads: int | None = None) -> None:
    """fn(*chunks) for cache-sized row chunks of the arrays (inputs and preallocated outputs alike,
    all with the same number of rows), spread over `threads` threads (default: torch's intra-op
    count). numpy's sorts and ufuncs release the GIL, so the threads run in parallel."""
    chunks = row_chunks(arrays[0].shape[0], width)
    threads = min(len(chunks), torch.get_num_threads() if threads is None else threads)
    if threads <= 1:
        for c in chunks:
            fn(*(a[c] for a in arrays))
        return
    # Every `threads`-th chunk runs on the calling thread, the rest on a persistent pool (threads are not
    # started per call: this runs at every step of a recovery).
    pool = _pool(threads - 1)
    futures = [pool.submit(fn, *(a[c] for a in arrays)) for i, c in enumerate(chunks) if i % threads]
    for c in chunks[::threads]:
        fn(*(a[c] for a in arrays))
    for f in futures:
        f.result()


_POOLS: dict[int, ThreadPoolExecutor] = {}


def _pool(workers: int) -> ThreadPoolExecutor:
    if workers not in _POOLS:
        _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="fastsort")
    return _POOLS[workers]


def sort_rows(a: np.ndarray, with_indices: bool) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(sorted values, stable argsort or None, sorted float32 keys or None) of the rows of a 2-D
    array, on the calling thread.

    Values only is numpy's plain SIMD sort. With indices, float32 values are decoded from the
    packed keys (which come back too), so -0.0 comes back as 0.0 and every NaN as one NaN: equal
    for all arithmetic done on them.
    """
    if not with_indices:
        return np.sort(a, axis=-1), None, None
    if a.dtype == np.float32 and sys.byteorder == "little" and a.shape[-1] < 2**31:
        order, keys = _packed_argsort(a)  # order: int32 columns
        return keys_to_float32(keys), order, keys
    order = _argsort_block(a)
    return np.take_along_axis(a, order, axis=-1), order, None


def argsort_rows(a: np.ndarray, threads: int | None = None) -> np.ndarray:
    """Stable argsort (int64) along the last axis of a 2-D array, in the module's order."""
    if a.ndim != 2:
        raise ValueError(f"argsort_rows takes a 2-D array, got shape {a.shape}")
    a = np.ascontiguousarray(a)
    out = np.empty(a.shape, dtype=np.int64)

    def block(src, dst):
        dst[...] = _argsort_block(src)

    for_row_blocks(block, [a, out], a.shape[1], threads)
    return out


def sort_last(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(values, indices) of a stable ascending sort along the last dim, like
    torch.sort(x, dim=-1, stable=True), but through numpy's SIMD sorts for CPU floats.

    values = x.gather(-1, indices): differentiable, bit-identical to x's entries (a -0.0 stays
    -0.0). Off the CPU (CUDA) and for non-float dtypes this is torch.sort itself: no host copy.
    """
    if x.device.type != "cpu" or not x.is_floating_point() or x.dim() == 0 or x.numel() == 0:
        values, indices = torch.sort(x, dim=-1, stable=True)
        return values, indices
    # float16/bfloat16 widen to float32 exactly, so the order is the same.
    a = x.detach()
    if a.dtype not in (torch.float32, torch.float64):
        a = a.float()
    flat = a.reshape(-1, a.shape[-1]).numpy()
    indices = torch.from_numpy(argsort_rows(flat)).reshape(x.shape)
    return x.gather(-1, indices), indices
