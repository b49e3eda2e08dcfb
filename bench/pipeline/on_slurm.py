"""Chunks as a SLURM job array through submitit (see bench.pipeline.remote for what both cluster
back-ends share). `--slurm-cluster local` runs the same array on this machine (tests, dry runs).

- Requeue: each job is a submitit Checkpointable, so a preempted or timed-out job is requeued
  (up to --slurm-max-num-timeout times after a timeout) and runs its chunk again from the start:
  a chunk is a pure function of its inputs, nothing half-done is kept.
- A driver that dies leaves its jobs running. The job ids and their cells are kept beside the
  cell store (`slurm-jobs.json`); a driver restarted with `--resume` collects the results of the
  jobs that finished while it was gone, waits for those still queued or running, and submits
  only the cells no live job holds.
- Progress: a job writes how many of its cells are done to a small file the driver polls.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.atomic import atomic_write_text
from bench.errors import BenchError
from bench.outputs import probe_dir
from bench.pipeline.executors import Executor, register_executor
from bench.pipeline.remote import failure_lines, named, raised_line, run_task, shared_env
from bench.pipeline.worker import CELL_DONE, shippable
from bench.settings import SettingError, Settings, key_values, setting

MANIFEST = "slurm-jobs.json"
DEAD = ("FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE")


def _lines(text: str) -> tuple[str, ...]:
    """`--slurm-setup` text: shell lines separated by ';' (a sweep file may give a list)."""
    return tuple(line.strip() for line in text.split(";") if line.strip())


def _whole_cpus(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise SettingError(f"--cpus-per-task: {text!r} is not a number") from None
    if value != int(value):
        raise SettingError(
            f"--cpus-per-task: SLURM allocates whole CPUs, got {value:g}; give an integer (fractions are for Ray)"
        )
    return int(value)


@dataclass(frozen=True)
class SlurmSettings(Settings):
    """The job array's resources, named as hydra-submitit-launcher names them."""

    partition: str | None = setting(None, "SLURM partition.", option="--slurm-partition")
    time: int = setting(60, "SLURM time limit per job, minutes.", option="--slurm-time", minimum=1)
    cpus_per_task: int = setting(
        1, "CPUs a Ray task or SLURM job asks for (and torch threads it uses).", minimum=1, parse=_whole_cpus
    )
    gpus: int = setting(0, "GPUs per SLURM job.", option="--slurm-gpus", minimum=0)
    mem_gb: float | None = setting(None, "Memory per SLURM job, GB.", option="--slurm-mem-gb", minimum=0.001)
    account: str | None = setting(None, "SLURM account to charge.", option="--slurm-account")
    qos: str | None = setting(None, "SLURM quality of service.", option="--slurm-qos")
    constraint: str | None = setting(
        None, "SLURM node constraint (features, e.g. 'a100|h100').", option="--slurm-constraint"
    )
    array_parallelism: int | None = setting(
        None,
        "Jobs of the array running at once.",
        option="--slurm-array-parallelism",
        minimum=1,
        shown="as many as SLURM allows",
    )
    setup: tuple[str, ...] = setting(
        (),
        "Shell lines run before each job (module load, source venv/bin/activate), separated by ';'.",
        option="--slurm-setup",
        parse=_lines,
        nonempty=False,
    )
    max_num_timeout: int = setting(
        3,
        "Requeues of a job after it times out; a preempted job is requeued too.",
        option="--slurm-max-num-timeout",
        minimum=0,
    )
    job_name: str | None = setting(None, "SLURM job name (default: submitit's).", option="--slurm-job-name")
    exclude: str | None = setting(None, "Nodes to leave out (e.g. 'node[01-03]').", option="--slurm-exclude")
    gres: str | None = setting(None, "Generic resources per job (e.g. 'gpu:a100:1').", option="--slurm-gres")
    mem_per_cpu: str | None = setting(None, "Memory per CPU (e.g. '4G').", option="--slurm-mem-per-cpu")
    mem_per_gpu: str | None = setting(None, "Memory per GPU (e.g. '40G').", option="--slurm-mem-per-gpu")
    signal_delay_s: int | None = setting(
        None,
        "Seconds before the time limit at which a job is signalled to requeue.",
        minimum=1,
        option="--slurm-signal-delay-s",
    )
    additional_parameters: dict = setting(
        {},
        "Other sbatch parameters, KEY=VALUE,KEY=VALUE or JSON (e.g. nodelist=node01,mail_type=END).",
        option="--slurm-additional-parameters",
        parse=key_values,
        nonempty=False,
    )
    log_dir: str = setting(
        "slurm-logs",
        "Folder for submitit's job logs and pickles (on a filesystem the nodes share).",
        option="--slurm-log-dir",
    )
    cluster: str | None = setting(
        None,
        "submitit cluster: slurm (the default; refused where there is no sbatch), local (the job "
        "array on this machine: tests, dry runs) or debug (in this process).",
        option="--slurm-cluster",
        choices=("slurm", "local", "debug"),
    )


