"""Where a sweep's chunks run, by name: the executor registry (as Hydra's launchers are).

An executor is a class registered with `@register_executor`: its name, a settings class declared
with `setting()` like any experiment's (so its fields are command-line options, a table of a
sweep file and `--print-config` output, checked in one place), the checks made before any work
(`preflight`), how many chunks run at once (`parallelism`), how the plan says where they run
(`where`) and `execute`, which yields (index, chunk, records | exception) as chunks finish.
The pipeline asks the executor and never branches on its name; a plugin adds one the same way:

    @register_executor
    class Dask(Executor):
        name, settings, description = "dask", DaskSettings, "each chunk a Dask future"
        def execute(self, exp, chunks, ctx, s, *, workers, state, collect): ...

Built in: `local` (this process or local worker processes, bench.pipeline.on_local), `ray`
(bench.pipeline.on_ray) and `slurm` (bench.pipeline.on_slurm), each registered by its module,
loaded on first use. Every executor only computes: the driver alone writes MLflow and the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from bench.settings import SettingError, Settings
from registries import Registry

BUILTIN = ("bench.pipeline.on_local", "bench.pipeline.on_ray", "bench.pipeline.on_slurm")


class UnknownExecutor(SettingError):
    """An executor name that is not registered."""


EXECUTORS: Registry[Executor] = Registry(
    "executor", builtins=BUILTIN, group="lwgan_bench.executors", error=UnknownExecutor
)


@dataclass(frozen=True)
class NoSettings(Settings):
    """An executor with nothing to set."""


class Executor:
    """Base of every executor; subclasses set the class attributes and override `execute`."""

    name: ClassVar[str]
    settings: ClassVar[type[Settings]] = NoSettings
    description: ClassVar[str] = ""

    def preflight(self, s: Settings) -> None:
        """Before any work: the back-end is installed and reachable (a one-line BenchError)."""

    def parallelism(self, s: Settings, workers: int, chunks: int) -> int:
        """How many chunks run at once (for the plan's time estimate)."""
        return max(1, min(chunks, workers))

    def task_threads(self, s: Settings) -> int | None:
        """torch threads of a task when the run does not set them (None: the executor's rule)."""
        return None

    def where(self, s: Settings, workers: int) -> str:
        """How the plan says where the cells run: " as Ray tasks (...)"; empty for this process."""
        return ""

    def execute(
        self, exp, chunks: list[list[dict]], ctx, s: Settings, *, workers: int, state=None, collect: bool = False
    ) -> Iterator[tuple]:
        """Run every chunk; yield (index, chunk, records | Exception) in completion order. `state`
        is a folder the executor may keep its bookkeeping in (SLURM lists its jobs there), and
        `collect` (--resume) asks it to collect what an earlier driver left running."""
        raise NotImplementedError


def register_executor(cls: type[Executor]) -> type[Executor]:
    """Class decorator: register an instance of executor class `cls` under `cls.name`."""
    EXECUTORS.add(cls.name, cls())
    return cls


def get_executor(name: str) -> Executor:
    return EXECUTORS.get(name)


def executor_names() -> list[str]:
    return EXECUTORS.names()


def execute(exp, chunks, ctx, name: str, s: Settings, *, workers: int = 1, state=None, collect: bool = False):
    """Run the chunks on executor `name` with its settings `s` (see Executor.execute)."""
    ex = get_executor(name)
    if ctx.threads is None and exp.workers == "cores":
        # Cells of one-thread models run on one thread however many workers there are and
        # wherever they run, so a cell's numbers do not depend on --workers or --executor.
        ctx.threads = 1
    if ctx.threads is None:
        ctx.threads = ex.task_threads(s)
    yield from ex.execute(exp, chunks, ctx, s, workers=workers, state=state, collect=collect)
