"""Progress reporting: library code calls a plain callback; the CLI turns it into rich bars.

The callback signature is `progress(task: str, done: int, total: int, **info)`. `task` names a bar
("train lsgan", "recover"); `done` out of `total` units; `info` holds numbers worth showing
(a loss, a rate). Library code never prints; it calls this, or `null_progress` by default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol


class ProgressFn(Protocol):
    def __call__(self, task: str, done: int, total: int, **info: float) -> None: ...


def null_progress(task: str, done: int, total: int, **info: float) -> None:
    """The default callback: report nothing."""


@contextmanager
def rich_progress(console=None, transient: bool = False) -> Iterator[ProgressFn]:
    """A ProgressFn that draws one rich bar per task name, with the latest `info` beside it."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

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


Callback = Callable[..., None]
