"""The credibility-bar options (`--gate-*`), added to a command by one decorator.

`@gate_options("min_share", "frechet_ratio")` appends those bars' options to the command's
signature (typer reads it), checks their values (a one-line OptionError) and hands them to the
command as `gates`, a dict of settings fields (`gate_min_share=...`). The bars, their defaults
and reasons are in bench.claims.gates.
"""

from __future__ import annotations

import functools
import inspect
from typing import Annotated

import typer

from bench.options import OptionError

_PANEL = "Credibility bars (verdicts on a model that fails one are withheld; 0 turns a bar off)"


def _option(key: str):
    from bench.claims import gates

    b = gates.bar(key)
    text = b.text.format(v=gates.DEFAULTS[key])
    annotation = Annotated[float, typer.Option(b.option, help=f"Default: {text}. Why: {b.reason}.",
                                               rich_help_panel=_PANEL)]  # fmt: skip
    return gates.DEFAULTS[key], annotation


def gate_options(*keys: str):
    def decorate(fn):
        from bench.claims import gates

        sig = inspect.signature(fn, eval_str=True)
        params = [p for p in sig.parameters.values() if p.name != "gates"]
        extra = [inspect.Parameter(f"gate_{k}", inspect.Parameter.KEYWORD_ONLY, default=_option(k)[0],
                                   annotation=_option(k)[1]) for k in keys]  # fmt: skip

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            values = {f"gate_{k}": float(kwargs.pop(f"gate_{k}", gates.DEFAULTS[k])) for k in keys}
            for k in keys:
                try:
                    gates.check_value(k, values[f"gate_{k}"])
                except ValueError as e:
                    raise OptionError(str(e)) from None
            return fn(*args, gates=values, **kwargs)

        wrapper.__signature__ = sig.replace(parameters=[*params, *extra])
        return wrapper

    return decorate
