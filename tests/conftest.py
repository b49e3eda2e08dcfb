"""Test isolation: every test gets its own cache folder and MLflow store; nothing is shared."""

import os
import shutil

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

SHARED_MNIST = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist")
# Read before any test runs: every test unsets it (_isolated_env), so a command under test never
# finds data the test did not hand it, but the MNIST tests take the user's copy from it.
USER_MNIST = os.environ.get("BENCH_DATA_DIR")


@pytest.fixture(scope="session")
def _mlflow_template(tmp_path_factory):
    """An empty MLflow sqlite store, migrated once: creating one runs alembic migrations (seconds),
    so each test gets a copy of this instead. It holds the schema only, no runs."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    folder = tmp_path_factory.mktemp("mlflow-template")
    store = SqlAlchemyStore(f"sqlite:///{folder / 'mlflow.db'}", str(folder / "mlruns"))
    store.engine.dispose()
    return folder / "mlflow.db"


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch, _mlflow_template):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    # Beside tmp_path, not in it: tests that check what a command leaves in its folder see no store.
    db = tmp_path.parent / f"{tmp_path.name}.mlflow.db"
    shutil.copy(_mlflow_template, db)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{db}")
    monkeypatch.delenv("BENCH_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    # The plugins a test loads are the run's plugins for later ones (results record them): forget them.
    from bench import plugins

    monkeypatch.setattr(plugins, "_LOADED", list(plugins._LOADED))
    # So are the generator variants and families a plugin registers (the built-in families are
    # registered first, on their lazy first use, so the restored table keeps them).
    from lwgan import families, registry

    families.names()
    for table in (families.FAMILIES, registry.VARIANTS):
        monkeypatch.setattr(table, "_entries", dict(table._entries))


@pytest.fixture
def mnist_dir():
    """The MNIST copy named by $BENCH_DATA_DIR when the suite started, else the offline one beside
    the project (../shared/data/mnist); skip when neither holds the four files."""
    from bench.data.mnist_files import FILES, find_mnist

    for root in (USER_MNIST, SHARED_MNIST):
        root = root and os.path.abspath(os.path.expanduser(root))
        if root and os.path.isdir(root) and len(find_mnist(root)[1]) == len(FILES):
            return root
    pytest.skip("no MNIST copy: set BENCH_DATA_DIR to one, or put it at ../shared/data/mnist")


@pytest.fixture(scope="session")
def ray_cluster():
    """A real local Ray cluster, one per test session (started on first use, shut down at the
    end); skips where Ray is not installed (CI installs the [ray] extra)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()
