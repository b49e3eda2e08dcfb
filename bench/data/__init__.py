"""Data: MNIST (IDX reader, locate, download, verify) and the seeded synthetic datasets."""

from bench.data.idx import DataError, check_split, parse_idx, read_idx
from bench.data.mnist import (
    COUNTS,
    FILES,
    MD5,
    MIRRORS,
    MNIST,
    download_mnist,
    find_mnist,
    load_mnist,
    mnist_cache_dir,
    sample_grid,
    to_pixels,
)
from bench.data.synthetic import SYNTHETIC, SyntheticData, SyntheticSpec, make_synthetic

__all__ = [
    "COUNTS",
    "FILES",
    "MD5",
    "MIRRORS",
    "MNIST",
    "SYNTHETIC",
    "DataError",
    "SyntheticData",
    "SyntheticSpec",
    "check_split",
    "download_mnist",
    "find_mnist",
    "load_mnist",
    "make_synthetic",
    "mnist_cache_dir",
    "parse_idx",
    "read_idx",
    "sample_grid",
    "to_pixels",
]
