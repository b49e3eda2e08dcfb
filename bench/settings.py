"""One declaration per setting: a settings field carries its type, default, help and checks, and
every door reads them from there: the command-line options (built from the fields), `bench run
--set FIELD=VALUE`, sweep files (`--config sweep.toml`) and the Python API.

    @dataclass(frozen=True)
    class IsometrySettings(ToySettings):
        lambdas: tuple[float, ...] = setting((0.0, 0.5, 1.0, 2.0), "lambda_iso values",
                                             option="--lambda", minimum=0)

A settings dataclass derives from `Settings`, whose `__post_init__` checks every field against
its declaration (type, range, choices, each item of a list) and the class's `check()` (rules
between fields); a bad value is one SettingError naming the option, the same line whichever door
it came in by. Text (an option, `--set`) is parsed by the field's type: lists comma-separated,
`none` for an optional value, JSON for a dict; a TOML value comes typed and is coerced (a list
to a tuple, an integer to a float).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import json
import math
import operator
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.errors import BenchError
from bench.options import parse_int

_MISSING = dataclasses.MISSING


class SettingError(BenchError):
    """A bad setting; the message names its option (or field) and what is accepted."""


@dataclass(frozen=True)
class Spec:
    """What a field's declaration says beyond its type and default."""

    help: str
    option: str | None  # the command-line option; None: settable by --set and sweep files only
    minimum: float | None = None
    maximum: float | None = None
    choices: Sequence[str] | Callable[[], Sequence[str]] | None = None  # a callable for registries
    check: Callable[[Any], str | None] | None = None  # value -> a problem, or None
    parse: Callable[[str], Any] | None = None  # text -> value (aliases: "all", "both")
    judging: bool = False  # changes only how finished cells are judged (not in the resume key)
    keyed: bool = True  # False: the experiment keys the value it resolves to (`auto`), not the text
    nonempty: bool = True  # a list may not be empty
    shown: str | None = None  # how --help shows the default, where its value would mislead ("all")
    envvar: str | None = None  # an environment variable the command-line option reads
    internal: bool = False  # filled by the harness (not an option, not in sweep files)
    aliases: tuple[str, ...] = ()  # older option names, still accepted, hidden from --help

    def accepted(self) -> list[str] | None:
        c = self.choices() if callable(self.choices) else self.choices
        return None if c is None else list(c)


def setting(
    default: Any,
    help: str,
    *,
    option: str | None | type(_MISSING) = _MISSING,
    minimum: float | None = None,
    maximum: float | None = None,
    choices=None,
    check=None,
    parse=None,
    judging: bool = False,
    keyed: bool = True,
    nonempty: bool = True,
    cli: bool = True,
    shown: str | None = None,
    envvar: str | None = None,
    internal: bool = False,
    aliases: tuple[str, ...] = (),
):
    """A settings field: default, help, option and checks in one place. The option defaults to
    `--field-name` (underscores as dashes); cli=False leaves a field to --set and sweep files."""
    spec = Spec(
        help,
        option if option is not _MISSING else None,
        minimum,
        maximum,
        choices,
        check,
        parse,
        judging,
        keyed,
        nonempty,
        shown,
        envvar,
        internal,
        tuple(aliases),
    )
    meta = {"spec": spec, "auto_option": option is _MISSING and cli}
    if isinstance(default, (dict, list)):
        return dataclasses.field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def spec_of(f: dataclasses.Field) -> Spec:
    spec = f.metadata.get("spec") or Spec("", None)
    if f.metadata.get("auto_option"):
        spec = dataclasses.replace(spec, option="--" + f.name.replace("_", "-"))
    return spec


def label(f: dataclasses.Field) -> str:
    return spec_of(f).option or f.name


def fields(cls) -> list[dataclasses.Field]:
    return list(dataclasses.fields(cls))


def hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


# ------------------------------------------------------------------------------------- types


def _args(tp) -> tuple:
    return typing.get_args(tp)


