"""Sweeps on Ray and SLURM against real back-ends: a local Ray cluster (one per test session) and
submitit's local executor. The same results as the local executor, one writer (the driver), and
the faults a cluster brings: a task that raises, a worker killed mid-task, a driver killed with
kill -9 and resumed, an unreachable cluster address."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from bench.cli import main

_IDS = itertools.count()

# A tiny experiment written by each test under its own names (Ray workers live across tests and
# keep what they imported). `die_once` kills the worker process running that cell, once.
PLUGIN = """
import os, signal, time
from dataclasses import dataclass
from pathlib import Path

from bench.pipeline import Experiment, register


@dataclass(frozen=True)
class Settings:
    values: tuple[int, ...] = (1, 2, 3, 4, 5)
    fail_on: int = 0  # this cell raises
    die_once: int = 0  # this cell's worker is killed the first time (marker file in the test's folder)
    sleep: float = 0.0
    seeds: tuple[int, ...] = (0,)


def run_cell(cell, ctx):
    s, v = ctx.settings, cell["value"]
    marker = Path(r"FOLDER") / "NAME.died"  # the test's folder, wherever the code runs from
    if v == s.die_once and not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(s.sleep)
    if v == s.fail_on:
        raise RuntimeError(f"cell {v} fails on purpose")
    print(f"cell {v} ran in {os.getpid()}")
    return {"value": v, "square": v * v, "root": v ** 0.5, "pid": os.getpid(),
            "cache": os.environ.get("BENCH_CACHE_DIR", ""), "mark": os.environ.get("BENCH_TEST_MARK", ""),
            "file": __file__}


def render(results):
    return "\\n".join(f"- {r['value']}: {r['square']}" for r in results.records()) + "\\n"


register(Experiment("NAME", "a tiny experiment for the executors", Settings, lambda s: [{"value": v} for v in s.values],
                    render, run_cell=run_cell, chunk_key=CHUNK_KEY))
