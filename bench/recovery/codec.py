"""Compact text forms of what a record keeps for later statistics and figures: per-image right/
wrong as packed bits, and small image grids as zlib-compressed uint8. Numpy only, so a report
(which reads them back) imports no torch.

A record is JSON: one image of 28x28 uint8 is 784 bytes, 1,045 as base64; MNIST-like digits are
mostly background, so zlib brings ten of them from 10.5 KB to about 3 KB. Text written before the
compression (plain base64 of the raw bytes) still reads: it carries no "z:" prefix.
"""

from __future__ import annotations

import base64
import zlib

import numpy as np

SIDE = 28
ZLIB = "z:"  # prefix of the compressed form


def pack_correct(correct) -> str:
    bits = np.packbits(np.asarray(correct, dtype=bool))
    return base64.b64encode(bits.tobytes()).decode()


def unpack_correct(text: str, n: int) -> np.ndarray:
    """The boolean vector [n] that pack_correct packed."""
    bits = np.frombuffer(base64.b64decode(text), dtype=np.uint8)
    return np.unpackbits(bits)[:n].astype(bool)


def pack_uint8_images(images: np.ndarray) -> str:
    """uint8 images [n, 28, 28] as compressed text."""
    raw = np.ascontiguousarray(images, dtype=np.uint8).tobytes()
    return ZLIB + base64.b64encode(zlib.compress(raw, 9)).decode()


def unpack_images(text: str) -> np.ndarray:
    """The uint8 images [n, 28, 28] of pack_uint8_images (or of the older plain base64)."""
    if text.startswith(ZLIB):
        raw = zlib.decompress(base64.b64decode(text[len(ZLIB) :]))
    else:
        raw = base64.b64decode(text)
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, SIDE, SIDE)


F32, F64 = "f4:", "f8:"


def pack_floats(values) -> str:
    """Numbers as base64 text, losslessly: float32 where every value is one (per-image errors
    computed in float32), else float64. A JSON list of 10,000 such numbers takes about 190 KB;
    this, 53 KB."""
    x = np.asarray(values, dtype=np.float64)
    if np.array_equal(x.astype(np.float32).astype(np.float64), x, equal_nan=True):
        return F32 + base64.b64encode(x.astype("<f4").tobytes()).decode()
    return F64 + base64.b64encode(x.astype("<f8").tobytes()).decode()


def unpack_floats(packed) -> list[float]:
    """The list pack_floats packed (a list given as is: results saved before packing)."""
    if not isinstance(packed, str):
        return list(packed)
    kind = "<f4" if packed.startswith(F32) else "<f8"
    return np.frombuffer(base64.b64decode(packed[3:]), dtype=kind).astype(np.float64).tolist()
