"""Sweep files: a run's settings as TOML, written (`--print-config`) and read (`--config`) through
the same field declarations as the options (bench.settings). TOML has no null: a None is left out
where it is the default, else written "none" (read back as None)."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import tomllib

from bench.settings import SettingError, fields, hints, optional_type, parse

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


def to_toml(settings, experiment: str | None = None) -> str:
    """The effective configuration as a sweep file. TOML has no null: a None is left out where it
    is the default, else written "none" (read back as None)."""
    head = [f"# bench {experiment} --config <this file>" if experiment else "# a sweep file"]
    body = []
    for f in fields(settings):
        value = getattr(settings, f.name)
        if value is None:
            if _default_of(f) is None:
                continue
            value = "none"
        body.append(f"{f.name} = {toml_value(value)}")
    return "\n".join(head + body) + "\n"


def _default_of(f: dataclasses.Field) -> Any:
    return f.default_factory() if f.default is _MISSING else f.default


def read_toml(path, cls) -> dict:
    """{field: value} from a sweep file; a SettingError naming the file for a bad one."""

    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingError(f"--config: no such file {p}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise SettingError(f"--config: {p} is not a TOML file ({' '.join(str(e).split())})") from None
    valid = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - valid)
    if unknown:
        raise SettingError(f"--config: {p}: unknown setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(valid))}")
    types_ = hints(cls)
    for name, value in data.items():  # text where the field is not text: read as an option's
        if isinstance(value, str) and optional_type(types_[name])[1] is not str:
            data[name] = parse(cls, name, value)
    return data
