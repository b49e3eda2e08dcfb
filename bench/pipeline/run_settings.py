"""How a sweep runs (never what: that is the experiment's settings), declared once.

    run_experiment("isometry", settings, RunSettings(out="reports", executor="slurm",
                   executor_settings=SlurmSettings(partition="gpu"), train_precision="bf16"))

The fields are settings like any experiment's (bench.settings): each is a command-line option of
every sweep command, a key of a sweep file's `[run]` table and a line of `--print-config`,
checked in one place. The chosen executor's own settings (bench.pipeline.executors) ride along
as `executor_settings`, a sweep file's `[<executor>]` table; left out, they are its defaults.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from bench.pipeline.executors import executor_names, get_executor
from bench.precision import PRECISIONS
from bench.settings import SettingError, Settings, setting

DEVICES = ("auto", "cpu", "cuda")


def _device(value: str) -> str | None:
    name = value.lower()
    if name in DEVICES or name.startswith("cuda:") or name == "mps":
        return None
    return f"unknown device {value!r}; accepted: {', '.join(DEVICES)}, cuda:N"


@dataclass(frozen=True)
class RunSettings(Settings):
    out: str = setting("reports", "Folder for reports and figures.")
    device: str = setting("auto", "auto (CUDA when present), cpu or cuda.", check=_device)
    resume: bool = setting(
        False, "Keep the cells an earlier run of the same sweep finished (under OUT/runs/); run only the rest."
    )
    retrain: bool = setting(False, "Train the models again even when cached.")
    train_precision: str = setting(
        "fp32",
        "Number format of the models this run trains: fp32, bf16 (bfloat16 autocast; weights and "
        "optimiser state float32) or auto (bf16 where the device computes it natively). bf16 models "
        "are cached apart from fp32 ones.",
        choices=PRECISIONS,
    )
    workers: int | None = setting(
        None,
        "Local worker processes running cells in parallel (default: the CPU cores for experiments of "
        "one-thread models, else 1; 1 on CUDA).",
        minimum=1,
    )
    threads: int | None = setting(
        None,
        "torch CPU threads per process (default: the cores shared among the workers; one process: torch's own).",
        minimum=1,
    )
    data_dir: str | None = setting(
        None,
        "Folder with the MNIST IDX files (or torchvision's MNIST/raw).",
        envvar="BENCH_DATA_DIR",
        shown="the download cache (MNIST fetched into it once)",
    )
    track: bool = setting(True, "Log to MLflow (--no-track: do not).")
    tracking_uri: str | None = setting(
        None,
        "MLflow tracking URI (sqlite:///x.db, http://host:5000).",
        envvar="MLFLOW_TRACKING_URI",
        shown="MLflow's own, ./mlflow.db",
    )
    experiment: str | None = setting(None, "MLflow experiment name.")
    cache_dir: str | None = setting(None, "Model cache folder.", envvar="BENCH_CACHE_DIR", shown="~/.cache/lwgan-bench")
    executor: str = setting(
        "local",
        "Where the cells run: local (processes on this machine, see --workers), ray (each chunk of "
        "cells a Ray task) or slurm (a submitit job array); its settings are the Executor options.",
        choices=executor_names,
    )
    # Filled by the harness, not given as options: the executor's settings object and the command line.
    executor_settings: Settings | None = setting(None, "the chosen executor's settings", cli=False, internal=True)
    command: str | None = setting(None, "the command line, for the report and the run's tags", cli=False, internal=True)

    def __post_init__(self):
        for name in ("out", "data_dir", "cache_dir"):  # paths given as Path objects through the API
            if isinstance(getattr(self, name), Path):
                object.__setattr__(self, name, str(getattr(self, name)))
        super().__post_init__()
        cls = get_executor(self.executor).settings
        if self.executor_settings is None:
            object.__setattr__(self, "executor_settings", cls())
        elif not isinstance(self.executor_settings, cls):
            raise SettingError(
                f"--executor {self.executor}: its settings are a {cls.__name__}, "
                f"got a {type(self.executor_settings).__name__}"
            )


RunOptions = RunSettings  # the name the Python API has used


def executor_settings_fields(name: str) -> list[dataclasses.Field]:
    return list(dataclasses.fields(get_executor(name).settings))


def resolve_device(name: str) -> str:
    """'auto' -> cuda when torch sees a device, else cpu; cuda without one is a SettingError."""
    import torch

    name = name.lower()
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SettingError("--device: cuda was asked for but torch sees no CUDA device; use --device cpu")
    return name