@register_executor
class Slurm(Executor):
    name = "slurm"
    settings = SlurmSettings
    description = "a SLURM job array through submitit (--slurm-cluster local: on this machine)"

    def preflight(self, s: SlurmSettings) -> None:
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise BenchError("--executor slurm: submitit is not installed (pip install 'lwgan-bench[slurm]')") from None
        if s.cluster in (None, "slurm") and shutil.which("sbatch") is None:  # submitit would run it here, silently
            raise BenchError(
                "--executor slurm: no sbatch on this machine (not a SLURM login node); "
                "--slurm-cluster local runs the job array here instead"
            )
        probe_dir(s.log_dir, option="--slurm-log-dir")  # the job logs and pickles go there: writable before any work

    def parallelism(self, s: SlurmSettings, workers: int, chunks: int) -> int:
        """The array's parallelism (every job at once when unset)."""
        return max(1, min(chunks, s.array_parallelism or chunks))

    def task_threads(self, s: SlurmSettings) -> int:
        return s.cpus_per_task

    def where(self, s: SlurmSettings, workers: int) -> str:
        return f" as a SLURM job array (logs in {s.log_dir})"

    def execute(self, exp, chunks, ctx, s: SlurmSettings, *, workers: int, state=None, collect: bool = False):
        yield from slurm_execute(exp, chunks, ctx, s, state, collect)


def _task(name, chunk, ctx, settings, env, chunk_id, progress_file):
    """In the job: run the chunk, writing the count of finished cells to `progress_file`."""

    def progress(task, done, total, **info):
        if task == CELL_DONE:
            atomic_write_text(Path(progress_file), str(done))

    ctx.progress = progress
    return run_task(name, chunk, ctx, settings, env, chunk_id)


def _job_class():
    """A Checkpointable callable (submitit imported only when SLURM is used): submitit requeues a
    preempted or timed-out job that is one, resubmitting the same call."""
    import submitit

    class ChunkJob(submitit.helpers.Checkpointable):
        def __call__(self, *args):
            return _task(*args)

    return ChunkJob


def executor(spec: SlurmSettings):
    """A submitit AutoExecutor with the spec's resources (hydra-submitit-launcher's names)."""
    import submitit

    ex = submitit.AutoExecutor(
        folder=Path(spec.log_dir), cluster=spec.cluster, slurm_max_num_timeout=spec.max_num_timeout
    )
    params = {
        "timeout_min": spec.time,
        "cpus_per_task": spec.cpus_per_task,
        "mem_gb": spec.mem_gb,
        "gpus_per_node": spec.gpus or None,
        "slurm_partition": spec.partition,
        "slurm_account": spec.account,
        "slurm_qos": spec.qos,
        "slurm_constraint": spec.constraint,
        "slurm_array_parallelism": spec.array_parallelism,
        "slurm_setup": list(spec.setup) or None,
        "local_setup": list(spec.setup) or None,
        "name": spec.job_name,
        "slurm_exclude": spec.exclude,
        "slurm_gres": spec.gres,
        "slurm_mem_per_cpu": spec.mem_per_cpu,
        "slurm_mem_per_gpu": spec.mem_per_gpu,
        "slurm_signal_delay_s": spec.signal_delay_s,
        "slurm_additional_parameters": dict(spec.additional_parameters) or None,
    }
    ex.update_parameters(**{k: v for k, v in params.items() if v is not None})
    return ex


class _Tracked:
    """A job of this driver or of an earlier one (from the manifest), and how to tell it ended."""

    def __init__(self, job, entry: dict):
        self.job, self.entry = job, entry

    def finished(self) -> bool:
        if self.job.paths.result_pickle.exists():
            return True
        process = getattr(self.job, "_process", None)
        if process is not None:  # a local job this driver started
            return process.poll() is not None
        if self.entry["cluster"] == "local":  # an earlier driver's local job: is its controller alive?
            return not _alive(self.entry.get("pid"))
        return self.job.done()

    def cells_done(self) -> int:
        try:
            return int(Path(self.entry["progress"]).read_text())
        except (OSError, ValueError):
            return 0


