"""Sweep files: a run's settings as TOML, written (`--print-config`) and read (`--config`) through
the same field declarations as the options (bench.settings). TOML has no null: a None is left out
where it is the default, else written "none" (read back as None).

    lambdas = [0.0, 0.5, 1.0, 2.0]     # the experiment's settings, at the top
    [run]                               # how it runs (bench.pipeline.run_settings)
    device = "cuda"
    executor = "slurm"
    train_precision = "bf16"
    [slurm]                             # the chosen executor's settings
    partition = "gpu"
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.pipeline.executors import executor_names, get_executor
from bench.pipeline.run_settings import RunSettings
from bench.settings import SettingError, check_value, coerce, fields, hints, optional_type, parse, spec_of

_MISSING = dataclasses.MISSING


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return (
            repr(v)
            if isinstance(v, int) or math.isfinite(v)
            else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))
        )
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise SettingError(f"cannot write {v!r} to TOML")


def _lines(settings) -> list[str]:
    """`name = value` per field; a None is left out where it is the default, else "none"."""
    body = []
    for f in fields(settings):
        if spec_of(f).internal:
            continue
        value = getattr(settings, f.name)
        if value is None:
            if _default_of(f) is None:
                continue
            value = "none"
        body.append(f"{f.name} = {toml_value(value)}")
    return body


def to_toml(settings, experiment: str | None = None, run=None) -> str:
    """The effective configuration as a sweep file: the experiment's settings, then (given the
    run's RunSettings) a `[run]` table and a table of the chosen executor's settings."""
    head = [f"# bench {experiment} --config <this file>" if experiment else "# a sweep file"]
    body = _lines(settings)
    if run is not None:
        body += ["", "[run]", *_lines(run), "", f"[{run.executor}]", *_lines(run.executor_settings)]
    return "\n".join(head + body) + "\n"


def _default_of(f: dataclasses.Field) -> Any:
    return f.default_factory() if f.default is _MISSING else f.default


@dataclass
class Sweep:
    """A sweep file read: the experiment's values, the `[run]` table's, and each executor table's."""

    path: Path
    values: dict = field(default_factory=dict)
    run: dict = field(default_factory=dict)
    executors: dict[str, dict] = field(default_factory=dict)


def _typed(cls, data: dict, where: str) -> dict:
    """The table's values checked against `cls`'s fields, each error naming the file and the key
    (with the nearest valid keys for an unknown one); text is read as an option's where the field
    is not text, but a list is a TOML list: `"a,b"` where a list belongs is refused."""
    valid = {f.name: f for f in fields(cls) if not spec_of(f).internal}
    for key in data:
        if key not in valid:
            near = difflib.get_close_matches(key, list(valid), n=3)
            hint = f"; did you mean {' or '.join(near)}?" if near else f"; valid: {', '.join(sorted(valid))}"
            raise SettingError(f"--config: {where}: unknown key {key!r}{hint}")
    types_ = hints(cls)
    out = dict(data)
    for name, value in out.items():
        tp = optional_type(types_[name])[1]
        try:
            if isinstance(value, str) and typing.get_origin(tp) is tuple and value.lower() != "none":
                raise SettingError(f"{name}: expected a list (e.g. [{value!r}]), got the text {value!r}")
            if isinstance(value, str) and tp is not str:
                value = parse(cls, name, value)
            value = coerce(value, types_[name], name)
            check_value(value, spec_of(valid[name]), name)
        except SettingError as e:
            message = str(e).split(": ", 1)[-1]
            raise SettingError(f"--config: {where}: {name}: {message}") from None
        out[name] = value
    return out


def read_sweep(path, cls, experiment: str | None = None) -> Sweep:
    """A sweep file: top-level keys are `cls`'s settings, `[run]` the run's (RunSettings), any
    other table an executor's settings; a SettingError naming the file for anything bad."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingError(f"--config: no such file {p}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise SettingError(f"--config: {p} is not a TOML file ({' '.join(str(e).split())})") from None
    head = re.match(r"# bench (\S+) --config", p.read_text(encoding="utf-8").lstrip())
    if experiment and head and head.group(1) != experiment:  # the header --print-config writes
        raise SettingError(
            f"--config: {p} was written for bench {head.group(1)} (its first line), not bench {experiment}"
        )
    tables = {
        k: data.pop(k) for k in list(data) if isinstance(data[k], dict) and k not in {f.name for f in fields(cls)}
    }
    sweep = Sweep(p, _typed(cls, data, str(p)))
    for name, table in tables.items():
        if name == "run":
            sweep.run = _typed(RunSettings, table, f"{p} [run]")
        elif name in executor_names():
            sweep.executors[name] = _typed(get_executor(name).settings, table, f"{p} [{name}]")
        else:
            raise SettingError(
                f"--config: {p}: unknown table [{name}]; valid: [run] and one of "
                + ", ".join(f"[{n}]" for n in executor_names())
            )
    return sweep


def read_toml(path, cls) -> dict:
    """{field: value} of `cls` from a sweep file (its run and executor tables checked, not returned)."""
    return read_sweep(path, cls).values
