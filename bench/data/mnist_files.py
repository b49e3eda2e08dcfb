"""MNIST: find the four IDX files, download them when allowed, verify and load them.

Where the files are looked for, in order: the `data_dir` argument, $BENCH_DATA_DIR, then the
download cache ($BENCH_CACHE_DIR/mnist or ~/.cache/lwgan-bench/mnist). In each folder the files
may sit flat (original names, gz or not) or in torchvision's layout (MNIST/raw/ or raw/).
A folder the user names must hold the files: it is never downloaded into. md5 sums of the
original release are checked on downloads only; local files are validated structurally (magic,
dims, byte counts, counts, label range), which lets a rebuilt copy load.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from bench.atomic import atomic_open
from bench.data.idx import DataError, IdxFile, check_split, read_idx_file
from bench.progress import ProgressFn, null_progress

# role -> file name of the original release, without .gz
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
COUNTS = {"train": 60_000, "test": 10_000}
# md5 of the gzip files of the original release (the sums torchvision checks).
MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
# Tried in order, as torchvision does; each joined with a file name from MD5.
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
SHARED_HINT = "../shared/data/mnist"


@dataclass
class MNIST:
    train_images: torch.Tensor  # uint8 [60000, 28, 28]
    train_labels: torch.Tensor  # int64 [60000]
    test_images: torch.Tensor  # uint8 [10000, 28, 28]
    test_labels: torch.Tensor  # int64 [10000]
    source: Path  # the folder the files were read from
    files: dict[str, str]  # file name -> sha256 of the bytes on disk
    fingerprint: str  # 16 hex, from the four sha256 in FILES order
    md5: dict[str, str] = field(default_factory=dict)  # file name -> md5 (for the release check)


def mnist_cache_dir() -> Path:
    """The download folder: $BENCH_CACHE_DIR/mnist or ~/.cache/lwgan-bench/mnist."""
    root = os.environ.get("BENCH_CACHE_DIR")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "lwgan-bench"
    return base / "mnist"


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path | None:
    """The folder the user named: the argument, else $BENCH_DATA_DIR, else None."""
    if data_dir is not None and str(data_dir) != "":
        return Path(data_dir).expanduser()
    env = os.environ.get("BENCH_DATA_DIR")
    return Path(env).expanduser() if env else None


def _candidates(root: Path) -> list[Path]:
    return [root, root / "MNIST" / "raw", root / "raw"]


def _scan(folder: Path) -> dict[str, Path]:
    found = {}
    for role, stem in FILES.items():
        # gz first: its md5 can be compared with the original release.
        for name in (stem + ".gz", stem):
            if (folder / name).is_file():
                found[role] = folder / name
                break
    return found


def find_mnist(root: str | os.PathLike) -> tuple[Path, dict[str, Path]]:
    """The folder under `root` (flat, MNIST/raw or raw) holding the most of the four files.

    Returns (folder, role -> path); fewer than four entries means files are missing.
    """
    root = Path(root)
    best = (root, _scan(root))
    for folder in _candidates(root)[1:]:
        found = _scan(folder)
        if len(found) > len(best[1]):
            best = (folder, found)
    return best


def _missing(found: dict[str, Path]) -> list[str]:
    return [FILES[role] + "[.gz]" for role in FILES if role not in found]


def offline_message(reason: str) -> str:
    names = ", ".join(n for n in MD5)
    return (
        f"MNIST is not available: {reason}. Pass --data-dir DIR or set BENCH_DATA_DIR=DIR to a folder "
        f"holding {names} (gz or not, flat or in torchvision's MNIST/raw/), "
        f"e.g. --data-dir {SHARED_HINT} from the project root"
    )


class _ChecksumError(Exception):
    pass


def _fetch(url: str, dest: Path, md5: str | None, progress: ProgressFn, timeout: float) -> None:
    """Stream `url` into `dest` atomically; a checksum mismatch leaves no file behind."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        total = int(response.headers.get("Content-Length") or 0)
        digest = hashlib.md5()
        done = 0
        with atomic_open(dest, "wb") as f:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                f.write(chunk)
                done += len(chunk)
                progress(f"download {dest.name}", done, max(total, done))
            if md5 is not None and digest.hexdigest() != md5:
                # Raised inside atomic_open so the temp file is removed and dest is untouched.
                raise _ChecksumError(f"md5 {digest.hexdigest()}, expected {md5}")


