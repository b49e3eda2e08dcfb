"""Sweeps beyond one machine: chunks as Ray tasks (bench.pipeline.on_ray) or as a SLURM job array
(bench.pipeline.on_slurm, through submitit). This module holds what both share: the executor's
settings, the checks made before any work, and the job a remote worker runs.

Both back-ends only compute. A chunk goes out as (experiment name, cells, Context, environment)
and comes back as plain records, or as the exception its work raised; the driver alone writes
MLflow and the cell store as results arrive (bench.pipeline.run), so a killed driver loses
nothing finished, `--resume` submits only the missing cells, and on SLURM it collects the jobs
that finished while the driver was gone.

Models and data reach a worker by path: the model cache ($BENCH_CACHE_DIR) and the data folder
must be on a filesystem the workers share. The driver trains or verifies every model in
`prepare` before any chunk is sent, so workers only read the cache. The code does not need a
shared path on Ray: the package and the run's plugin files travel in the task's runtime_env.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import socket
import sys
import traceback
from dataclasses import dataclass
from urllib.parse import urlparse

from bench.errors import BenchError
from bench.outputs import probe_dir
from bench.pipeline.worker import run_shipped

EXECUTORS = ("local", "ray", "slurm")
# What a worker must see as the driver does: where the cache and the data are.
SHARED_ENV = ("BENCH_CACHE_DIR", "BENCH_DATA_DIR", "XDG_CACHE_HOME")
OUTPUT_TAIL = 4000  # characters of a failed worker's output carried back to the driver


@dataclass(frozen=True)
class ExecutorSpec:
    """Where chunks run. `local` is bench.pipeline.executor; the rest is for `ray` and `slurm`.
    The SLURM fields are named as hydra-submitit-launcher names them (mem_gb, account, qos,
    constraint, array_parallelism, setup, max_num_timeout), prefixed `slurm_`."""

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
    slurm_mem_gb: float | None = None
    slurm_account: str | None = None
    slurm_qos: str | None = None
    slurm_constraint: str | None = None
    slurm_array_parallelism: int | None = None  # jobs of the array running at once (None: SLURM's limit)
    slurm_setup: tuple[str, ...] = ()  # shell lines run before each job (module load, conda activate)
    slurm_max_num_timeout: int = 3  # requeues after a timeout; preemptions requeue too

    def __post_init__(self):
        if self.kind not in EXECUTORS:
            raise BenchError(f"--executor: unknown executor {self.kind!r}; accepted: {', '.join(EXECUTORS)}")
        options = {
            "cpus_per_task": "--cpus-per-task",
            "gpus_per_task": "--gpus-per-task",
            "slurm_time_min": "--slurm-time",
            "slurm_gpus": "--slurm-gpus",
            "max_retries": "max_retries",
            "slurm_max_num_timeout": "--slurm-max-num-timeout",
        }
        for name, option in options.items():
            v = getattr(self, name)
            if v < 0 or (name == "cpus_per_task" and v <= 0) or (name == "slurm_time_min" and v < 1):
                raise BenchError(f"{option}: expected a positive number, got {v:g}")
        if self.slurm_mem_gb is not None and self.slurm_mem_gb <= 0:
            raise BenchError(f"--slurm-mem-gb: expected a positive number, got {self.slurm_mem_gb:g}")
        if self.slurm_array_parallelism is not None and self.slurm_array_parallelism < 1:
            raise BenchError(f"--slurm-array-parallelism: expected 1 or more, got {self.slurm_array_parallelism}")
        if self.kind == "slurm" and self.cpus_per_task != int(self.cpus_per_task):
            raise BenchError(
                f"--cpus-per-task: SLURM allocates whole CPUs, got {self.cpus_per_task:g}; give an "
                "integer (fractions are for Ray)"
            )

    def address(self) -> str | None:
        return self.ray_address or os.environ.get("RAY_ADDRESS") or None


def shared_env() -> dict[str, str]:
    return {k: os.environ[k] for k in SHARED_ENV if os.environ.get(k)}


class _Tee(io.TextIOBase):
    """Write to the stream and keep the last OUTPUT_TAIL characters."""

    def __init__(self, stream):
        self.stream, self.kept = stream, ""

    def write(self, text: str) -> int:
        self.kept = (self.kept + text)[-OUTPUT_TAIL:]
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


def run_task(name: str, chunk: list[dict], ctx, settings: dict, env: dict[str, str], chunk_id: int = 0) -> list[dict]:
    """A remote worker's job: one chunk of experiment `name` (a plain function of its inputs). On
    failure the exception carries the worker's traceback, host and output tail to the driver
    (`worker_report`), which prints them."""

    os.environ.update(env)
    out, err = _Tee(sys.stdout), _Tee(sys.stderr)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            return run_shipped(name, chunk, ctx, settings, chunk_id)
    except Exception as e:
        e.worker_report = f"on {socket.gethostname()} (pid {os.getpid()}):\n{traceback.format_exc()}" + (
            f"--- output (last {OUTPUT_TAIL} characters) ---\n{out.kept}{err.kept}" if out.kept or err.kept else ""
        )
        raise


def failure_lines(chunk_id: int, cells: int, report: str | None) -> list[str]:
    """What the driver says of a chunk that failed on a cluster: its traceback and output."""
    head = f"chunk {chunk_id} ({cells} cell{'s' * (cells != 1)}) failed"
    return [f"{head} {report.rstrip()}"] if report else [head]


def parallelism(spec: ExecutorSpec, workers: int, chunks: int) -> int:
    """How many chunks run at once: local workers; on Ray the cluster's CPUs over a task's; on
    SLURM the array's parallelism (every job at once when unset)."""
    if spec.kind == "ray":
        import ray

        if ray.is_initialized():
            cpus = ray.cluster_resources().get("CPU", 1.0)
            return max(1, min(chunks, int(cpus // spec.cpus_per_task)))
        return max(1, min(chunks, int((os.cpu_count() or 1) // spec.cpus_per_task)))
    if spec.kind == "slurm":
        return max(1, min(chunks, spec.slurm_array_parallelism or chunks))
    return max(1, min(chunks, workers))


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
            import ray
        except ImportError:
            raise BenchError("--executor ray: Ray is not installed (pip install 'lwgan-bench[ray]')") from None
        if spec.address() and not ray.is_initialized():
            _reachable(spec.address())
    elif spec.kind == "slurm":
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise BenchError("--executor slurm: submitit is not installed (pip install 'lwgan-bench[slurm]')") from None
        probe_dir(spec.slurm_log_dir)  # the job logs and pickles go there: writable before any work


def raised_line(text: str) -> str | None:
    """The `SomeError: message` line of the traceback a failed job left in its error text."""
    found = re.findall(r"^([A-Za-z_][\w.]*(?:Error|Exception|Interrupt)\b.*)$", text, flags=re.MULTILINE)
    return found[-1].strip() if found else None


def named(line: str) -> Exception:
    """`ValueError: bad` -> an exception whose type is named ValueError, so a failed cell reads the
    same from a SLURM job as from a local process."""
    name, _, message = line.partition(": ")
    return type(name.rsplit(".", 1)[-1], (RuntimeError,), {})(message)
