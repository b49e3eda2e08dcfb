"""Chunks as Ray tasks (see bench.pipeline.remote for what both cluster back-ends share).

The code travels with the tasks: each task's runtime_env carries the bench, regulators, lwgan and registries
packages and the run's plugin files (copied into one package, `bench_run_plugins`), so a node
needs the dependencies installed (torch, numpy, ...) but not this checkout at the driver's path.
Workers report finished cells and notices through a Ray queue the driver drains; a task that
fails brings its traceback and output tail back (remote.run_task).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.errors import BenchError
from bench.pipeline.executors import Executor, register_executor
from bench.pipeline.remote import failure_lines, reachable, run_task, shared_env
from bench.pipeline.worker import shippable
from bench.settings import Settings, key_values, setting

SHIPPED = "bench_run_plugins"  # the package the run's plugin files travel in
PACKAGES = ("bench", "regulators", "lwgan", "registries")


def _local_package(spec: str) -> Path | None:
    """The folder of a dotted plugin's top-level package when it is not installed (a checkout on
    the driver's sys.path), else None: installed packages are the nodes' to have."""
    top = spec.split(".")[0]
    module = importlib.import_module(top)
    where = Path(getattr(module, "__file__", "") or "").parent
    return None if not where.name or "-packages" in str(where) else where


def runtime_env(plugins: tuple[str, ...], folder: Path) -> tuple[dict, dict[str, str]]:
    """(runtime_env, {plugin file spec: its file name in SHIPPED}): the packages and plugins a
    task needs on a node that does not share the driver's paths."""
    modules = [str(Path(importlib.import_module(p).__file__).parent) for p in PACKAGES]
    shipped: dict[str, str] = {}
    package = folder / SHIPPED
    for spec in plugins:
        if spec.endswith(".py"):
            package.mkdir(exist_ok=True)
            (package / "__init__.py").touch()
            name = Path(spec).name  # the stem names the plugin's module (bench.plugins): keep it
            if name in shipped.values():
                raise BenchError(f"--executor ray: two plugin files are named {name}; rename one")
            shutil.copy(spec, package / name)
            shipped[spec] = name
        elif (where := _local_package(spec)) is not None and str(where) not in modules:
            modules.append(str(where))
    if shipped:
        modules.append(str(package))
    return {"py_modules": modules, "excludes": ["__pycache__", "*.pyc"]}, shipped


def ray_task(name, chunk, ctx, settings, env, chunk_id, shipped, queue):
    """On a node: point the plugins at their shipped copies, send progress and notices through
    the queue, run the chunk."""
    if shipped:
        base = Path(importlib.import_module(SHIPPED).__file__).parent
        ctx.plugins = tuple(str(base / shipped[s]) if s in shipped else s for s in ctx.plugins)
    # Progress is a side channel, sent fire-and-forget: a lost queue actor (a killed helper
    # process) costs the bar its updates, never the chunk its result.
    ctx.progress = lambda task, done, total, **info: _send(queue, ("progress", task, done, total, info))
    ctx.event = lambda message: _send(queue, ("event", message))
    return run_task(name, chunk, ctx, settings, env, chunk_id)


def _send(queue, message) -> None:
    with contextlib.suppress(Exception):  # the channel is best effort
        queue.actor.put_nowait.remote(message)


@dataclass(frozen=True)
class RaySettings(Settings):
    """Where and how each chunk runs as a Ray task."""

    address: str | None = setting(
        None,
        "Ray cluster to join (host:port, ray://host:port or auto); default $RAY_ADDRESS, else a local "
        "cluster started and stopped here.",
        option="--ray-address",
    )
    cpus_per_task: float = setting(
        1.0, "CPUs a Ray task or SLURM job asks for (and torch threads it uses).", minimum=0.01
    )
    gpus_per_task: float = setting(0.0, "GPUs a Ray task asks for (fractions allowed).", minimum=0)
    max_retries: int = setting(
        3, "Re-runs of a Ray task whose worker process died.", option="--ray-max-retries", minimum=0
    )
    memory_gb: float | None = setting(None, "Memory a Ray task asks for, GB.", option="--ray-memory-gb", minimum=0.001)
    resources: dict = setting(
        {},
        "Custom resources a task asks for, KEY=VALUE or JSON.",
        option="--ray-resources",
        parse=key_values,
        nonempty=False,
    )
    env_vars: dict = setting(
        {},
        "Environment variables of the tasks, KEY=VALUE or JSON.",
        option="--ray-env",
        parse=key_values,
        nonempty=False,
    )
    pip: tuple[str, ...] = setting(
        (), "Packages Ray installs for the tasks (its runtime_env's pip).", option="--ray-pip", nonempty=False
    )

    def resolved_address(self) -> str | None:
        return self.address or os.environ.get("RAY_ADDRESS") or None


