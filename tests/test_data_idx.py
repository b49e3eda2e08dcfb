"""IDX reader: files are built here byte by byte with struct (the oracle), raw and gzipped."""

import gzip
import struct

import numpy as np
import pytest
import torch

from bench.data import DataError, check_split, read_idx


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """An IDX file written independently of the reader: big-endian header, then the bytes."""
    if magic is None:
        magic = 0x0800 | array.ndim
    return struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)


@pytest.fixture
def labels():
    return np.array([3, 0, 9, 1, 7], dtype=np.uint8)


@pytest.mark.parametrize("compress", [False, True])
def test_round_trip_raw_and_gzip(tmp_path, images, labels, compress):
    enc = gzip.compress if compress else (lambda b: b)
    (tmp_path / "img").write_bytes(enc(idx_bytes(images)))
    (tmp_path / "lab").write_bytes(enc(idx_bytes(labels)))
    x, y = read_idx(tmp_path / "img"), read_idx(tmp_path / "lab")
    assert x.dtype == torch.uint8 and x.shape == (5, 28, 28)
    assert np.array_equal(x.numpy(), images)
    assert np.array_equal(y.numpy(), labels)
    assert x.numpy().flags.writeable  # a real copy, not a read-only view of the file bytes


def test_compression_detected_by_magic_not_suffix(tmp_path, images):
    # A gzip stream named without .gz, and raw bytes named .gz: both must read.
    (tmp_path / "a-idx3-ubyte").write_bytes(gzip.compress(idx_bytes(images)))
    (tmp_path / "b-idx3-ubyte.gz").write_bytes(idx_bytes(images))
    assert np.array_equal(read_idx(tmp_path / "a-idx3-ubyte").numpy(), images)
    assert np.array_equal(read_idx(tmp_path / "b-idx3-ubyte.gz").numpy(), images)


@pytest.mark.parametrize("magic", [0x00000804, 0x00000903, 0x01000803, 0xDEADBEEF])
def test_bad_magic(tmp_path, images, magic):
    path = tmp_path / "bad"
    path.write_bytes(idx_bytes(images, magic=magic))
    with pytest.raises(DataError, match=r"bad\s.*magic.*0x00000803") as e:
        read_idx(path)
    assert str(path) in str(e.value)


@pytest.mark.parametrize("compress", [False, True])
def test_truncated_data_names_file_and_expected_bytes(tmp_path, images, compress):
    data = idx_bytes(images)[:-1]
    path = tmp_path / "short"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(DataError, match="truncated") as e:
        read_idx(path)
    msg = str(e.value)
    assert str(path) in msg and "3,920" in msg and "3,919" in msg  # 5*28*28 expected, one short


def test_truncated_gzip_stream(tmp_path, images):
    blob = gzip.compress(idx_bytes(images))
    path = tmp_path / "cut.gz"
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match="gzip") as e:
        read_idx(path)
    assert str(path) in str(e.value)


def test_truncated_header_and_trailing_bytes(tmp_path, images):
    (tmp_path / "h").write_bytes(idx_bytes(images)[:10])
    with pytest.raises(DataError, match="header"):
        read_idx(tmp_path / "h")
    (tmp_path / "t").write_bytes(idx_bytes(images) + b"\x00\x00")
    with pytest.raises(DataError, match="beyond"):
        read_idx(tmp_path / "t")


def test_wrong_image_size(tmp_path):
    (tmp_path / "img").write_bytes(idx_bytes(np.zeros((2, 32, 32), np.uint8)))
    with pytest.raises(DataError, match="28x28"):
        read_idx(tmp_path / "img")


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        read_idx(tmp_path / "nope")


def test_check_split(images, labels):
    x, y = torch.from_numpy(images), torch.from_numpy(labels)
    check_split(x, y, expected=5)  # consistent: no error
    with pytest.raises(DataError, match="label 10"):
        check_split(x, torch.tensor([1, 2, 10, 3, 4], dtype=torch.uint8), expected=None)
    with pytest.raises(DataError, match="5 images but .* 4 labels"):
        check_split(x, y[:4], expected=None)
    with pytest.raises(DataError, match="expected 60,000"):
        check_split(x, y, expected=60_000)
    with pytest.raises(DataError, match="expected labels"):
        check_split(x, x, expected=None)  # images given as labels