def _alive(pid: int | None) -> bool:
    """Whether a process runs (a zombie, left unreaped by a container's init, does not)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return " Z " not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1][:4]
    except (OSError, IndexError):
        return True


def _reattach(entry: dict) -> _Tracked | None:
    """An earlier driver's job, if it finished or may still finish; None when it died without a
    result (its cells are submitted again)."""
    import submitit

    folder = Path(entry["folder"])
    if entry["cluster"] == "local":
        job = submitit.LocalJob(folder, entry["job_id"])
        if job.paths.result_pickle.exists() or _alive(entry.get("pid")):
            return _Tracked(job, entry)
        return None
    job = submitit.SlurmJob(folder, entry["job_id"])
    if job.paths.result_pickle.exists():
        return _Tracked(job, entry)
    state = job.state.split()[0] if job.state else "UNKNOWN"
    return None if state in DEAD or state == "UNKNOWN" and job.done(force_check=True) else _Tracked(job, entry)


def _load(state: Path | None) -> list[dict]:
    try:
        return json.loads((state / MANIFEST).read_text())["jobs"] if state else []
    except (OSError, ValueError, KeyError):
        return []


def slurm_execute(
    exp,
    chunks: list[list[dict]],
    ctx,
    spec: SlurmSettings,
    state: Path | None = None,
    collect: bool = False,
    poll_s: float = 1.0,
) -> Iterator[tuple]:
    """The chunks as one job array; yields (index, chunk, records | exception) as jobs end. The
    jobs are listed in `state`/slurm-jobs.json; with `collect` (--resume) the live or finished
    jobs an earlier driver listed there are collected instead of submitted again."""
    ex = executor(spec)
    cluster = ex.cluster
    by_key = {exp.cell_name(c): c for chunk in chunks for c in chunk}
    tracked: list[tuple[_Tracked, list[dict]]] = []
    for entry in _load(state) if collect else []:
        if entry.get("cluster") == cluster and entry["cells"] and all(k in by_key for k in entry["cells"]):
            job = _reattach(entry)
            if job is not None:
                tracked.append((job, [by_key.pop(k) for k in entry["cells"]]))
                ctx.event(
                    f"job {entry['job_id']} of an earlier run holds {len(entry['cells'])} cell(s): "
                    f"{'collecting it' if job.finished() else 'waiting for it'}"
                )
    fresh = [[c for c in chunk if exp.cell_name(c) in by_key] for chunk in chunks]
    fresh = [chunk for chunk in fresh if chunk]
    progress_dir = Path(spec.log_dir) / "progress"
    progress_dir.mkdir(parents=True, exist_ok=True)
    stamp = f"{os.getpid()}-{time.time_ns()}"
    files = [str((progress_dir / f"{stamp}-{i}.cells").resolve()) for i in range(len(fresh))]
    if fresh:
        n, env = len(fresh), shared_env()
        sent, settings = shippable(ctx)
        jobs = ex.map_array(
            _job_class()(), [exp.name] * n, fresh, [sent] * n, [settings] * n, [env] * n, list(range(n)), files
        )
        for job, chunk, file in zip(jobs, fresh, files):
            process = getattr(job, "_process", None)
            entry = {
                "job_id": job.job_id,
                "cluster": cluster,
                "folder": str(Path(spec.log_dir).resolve()),
                "cells": [exp.cell_name(c) for c in chunk],
                "progress": file,
                "pid": process.pid if process is not None else None,
            }
            tracked.append((_Tracked(job, entry), chunk))
    if state is not None:
        state.mkdir(parents=True, exist_ok=True)
        atomic_write_text(state / MANIFEST, json.dumps({"jobs": [t.entry for t, _ in tracked]}, indent=1))
    pending = dict(enumerate(tracked))
    try:
        while pending:
            for i, (job, chunk) in list(pending.items()):
                if job.finished():
                    del pending[i]
                    yield i, chunk, _outcome(job, i, chunk, ctx.event)
                else:
                    ctx.progress(CELL_DONE, job.cells_done(), len(chunk), chunk=i)
            if pending:
                time.sleep(poll_s)
    except BaseException:
        for job, _ in pending.values():
            job.job.cancel(check=False)
        raise


def _outcome(tracked: _Tracked, i: int, chunk: list[dict], event):
    """A finished job's records, or the exception it ended with (its log's tail said)."""
    try:
        return tracked.job.result()
    except Exception as e:  # noqa: BLE001 - the job failed: its cells are recorded FAILED
        log = (tracked.job.stderr() or "") if hasattr(tracked.job, "stderr") else ""
        for line in failure_lines(i, len(chunk), f"(job {tracked.entry['job_id']}):\n{log[-4000:]}"):
            event(line)
        line = raised_line(str(e))
        return named(line) if line else RuntimeError(type(e).__name__)