@register_executor
class Ray(Executor):
    name = "ray"
    settings = RaySettings
    description = "each chunk a Ray task, on a cluster or a local one started here"

    def preflight(self, s: RaySettings) -> None:
        try:
            import ray
        except ImportError:
            raise BenchError("--executor ray: Ray is not installed (pip install 'lwgan-bench[ray]')") from None
        if s.resolved_address() and not ray.is_initialized():
            reachable(s.resolved_address(), "--ray-address")

    def parallelism(self, s: RaySettings, workers: int, chunks: int) -> int:
        """The cluster's CPUs over a task's (this machine's when no cluster is up yet)."""
        import ray

        cpus = ray.cluster_resources().get("CPU", 1.0) if ray.is_initialized() else (os.cpu_count() or 1)
        return max(1, min(chunks, int(cpus // s.cpus_per_task)))

    def task_threads(self, s: RaySettings) -> int:
        return max(1, int(s.cpus_per_task))

    def where(self, s: RaySettings, workers: int) -> str:
        return f" as Ray tasks ({s.cpus_per_task:g} CPU, {s.gpus_per_task:g} GPU each)"

    def execute(self, exp, chunks, ctx, s: RaySettings, *, workers: int, state=None, collect: bool = False):
        yield from ray_execute(exp, chunks, ctx, s)


def ray_execute(exp, chunks: list[list[dict]], ctx, spec: RaySettings) -> Iterator[tuple]:
    """Each chunk a Ray task; yields (index, chunk, records | exception) as tasks finish.

    Joins the running Ray session if there is one (tests start one per session), else connects to
    `spec.resolved_address()`, else starts a local cluster and stops it afterwards."""
    import ray
    from ray.util.queue import Queue

    progress, event = ctx.progress, ctx.event
    started = False
    tmp = tempfile.TemporaryDirectory(prefix="bench-ray-")
    env_, shipped = runtime_env(ctx.plugins, Path(tmp.name))
    if spec.env_vars:
        env_["env_vars"] = {str(k): str(v) for k, v in spec.env_vars.items()}
    if spec.pip:
        env_["pip"] = list(spec.pip)
    started, task_env = _join(ray, spec, env_, tmp)
    queue = Queue(actor_options={"num_cpus": 0})
    pending = {}
    with tmp:
        options = {"runtime_env": task_env} if task_env else {}
        task = ray.remote(ray_task).options(
            num_cpus=spec.cpus_per_task,
            num_gpus=spec.gpus_per_task,
            max_retries=spec.max_retries,
            retry_exceptions=False,
            memory=int(spec.memory_gb * 2**30) if spec.memory_gb else None,
            resources=dict(spec.resources) or None,
            **options,
        )
        env = shared_env()
        sent, settings = shippable(ctx)

        drain = _Drain(ray, queue, progress, event)

        try:
            pending = {
                task.remote(exp.name, chunk, sent, settings, env, i, shipped, queue): (i, chunk)
                for i, chunk in enumerate(chunks)
            }
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
                drain()
                for ref in ready:
                    i, chunk = pending.pop(ref)
                    yield i, chunk, _outcome(ray, ref, i, chunk, event)
            drain()
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        finally:
            with contextlib.suppress(Exception):  # already gone if it was killed
                ray.kill(queue.actor)
            if started:
                ray.shutdown()


def _join(ray, spec: RaySettings, env_: dict, tmp) -> tuple[bool, dict | None]:
    """(whether this call started the session, the runtime_env each task carries): join the
    session running here (the code then travels with each task, uploaded first), else connect to
    the address, else start a local cluster (ray.init uploads the code for the whole job)."""
    if ray.is_initialized():
        return False, _uploaded(env_)
    try:
        kwargs = {"log_to_driver": False, "logging_level": "ERROR", "runtime_env": env_}
        if spec.resolved_address():
            ray.init(address=spec.resolved_address(), **kwargs)
        else:
            ray.init(include_dashboard=False, **kwargs)
    except Exception as e:  # noqa: BLE001 - any failure to connect is the user's to fix
        tmp.cleanup()
        raise BenchError(
            f"--executor ray: could not start or join a Ray cluster: {' '.join(str(e).split())[:300]}"
        ) from None
    return True, None


class _Drain:
    """The driver's end of the progress queue: forwards what the tasks sent; a lost queue actor is
    said once, and the sweep goes on without progress (results come back through the tasks)."""

    def __init__(self, ray, queue, progress, event):
        self.ray, self.queue, self.progress, self.event, self.lost = ray, queue, progress, event, False

    def __call__(self) -> None:
        if self.lost:
            return
        try:
            size = self.queue.qsize()
            batch = self.queue.get_nowait_batch(size) if size else []
        except self.ray.exceptions.RayError as e:
            self.lost = True
            self.event(f"the progress channel was lost ({type(e).__name__}); cells are collected as their tasks end")
            return
        for msg in batch:
            if msg[0] == "progress":
                self.progress(msg[1], msg[2], msg[3], **msg[4])
            else:
                self.event(msg[1])


def _uploaded(env: dict) -> dict:
    """The runtime_env with its local folders uploaded to the cluster (gcs:// URIs), as ray.init
    does for a job's: a task's runtime_env takes URIs only. Ray's own helper for it is private;
    the lock pins the Ray it was written against."""
    import ray
    from ray._private.runtime_env.py_modules import upload_py_modules_if_needed

    scratch = ray._private.worker.global_worker.node.get_runtime_env_dir_path()
    env = upload_py_modules_if_needed(dict(env), include_gitignore=False, scratch_dir=scratch)
    env.pop("excludes", None)
    return env


def _outcome(ray, ref, i: int, chunk: list[dict], event):
    """The records of a finished task, or the exception it ended with (its report said)."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as e:  # the experiment's own exception
        cause = e.cause if isinstance(e.cause, BaseException) else None
        for line in failure_lines(i, len(chunk), getattr(cause, "worker_report", None) or str(e)):
            event(line)
        return cause or RuntimeError(str(e).splitlines()[0])
    except ray.exceptions.RayError as e:  # retries exhausted, worker or node lost
        event(f"chunk {i} ({len(chunk)} cells) lost: {type(e).__name__}: {' '.join(str(e).split())[:500]}")
        return RuntimeError(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
