"""The progress callback every long-running function takes: `progress(task, done, total, **info)`.

`task` names a bar ("train lsgan", "rank score"), `done` out of `total` units, `info` numbers
worth showing beside it (a loss, a rate). Library code never prints: it calls this, or
`null_progress` by default. It lives in the model library, the lowest layer, so that the trainers
need nothing from the harness; `bench.progress` adds the rich bars the CLI draws.
"""

from __future__ import annotations

from typing import Protocol


class ProgressFn(Protocol):
    def __call__(self, task: str, done: int, total: int, **info: float) -> None: ...


def null_progress(task: str, done: int, total: int, **info: float) -> None:
    """The default callback: report nothing."""
