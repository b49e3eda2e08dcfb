"""Sweeps beyond one machine: chunks as Ray tasks or as a SLURM job array (submitit).

Both back-ends only compute. A chunk goes out as (experiment name, cells, Context, environment)
and comes back as plain records, or as the exception its work raised; the driver alone writes
MLflow and the cell store as results arrive (bench.pipeline.run), so a killed driver loses
nothing finished and `--resume` submits only the missing cells.

Models and data reach a worker by path: the model cache ($BENCH_CACHE_DIR) and the data folder
must be on a filesystem the workers share (on one machine, trivially). The driver trains or
verifies every model in `prepare` before any chunk is sent, so workers only read the cache.
A worker process that dies in the middle of a task (OOM killer, a lost node) is retried by Ray
(`max_retries`); an exception raised by the experiment's own code is not retried: its cells are
recorded FAILED and the sweep goes on.
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from bench.errors import BenchError
from bench.pipeline.worker import shippable

EXECUTORS = ("local", "ray", "slurm")
# What a worker must see as the driver does: where the cache and the data are.
SHARED_ENV = ("BENCH_CACHE_DIR", "BENCH_DATA_DIR", "XDG_CACHE_HOME")


@dataclass(frozen=True)
class ExecutorSpec:
    """Where chunks run. `local` is bench.pipeline.executor; the rest is for `ray` and `slurm`."""

    kind: str = "local"
    ray_address: str | None = None  # None: $RAY_ADDRESS, else a local cluster started and stopped here
    cpus_per_task: float = 1.0
    gpus_per_task: float = 0.0
    max_retries: int = 3  # Ray: re-runs of a task whose worker process died
    slurm_partition: str | None = None
    slurm_time_min: int = 60
    slurm_gpus: int = 0
    slurm_log_dir: str = "slurm-logs"
    slurm_cluster: str | None = None  # submitit's cluster: None = auto (slurm), "local" for tests

    def __post_init__(self):
        if self.kind not in EXECUTORS:
            raise BenchError(f"--executor: unknown executor {self.kind!r}; accepted: {', '.join(EXECUTORS)}")
        options = {
            "cpus_per_task": "--cpus-per-task",
            "gpus_per_task": "--gpus-per-task",
            "slurm_time_min": "--slurm-time",
            "slurm_gpus": "--slurm-gpus",
            "max_retries": "max_retries",
        }
        for name, option in options.items():
            v = getattr(self, name)
            if v < 0 or (name == "cpus_per_task" and v <= 0) or (name == "slurm_time_min" and v < 1):
                raise BenchError(f"{option}: expected a positive number, got {v:g}")

    def address(self) -> str | None:
        return self.ray_address or os.environ.get("RAY_ADDRESS") or None


def shared_env() -> dict[str, str]:
    return {k: os.environ[k] for k in SHARED_ENV if os.environ.get(k)}


def run_task(name: str, chunk: list[dict], ctx, settings: dict, env: dict[str, str]) -> list[dict]:
    """A remote worker's job: one chunk of experiment `name` (a plain function of its inputs)."""
    from bench.pipeline.worker import run_shipped

    os.environ.update(env)
    return run_shipped(name, chunk, ctx, settings)


# --- Ray ---------------------------------------------------------------------------------------


def _reachable(address: str, seconds: float = 3.0) -> None:
    """A one-line BenchError within seconds when nothing listens at a host:port address."""
    if address in ("auto", "local"):
        return
    parsed = urlparse(address if "://" in address else f"ray://{address}")
    host, port = parsed.hostname, parsed.port
    if not host or not port:
        raise BenchError(f"--ray-address: expected host:port or ray://host:port, got {address!r}")
    try:
        socket.create_connection((host, port), timeout=seconds).close()
    except OSError as e:
        raise BenchError(f"--ray-address: cannot reach the Ray cluster at {host}:{port} ({e.strerror or e})") from None


def preflight(spec: ExecutorSpec) -> None:
    """Before any work: the back-end is installed and the cluster reachable (one-line errors)."""
    if spec.kind == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise BenchError("--executor ray: Ray is not installed (pip install 'lwgan-bench[ray]')") from None
        if spec.address() and not _ray_initialized():
            _reachable(spec.address())
    elif spec.kind == "slurm":
        from bench.outputs import probe_dir

        try:
            import submitit  # noqa: F401
        except ImportError:
            raise BenchError("--executor slurm: submitit is not installed (pip install 'lwgan-bench[slurm]')") from None
        probe_dir(spec.slurm_log_dir)  # the job logs and pickles go there: writable before any work


