"""The executor options every sweep command takes, added by one decorator.

`@executor_options` appends `--executor`, `--ray-address`, `--cpus-per-task`, `--gpus-per-task`
and the `--slurm-*` options to a command's signature (typer reads the signature), takes them out
of the call and hands them to `bench.commands.common.run` as one ExecutorSpec, so no command
repeats fifteen parameters.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from typing import Annotated

import typer

from bench.errors import BenchError
from bench.options import OptionError
from bench.pipeline.remote import ExecutorSpec

_SPEC: contextvars.ContextVar = contextvars.ContextVar("executor_spec", default=None)
_PANEL = "Executor (where cells run)"


def _opt(default, annotation, *decls: str, help: str):
    return default, Annotated[annotation, typer.Option(*decls, help=help, rich_help_panel=_PANEL)]


OPTIONS = {
    "executor": _opt(
        "local",
        str,
        "--executor",
        help="local (processes on this machine, see --workers), "
        "ray (each chunk of cells a Ray task) or slurm (a submitit job array).",
    ),
    "ray_address": _opt(
        None,
        str | None,
        "--ray-address",
        help="Ray cluster to join (host:port, ray://host:port "
        "or auto); default $RAY_ADDRESS, else a local cluster started and stopped here.",
    ),
    "cpus_per_task": _opt(
        1.0, float, "--cpus-per-task", help="CPUs a Ray task or SLURM job asks for (and torch threads it uses)."
    ),
    "gpus_per_task": _opt(0.0, float, "--gpus-per-task", help="GPUs a Ray task asks for (fractions allowed)."),
    "slurm_partition": _opt(None, str | None, "--slurm-partition", help="SLURM partition."),
    "slurm_time": _opt(60, int, "--slurm-time", help="SLURM time limit per job, minutes."),
    "slurm_gpus": _opt(0, int, "--slurm-gpus", help="GPUs per SLURM job."),
    "slurm_log_dir": _opt(
        "slurm-logs",
        str,
        "--slurm-log-dir",
        help="Folder for submitit's job logs and pickles (on a filesystem the nodes share).",
    ),
    "slurm_cluster": _opt(
        None,
        str | None,
        "--slurm-cluster",
        help="submitit cluster: default slurm; 'local' runs the job array on this machine (tests, dry runs).",
    ),
    "slurm_mem_gb": _opt(None, float | None, "--slurm-mem-gb", help="Memory per SLURM job, GB."),
    "slurm_account": _opt(None, str | None, "--slurm-account", help="SLURM account to charge."),
    "slurm_qos": _opt(None, str | None, "--slurm-qos", help="SLURM quality of service."),
    "slurm_constraint": _opt(
        None, str | None, "--slurm-constraint", help="SLURM node constraint (features, e.g. 'a100|h100')."
    ),
    "slurm_array_parallelism": _opt(
        None,
        int | None,
        "--slurm-array-parallelism",
        help="Jobs of the array running at once (default: as many as SLURM allows).",
    ),
    "slurm_setup": _opt(
        [],
        list[str],
        "--slurm-setup",
        help="A shell line run before each job (module load, source venv/bin/activate); repeat for several.",
    ),
    "slurm_max_num_timeout": _opt(
        3, int, "--slurm-max-num-timeout", help="Requeues of a job after it times out; a preempted job is requeued too."
    ),
}


def spec_from(values: dict):
    """An ExecutorSpec from the options' values; a one-line OptionError when one is bad."""

    try:
        return ExecutorSpec(
            kind=values["executor"],
            ray_address=values["ray_address"],
            cpus_per_task=values["cpus_per_task"],
            gpus_per_task=values["gpus_per_task"],
            slurm_partition=values["slurm_partition"],
            slurm_time_min=values["slurm_time"],
            slurm_gpus=values["slurm_gpus"],
            slurm_log_dir=values["slurm_log_dir"],
            slurm_cluster=values["slurm_cluster"],
            slurm_mem_gb=values["slurm_mem_gb"],
            slurm_account=values["slurm_account"],
            slurm_qos=values["slurm_qos"],
            slurm_constraint=values["slurm_constraint"],
            slurm_array_parallelism=values["slurm_array_parallelism"],
            slurm_setup=tuple(values["slurm_setup"] or ()),
            slurm_max_num_timeout=values["slurm_max_num_timeout"],
        )
    except BenchError as e:
        raise OptionError(str(e)) from None


def executor_options(fn):
    """Give command `fn` the executor options; `current()` returns their spec inside the call."""
    sig = inspect.signature(fn, eval_str=True)  # typer reads annotations; `from __future__` made them strings
    extra = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
        for name, (default, annotation) in OPTIONS.items()
    ]

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        values = {name: kwargs.pop(name, OPTIONS[name][0]) for name in OPTIONS}
        token = _SPEC.set(spec_from(values))
        try:
            return fn(*args, **kwargs)
        finally:
            _SPEC.reset(token)

    wrapper.__signature__ = sig.replace(parameters=[*sig.parameters.values(), *extra])
    return wrapper


def current():
    """The ExecutorSpec of the running command (local when called outside one)."""

    return _SPEC.get() or ExecutorSpec()