"""


def _plugin(folder: Path, chunk_key: str = "None"):
    """Write and load a fresh tiny experiment in `folder`; (name, path)."""
    from bench import plugins

    name = f"exec_tiny_{os.getpid()}_{next(_IDS)}"
    path = folder / f"{name}.py"
    path.write_text(PLUGIN.replace("NAME", name).replace("CHUNK_KEY", chunk_key).replace("FOLDER", str(folder)))
    plugins.load(str(path))
    return name, path


def _forget(name: str, path: Path) -> None:
    from bench import plugins
    from bench.pipeline import unregister

    unregister(name)
    plugins._LOADED.remove(str(path.resolve()))


@pytest.fixture
def tiny(tmp_path):
    """(experiment name, plugin path): a fresh tiny experiment, unregistered afterwards."""
    name, path = _plugin(tmp_path)
    yield name, path
    _forget(name, path)


@pytest.fixture
def paired(tmp_path_factory):
    """A tiny experiment whose cells run two to a chunk (odd and even values), from a folder
    outside the working directory."""
    name, path = _plugin(tmp_path_factory.mktemp("plugins-elsewhere"), 'lambda c: c["value"] % 2')
    yield name, path
    _forget(name, path)


def _run(name, tmp_path, out: str, *extra: str, uri: str | None = None) -> pd.DataFrame:
    track = ["--tracking-uri", uri] if uri else ["--no-track"]
    assert main(["run", name, "--out", str(tmp_path / out), "--device", "cpu", *track, *extra]) == 0
    return pd.read_csv(tmp_path / out / f"{name}.csv")


def _same(a: pd.DataFrame, b: pd.DataFrame, drop=("pid", "wall_s", "mark", "file")) -> None:
    cols = [c for c in a.columns if c not in drop]
    pd.testing.assert_frame_equal(a[cols].reset_index(drop=True), b[cols].reset_index(drop=True))


def test_ray_gives_the_local_results_with_one_writer(ray_cluster, tiny, tmp_path, capsys):
    from mlflow.tracking import MlflowClient

    name, _ = tiny
    local = _run(name, tmp_path, "local", "--set", "fail_on=3")
    uri = f"sqlite:///{tmp_path / 'ray.db'}"
    remote = _run(name, tmp_path, "ray", "--set", "fail_on=3", "--executor", "ray", uri=uri)
    _same(local, remote)
    assert "as Ray tasks" in capsys.readouterr().err
    fin = remote[remote["status"] == "finished"]
    assert (fin["pid"] != os.getpid()).all()  # computed in Ray workers
    assert (fin["cache"] == os.environ["BENCH_CACHE_DIR"]).all()  # the driver's model cache reached them
    # the task that raised is a FAILED cell with its error; the rest went on
    failed = remote[remote["status"] == "failed"]
    assert list(failed["value_cell"] if "value_cell" in failed else failed["value"]) == [3]
    assert "fails on purpose" in failed["error"].iloc[0]
    # one writer: the driver logged one parent and one child per cell to the sqlite store
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name(name).experiment_id])
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(runs) - len(children) == 1 and len(children) == 5
    assert sorted(c.info.status for c in children) == ["FAILED"] + ["FINISHED"] * 4


def test_a_worker_killed_mid_task_is_retried_and_the_sweep_finishes(ray_cluster, tiny, tmp_path):
    name, path = tiny
    local = _run(name, tmp_path, "local")
    remote = _run(name, tmp_path, "ray", "--set", "die_once=2", "--executor", "ray")
    assert path.with_suffix(".died").exists()  # the worker running cell 2 was killed once
    assert (remote["status"] == "finished").all()
    _same(local, remote)


def test_a_driver_killed_with_kill_9_resumes_only_the_missing_cells(ray_cluster, tiny, tmp_path):
    name, path = tiny
    address = ray_cluster.get_runtime_context().gcs_address
    out = tmp_path / "out"
    args = [
        sys.executable,
        "-m",
        "bench.cli",
        "--plugin",
        str(path),
        "run",
        name,
        "--out",
        str(out),
        "--no-track",
        "--device",
        "cpu",
        "--set",
        "values=1,2,3,4,5,6,7,8",
        "--set",
        "sleep=0.5",
        "--executor",
        "ray",
        "--ray-address",
        address,
    ]
    proc = subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
    )
    stored, deadline = [], time.monotonic() + 120
    while len(stored) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
        stored = list(out.glob("runs/*/cells/*.json"))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(list(out.glob("runs/*/cells/*.json")))
    assert 2 <= done < 8, "the driver should have been killed part way"
    from bench.pipeline import RunOptions, get, run_experiment
    from bench.pipeline.on_ray import RaySettings

    settings = get(name).settings(values=tuple(range(1, 9)), sleep=0.5)
    options = RunOptions(
        out=out, track=False, resume=True, executor="ray", executor_settings=RaySettings(address=address)
    )
    output = run_experiment(name, settings, options)
    resumed = [c["resumed"] for c in output.results.cells]
    assert sum(resumed) == done and all(c["status"] == "finished" for c in output.results.cells)
    assert [r["square"] for r in output.results.records()] == [v * v for v in range(1, 9)]


def test_recover_on_ray_gives_the_local_csv(ray_cluster, mnist_dir, tmp_path, monkeypatch):
    """Workers read the data from its folder and the models from the cache, as on a cluster with a
    shared filesystem (nothing is patched into the workers: the tiny scorer's config reaches them
    in the run's facts)."""
    import dataclasses

    import bench.classifier

    @dataclasses.dataclass
    class Tiny(bench.classifier.ClassifierConfig):  # the scorer is not under test here
        width: int = 4
        epochs: int = 1

    monkeypatch.setattr(bench.classifier, "ClassifierConfig", Tiny)  # the driver's only: workers get it from the facts
    argv = ["recover", "--regulator", "wasserstein,log_normal_density", "--grid", "quick", "--images", "8",
            "--steps", "3", "--generator", "lsgan.test", "--device", "cpu", "--data-dir", mnist_dir,
            "--quality-samples", "200", "--no-track"]  # fmt: skip
    assert main([*argv, "--out", str(tmp_path / "local")]) == 0
    assert main([*argv, "--out", str(tmp_path / "ray"), "--executor", "ray", "--cpus-per-task", "2"]) == 0
    a, b = (pd.read_csv(tmp_path / d / "recover-quick.csv") for d in ("local", "ray"))
    _same(a, b)
    assert len(a) == 4 and a["accuracy"].notna().all()


def test_an_lwgan_experiment_on_ray_gives_the_local_csv(ray_cluster, tmp_path, monkeypatch):
    argv = ["isometry", "--lambda", "0,1", "--objective", "both", "--seeds", "0", "--iterations", "20",
            "--width", "4", "--rank-reps", "2", "--critic-steps", "2", "--device", "cpu", "--no-track"]  # fmt: skip
    frames = []
    for folder, extra in (("local", []), ("ray", ["--executor", "ray"])):
        monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / f"cache-{folder}"))  # both train their models
        assert main([*argv, "--out", str(tmp_path / folder), *extra]) == 0
        frames.append(pd.read_csv(tmp_path / folder / "isometry.csv"))
    _same(*frames, drop=("train_time_s", "eval_time_s", "wall_s"))
    assert len(frames[0]) == 4


