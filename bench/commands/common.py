"""What every experiment command shares: running it through the pipeline and printing the result.

A command parses its options into the experiment's settings and the run's, then calls `run`,
which draws the progress bars, prints the notices and the shared summary (verdicts, files,
MLflow run, wall time). Nothing here computes.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from bench.commands.tables import show
from bench.pipeline import run_experiment
from bench.progress import rich_progress


def run(name: str, settings, run_settings):
    """Run experiment `name` with `settings` as `run_settings` (a RunSettings) say; prints as it
    goes, returns the RunOutput."""

    console = Console(stderr=True)
    out = run_settings.out
    try:
        with rich_progress(console) as progress:
            output = run_experiment(
                name,
                settings,
                run_settings,
                progress=progress,
                on_event=lambda m: console.print(f"  {m}", highlight=False),
            )
    except KeyboardInterrupt:
        console.print(
            f"interrupted: finished cells are kept under {Path(out) / 'runs'}; rerun the "
            "same command with --resume to finish",
            style="yellow",
        )
        raise typer.Exit(130) from None
    print_output(output)
    return output


def print_output(output) -> None:
    """The shared summary: one row per verdict, the failed cells, the files, the MLflow run."""

    console = Console()
    verdicts = output.results.verdict_objs()
    if verdicts:
        colour = {"reproduced": "green", "not reproduced": "red"}
        show(
            console,
            f"{output.results.experiment}: verdicts",
            ("verdict", "claim", "numbers"),
            [
                (f"[{colour.get(v.label, 'yellow')}]{escape(v.shown)}[/]", escape(v.claim), escape(v.numbers))
                for v in verdicts
            ],
            wide_only=("numbers",),
            note=f"the numbers behind each verdict: {output.report}",
        )
    if output.failed:
        console.print(f"[yellow]{len(output.failed)} cell(s) failed[/]: see the report; --resume retries them")
    console.print(f"report: {output.report}\nresults: {output.csv}\nsaved results: {output.json}")
    for p in output.figures:
        if p.suffix == ".pdf":
            console.print(f"figure: {p}")
    if output.parent_run_id:
        console.print(f"MLflow parent run: {output.parent_run_id}")
        if output.run_url:
            opener = f"{output.ui_command}, then open " if output.ui_command else "open "
            console.print(f"  {opener}{output.run_url}", highlight=False, soft_wrap=True)
    console.print(f"wall time: {output.results.facts['wall_time_s'] / 60:.1f} min")
