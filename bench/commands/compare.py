"""`bench compare`: saved results compared cell by cell, or a recovery result against the paper."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bench import compare, compare_report
from bench import equivalence as eq
from bench.atomic import atomic_write_text
from bench.options import OptionError
from bench.outputs import probe_dir, probe_files

EPILOG = """Examples:

  bench compare reports/recover-paper.json reports/generators-paper/recover-paper.json

  bench compare reports/recover-paper.json --paper          # every cell against the paper's

  bench compare old.json new.json --ignore-seed --out /tmp/drift   # two recovery seeds, say

  bench compare reports/mnist.json reports/mnist-bf16/mnist.json --over-seeds   # within the seed spread?

  bench compare fp32.json bf16.json --equivalence --reseed seed1.json   # a number format by TOST
"""


def compare_cmd(
    results: Annotated[
        list[Path], typer.Argument(help="Saved results (<report>.json) of one experiment; the first is the baseline.")
    ],
    paper: Annotated[bool, typer.Option("--paper", help="Compare one recovery result with the paper's grid.")] = False,
    ignore_seed: Annotated[
        bool, typer.Option("--ignore-seed", help="Match cells whatever their recovery seed.")
    ] = False,
    over_seeds: Annotated[
        bool,
        typer.Option(
            "--over-seeds",
            help="Pool each cell's seeds: the difference of the means over seeds, Welch's t "
            "interval (is one result within the other's seed spread?).",
        ),
    ] = False,
    equivalence: Annotated[
        bool,
        typer.Option(
            "--equivalence",
            help="Two recovery results of the same checkpoints (a number format, say): equivalent within "
            "+-0.5 accuracy points by TOST, pooled, per regulator and on every claim contrast.",
        ),
    ] = False,
    reseed: Annotated[
        Path | None,
        typer.Option(
            "--reseed",
            help="With --equivalence: the first result re-run at another recovery seed, "
            "to test that the format changes outcomes no more often than a reseed does.",
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for compare.md and the figure.")] = Path("compare"),
) -> None:
    """Compare saved results of the same experiment cell by cell: paired over the same target images
    where they share them (McNemar and a paired bootstrap), unpaired otherwise (said so); list the
    differences that lie outside their intervals; write a markdown table and a figure."""

    if reseed is not None and not equivalence:
        raise OptionError("--reseed: only with --equivalence")
    if equivalence:
        if paper or over_seeds or ignore_seed or len(results) != 2:
            raise OptionError(
                "--equivalence: give exactly two recovery results, without --paper, --over-seeds, --ignore-seed"
            )

        folder = probe_dir(out)
        probe_files([folder / "compare.md"])
        found = eq.equivalence(results[0], results[1], reseed)
        atomic_write_text(folder / "compare.md", eq.markdown(found))
        Console().print(f"{eq.summary_line(found)}\nreport: {folder / 'compare.md'}", highlight=False)
        return
    if over_seeds and (paper or ignore_seed):
        raise OptionError("--over-seeds pools the seeds itself: not with --paper or --ignore-seed")
    if paper and len(results) != 1:
        raise OptionError("--paper: give exactly one recovery result")
    if not paper and len(results) < 2:
        raise OptionError("bench compare: give at least two results files (or one with --paper)")
    folder = probe_dir(out)
    probe_files([folder / "compare.md"])
    found = (
        compare.against_paper(results[0])
        if paper
        else compare.compare(results, ignore_seed=ignore_seed, over_seeds=over_seeds)
    )
    md = compare_report.markdown(found)
    atomic_write_text(folder / "compare.md", md)
    figures = compare_report.figure(found, folder)
    console = Console()
    for note in found["notes"]:
        if note.startswith(("warning:", "verdicts of")):
            console.print(
                note.replace("`", ""), style="yellow" if note.startswith("warning") else None, highlight=False
            )
    console.print(compare.counts(found["rows"]), highlight=False)
    console.print(f"report: {folder / 'compare.md'}", highlight=False)
    for p in figures:
        if p.suffix == ".pdf":
            console.print(f"figure: {p}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("compare", epilog=EPILOG)(compare_cmd)