def test_an_unreachable_ray_address_is_one_line_within_seconds(tiny, tmp_path):
    name, path = tiny
    t0 = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.cli",
            "--plugin",
            str(path),
            "run",
            name,
            "--no-track",
            "--out",
            str(tmp_path / "o"),
            "--executor",
            "ray",
            "--ray-address",
            "127.0.0.1:9",
        ],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
    )
    assert time.monotonic() - t0 < 20
    err = proc.stderr.strip()
    assert proc.returncode == 2 and "cannot reach the Ray cluster at 127.0.0.1:9" in err
    assert "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "o" / "runs").exists()  # nothing ran


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--executor", "spark"], "--executor: unknown value 'spark'; accepted: local, ray, slurm"),
        (["--executor", "ray", "--cpus-per-task", "0"], "--cpus-per-task: 0.0 is below the minimum 0.01"),
        (["--executor", "slurm", "--slurm-time", "0"], "--slurm-time: 0 is below the minimum 1"),
        (["--slurm-partition", "gpu"], "--slurm-partition: a setting of --executor slurm, not of local"),
        (["--executor", "ray", "--slurm-time", "5"], "--slurm-time: a setting of --executor slurm, not of ray"),
    ],
)
def test_bad_executor_options_exit_2(args, needle, tiny, capsys):
    name, _ = tiny
    assert main(["run", name, "--no-track", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err


def test_slurm_through_submitits_local_executor(tiny, tmp_path):
    pytest.importorskip("submitit")
    name, _ = tiny
    local = _run(name, tmp_path, "local", "--set", "fail_on=4")
    logs = tmp_path / "slurm-logs"
    remote = _run(
        name,
        tmp_path,
        "slurm",
        "--set",
        "fail_on=4",
        "--executor",
        "slurm",
        "--slurm-cluster",
        "local",
        "--slurm-log-dir",
        str(logs),
        "--slurm-time",
        "5",
    )
    _same(local, remote)
    failed = remote[remote["status"] == "failed"]
    assert list(failed["value"]) == [4] and "fails on purpose" in failed["error"].iloc[0]
    assert any(logs.rglob("*_log.out"))  # submitit's job logs are where the option says


def test_local_worker_processes_run_a_plugins_experiment_with_the_serial_results(tiny, tmp_path):
    name, _ = tiny
    serial = _run(name, tmp_path, "one", "--workers", "1", "--set", "fail_on=2")
    parallel = _run(name, tmp_path, "two", "--workers", "2", "--set", "fail_on=2")
    _same(serial, parallel)
    assert (serial["pid"].dropna() == os.getpid()).all()
    assert (parallel["pid"].dropna() != os.getpid()).all()


def _cells_progress(name, settings, options):
    """run_experiment's 'cells' progress values and its notices."""
    from bench.pipeline import run_experiment

    seen, events = [], []

    def progress(task, done, total, **info):
        if task == "cells":
            seen.append(done)

    output = run_experiment(name, settings, options, progress=progress, on_event=events.append)
    return output, seen, events


def test_ray_ships_the_plugin_reports_each_cell_and_brings_failures_back(ray_cluster, paired, tmp_path):
    """The plugin file lives outside the working directory: the workers run the copy the task's
    runtime_env carried, not the driver's file. Cells finish one by one inside chunks of two, and
    the bar says so; a failed cell's traceback and output reach the driver."""
    from bench.pipeline import RunOptions, get
    from bench.pipeline.executors import get_executor
    from bench.pipeline.on_ray import SHIPPED, RaySettings

    name, path = paired
    settings = get(name).settings(values=(1, 2, 3, 4, 5, 6), fail_on=6, sleep=0.2)
    output, seen, events = _cells_progress(name, settings, RunOptions(out=tmp_path / "o", track=False, executor="ray"))
    # Cell 6 fails its chunk (2, 4, 6); the odd chunk finishes.
    assert [c["status"] for c in output.results.cells] == ["finished", "failed"] * 3
    assert all(r["pid"] != os.getpid() for r in output.results.records())
    assert all(r["file"] != str(path) and f"/{SHIPPED}/{path.name}" in r["file"] for r in output.results.records())
    # Cells counted as they finish, not a chunk (of three) at a time; two cells of the two chunks
    # may finish between two of the bar's updates, so not every count need show.
    assert {0, 6} <= set(seen) and set(seen) - {0, 3, 6}
    failure = "\n".join(e for e in events if "failed on" in e)
    assert "Traceback" in failure and "RuntimeError: cell 6 fails on purpose" in failure
    assert "cell 4 ran in" in failure  # the worker's output tail
    # The estimate's parallelism is the cluster's: 2 CPUs, one per task; four half-CPU tasks.
    ray_ = get_executor("ray")
    assert ray_.parallelism(RaySettings(), 1, 10) == 2
    assert ray_.parallelism(RaySettings(cpus_per_task=0.5), 1, 10) == 4


def test_slurm_options_setup_lines_and_per_cell_progress(paired, tmp_path):
    pytest.importorskip("submitit")
    from bench.pipeline import RunOptions, get
    from bench.pipeline.on_slurm import SlurmSettings

    name, _ = paired
    spec = SlurmSettings(
        cluster="local",
        log_dir=str(tmp_path / "logs"),
        time=5,
        mem_gb=2,
        account="acct",
        qos="normal",
        constraint="cpu",
        array_parallelism=2,
        setup=("export BENCH_TEST_MARK=set-up",),
    )
    settings = get(name).settings(values=(1, 2, 3, 4), fail_on=4, sleep=1.5)
    options = RunOptions(out=tmp_path / "o", track=False, executor="slurm", executor_settings=spec)
    output, seen, events = _cells_progress(name, settings, options)
    # Cell 4 fails its chunk (2, 4); the odd one finishes, its jobs' setup line run first.
    assert [c["status"] for c in output.results.cells] == ["finished", "failed"] * 2
    assert [r["mark"] for r in output.results.records()] == ["set-up"] * 2
    assert set(seen) - {0, 2, 4}  # a cell counted while its chunk still ran (polled from its job)
    assert any("RuntimeError: cell 4 fails on purpose" in e and "(job " in e for e in events)


def test_slurm_fractional_cpus_are_one_line(tiny, capsys):
    name, _ = tiny
    assert main(["run", name, "--no-track", "--executor", "slurm", "--cpus-per-task", "0.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--cpus-per-task: SLURM allocates whole CPUs, got 0.5" in err and "\n" not in err


def test_a_restarted_slurm_driver_collects_the_jobs_that_finished_while_it_was_gone(tiny, tmp_path):
    """kill -9 the driver while its job array runs; the jobs go on. A driver restarted with
    --resume collects their results rather than submitting the cells again."""
    pytest.importorskip("submitit")
    import json

    name, path = tiny
    out, logs = tmp_path / "out", tmp_path / "logs"
    args = [
        sys.executable,
        "-m",
        "bench.cli",
        "--plugin",
        str(path),
        "run",
        name,
        "--out",
        str(out),
        "--no-track",
        "--device",
        "cpu",
        "--set",
        "values=1,2,3,4",
        "--set",
        "sleep=3",
        "--executor",
        "slurm",
        "--slurm-cluster",
        "local",
        "--slurm-log-dir",
        str(logs),
    ]
    proc = subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
    )
    deadline = time.monotonic() + 120
    while not list(out.glob("runs/*/slurm-jobs.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (manifest,) = out.glob("runs/*/slurm-jobs.json")
    jobs = json.loads(manifest.read_text())["jobs"]
    assert len(jobs) == 4 and not list(out.glob("runs/*/cells/*.json"))  # submitted, none collected
    while (
        not all(
            (logs / f"{j['job_id']}_0_result.pkl").exists() or (logs / f"{j['job_id']}_result.pkl").exists()
            for j in jobs
        )
        and time.monotonic() < deadline
    ):
        time.sleep(0.2)  # the orphaned jobs finish on their own

    before = sorted(p.name for p in logs.rglob("*_log.out"))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]), "COLUMNS": "300"}
    done = subprocess.run([*args, "--resume"], check=False, capture_output=True, text=True, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in logs.rglob("*_log.out")) == before  # collected: no job submitted again
    assert done.stderr.count("of an earlier run holds 1 cell(s): collecting it") == 4
    (csv,) = out.glob("*.csv")
    frame = pd.read_csv(csv)
    assert list(frame["square"]) == [1, 4, 9, 16] and (frame["status"] == "finished").all()
    assert {j["job_id"] for j in json.loads(manifest.read_text())["jobs"]} == {j["job_id"] for j in jobs}


def _queue_actor_pids() -> list[int]:
    """The processes of Ray's progress-queue actors (their process title names the class)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "ray::_QueueActor" in cmd:
                pids.append(int(proc.name))
    return pids


def test_a_killed_progress_actor_never_ends_a_sweep(ray_cluster, tiny, tmp_path):
    """kill -9 of the helper process that carries progress, mid-sweep: the bar loses its updates,
    the sweep loses nothing, and its results are the local executor's."""
    import threading

    from bench.pipeline import RunOptions, get, run_experiment

    name, _ = tiny
    settings = get(name).settings(values=tuple(range(1, 9)), sleep=0.4)
    local = run_experiment(name, settings, RunOptions(out=tmp_path / "local", track=False, device="cpu"))
    killed: list[int] = []

    def kill_when_running() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not killed:
            pids = _queue_actor_pids()
            if pids:
                time.sleep(0.8)  # some cells have reported through it
                for pid in pids:
                    os.kill(pid, signal.SIGKILL)
                killed.extend(pids)
            time.sleep(0.05)

    killer = threading.Thread(target=kill_when_running)
    killer.start()
    events: list[str] = []
    remote = run_experiment(
        name,
        settings,
        RunOptions(out=tmp_path / "ray", track=False, device="cpu", executor="ray"),
        on_event=events.append,
    )
    killer.join()
    assert killed, "the progress actor was never seen"
    assert any("progress channel was lost" in e for e in events)
    assert [c["status"] for c in remote.results.cells] == ["finished"] * 8
    strip = lambda r: {k: v for k, v in r.items() if k not in ("pid", "wall_s", "file", "mark")}
    assert [strip(r) for r in remote.results.records()] == [strip(r) for r in local.results.records()]


def test_slurm_options_reach_the_sbatch_script(tmp_path, monkeypatch, capsys):
    """Every SLURM setting lands in the script submitit would submit (a stand-in `srun` on PATH is
    all submitit checks for), and without sbatch the command refuses rather than run locally."""
    pytest.importorskip("submitit")
    from bench.pipeline.on_slurm import SlurmSettings, executor

    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "srun").write_text("#!/bin/sh\nexit 0\n")
    (fake / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    spec = SlurmSettings(
        cluster="slurm", log_dir=str(tmp_path / "logs"), job_name="bench-x", exclude="n[1-2]", gres="gpu:1",
        mem_per_cpu="4G", signal_delay_s=120, additional_parameters={"nodelist": "n3", "mail_type": "END"},
    )  # fmt: skip
    script = executor(spec)._executor._make_submission_file_text("python -c 1", "uid")
    for line in ("--job-name=bench-x", "--exclude='n[1-2]'", "--gres=gpu:1", "--mem-per-cpu=4G", "--signal=USR2@120",
                 "--nodelist=n3", "--mail-type=END"):  # fmt: skip
        assert f"#SBATCH {line}" in script, line
    # no sbatch here: `--executor slurm` says so and names the local cluster, before any work
    name = "isometry"
    assert main([name, "--executor", "slurm", "--no-track", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "no sbatch on this machine" in err and "--slurm-cluster local" in err and "\n" not in err
    assert not (tmp_path / "o").exists()
