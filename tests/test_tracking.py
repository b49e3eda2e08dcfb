"""MLflow tracking: what start_sweep logs, read back with MlflowClient from sqlite and a server."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from types import SimpleNamespace

import pytest
from mlflow.tracking import MlflowClient

from bench.tracking import TrackingError, run_tags, start_sweep

REPO = Path(__file__).resolve().parents[1]


@contextmanager
def _terminal_output() -> Iterator[list[str]]:
    """Capture everything written to the terminal, at the file-descriptor and sys.std* level."""
    out: list[str] = []
    buf = io.StringIO()
    with tempfile.TemporaryFile() as tmp:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = [os.dup(1), os.dup(2)]
        os.dup2(tmp.fileno(), 1)
        os.dup2(tmp.fileno(), 2)
        try:
            with redirect_stdout(buf), redirect_stderr(buf):
                yield out
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            tmp.seek(0)
            out.append(tmp.read().decode(errors="replace") + buf.getvalue())


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> SimpleNamespace:
    """One sweep into a brand-new store at MLflow's default URI (./mlflow.db), recording what
    reached the terminal. Creating a store runs schema migrations (seconds), so the other tests
    copy this one."""
    where = tmp_path_factory.mktemp("fresh")
    cwd, env = os.getcwd(), os.environ.pop("MLFLOW_TRACKING_URI", None)
    level = logging.getLogger("mlflow").level
    os.chdir(where)
    try:
        with _terminal_output() as printed, start_sweep("stochastic", tracking_uri=None) as sweep:
            (where / "f.txt").write_text("x")
            sweep.log_child("sigma=0.1", metrics={"diversity": 0.0057}, artifacts=["f.txt"])
    finally:
        os.chdir(cwd)
        if env is not None:
            os.environ["MLFLOW_TRACKING_URI"] = env
    return SimpleNamespace(
        dir=where,
        db=where / "mlflow.db",
        sweep=sweep,
        printed=printed[0],
        level_before=level,
        level_after=logging.getLogger("mlflow").level,
    )


@pytest.fixture
def store(tmp_path, fresh, monkeypatch) -> tuple[str, Path]:
    db = tmp_path / "mlflow.db"
    shutil.copy(fresh.db, db)
    monkeypatch.chdir(tmp_path)  # MLflow's default artifact root is ./mlruns
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return f"sqlite:///{db}", tmp_path


def _children(client: MlflowClient, parent) -> dict:
    runs = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    return {r.info.run_name: r for r in runs}


def _git_head() -> str | None:
    r = subprocess.run(["git", "rev-parse", "HEAD"], check=False, cwd=REPO, capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def test_sweep_round_trip_sqlite(store):
    uri, tmp = store
    art = tmp / "grid.csv"
    art.write_text("a,b\n1,2\n")
    loss = [1.0 / (i + 1) for i in range(2500)]  # more than one log_batch of metrics
    many = {f"p{i}": i for i in range(150)}  # more than one log_batch of params
    with start_sweep(
        "recover",
        tracking_uri=uri,
        params={"grid": "quick", "steps": 200, **many},
        tags=run_tags("cpu", [0, 1]),
    ) as sweep:
        a = sweep.log_child(
            "wasserstein lr=0.1 lambda=1",
            params={"regulator": "wasserstein", "lr": 0.1, "lambda": 1.0},
            metrics={"accuracy": 94.5, "l1": 0.12},
            tags={"seed": 0},
            histories={"loss": loss},
            artifacts=[art],
        )
        sweep.log_child("none lr=0.1", params={"regulator": "none", "lr": 0.1}, metrics={"accuracy": 70.0})
        sweep.log_child("broken cell", params={"regulator": "energy"}, error="nan loss\nat step 3")
        sweep.set_tags({"best_child": a})
        sweep.log_metrics({"best_accuracy": 94.5})
        sweep.log_artifact(art)
    assert sweep.failed_children == 1 and len(sweep.children) == 3

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("recover")  # experiment defaults to the command name
    parent = client.get_run(sweep.run_id)
    assert parent.info.experiment_id == exp.experiment_id
    assert parent.info.status == "FINISHED" and parent.info.run_name == "recover"
    assert parent.data.params["grid"] == "quick" and parent.data.params["steps"] == "200"
    assert parent.data.params["p149"] == "149"
    tags = parent.data.tags
    assert tags["best_child"] == a and tags["device"] == "cpu" and tags["seeds"] == "0,1"
    assert tags["version.torch"].startswith("2.") and "version.mlflow" in tags
    assert "version.python" in tags and tags["version.lwgan-bench"] == "0.1.0"
    assert tags["command"] == "recover" and tags["command_line"]
    assert tags["mlflow.source.name"] == "bench recover"  # the runs table's Source column
    assert sweep.ui_command() == f"mlflow ui --backend-store-uri {uri}"  # a local store: how to see it
    assert sweep.url.startswith("http://127.0.0.1:5000/#/experiments/") and "workflowType=machine_learning" in sweep.url
    # a model-training experiment (the UI opens on its runs table), its artifacts beside the database
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    assert exp.artifact_location == (tmp / "mlruns" / "recover").as_uri()
    head = _git_head()
    if head:
        assert tags["git_commit"] == head == tags["mlflow.source.git.commit"]
    assert parent.data.metrics["best_accuracy"] == 94.5
    assert [f.path for f in client.list_artifacts(sweep.run_id)] == ["grid.csv"]

    kids = _children(client, parent)
    assert set(kids) == {"wasserstein lr=0.1 lambda=1", "none lr=0.1", "broken cell"}
    w = kids["wasserstein lr=0.1 lambda=1"]
    assert w.info.run_id == a and w.info.status == "FINISHED"
    assert w.data.params == {"regulator": "wasserstein", "lr": "0.1", "lambda": "1.0"}
    assert w.data.metrics["accuracy"] == 94.5 and w.data.tags["seed"] == "0"
    assert w.data.tags["mlflow.source.name"] == "bench recover"  # each child's Source too
    hist = client.get_metric_history(a, "loss")
    assert sorted(m.step for m in hist) == list(range(2500))
    assert {m.step: m.value for m in hist}[9] == pytest.approx(0.1)
    # a child's figures go under fixed names, so MLflow's compare view lines two cells' up
    assert [f.path for f in client.list_artifacts(a)] == ["cell.csv"]
    local = client.download_artifacts(a, "cell.csv", str(tmp / "dl"))
    assert Path(local).read_text() == "a,b\n1,2\n"
    bad = kids["broken cell"]
    assert bad.info.status == "FAILED" and bad.data.tags["error"] == "nan loss at step 3"


def test_parent_killed_on_ctrl_c_and_failed_on_error(store):
    uri, _ = store
    with (
        pytest.raises(KeyboardInterrupt),
        start_sweep("isometry", tracking_uri=uri, experiment="iso-tests") as killed,
    ):
        killed.log_child("lambda=0", metrics={"discrepancy": 1.2})
        raise KeyboardInterrupt
    with (
        pytest.raises(RuntimeError, match="boom"),
        start_sweep("isometry", tracking_uri=uri, experiment="iso-tests") as failed,
    ):
        raise RuntimeError("boom")
    client = MlflowClient(tracking_uri=uri)
    assert client.get_experiment_by_name("isometry") is None  # --experiment wins
    k, f = client.get_run(killed.run_id), client.get_run(failed.run_id)
    assert k.info.status == "KILLED" and "KeyboardInterrupt" in k.data.tags["error"]
    assert f.info.status == "FAILED" and f.data.tags["error"] == "RuntimeError: boom"
    # The child finished before the interrupt keeps its results.
    (child,) = _children(client, k).values()
    assert child.info.status == "FINISHED" and child.data.metrics["discrepancy"] == 1.2


def test_child_interrupted_while_logging_is_not_left_running(store, monkeypatch):
    uri, tmp = store
    (tmp / "a.txt").write_text("a")
    with (
        pytest.raises(KeyboardInterrupt),
        start_sweep("recover", tracking_uri=uri, experiment="interrupt") as sweep,
    ):

        def ctrl_c(*args, **kwargs):
            raise KeyboardInterrupt

        monkeypatch.setattr(sweep.client, "log_artifact", ctrl_c)
        sweep.log_child("cell", metrics={"accuracy": 1.0}, artifacts=[tmp / "a.txt"])
    client = MlflowClient(tracking_uri=uri)
    (child,) = _children(client, client.get_run(sweep.run_id)).values()
    assert child.info.status == "KILLED" and child.data.tags["error"] == "logging interrupted"
    assert client.get_run(sweep.run_id).info.status == "KILLED"


def test_disabled_sweep_is_a_no_op(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with start_sweep("recover", tracking_uri=None, enabled=False) as sweep:
        assert sweep.log_child("x", metrics={"a": 1.0}) is None
        sweep.log_child("y", error="bad")
        sweep.log_metrics({"a": 1.0})
        sweep.set_tags({"best_child": "x"})
        sweep.log_artifact(__file__)
    assert sweep.run_id is None and sweep.failed_children == 1
    assert list(tmp_path.iterdir()) == []  # no mlflow.db, no mlruns


def test_default_uri_is_mlflows_own_and_sweep_is_quiet(fresh):
    # tracking_uri=None: MLflow's default, sqlite ./mlflow.db with artifacts in ./mlruns. The
    # fresh store ran its schema migrations, whose log lines must not reach the terminal.
    assert fresh.printed == ""
    assert fresh.level_after == fresh.level_before
    assert "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT" not in os.environ
    assert fresh.db.is_file()
    uri = fresh.sweep.tracking_uri
    assert uri.startswith("sqlite") and uri.endswith("mlflow.db")
    client = MlflowClient(tracking_uri=f"sqlite:///{fresh.db}")
    assert client.get_run(fresh.sweep.run_id).info.status == "FINISHED"
    assert any(p.name == "cell.txt" for p in (fresh.dir / "mlruns").rglob("*"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_bad_uris_fail_fast_with_one_line(store):
    start = time.monotonic()
    port = _free_port()  # nothing listens there
    with pytest.raises(TrackingError, match=f"cannot connect to 127.0.0.1:{port}") as e:
        start_sweep("recover", tracking_uri=f"http://127.0.0.1:{port}").__enter__()
    assert "\n" not in str(e.value)
    with pytest.raises(TrackingError, match="unknown scheme 'foo'") as e:
        start_sweep("recover", tracking_uri="foo://bar").__enter__()
    assert "\n" not in str(e.value) and e.value.exit_code == 2
    assert time.monotonic() - start < 20


def test_bad_metric_or_param_is_a_programming_error(store):
    uri, _ = store
    with start_sweep("recover", tracking_uri=uri, params={"a": 1}) as sweep:
        with pytest.raises(ValueError, match="metric 'acc'"):
            sweep.log_child("x", metrics={"acc": "high"})
        assert sweep.children == []  # validated before any run was created
        with pytest.raises(ValueError, match="MLflow rejected"):
            sweep.log_child("y", params={"bad key!": 1})
    client = MlflowClient(tracking_uri=uri)
    (child,) = _children(client, client.get_run(sweep.run_id)).values()
    assert child.info.status == "FAILED" and "logging failed" in child.data.tags["error"]


@pytest.fixture(scope="module", autouse=True)
def _server_process(tmp_path_factory, request):
    """Start `mlflow server` on a free loopback port when this module starts (it takes seconds
    to boot, so it boots while the other tests run); stop it when the module ends. Not started
    when the server test is deselected."""
    if not any(item.name == "test_sweep_against_mlflow_server" for item in request.session.items):
        yield None
        return
    where = tmp_path_factory.mktemp("server")
    port = _free_port()
    log = open(where / "server.log", "wb")  # noqa: SIM115 - closed in the finally below
    exe = Path(sys.executable).with_name("mlflow")
    cmd = [str(exe), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    cmd += ["--backend-store-uri", f"sqlite:///{where / 'server.db'}"]
    cmd += ["--artifacts-destination", str(where / "artifacts")]
    # No background job runner: one process fewer to boot (it serves GenAI jobs, unused here).
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    try:
        yield SimpleNamespace(proc=proc, url=f"http://127.0.0.1:{port}", log=where / "server.log")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the server and its workers: our own group
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)
        log.close()


@pytest.fixture
def mlflow_server(_server_process) -> str:
    """The server's URL once it answers /health; skip when it cannot start within 60 s."""
    proc, url = _server_process.proc, _server_process.url
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            pytest.skip(f"mlflow server exited with {proc.returncode}; see {_server_process.log}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    return url
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.skip("mlflow server did not answer /health within 60 s")
        time.sleep(0.5)


def test_sweep_against_mlflow_server(mlflow_server, tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    art = tmp_path / "curve.csv"
    art.write_text("step,loss\n0,1.0\n")
    with start_sweep("models", tracking_uri=mlflow_server, params={"k": 1}) as sweep:
        cid = sweep.log_child("cell", params={"lr": 0.01}, histories={"loss": [3.0, 2.0, 1.0]}, artifacts=[art])
    assert capfd.readouterr() == ("", "")  # no "View run ... at" lines
    # MLflow 3's UI opens in its GenAI view unless the address asks for the model-training one
    page = f"{mlflow_server}/#/experiments/{sweep.experiment_id}/runs/{sweep.run_id}?workflowType=machine_learning"
    assert sweep.url == page and sweep.ui_command() is None
    client = MlflowClient(tracking_uri=mlflow_server)
    parent = client.get_run(sweep.run_id)
    assert parent.info.status == "FINISHED" and parent.data.params == {"k": "1"}
    child = client.get_run(cid)
    assert child.data.tags["mlflow.parentRunId"] == sweep.run_id
    assert [m.value for m in sorted(client.get_metric_history(cid, "loss"), key=lambda m: m.step)] == [
        3.0,
        2.0,
        1.0,
    ]
    local = client.download_artifacts(cid, "cell.csv", str(tmp_path))
    assert Path(local).read_text() == "step,loss\n0,1.0\n"
    # What the UI's pages ask the server for: the experiment's kind (the runs table, not the GenAI
    # overview), each run's Source, and two cells' figures under one name (the compare view).
    other = tmp_path / "other.csv"
    other.write_text("step,loss\n0,2.0\n")
    with start_sweep("models", tracking_uri=mlflow_server, params={"k": 2}) as sweep2:
        ids = [sweep2.log_child(f"cell {i}", params={"lr": i}, artifacts=[f]) for i, f in enumerate((art, other))]
    api = f"{mlflow_server}/ajax-api/2.0/mlflow"

    def get(path: str) -> dict:
        with urllib.request.urlopen(f"{api}/{path}", timeout=10) as r:
            return json.load(r)

    exp = get("experiments/get-by-name?experiment_name=models")["experiment"]
    assert {t["key"]: t["value"] for t in exp["tags"]}["mlflow.experimentKind"] == "custom_model_development"
    for rid, body in zip(ids, ("step,loss\n0,1.0\n", "step,loss\n0,2.0\n")):
        run = get(f"runs/get?run_id={rid}")["run"]
        assert {t["key"]: t["value"] for t in run["data"]["tags"]}["mlflow.source.name"] == "bench models"
        assert [f["path"] for f in get(f"artifacts/list?run_id={rid}")["files"]] == ["cell.csv"]
        with urllib.request.urlopen(f"{mlflow_server}/get-artifact?path=cell.csv&run_uuid={rid}", timeout=10) as r:
            assert r.read().decode() == body
