"""What every experiment command shares: running it through the pipeline and printing the result.

A command parses its options into the experiment's settings, then calls `run`, which resolves
the device, draws the progress bars, prints the notices and the shared summary (verdicts, files,
MLflow run, wall time). Nothing here computes.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.commands import executor
from bench.facts import command_line
from bench.options import check_positive, check_precision, resolve_device
from bench.pipeline import RunOptions, run_experiment
from bench.progress import rich_progress


def run(
    name: str,
    settings,
    *,
    out: Path,
    device: str,
    resume: bool = False,
    retrain: bool = False,
    train_precision: str = "fp32",
    workers: int | None = None,
    threads: int | None = None,
    data_dir: Path | None = None,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    no_track: bool = False,
):
    """Run experiment `name` with `settings`; prints as it goes, returns the RunOutput."""

    check_positive(workers, "--workers")
    check_positive(threads, "--threads")
    check_precision(train_precision, "--train-precision")
    dev = resolve_device(device)
    console = Console(stderr=True)
    options = RunOptions(
        out=Path(out),
        device=str(dev),
        resume=resume,
        retrain=retrain,
        train_precision=train_precision,
        workers=workers,
        threads=threads,
        data_dir=data_dir,
        track=not no_track,
        tracking_uri=tracking_uri,
        experiment=experiment,
        command=command_line(),
        executor=executor.current(),
    )
    try:
        with rich_progress(console) as progress:
            output = run_experiment(
                name, settings, options, progress=progress, on_event=lambda m: console.print(f"  {m}", highlight=False)
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
        table = Table(title=f"{output.results.experiment}: verdicts", title_justify="left")
        for col in ("claim", "verdict", "numbers"):
            table.add_column(col)
        for v in verdicts:
            colour = {"reproduced": "green", "not reproduced": "red"}.get(v.label, "yellow")
            table.add_row(v.claim, f"[{colour}]{escape(v.shown)}[/]", escape(v.numbers))
        console.print(table)
    if output.failed:
        console.print(f"[yellow]{len(output.failed)} cell(s) failed[/]: see the report; --resume retries them")
    console.print(f"report: {output.report}\nresults: {output.csv}\nsaved results: {output.json}")
    for p in output.figures:
        if p.suffix == ".pdf":
            console.print(f"figure: {p}")
    if output.parent_run_id:
        url = f" ({output.run_url})" if output.run_url else ""
        console.print(f"MLflow parent run: {output.parent_run_id}{url}")
    console.print(f"wall time: {output.results.facts['wall_time_s'] / 60:.1f} min")
