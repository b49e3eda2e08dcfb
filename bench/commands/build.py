"""Experiment commands built from their settings: one option per settings field (its option name,
help and default come from the field's declaration, bench.settings), the run options every
experiment command shares, `--config sweep.toml` and `--print-config`.

    app.command("isometry", epilog=EPILOG)(experiment_command("isometry", IsometrySettings, doc))

Nothing is declared twice: a field's default shows in the help and applies when the option is
left out; a sweep file's values apply under the options given on the command line.
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Annotated, Any

import typer

from bench import settings as st
from bench import sweepfile
from bench.commands.common import run
from bench.options import (
    DataDirOpt,
    DeviceOpt,
    ExperimentOpt,
    NoTrackOpt,
    ResumeOpt,
    RetrainOpt,
    ThreadsOpt,
    TrackingUriOpt,
    TrainPrecisionOpt,
    WorkersOpt,
)

SETTINGS_PANEL = "Settings (also in a --config sweep file; `--print-config` writes them)"
BARS_PANEL = "Credibility bars (verdicts on a model that fails one are withheld; 0 turns a bar off)"

RUN_OPTIONS: dict[str, tuple[Any, Any]] = {
    "resume": (False, ResumeOpt),
    "retrain": (False, RetrainOpt),
    "train_precision": ("fp32", TrainPrecisionOpt),
    "workers": (None, WorkersOpt),
    "threads": (None, ThreadsOpt),
    "device": ("auto", DeviceOpt),
    "data_dir": (None, DataDirOpt),
    "tracking_uri": (None, TrackingUriOpt),
    "experiment": (None, ExperimentOpt),
    "no_track": (False, NoTrackOpt),
}
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="A sweep file (TOML) of settings; options given here override it.")
]
PrintConfigOpt = Annotated[
    bool, typer.Option("--print-config", help="Print the effective settings as a sweep file and exit.")
]


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(_show(v) for v in value) if value else "none"
    if isinstance(value, float):
        return f"{value:g}"
    return "none" if value is None else str(value)


def _default(f) -> Any:

    return f.default_factory() if f.default is dataclasses.MISSING else f.default


def setting_parameters(cls) -> list[inspect.Parameter]:
    """One keyword parameter per field with an option: text (or a flag for a bool), None when not
    given, so the field's default, or the sweep file's value, applies."""
    types_ = st.hints(cls)
    params = []
    for f in st.fields(cls):
        spec = st.spec_of(f)
        if spec.option is None:
            continue
        accepted = None if callable(spec.choices) else spec.accepted()  # registries: listed by their commands
        text = spec.help + (f" Accepted: {', '.join(accepted)}." if accepted and len(accepted) <= 12 else "")
        text += f" (default: {spec.shown or _show(_default(f))})"
        panel = BARS_PANEL if f.name.startswith("gate_") else SETTINGS_PANEL
        _, tp = st.optional_type(types_[f.name])
        if tp is bool:
            decl = f"{spec.option}/--no-{spec.option[2:]}"
            ann = Annotated[bool | None, typer.Option(decl, help=text, show_default=False, rich_help_panel=panel)]
        else:
            ann = Annotated[str | None, typer.Option(spec.option, help=text, show_default=False, rich_help_panel=panel)]
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=ann))
    return params


def settings_from(cls, given: dict[str, Any], config: Path | None = None):
    """Settings of `cls`: the sweep file's values, then the options given (text, parsed by each
    field's declaration); a SettingError (one line) for anything bad."""
    values = sweepfile.read_toml(config, cls) if config is not None else {}
    for name, raw in given.items():
        if raw is None:
            continue
        values[name] = raw if isinstance(raw, bool) else st.parse(cls, name, raw)
    return st.build(cls, values)


def experiment_command(name: str, cls: type, doc: str, out: str = "reports"):
    """A Typer command running experiment `name` with settings of class `cls` (given, not looked
    up in the registry, which would import every experiment for `--help`) from its options."""

    def command(**kwargs):

        run_kw = {k: kwargs.pop(k) for k in RUN_OPTIONS}
        out_dir = kwargs.pop("out")
        config, print_config = kwargs.pop("config"), kwargs.pop("print_config")
        settings = settings_from(cls, kwargs, config)
        if print_config:
            typer.echo(sweepfile.to_toml(settings, name), nl=False)
            return
        run(name, settings, out=out_dir, **run_kw)

    params = setting_parameters(cls)
    params.append(
        inspect.Parameter(
            "out",
            inspect.Parameter.KEYWORD_ONLY,
            default=Path(out),
            annotation=Annotated[Path, typer.Option("--out", help="Folder for reports and figures.")],
        )
    )
    for key, (default, ann) in RUN_OPTIONS.items():
        params.append(inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=ann))
    params += [
        inspect.Parameter("config", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=ConfigOpt),
        inspect.Parameter("print_config", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=PrintConfigOpt),
    ]
    command.__signature__ = inspect.Signature(params)
    command.__doc__ = doc
    command.__name__ = f"{name.replace('-', '_')}_cmd"
    return command
