"""Data: MNIST (IDX reader, locate, download, verify) and the seeded synthetic datasets.

The names resolve on first use (PEP 562): its submodules import torch, and a light module that
only needs `bench.data.inputs` (the MLflow dataset records) must not pay for it.
"""

from importlib import import_module

_WHERE = {
    "bench.data.idx": ("DataError", "check_split", "parse_idx", "read_idx"),
    "bench.data.mnist_files": ("COUNTS", "FILES", "MD5", "MIRRORS", "MNIST", "download_mnist", "find_mnist",
                               "load_mnist", "mnist_cache_dir", "sample_grid", "to_pixels"),
    "bench.data.synthetic": ("SYNTHETIC", "SyntheticData", "SyntheticSpec", "make_synthetic"),
}  # fmt: skip
_MODULE = {name: module for module, names in _WHERE.items() for name in names}

__all__ = [  # noqa: RUF022 - grouped by module, as _WHERE
    "DataError", "check_split", "parse_idx", "read_idx",
    "COUNTS", "FILES", "MD5", "MIRRORS", "MNIST", "download_mnist", "find_mnist", "load_mnist", "mnist_cache_dir",
    "sample_grid", "to_pixels",
    "SYNTHETIC", "SyntheticData", "SyntheticSpec", "make_synthetic",
]  # fmt: skip


def __getattr__(name: str):
    if name in _MODULE:
        return getattr(import_module(_MODULE[name]), name)
    raise AttributeError(f"module 'bench.data' has no attribute {name!r}")
