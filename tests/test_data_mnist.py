"""MNIST: locating, downloading (file:// and loopback http mirrors), loading the real copy."""

import gzip
import hashlib
import http.server
import os
import struct
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import bench.data.mnist_files as mnist_mod
from bench.data import (
    MD5,
    DataError,
    download_mnist,
    find_mnist,
    load_mnist,
    sample_grid,
    to_pixels,
)
from bench.data.mnist_files import resolve_data_dir

NAMES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]
# Class counts of the MNIST release (training and test sets), a fact independent of this code.
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def touch(folder: Path, names) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        (folder / n).write_bytes(b"")


def sha256sums(folder) -> dict[str, str]:
    lines = (Path(folder) / "SHA256SUMS").read_text().split("\n")
    return {name: digest for digest, name in (line.split() for line in lines if line.strip())}


# --- locating -------------------------------------------------------------------------------


def test_find_flat_folder_gz_or_raw(tmp_path):
    touch(tmp_path, [NAMES[0] + ".gz", NAMES[1], NAMES[2] + ".gz", NAMES[3]])
    folder, found = find_mnist(tmp_path)
    assert folder == tmp_path
    assert sorted(p.name for p in found.values()) == sorted([NAMES[0] + ".gz", NAMES[1], NAMES[2] + ".gz", NAMES[3]])


@pytest.mark.parametrize("sub", ["MNIST/raw", "raw"])
def test_find_torchvision_layout(tmp_path, sub):
    touch(tmp_path / sub, [n + ".gz" for n in NAMES])
    folder, found = find_mnist(tmp_path)
    assert folder == tmp_path / sub and len(found) == 4


def test_data_dir_from_env(tmp_path, monkeypatch):
    assert resolve_data_dir(None) is None  # conftest clears BENCH_DATA_DIR
    monkeypatch.setenv("BENCH_DATA_DIR", str(tmp_path / "env"))
    assert resolve_data_dir(None) == tmp_path / "env"
    assert resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"  # the argument wins


def test_given_folder_lacking_files_names_folder_and_missing(tmp_path):
    touch(tmp_path, [NAMES[0] + ".gz", NAMES[2]])
    with pytest.raises(DataError) as e:
        load_mnist(tmp_path)
    msg = str(e.value)
    assert str(tmp_path) in msg and "\n" not in msg
    assert NAMES[1] in msg and NAMES[3] in msg
    assert NAMES[0] not in msg.split("lacks")[1].split(";")[0]  # present files are not listed