def optional_type(tp) -> tuple[bool, Any]:
    """(allows None, the type without None)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in _args(tp) if a is not type(None)]
        if len(args) < len(_args(tp)):
            return True, args[0] if len(args) == 1 else functools.reduce(operator.or_, args)
    return False, tp


def _is_tuple(tp) -> bool:
    return typing.get_origin(tp) is tuple


def _item_type(tp):
    args = _args(tp)
    return args[0] if args else Any


def _kind(tp) -> str:
    return {float: "numbers", int: "integers", str: "names"}.get(tp, "values")


def _scalar(text: str, tp, where: str) -> Any:
    """One text value as `tp` (int, float, str, bool, a union of them)."""

    if typing.get_origin(tp) in (typing.Union, types.UnionType):  # int | str: an int if it is one
        for t in _args(tp):
            try:
                return _scalar(text, t, where)
            except SettingError:
                continue
        raise SettingError(f"{where}: {text!r} is not valid")
    try:
        if tp is bool:
            if text.lower() in ("true", "1", "yes", "on"):
                return True
            if text.lower() in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if tp is int:
            return parse_int(text)
        if tp is float:
            value = float(text)
            if not math.isfinite(value):
                raise SettingError(f"{where}: {text!r} is not a finite number")
            return value
    except (TypeError, ValueError):
        raise SettingError(
            f"{where}: {text!r} is not valid; expected {'true or false' if tp is bool else _kind(tp)}"
        ) from None
    return text


def parse(cls, name: str, text: str) -> Any:
    """A field's value from text: a command-line option's or --set's."""
    f = _field(cls, name)
    spec, where = spec_of(f), label(f)
    if spec.parse is not None:
        try:
            return spec.parse(text)
        except SettingError as e:  # a parser shared by fields: name the field it was called for
            msg = str(e)
            if msg.startswith("--") and ": " in msg:
                msg = f"{where}: {msg.split(': ', 1)[1]}"
            raise SettingError(msg) from None
    optional, tp = optional_type(hints(cls)[name])
    if optional and text.strip().lower() in ("none", ""):
        return None
    if _is_tuple(tp):
        items = [s.strip() for s in text.split(",")] if text.strip() else []
        if any(not s for s in items):
            raise SettingError(
                f"{where}: empty element in {text!r}; give comma-separated values without empty places (e.g. 0,1,2)"
            )
        item = _item_type(tp)
        out = []
        for s in items:
            try:
                value = _scalar(s, item, where)
            except SettingError:
                raise SettingError(f"{where}: {s!r} is not valid; expected comma-separated {_kind(item)}") from None
            if value not in out:  # a sweep over a repeated value only wastes time
                out.append(value)
        return tuple(out)
    if typing.get_origin(tp) is dict or tp is dict:
        try:
            value = json.loads(text)
        except ValueError:
            raise SettingError(f"{where}: {text!r} is not a JSON object") from None
        if not isinstance(value, dict):
            raise SettingError(f"{where}: {text!r} is not a JSON object")
        return value
    return _scalar(text, tp, where)


def key_values(text: str) -> dict:
    """A mapping option: JSON (`{"a": 1}`) or `KEY=VALUE,KEY=VALUE` (numbers read as numbers)."""
    if text.strip().startswith("{"):
        value = json.loads(text)
        if not isinstance(value, dict):
            raise SettingError(f"--x: {text!r} is not a JSON object")
        return value
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, raw = part.partition("=")
        if not sep or not key.strip():
            raise SettingError(f"--x: {part!r} is not KEY=VALUE")
        try:
            out[key.strip()] = json.loads(raw)
        except ValueError:
            out[key.strip()] = raw
    return out


def _field(cls, name: str) -> dataclasses.Field:
    for f in fields(cls):
        if f.name == name:
            return f
    raise SettingError(f"unknown setting {name!r} for {cls.__name__}; valid: {', '.join(f.name for f in fields(cls))}")


# -------------------------------------------------------------------------------- validation


def _frozen(value: Any) -> Any:
    """Lists as tuples, at any depth (a mapping setting's values, as a list setting's items)."""
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return {k: _frozen(v) for k, v in value.items()}
    return value


