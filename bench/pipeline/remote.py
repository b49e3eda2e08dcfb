"""Sweeps beyond one machine: chunks as Ray tasks (bench.pipeline.on_ray) or as a SLURM job array
(bench.pipeline.on_slurm, through submitit). This module holds what both share: the
job a remote worker runs and how its failures travel back. Each back-end is an executor of the
registry (bench.pipeline.executors) with its own settings.

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
from urllib.parse import urlparse

from bench.errors import BenchError
from bench.pipeline.worker import run_shipped

# What a worker must see as the driver does: where the cache and the data are.
SHARED_ENV = ("BENCH_CACHE_DIR", "BENCH_DATA_DIR", "XDG_CACHE_HOME")
OUTPUT_TAIL = 4000  # characters of a failed worker's output carried back to the driver


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


def reachable(address: str, option: str, seconds: float = 3.0) -> None:
    """A one-line BenchError within seconds when nothing listens at a host:port address."""
    if address in ("auto", "local"):
        return
    if address.startswith(("http://", "https://")):
        raise BenchError(
            f"{option}: {address} is a dashboard's address; give the cluster's GCS address "
            "(host:6379) or its client address (ray://host:10001)"
        )
    parsed = urlparse(address if "://" in address else f"ray://{address}")
    host, port = parsed.hostname, parsed.port
    if not host or not port:
        raise BenchError(f"{option}: expected host:port or ray://host:port, got {address!r}")
    try:
        socket.create_connection((host, port), timeout=seconds).close()
    except OSError as e:
        raise BenchError(f"{option}: cannot reach the Ray cluster at {host}:{port} ({e.strerror or e})") from None


def raised_line(text: str) -> str | None:
    """The `SomeError: message` line of the traceback a failed job left in its error text."""
    found = re.findall(r"^([A-Za-z_][\w.]*(?:Error|Exception|Interrupt)\b.*)$", text, flags=re.MULTILINE)
    return found[-1].strip() if found else None


def named(line: str) -> Exception:
    """`ValueError: bad` -> an exception whose type is named ValueError, so a failed cell reads the
    same from a SLURM job as from a local process."""
    name, _, message = line.partition(": ")
    return type(name.rsplit(".", 1)[-1], (RuntimeError,), {})(message)
