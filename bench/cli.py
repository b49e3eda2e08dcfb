"""The `bench` command: a thin Typer app. Each subcommand lives in bench/commands/ and calls the
library; this file only attaches them and turns user errors into one line and exit code 2."""

from __future__ import annotations

import sys

import typer

try:  # typer >= 0.20 vendors click; older releases use click itself
    from typer._click import echo
    from typer._click import exceptions as _cx
except ImportError:  # pragma: no cover
    from click import echo
    from click import exceptions as _cx

import importlib

from bench import __version__, plugins
from bench.errors import BenchError
from bench.memory import keep_freed_memory
from lwgan.errors import ConfigError

app = typer.Typer(
    name="bench",
    help="Evaluation harness for latent-variable generative models (latent recovery, LWGAN, Iso-LWGAN).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lwgan-bench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    plugin: list[str] = typer.Option(  # noqa: B008 - typer declares options this way
        [],
        "--plugin",
        help="Import a module (name or .py path) that registers regulators, "
        "generators or experiments; repeat or comma-separate. Also: BENCH_PLUGINS, entry points.",
    ),
) -> None:
    """lwgan-bench: reproduce latent-regulation recovery and (Iso-)LWGAN experiments, logged to MLflow."""

    plugins.load_all(plugin)


# Subcommand modules in bench/commands/, each with `register(app)`. Each module is light (typer
# only); torch and mlflow are imported inside the commands so `bench --help` is instant.
COMMANDS: tuple[str, ...] = (
    "data",
    "regulators",
    "models",
    "train",
    "recover",
    "lwgan",
    "iso",
    "experiments",
    "claims",
    "compare",
)


def _attach() -> None:

    for name in COMMANDS:
        importlib.import_module(f"bench.commands.{name}").register(app)


_attach()


_TYPES = {"int": "INT", "float": "FLOAT", "str": "TEXT", "path": "PATH", "bool": ""}


def _restyled(shown: str | None) -> str | None:
    """Typer's `<int>`, `<str>`, `<a|b>` as the options built from settings show them: INT, TEXT,
    [a|b]."""
    if not shown or not (shown.startswith("<") and shown.endswith(">")):
        return shown
    inner = shown[1:-1]
    if inner.startswith("list[") and inner.endswith("]"):  # an argument taking several
        return (_restyled(f"<{inner[5:-1]}>") or "") + "..."
    return _TYPES.get(inner, f"[{inner}]" if "|" in inner else inner.upper())


def _plain_flags(cmd) -> None:
    """One help style for every option: a flag shows no value (click would print `<bool>`), a
    value its type or choices, and a default as `(default: X)` at the end of its help, as the
    options built from settings say it."""
    for p in getattr(cmd, "params", []):
        if getattr(p, "is_flag", False):
            p.metavar = p.metavar or ""
            p.show_default = False
            continue
        if p.metavar is None:
            shown = p.display_type_rich
            p.display_type_rich = lambda ctx, shown=shown: _restyled(shown(ctx))
        default = getattr(p, "default", None)
        if getattr(p, "show_default", False) is True and default is not None and not callable(default):
            if not getattr(p, "multiple", False) and "(default:" not in (getattr(p, "help", None) or ""):
                value = getattr(default, "value", default)
                p.help = f"{p.help or ''} (default: {value})".strip()
            p.show_default = False
    made = cmd.get_help_option  # click makes --help itself, per context

    def help_option(ctx, made=made):
        option = made(ctx)
        if option is not None:
            option.metavar = ""
        return option

    cmd.get_help_option = help_option
    for sub in getattr(cmd, "commands", {}).values():
        _plain_flags(sub)


def command():
    """The click command of the app, built once, its flags shown without a value."""
    cmd = typer.main.get_command(app)
    _plain_flags(cmd)
    return cmd


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app; user errors become `error: ...` on one line and exit code 2."""

    keep_freed_memory()
    try:
        result = command()(args=argv, prog_name="bench", standalone_mode=False)
    except _cx.NoArgsIsHelpError:
        return 0  # typer has already printed the help
    except _cx.UsageError as e:
        cmd = e.ctx.command_path if e.ctx is not None else "bench"
        msg = " ".join(e.format_message().split())
        echo(f"{cmd}: error: {msg} (see '{cmd} --help')", err=True)
        return 2
    except BenchError as e:
        echo(f"error: {' '.join(str(e).split())}", err=True)
        return e.exit_code
    except ConfigError as e:  # a bad model setting or an unknown generator / recipe name
        echo(f"error: {' '.join(str(e).split())}", err=True)
        return 2
    except typer.Abort:
        echo("interrupted", err=True)
        return 130
    except BrokenPipeError:  # `bench ... | head`: the reader left; nothing more to say
        return 0
    except KeyboardInterrupt:
        echo("interrupted: finished work was kept", err=True)
        return 130
    except typer.Exit as e:
        return e.exit_code
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
