"""Progress reporting: library code calls a plain callback; the CLI turns it into rich bars.

The callback (`ProgressFn`, `null_progress`) is defined in the model library (lwgan.progress) so
the trainers need nothing from the harness; this module adds `rich_progress()` for the CLI.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from lwgan.progress import ProgressFn, null_progress

__all__ = ["ProgressFn", "null_progress", "rich_progress"]


@contextmanager
def rich_progress(console=None, transient: bool = False) -> Iterator[ProgressFn]:
    """A ProgressFn that draws one rich bar per task name, with the latest `info` beside it."""

    bars = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        console=console,
        transient=transient,
    )
    tasks: dict[str, int] = {}

    def report(task: str, done: int, total: int, **info: float) -> None:
        text = "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in info.items())
        if task not in tasks:
            tasks[task] = bars.add_task(task, total=total, info=text)
        bars.update(tasks[task], completed=done, total=total, info=text)

    with bars:
        yield report
