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
import typing
from pathlib import Path
from typing import Annotated, Any

import typer

from bench import settings as st
from bench.commands.common import run
from bench.facts import command_line
from bench.pipeline import sweepfile
from bench.pipeline.executors import executor_names, get_executor
from bench.pipeline.run_settings import RunSettings

SETTINGS_PANEL = "Settings (also in a --config sweep file; `--print-config` writes them)"
BARS_PANEL = "Credibility bars (verdicts on a model that fails one are withheld; 0 turns a bar off)"
RUN_PANEL = "Run (a sweep file's \\[run] table)"  # \\[: a bracket, not rich markup
EXECUTOR_PANEL = "Executor (where cells run; a sweep file's \\[ray] or \\[slurm] table)"

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="A sweep file (TOML) of settings; options given here override it.")
]
PrintConfigOpt = Annotated[
    bool,
    typer.Option(
        "--print-config", help="Print the effective settings, run and executor settings as a sweep file and exit."
    ),
]


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(_show(v) for v in value) if value else "none"
    if isinstance(value, float):
        return f"{value:g}"
    return "none" if value is None else str(value)


def _default(f) -> Any:

    return f.default_factory() if f.default is dataclasses.MISSING else f.default


def _metavar(tp, spec) -> str:
    """What --help shows for the value: the choices, or the type (a list's items, comma-separated)."""
    accepted = None if callable(spec.choices) else spec.accepted()
    if accepted and len(accepted) <= 6:
        return "[" + "|".join(accepted) + "]"
    if typing.get_origin(tp) is tuple:
        return _metavar(st.optional_type(typing.get_args(tp)[0] if typing.get_args(tp) else str)[1], spec) + ",..."
    if typing.get_origin(tp) is dict or tp is dict:
        return "JSON"
    return {int: "INT", float: "FLOAT"}.get(tp, "TEXT" if tp is str else "VALUE")


def _param_name(option: str) -> str:
    return option[2:].replace("-", "_")


def setting_parameters(cls, panel: str | None = None, seen: set[str] | None = None) -> list[inspect.Parameter]:
    """One keyword parameter per field with an option, named after its option: text (or a flag
    for a bool), None when not given, so the field's default, or the sweep file's value, applies.
    Options in `seen` (shared by two executors' settings) are made once."""
    types_ = st.hints(cls)
    params = []
    for f in st.fields(cls):
        spec = st.spec_of(f)
        if spec.option is None or (seen is not None and spec.option in seen):
            continue
        if seen is not None:
            seen.add(spec.option)
        accepted = None if callable(spec.choices) else spec.accepted()  # registries: listed by their commands
        text = spec.help + (f" Accepted: {', '.join(accepted)}." if accepted and len(accepted) <= 12 else "")
        text += f" (default: {spec.shown or _show(_default(f))})"
        where = panel or (BARS_PANEL if f.name.startswith("gate_") else SETTINGS_PANEL)
        _, tp = st.optional_type(types_[f.name])
        kw = {"help": text, "show_default": False, "rich_help_panel": where, "envvar": spec.envvar}
        if tp is bool:
            ann = Annotated[bool | None, typer.Option(f"{spec.option}/--no-{spec.option[2:]}", **kw)]
        else:
            ann = Annotated[str | None, typer.Option(spec.option, metavar=_metavar(tp, spec), **kw)]
        name = f.name if panel is None else _param_name(spec.option)
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=ann))
        for i, alias in enumerate(spec.aliases):  # an older name, accepted but not shown
            hidden = typer.Option(alias, help=text, hidden=True, **{k: v for k, v in kw.items() if k != "help"})
            old = Annotated[str | None, hidden]
            params.append(
                inspect.Parameter(f"{name}{ALIAS}{i}", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=old)
            )
    return params


ALIAS = "__alias"  # the parameter of an option's older name: `<field>__alias<i>`


