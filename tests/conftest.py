"""Test isolation: every test gets its own cache folder and MLflow store; nothing is shared."""

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

SHARED_MNIST = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist")


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.delenv("BENCH_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def mnist_dir():
    """The offline MNIST copy beside the project, or skip when this checkout has none."""
    path = os.path.abspath(SHARED_MNIST)
    if not os.path.exists(os.path.join(path, "t10k-labels-idx1-ubyte.gz")):
        pytest.skip("no MNIST copy at ../shared/data/mnist")
    return path