def _coerce(value: Any, tp, where: str) -> Any:
    """A value of the right type (a list as a tuple, an int as a float), or a SettingError."""
    optional, tp = optional_type(tp)
    if value is None:
        if optional:
            return None
        raise SettingError(f"{where}: a value is required")
    if _is_tuple(tp):
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise SettingError(f"{where}: expected a list of {_kind(_item_type(tp))}, got {value!r}")
        item = _item_type(tp)
        return tuple(_coerce(v, item, where) for v in value)
    if typing.get_origin(tp) is dict or tp is dict:
        if not isinstance(value, dict):
            raise SettingError(f"{where}: expected a mapping, got {value!r}")
        return _frozen(value)  # lists as tuples: JSON's and TOML's agree
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        for t in _args(tp):
            try:
                return _coerce(value, t, where)
            except SettingError:
                continue
        raise SettingError(f"{where}: {value!r} is not valid")
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if tp is Any or (isinstance(tp, type) and isinstance(value, tp) and not (tp is int and isinstance(value, bool))):
        if tp is float and not math.isfinite(value):
            raise SettingError(f"{where}: {value!r} is not a finite number")
        return value
    name = getattr(tp, "__name__", str(tp))
    raise SettingError(f"{where}: expected {'an' if name[0] in 'aeiou' else 'a'} {name}, got {value!r}")


def _check_value(value: Any, spec: Spec, where: str) -> None:
    items = value if isinstance(value, tuple) else (value,)
    if isinstance(value, tuple) and spec.nonempty and not value:
        raise SettingError(f"{where}: expected at least one value")
    accepted = spec.accepted()
    for v in items:
        if v is None:
            continue
        if accepted is not None and isinstance(v, str) and v not in accepted:
            raise SettingError(f"{where}: unknown value {v!r}; accepted: {', '.join(accepted)}")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if spec.minimum is not None and v < spec.minimum:
                raise SettingError(f"{where}: {v!r} is below the minimum {spec.minimum:g}")
            if spec.maximum is not None and v > spec.maximum:
                raise SettingError(f"{where}: {v!r} is above the maximum {spec.maximum:g}")
    if spec.check is not None:
        problem = spec.check(value)
        if problem:
            raise SettingError(f"{where}: {problem}")


_TRUSTED = contextvars.ContextVar("settings_trusted", default=False)


@contextlib.contextmanager
def trusted():
    """Rebuild saved settings without their checks: saved results are facts, not input (a
    plugin's generator file may be absent where a report is rebuilt). Types are still coerced."""
    token = _TRUSTED.set(True)
    try:
        yield
    finally:
        _TRUSTED.reset(token)


@dataclass(frozen=True)
class Settings:
    """Base of every experiment's settings: checks each field at construction (and after
    dataclasses.replace), then the rules between fields (`check`)."""

    def __post_init__(self):
        types_ = hints(type(self))
        checked = not _TRUSTED.get()
        for f in fields(self):
            where = label(f)
            value = _coerce(getattr(self, f.name), types_[f.name], where)
            if checked:
                _check_value(value, spec_of(f), where)
            object.__setattr__(self, f.name, value)
        if checked:
            self.check()

    def check(self) -> None:
        """Rules between fields; raise SettingError. Subclasses extend it."""


def build(cls, values: dict) -> Any:
    """An instance of `cls` from {field: value} (text parsed already); unknown names refused."""
    valid = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - valid)
    if unknown:
        raise SettingError(
            f"unknown setting(s) {', '.join(unknown)} for {cls.__name__}; valid: {', '.join(sorted(valid))}"
        )
    try:
        return cls(**values)
    except SettingError:
        raise
    except (TypeError, ValueError) as e:
        raise SettingError(" ".join(str(e).split())) from None


def judging_fields(cls) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls) if spec_of(f).judging)


def unkeyed_fields(cls) -> tuple[str, ...]:
    """Fields whose text is not in the resume key (judging ones, and those the experiment keys
    by their resolved value)."""
    return tuple(f.name for f in fields(cls) if spec_of(f).judging or not spec_of(f).keyed)


# What a sweep file checks one key at a time, naming the file and the key (bench.pipeline.sweepfile).
coerce = _coerce
check_value = _check_value
