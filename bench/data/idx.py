"""The IDX file format of the MNIST release: a big-endian header, then raw uint8 values.

Header: two zero bytes, a type byte (0x08 = unsigned byte), the number of dimensions, then one
uint32 per dimension. MNIST uses two magics: 0x00000801 (labels, 1-D) and 0x00000803 (images,
3-D). Files may be gzip-compressed whatever their name says, so compression is detected from the
first two bytes, not the suffix.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bench.errors import BenchError


class DataError(BenchError):
    """Missing or corrupt data; the message names the file or folder and what was expected."""


GZIP_MAGIC = b"\x1f\x8b"
MAGIC_LABELS = 0x00000801
MAGIC_IMAGES = 0x00000803
IMAGE_SHAPE = (28, 28)


@dataclass
class IdxFile:
    """One file as read from disk: the decoded array and the digests of the bytes on disk."""

    path: Path
    data: torch.Tensor  # uint8
    sha256: str
    md5: str
    gzipped: bool


def parse_idx(raw: bytes, name: str = "<bytes>") -> tuple[torch.Tensor, bool]:
    """Decode IDX bytes (gzip or not) into a uint8 tensor; returns (tensor, was_gzipped)."""
    gzipped = raw[:2] == GZIP_MAGIC
    if gzipped:
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as e:
            raise DataError(f"{name}: corrupt or truncated gzip stream ({e}); re-download it") from None
    if len(raw) < 4:
        raise DataError(f"{name}: {len(raw)} bytes is too short for an IDX header; expected an MNIST IDX file")
    magic = int.from_bytes(raw[:4], "big")
    if magic not in (MAGIC_LABELS, MAGIC_IMAGES):
        raise DataError(
            f"{name}: bad magic number 0x{magic:08x}; expected 0x{MAGIC_LABELS:08x} (labels) "
            f"or 0x{MAGIC_IMAGES:08x} (images)"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{name}: truncated header; expected {header} header bytes, found {len(raw)}")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if magic == MAGIC_IMAGES and dims[1:] != IMAGE_SHAPE:
        raise DataError(f"{name}: images of {dims[1]}x{dims[2]} pixels; expected 28x28")
    expected = int(np.prod(dims, dtype=np.int64))
    found = len(raw) - header
    if found < expected:
        raise DataError(
            f"{name}: truncated; the header {'x'.join(map(str, dims))} needs {expected:,} data bytes, "
            f"found {found:,}; re-download it"
        )
    if found > expected:
        raise DataError(
            f"{name}: {found - expected:,} bytes beyond the {expected:,} its header "
            f"{'x'.join(map(str, dims))} declares; expected an MNIST IDX file"
        )
    # One copy: frombuffer is a read-only view of the bytes, torch wants writable memory.
    array = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()
    return torch.from_numpy(array), gzipped


def read_idx_file(path: str | Path) -> IdxFile:
    """Read one IDX file, hashing the bytes on disk (sha256, md5) in the same pass."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    data, gzipped = parse_idx(raw, str(path))
    return IdxFile(
        path=path,
        data=data,
        sha256=hashlib.sha256(raw).hexdigest(),
        md5=hashlib.md5(raw).hexdigest(),
        gzipped=gzipped,
    )


def read_idx(path: str | Path) -> torch.Tensor:
    """Read an IDX file (gzip or raw) into a uint8 tensor; validates magic, dims and byte count."""
    return read_idx_file(path).data


def check_split(
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    expected: int | None,
    images_name: str = "images",
    labels_name: str = "labels",
) -> None:
    """Check an image file and its label file belong together: shapes, counts, labels in 0..9."""
    if images.dim() != 3:
        raise DataError(f"{images_name}: holds a {images.dim()}-D array; expected images (N x 28 x 28)")
    if labels.dim() != 1:
        raise DataError(f"{labels_name}: holds a {labels.dim()}-D array; expected labels (N)")
    n_img, n_lab = images.shape[0], labels.shape[0]
    if n_img != n_lab:
        raise DataError(f"{images_name} holds {n_img:,} images but {labels_name} holds {n_lab:,} labels")
    if expected is not None and n_img != expected:
        raise DataError(f"{images_name}: {n_img:,} images; expected {expected:,}")
    if n_lab and int(labels.max()) > 9:
        raise DataError(f"{labels_name}: label {int(labels.max())} found; expected labels 0..9")
