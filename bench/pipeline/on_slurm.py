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
import time
from collections.abc import Iterator
from pathlib import Path

from bench.atomic import atomic_write_text
from bench.pipeline.remote import ExecutorSpec, failure_lines, named, raised_line, run_task, shared_env
from bench.pipeline.worker import CELL_DONE, shippable

MANIFEST = "slurm-jobs.json"
DEAD = ("FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE")


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


def executor(spec: ExecutorSpec):
    """A submitit AutoExecutor with the spec's resources (hydra-submitit-launcher's names)."""
    import submitit

    ex = submitit.AutoExecutor(
        folder=Path(spec.slurm_log_dir), cluster=spec.slurm_cluster, slurm_max_num_timeout=spec.slurm_max_num_timeout
    )
    params = {
        "timeout_min": spec.slurm_time_min,
        "cpus_per_task": int(spec.cpus_per_task),
        "mem_gb": spec.slurm_mem_gb,
        "gpus_per_node": spec.slurm_gpus or None,
        "slurm_partition": spec.slurm_partition,
        "slurm_account": spec.slurm_account,
        "slurm_qos": spec.slurm_qos,
        "slurm_constraint": spec.slurm_constraint,
        "slurm_array_parallelism": spec.slurm_array_parallelism,
        "slurm_setup": list(spec.slurm_setup) or None,
        "local_setup": list(spec.slurm_setup) or None,
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
    spec: ExecutorSpec,
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
    progress_dir = Path(spec.slurm_log_dir) / "progress"
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
                "folder": str(Path(spec.slurm_log_dir).resolve()),
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
