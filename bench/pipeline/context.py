"""What a cell's unit of work may use besides the cell: the settings, where to run, what
`prepare` computed in the driver (a Prepared), and a per-process memo for heavy objects.

A Context pickles to another process or machine without its callbacks and memo: a worker gets
its own progress forwarder and rebuilds what it needs (MNIST, a trained model) through the memo,
which loads it from the data folder and the model cache once per process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.pipeline.prepared import Prepared
from bench.progress import ProgressFn, null_progress


def _ignore(message: str) -> None:
    """The default event callback: say nothing."""


@dataclass
class Context:
    settings: Any
    device: str = "cpu"
    retrain: bool = False
    train_precision: str = "fp32"  # fp32, bf16 or auto: the models a run trains (resolved per model)
    data_dir: str | None = None
    plugins: tuple[str, ...] = ()  # plugin modules a worker must load (bench.plugins)
    threads: int | None = None  # torch threads per process (None: torch's default)
    prepared: Prepared | None = None  # what the experiment's prepare() computed (None before it ran)
    progress: ProgressFn = null_progress
    event: Callable[[str], None] = _ignore  # one-line notices (a checkpoint retrained, ...)
    _memo: dict = field(default_factory=dict, repr=False)

    def memo(self, key: str, build: Callable[[], Any]) -> Any:
        """`build()` once per process: heavy objects (data, models) shared by a process's cells."""
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]

    def mnist(self):
        """MNIST from `data_dir` (or BENCH_DATA_DIR, or the download cache), loaded once."""
        from bench.data import load_mnist

        return self.memo("mnist", lambda: load_mnist(self.data_dir))

    @property
    def torch_device(self):
        import torch

        return torch.device(self.device)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.update(progress=null_progress, event=_ignore, _memo={})
        return state