def download_mnist(
    dest: str | os.PathLike,
    *,
    names: Sequence[str] | None = None,
    mirrors: Sequence[str] | None = None,
    checksums: dict[str, str] | None = None,
    progress: ProgressFn = null_progress,
    timeout: float = 30.0,
) -> dict[str, Path]:
    """Download the gz files `names` (default: all four) into `dest`, trying `mirrors` in order.

    Each file must match its md5 in `checksums` (default: the original release). Returns
    name -> path. Raises DataError (with the --data-dir hint) when a file cannot be had.
    """
    dest = Path(dest)
    mirrors = MIRRORS if mirrors is None else tuple(mirrors)
    checksums = MD5 if checksums is None else checksums
    names = list(checksums) if names is None else list(names)
    out: dict[str, Path] = {}
    for name in names:
        failures = []
        for mirror in mirrors:
            url = mirror if mirror.endswith("/") else mirror + "/"
            url += name
            try:
                _fetch(url, dest / name, checksums.get(name), progress, timeout)
            except _ChecksumError as e:
                failures.append(f"{url}: checksum mismatch ({e})")
                continue
            except (OSError, ValueError) as e:  # URLError/HTTPError/timeouts are OSError
                failures.append(f"{url}: {getattr(e, 'reason', None) or e}")
                continue
            out[name] = dest / name
            break
        else:
            tried = "; ".join(failures) if failures else "no mirrors configured"
            raise DataError(offline_message(f"downloading {name} failed ({tried})"))
    return out


def _locate(data_dir, download: bool, mirrors, progress: ProgressFn) -> tuple[Path, dict[str, Path]]:
    given = resolve_data_dir(data_dir)
    if given is not None:
        if not given.is_dir():
            raise DataError(
                f"data folder {given} (--data-dir or BENCH_DATA_DIR) does not exist; expected a folder "
                f"holding the four MNIST IDX files (gz or not, flat or in MNIST/raw/)"
            )
        folder, found = find_mnist(given)
        if len(found) < len(FILES):
            raise DataError(
                f"data folder {given} (--data-dir or BENCH_DATA_DIR) lacks {', '.join(_missing(found))}; "
                f"looked in {', '.join(str(c) for c in _candidates(given))}"
            )
        return folder, found
    cache = mnist_cache_dir()
    folder, found = find_mnist(cache)
    if len(found) == len(FILES):
        return folder, found
    if not download:
        raise DataError(offline_message(f"it is not in the download cache {cache} and downloads are off"))
    # Only what is missing is fetched; a complete torchvision folder in the cache was returned above.
    need = [FILES[role] + ".gz" for role in FILES if role not in _scan(cache)]
    download_mnist(cache, names=need, mirrors=mirrors, progress=progress)
    folder, found = find_mnist(cache)
    return folder, found


def fingerprint_of(sha256s: Sequence[str]) -> str:
    """16 hex from the files' sha256 in FILES order: the model cache keys on it."""
    return hashlib.sha256("\n".join(sha256s).encode()).hexdigest()[:16]


def load_mnist(
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
    progress: ProgressFn = null_progress,
    mirrors: Sequence[str] | None = None,
) -> MNIST:
    """Find (or download into the cache), verify and load MNIST; DataError on anything wrong."""
    folder, paths = _locate(data_dir, download, mirrors, progress)
    read: dict[str, IdxFile] = {}
    for i, role in enumerate(FILES):
        read[role] = read_idx_file(paths[role])
        progress("read mnist", i + 1, len(FILES))
    for split in ("train", "test"):
        img, lab = read[f"{split}_images"], read[f"{split}_labels"]
        check_split(img.data, lab.data, expected=COUNTS[split], images_name=str(img.path), labels_name=str(lab.path))
    return MNIST(
        train_images=read["train_images"].data,
        train_labels=read["train_labels"].data.long(),
        test_images=read["test_images"].data,
        test_labels=read["test_labels"].data.long(),
        source=folder,
        files={f.path.name: f.sha256 for f in read.values()},
        fingerprint=fingerprint_of([read[role].sha256 for role in FILES]),
        md5={f.path.name: f.md5 for f in read.values()},
    )


def to_pixels(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 [N,28,28] (or [N,1,28,28]) -> float32 [N,1,28,28] in [-1, 1]: 0 -> -1, 255 -> 1."""
    if images_uint8.dtype != torch.uint8:
        raise TypeError(f"to_pixels expects uint8 images, got {images_uint8.dtype}")
    x = images_uint8 if images_uint8.dim() == 4 else images_uint8.unsqueeze(1)
    return x.to(torch.float32).div_(127.5).sub_(1.0)


def sample_grid(images: torch.Tensor, labels: torch.Tensor, per_class: int = 10) -> torch.Tensor:
    """The first `per_class` images of each digit 0..9 tiled into one uint8 [280, 28*per_class] image.

    Row c holds digit c. Raises DataError if a class has fewer than `per_class` images.
    """
    rows = []
    for digit in range(10):  # ten classes, not a loop over images
        idx = torch.nonzero(labels == digit).flatten()[:per_class]
        if idx.numel() < per_class:
            raise DataError(f"digit {digit}: {idx.numel()} images, need {per_class} for the sample grid")
        rows.append(images[idx])
    grid = torch.stack(rows)  # [10, per_class, 28, 28]
    h, w = images.shape[-2:]
    return grid.permute(0, 2, 1, 3).reshape(10 * h, per_class * w)
