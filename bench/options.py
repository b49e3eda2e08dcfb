"""CLI conventions shared by every subcommand: the run options (device, data dir, output,
tracking, workers), declared once here. The settings' options come from their fields
(bench.settings), parsed and checked there."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from bench.errors import BenchError
from bench.precision import PRECISIONS


class OptionError(BenchError):
    """A bad option value; the message names the option and what it accepts."""


def parse_int(text: str) -> int:
    """int() that refuses "1.5" and accepts "1e3" only when it is a whole number."""
    try:
        return int(text)
    except ValueError:
        value = float(text)
        if value.is_integer():
            return int(value)
        raise


DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str):
    """'auto' picks CUDA when present; 'cuda' without CUDA is a user error, not a crash later."""
    import torch

    name = (name or "auto").lower()
    if name not in DEVICES and not name.startswith("cuda:"):
        raise OptionError(f"--device: unknown device {name!r}; accepted: {', '.join(DEVICES)}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise OptionError("--device: cuda was asked for but torch sees no CUDA device; use --device cpu")
    return torch.device(name)


def check_positive(value: float | None, option: str, *, allow_zero: bool = False):
    """Validate a scalar option; returns it unchanged."""
    if value is None:
        return value
    if (value < 0) or (value == 0 and not allow_zero):
        need = "a non-negative number" if allow_zero else "a positive number"
        raise OptionError(f"{option}: expected {need}, got {value}")
    return value


# Annotated option types: one definition each, reused by every command so help and env vars agree.
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed (data subsets, inits, prior draws).")]
SeedsOpt = Annotated[str, typer.Option("--seeds", help="Comma-separated seeds, e.g. 0,1,2.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto (CUDA when present), cpu or cuda.", show_default=True)]
DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="BENCH_DATA_DIR",
        help="Folder with the MNIST IDX files (or torchvision's MNIST/raw).",
    ),
]
OutOpt = Annotated[Path, typer.Option("--out", help="Folder for reports and figures.")]
TrackingUriOpt = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        envvar="MLFLOW_TRACKING_URI",
        help="MLflow tracking URI (sqlite:///x.db, http://host:5000). Default: MLflow's own default.",
    ),
]
ExperimentOpt = Annotated[str | None, typer.Option("--experiment", help="MLflow experiment name.")]
NoTrackOpt = Annotated[bool, typer.Option("--no-track", help="Do not log to MLflow.")]
ResumeOpt = Annotated[
    bool,
    typer.Option(
        "--resume",
        help="Keep the cells an earlier run of the same sweep finished (under OUT/runs/); run only the rest.",
    ),
]
RetrainOpt = Annotated[bool, typer.Option("--retrain", help="Train the models again even when cached.")]
TrainPrecisionOpt = Annotated[
    str,
    typer.Option(
        "--train-precision",
        metavar="fp32|bf16|auto",
        help="Number format of the models this run trains: fp32, bf16 (bfloat16 autocast; weights "
        "and optimiser state float32) or auto (bf16 where the device computes it natively). "
        "bf16 models are cached apart from fp32 ones.",
    ),
]


def check_precision(value: str, option: str) -> str:
    """One of fp32, bf16, auto (the unresolved choice); a one-line OptionError otherwise."""

    if value not in PRECISIONS:
        raise OptionError(f"{option}: expected one of {', '.join(PRECISIONS)}, got {value!r}")
    return value


WorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--workers",
        help="Local worker processes running cells in parallel (default: the "
        "CPU cores for experiments of one-thread models, else 1; 1 on CUDA).",
    ),
]
ThreadsOpt = Annotated[
    int | None,
    typer.Option(
        "--threads",
        help="torch CPU threads per process (default: the cores shared among the workers; one process: torch's own).",
    ),
]


def default_out() -> Path:
    return Path(os.environ.get("BENCH_OUT", "reports"))