def merged(cls, given: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The options given, an older name's value under its field's name (both given: refused), and
    {canonical option: the older name typed} so a message names the option the user typed."""
    out: dict[str, Any] = {}
    typed: dict[str, str] = {}
    for key, raw in given.items():
        name, _, i = key.partition(ALIAS)
        if raw is None:
            continue
        f = next((f for f in st.fields(cls) if f.name == name), None)
        if name in out:
            raise st.SettingError(f"{st.label(f)}: given twice (under its older name too)")
        out[name] = raw
        if i and f is not None:
            typed[st.label(f)] = st.spec_of(f).aliases[int(i)]
    return out, typed


def run_parameters() -> list[inspect.Parameter]:
    """The run options, then every executor's (an option two executors share, once)."""
    params = setting_parameters(RunSettings, RUN_PANEL)
    seen: set[str] = set()
    for name in executor_names():
        params += setting_parameters(get_executor(name).settings, EXECUTOR_PANEL, seen)
    params += [
        inspect.Parameter("config", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=ConfigOpt),
        inspect.Parameter("print_config", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=PrintConfigOpt),
    ]
    return params


def _value(cls, f, raw):
    return raw if isinstance(raw, bool) else st.parse(cls, f.name, raw)


def run_settings_from(kwargs: dict, sweep: sweepfile.Sweep | None, out: str, command: str | None) -> RunSettings:
    """The run's settings and its executor's, from the sweep file's [run] and executor tables,
    then the options given; pops every run and executor option from `kwargs`. An option of
    another executor than the chosen one is refused by name."""
    values = dict(sweep.run) if sweep else {}
    for f in st.fields(RunSettings):
        spec = st.spec_of(f)
        raw = kwargs.pop(_param_name(spec.option), None) if spec.option else None
        if raw is not None:
            values[f.name] = _value(RunSettings, f, raw)
    values.setdefault("out", out)
    name = values.get("executor", "local")
    if name not in executor_names():
        raise st.SettingError(f"--executor: unknown value {name!r}; accepted: {', '.join(executor_names())}")
    if sweep and set(sweep.executors) - {name}:
        other = min(set(sweep.executors) - {name})
        raise st.SettingError(f"--config: {sweep.path}: a [{other}] table, but the executor is {name}")
    chosen = {st.spec_of(f).option: f for f in st.fields(get_executor(name).settings)}
    ex_values = dict(sweep.executors.get(name, {})) if sweep else {}
    for other in executor_names():
        for f in st.fields(get_executor(other).settings):
            option = st.spec_of(f).option
            raw = kwargs.pop(_param_name(option), None) if option else None
            if raw is None:
                continue
            if option not in chosen:
                raise st.SettingError(f"{option}: a setting of --executor {other}, not of {name}")
            target = chosen[option]
            ex_values[target.name] = _value(get_executor(name).settings, target, raw)
    values["executor_settings"] = st.build(get_executor(name).settings, ex_values)
    values["command"] = command
    return st.build(RunSettings, values)


def settings_from(cls, given: dict[str, Any], sweep: sweepfile.Sweep | None = None):
    """Settings of `cls`: the sweep file's values, then the options given (text, parsed by each
    field's declaration); a SettingError (one line) for anything bad."""
    values = dict(sweep.values) if sweep is not None else {}
    given, typed = merged(cls, given)
    try:
        for name, raw in given.items():
            values[name] = raw if isinstance(raw, bool) else st.parse(cls, name, raw)
        return st.build(cls, values)
    except st.SettingError as e:  # an older name typed: the message names it, not the new one
        option, sep, rest = str(e).partition(": ")
        if sep and option in typed:
            raise st.SettingError(f"{typed[option]}: {rest}") from None
        raise


def experiment_command(name: str, cls: type, doc: str, out: str = "reports"):
    """A Typer command running experiment `name` with settings of class `cls` (given, not looked
    up in the registry, which would import every experiment for `--help`) from its options, the
    run options and the executor options."""

    def command(**kwargs):
        config, print_config = kwargs.pop("config"), kwargs.pop("print_config")
        sweep = sweepfile.read_sweep(config, cls, name) if config is not None else None
        run_settings = run_settings_from(kwargs, sweep, out, command_line())
        settings = settings_from(cls, kwargs, sweep)
        if print_config:
            typer.echo(sweepfile.to_toml(settings, name, run_settings), nl=False)
            return
        run(name, settings, run_settings)

    params = setting_parameters(cls)
    clash = {p.name for p in params} & {p.name for p in run_parameters()}
    if clash:  # a settings field named like a run option would take its value
        raise TypeError(f"{cls.__name__}: field(s) {', '.join(sorted(clash))} clash with run options")
    command.__signature__ = inspect.Signature(params + run_parameters())
    command.__doc__ = doc
    command.__name__ = f"{name.replace('-', '_')}_cmd"
    return command
