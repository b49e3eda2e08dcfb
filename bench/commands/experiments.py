"""`bench experiments` (the experiment registry) and `bench report` (rebuild a report from its
saved results, without rerunning anything)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bench import settings as st
from bench import summary as s
from bench.commands.build import run_parameters, run_settings_from
from bench.commands.common import run
from bench.commands.tables import show
from bench.facts import command_line
from bench.options import OptionError
from bench.outputs import probe_files
from bench.pipeline import get, load, names, rebuild, sweepfile
from bench.pipeline.registry import ensure_registered
from bench.pipeline.saved import rejudge as rejudge_
from bench.pipeline.sweepfile import to_toml

REPORT_EPILOG = """Examples:

  bench report reports/isometry.json                  # rewrite reports/isometry.md, .csv, figures

  bench report reports/recover-paper.json --out /tmp/rebuilt

  bench report --summary reports/ --readme reports/README.md  # the results page's tables, from the results

  bench report reports/rank.json --print-config > rank.toml   # the sweep file that re-runs it
"""


def experiments_cmd() -> None:
    """List the registered experiments (built in, or added by a plugin) with what each does."""

    show(
        Console(),
        "Experiments (each runs through one pipeline; add your own with --plugin)",
        ("name", "description", "settings"),
        [(n, get(n).description, get(n).settings.__name__) for n in names()],
        wide_only=("settings",),
    )


def report_cmd(
    results: Annotated[
        Path, typer.Argument(help="A results file a run saved (<report>.json), or with --summary a folder of them.")
    ],
    out: Annotated[Path | None, typer.Option("--out", help="Folder to write into (default: the file's own).")] = None,
    summary: Annotated[
        bool,
        typer.Option(
            "--summary", help="Print the headline tables of every results file under the folder (the README's)."
        ),
    ] = False,
    readme: Annotated[
        Path | None,
        typer.Option("--readme", help="With --summary: rewrite the block between this file's summary markers."),
    ] = None,
    print_config: Annotated[
        bool,
        typer.Option(
            "--print-config", help="Print the run's settings as a sweep file (to re-run it with --config) and exit."
        ),
    ] = False,
    rejudge: Annotated[
        bool,
        typer.Option(
            "--rejudge",
            help="Judge the saved cells again by the current claims and statistics (nothing re-runs), save "
            "the results with when they were judged, then rebuild the report.",
        ),
    ] = False,
) -> None:
    """Rebuild a report's markdown, CSV and figures from its saved results; the markdown is byte
    for byte what the run wrote. With --summary, the headline tables of a folder of results."""

    console = Console()
    if summary:
        if not results.is_dir():
            raise OptionError(f"--summary: {results} is not a folder of results")
        if readme is None:
            console.print(s.summary_markdown(results), markup=False, highlight=False, soft_wrap=True)
            return
        if not readme.is_file():
            raise OptionError(f"--readme: no such file {readme}")
        try:
            changed = s.update_readme(readme, results)
        except ValueError as e:
            raise OptionError(f"--readme: {e}") from None
        console.print(f"{readme}: summary {'updated' if changed else 'unchanged'}")
        return
    if readme is not None:
        raise OptionError("--readme: only with --summary")
    if print_config:
        results_ = load(results)
        ensure_registered(results_.experiment, results_.facts.get("plugins", []), str(results))
        typer.echo(to_toml(results_.settings_obj(), results_.experiment), nl=False)
        return

    if rejudge:
        probe_files([results], option="--rejudge")
        rejudge_(results)
    written = rebuild(results, out)
    console.print(f"report: {written['report']}\nresults: {written['csv']}")
    for p in written["figures"]:
        if p.suffix == ".pdf":
            console.print(f"figure: {p}")


RUN_EPILOG = """Examples:

  bench run isometry --set lambdas=0,1 --set seeds=0 --set iterations=300

  bench --plugin my_experiment.py run my-experiment --set n=5 --resume
"""


def _setting(cls, text: str) -> tuple[str, object]:
    """`field=value` -> (field, value parsed by the field's declaration: lists comma-separated)."""

    name, sep, raw = text.partition("=")
    valid = [f.name for f in st.fields(cls)]
    if not sep or name not in valid:
        raise st.SettingError(f"--set {text!r}: expected FIELD=VALUE with FIELD one of {', '.join(valid)}")
    return name, st.parse(cls, name, raw)


SetOpt = Annotated[
    list[str], typer.Option("--set", help="Override one setting: FIELD=VALUE (lists comma-separated). Repeatable.")
]


def run_cmd(
    name: Annotated[str, typer.Argument(help="A registered experiment (see `bench experiments`).")],
    set_: SetOpt = [],  # noqa: B006 - typer's list option
    seeds: Annotated[str | None, typer.Option("--seeds", help="Shorthand for --set seeds=...")] = None,
    **run_options,
) -> None:
    """Run any registered experiment with its default settings, or some changed with --set or a
    sweep file (--config); each value is typed and checked by its field's declaration."""

    try:
        exp = get(name)
    except ValueError as e:
        raise OptionError(f"bench run: {e}") from None
    config, print_config = run_options.pop("config"), run_options.pop("print_config")
    sweep = sweepfile.read_sweep(config, exp.settings, name) if config is not None else None
    run_settings = run_settings_from(run_options, sweep, "reports", command_line())
    values = dict(sweep.values) if sweep is not None else {}
    values.update(dict(_setting(exp.settings, text) for text in set_))
    if seeds is not None:
        values["seeds"] = _setting(exp.settings, f"seeds={seeds}")[1]
    settings = st.build(exp.settings, values)
    if print_config:
        typer.echo(sweepfile.to_toml(settings, name, run_settings), nl=False)
        return
    run(name, settings, run_settings)


_own = [
    p
    for p in inspect.signature(run_cmd, eval_str=True).parameters.values()
    if p.kind is not inspect.Parameter.VAR_KEYWORD
]
run_cmd.__signature__ = inspect.Signature(
    [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) if p.default is not inspect.Parameter.empty else p for p in _own]
    + run_parameters()
)


def register(app: typer.Typer) -> None:

    app.command("experiments")(experiments_cmd)
    app.command("run", epilog=RUN_EPILOG)(run_cmd)
    app.command("report", epilog=REPORT_EPILOG)(report_cmd)