def _ray_initialized() -> bool:
    import ray

    return ray.is_initialized()


def ray_execute(exp, chunks: list[list[dict]], ctx, spec: ExecutorSpec) -> Iterator[tuple]:
    """Each chunk a Ray task; yields (chunk, records | exception) as tasks finish.

    Joins the running Ray session if there is one (tests start one per session), else connects to
    `spec.address()`, else starts a local cluster and stops it afterwards."""
    import ray

    started = False
    if not ray.is_initialized():
        try:
            if spec.address():
                ray.init(address=spec.address(), log_to_driver=False, logging_level="ERROR")
            else:
                ray.init(include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        except Exception as e:  # noqa: BLE001 - any failure to connect is the user's to fix
            raise BenchError(
                f"--executor ray: could not start or join a Ray cluster: {' '.join(str(e).split())[:300]}"
            ) from None
        started = True
    task = ray.remote(run_task).options(num_cpus=spec.cpus_per_task, num_gpus=spec.gpus_per_task,
                                        max_retries=spec.max_retries, retry_exceptions=False)  # fmt: skip
    env = shared_env()
    shipped, settings = shippable(ctx)
    try:
        pending = {task.remote(exp.name, chunk, shipped, settings, env): chunk for chunk in chunks}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            for ref in ready:
                chunk = pending.pop(ref)
                try:
                    yield chunk, ray.get(ref)
                except ray.exceptions.RayTaskError as e:  # the experiment's own exception
                    cause = e.cause if isinstance(e.cause, BaseException) else None
                    yield chunk, cause or RuntimeError(str(e).splitlines()[0])
                except ray.exceptions.RayError as e:  # retries exhausted, worker or node lost
                    yield chunk, RuntimeError(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started:
            ray.shutdown()


def _raised(text: str) -> str | None:
    """The `SomeError: message` line of the traceback a failed job left in its error text."""
    found = re.findall(r"^([A-Za-z_][\w.]*(?:Error|Exception|Interrupt)\b.*)$", text, flags=re.MULTILINE)
    return found[-1].strip() if found else None


def _named(line: str) -> Exception:
    """`ValueError: bad` -> an exception whose type is named ValueError, so a failed cell reads the
    same from a SLURM job as from a local process."""
    name, _, message = line.partition(": ")
    return type(name.rsplit(".", 1)[-1], (RuntimeError,), {})(message)


# --- SLURM (submitit) --------------------------------------------------------------------------


def slurm_execute(exp, chunks: list[list[dict]], ctx, spec: ExecutorSpec, poll_s: float = 1.0) -> Iterator[tuple]:
    """The chunks as one submitit job array; yields (chunk, records | exception) as jobs end."""
    import submitit

    folder = Path(spec.slurm_log_dir)
    executor = submitit.AutoExecutor(folder=folder, cluster=spec.slurm_cluster)
    params = {"timeout_min": spec.slurm_time_min, "cpus_per_task": max(1, int(spec.cpus_per_task))}
    if executor.cluster == "slurm":
        params.update(slurm_partition=spec.slurm_partition, gpus_per_node=spec.slurm_gpus or None)
        params = {k: v for k, v in params.items() if v is not None}
    executor.update_parameters(**params)
    env = shared_env()
    n = len(chunks)
    shipped, settings = shippable(ctx)
    jobs = executor.map_array(run_task, [exp.name] * n, chunks, [shipped] * n, [settings] * n, [env] * n)
    pending = dict(zip(jobs, chunks))
    try:
        while pending:
            done = [j for j in pending if j.done()]
            if not done:
                time.sleep(poll_s)
                continue
            for job in done:
                chunk = pending.pop(job)
                try:
                    yield chunk, job.result()
                except Exception as e:  # noqa: BLE001 - the job failed: its cells are recorded FAILED
                    line = _raised(str(e))
                    yield chunk, _named(line) if line else RuntimeError(type(e).__name__)
    except BaseException:
        for job in pending:
            job.cancel(check=False)
        raise