def test_given_folder_missing(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_mnist(tmp_path / "nowhere")


def test_given_folder_is_never_downloaded_into(tmp_path):
    with pytest.raises(DataError, match="lacks"):
        load_mnist(tmp_path, download=True, mirrors=[(tmp_path / "m").as_uri()])
    assert list(tmp_path.iterdir()) == []


# --- offline ----------------------------------------------------------------------------------


def assert_offline_message(msg: str) -> None:
    assert "\n" not in msg
    assert "--data-dir" in msg and "BENCH_DATA_DIR" in msg and "MNIST/raw" in msg


def test_offline_no_download():
    with pytest.raises(DataError) as e:
        load_mnist(download=False)
    assert_offline_message(str(e.value))
    assert "downloads are off" in str(e.value)


def test_offline_unreachable_mirrors(tmp_path):
    with pytest.raises(DataError) as e:
        load_mnist(mirrors=[(tmp_path / "no-mirror").as_uri() + "/", "file:///nonexistent/mirror/"])
    assert_offline_message(str(e.value))
    assert "no-mirror" in str(e.value) and "nonexistent" in str(e.value)
    assert not any((tmp_path / "cache").rglob("*"))  # nothing half-written in the cache


# --- downloading ------------------------------------------------------------------------------


@pytest.fixture
def fake_mirror(tmp_path):
    """A mirror folder with four small gz files, and their md5 computed here."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    sums = {}
    rng = np.random.default_rng(1)
    for name in NAMES:
        arr = rng.integers(0, 256, size=(3, 28, 28) if "images" in name else (3,), dtype=np.uint8)
        blob = gzip.compress(
            struct.pack(">I", 0x800 | arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()
        )
        (mirror / (name + ".gz")).write_bytes(blob)
        sums[name + ".gz"] = hashlib.md5(blob).hexdigest()
    return mirror, sums


def test_download_falls_back_to_next_mirror(tmp_path, fake_mirror):
    mirror, sums = fake_mirror
    dest = tmp_path / "dl"
    reports = []
    out = download_mnist(
        dest,
        mirrors=[(tmp_path / "empty").as_uri() + "/", mirror.as_uri()],
        checksums=sums,
        progress=lambda task, done, total, **kw: reports.append((task, done, total)),
    )
    assert set(out) == set(sums)
    for name, path in out.items():
        assert path.read_bytes() == (mirror / name).read_bytes()
    assert sorted(p.name for p in dest.iterdir()) == sorted(sums)  # no temp files left
    assert any(t.startswith("download ") and d == tot for t, d, tot in reports)


def test_download_bad_checksum_is_rejected_and_leaves_no_file(tmp_path, fake_mirror):
    mirror, sums = fake_mirror
    bad = dict(sums, **{"train-labels-idx1-ubyte.gz": "0" * 32})
    dest = tmp_path / "dl"
    with pytest.raises(DataError, match="checksum mismatch") as e:
        download_mnist(dest, names=["train-labels-idx1-ubyte.gz"], mirrors=[mirror.as_uri()], checksums=bad)
    assert "\n" not in str(e.value)
    assert not dest.exists() or list(dest.iterdir()) == []


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def http_mirror(fake_mirror):
    """A loopback http server over the fake mirror, stopped after the test."""
    mirror, sums = fake_mirror

    def handler(*a, **kw):
        return _Quiet(*a, directory=str(mirror), **kw)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", sums
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_download_over_http_with_a_404_mirror_first(tmp_path, http_mirror):
    base, sums = http_mirror
    out = download_mnist(tmp_path / "dl", mirrors=[base + "/missing/", base + "/"], checksums=sums)
    for name, path in out.items():
        assert hashlib.md5(path.read_bytes()).hexdigest() == sums[name]


def test_shared_copy_as_mirror_fails_the_release_md5(tmp_path, mnist_dir):
    # The offline copy's training images were rebuilt: as a download they must be refused.
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz.*checksum mismatch"):
        load_mnist(mirrors=[Path(mnist_dir).as_uri()])
    cache = tmp_path / "cache" / "mnist"
    assert not (cache / "train-images-idx3-ubyte.gz").exists()
    assert not [p for p in cache.rglob("*") if p.name.endswith(".tmp")]


def test_download_into_cache_then_load(tmp_path, mnist_dir, monkeypatch):
    # Accept the rebuilt file's md5 for this test so the whole download-then-load path runs.
    shared = Path(mnist_dir)
    rebuilt = hashlib.md5((shared / "train-images-idx3-ubyte.gz").read_bytes()).hexdigest()
    monkeypatch.setitem(mnist_mod.MD5, "train-images-idx3-ubyte.gz", rebuilt)
    data = load_mnist(mirrors=["file:///nonexistent/", shared.as_uri()])
    cache = tmp_path / "cache" / "mnist"
    assert data.source == cache
    assert sorted(p.name for p in cache.iterdir()) == sorted(n + ".gz" for n in NAMES)
    again = load_mnist(download=False)  # found in the cache, nothing downloaded
    assert again.fingerprint == data.fingerprint


# --- loading the real copy --------------------------------------------------------------------


def test_load_real_copy_from_env_in_torchvision_layout(tmp_path, mnist_dir, monkeypatch):
    raw = tmp_path / "tv" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in NAMES:
        os.symlink(Path(mnist_dir) / (name + ".gz"), raw / (name + ".gz"))
    monkeypatch.setenv("BENCH_DATA_DIR", str(tmp_path / "tv"))
    data = load_mnist(download=False)

    assert data.source == raw
    assert data.train_images.shape == (60_000, 28, 28) and data.train_images.dtype == torch.uint8
    assert data.test_images.shape == (10_000, 28, 28) and data.test_images.dtype == torch.uint8
    assert data.train_labels.dtype == torch.int64 and data.test_labels.dtype == torch.int64
    assert data.train_labels.bincount().tolist() == TRAIN_COUNTS
    assert data.test_labels.bincount().tolist() == TEST_COUNTS
    assert data.files == sha256sums(mnist_dir)  # the folder's own SHA256SUMS is the oracle
    for name in ("train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        assert data.md5[name] == MD5[name]  # these three are the original release
    assert data.md5["train-images-idx3-ubyte.gz"] != MD5["train-images-idx3-ubyte.gz"]
    assert len(data.fingerprint) == 16 and int(data.fingerprint, 16) >= 0

    # Same content uncompressed: same arrays, a different fingerprint (it keys on the files).
    (raw / "t10k-labels-idx1-ubyte.gz").unlink()
    with gzip.open(Path(mnist_dir) / "t10k-labels-idx1-ubyte.gz") as f:
        (raw / "t10k-labels-idx1-ubyte").write_bytes(f.read())
    other = load_mnist(download=False)
    assert torch.equal(other.test_labels, data.test_labels)
    assert other.fingerprint != data.fingerprint
    assert load_mnist(download=False).fingerprint == other.fingerprint  # and it is stable


def test_corrupt_labels_in_a_full_folder(tmp_path, mnist_dir):
    # A label file with a label of 10 is refused even though every count is right.
    folder = tmp_path / "bad"
    folder.mkdir()
    for name in NAMES:
        os.symlink(Path(mnist_dir) / (name + ".gz"), folder / (name + ".gz"))
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    labels = np.zeros(10_000, np.uint8)
    labels[123] = 10
    (folder / "t10k-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x801, 10_000) + labels.tobytes())
    with pytest.raises(DataError, match="label 10"):
        load_mnist(folder)


# --- pixels and the sample grid -----------------------------------------------------------------


def test_to_pixels():
    x = torch.arange(256, dtype=torch.uint8).repeat(10)[: 3 * 28 * 28].reshape(3, 28, 28)
    p = to_pixels(x)
    assert p.shape == (3, 1, 28, 28) and p.dtype == torch.float32
    expected = x.numpy().astype(np.float64) / 255.0 * 2.0 - 1.0
    np.testing.assert_allclose(p[:, 0].numpy(), expected, atol=1e-6)
    assert p.min() == -1.0 and p.max() == 1.0
    with pytest.raises(TypeError):
        to_pixels(x.float())


def test_sample_grid_rows_are_classes():
    rng = np.random.default_rng(2)
    labels = torch.from_numpy(rng.integers(0, 10, size=400))
    images = torch.from_numpy(rng.integers(0, 256, size=(400, 28, 28), dtype=np.uint8))
    grid = sample_grid(images, labels, per_class=3).numpy()
    assert grid.shape == (280, 84)
    for digit in range(10):
        idx = np.flatnonzero(labels.numpy() == digit)[:3]
        for col, i in enumerate(idx):
            assert np.array_equal(grid[28 * digit : 28 * digit + 28, 28 * col : 28 * col + 28], images[i].numpy())
    with pytest.raises(DataError, match="digit"):
        sample_grid(images[:5], labels[:5], per_class=3)
