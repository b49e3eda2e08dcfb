"""`bench claims`: every claim of the two papers with its paper value, bands and reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bench.claims import all_claims, get, paper
from bench.claims.gates import GATE_TEXT
from bench.commands.tables import show
from bench.options import OptionError
from bench.summary import collect, sensitivity_rows

EPILOG = """Examples:

  bench claims                          # every claim: paper value, bands, the reports that judge it

  bench claims isometry-discrepancy     # one claim's rule in full, with the reasons for its bands

  bench claims --results reports/       # beside each claim, the verdicts of the saved results

  bench claims --results reports/ --sensitivity   # each verdict re-judged on 20 splits and moved bands
"""


def claims_cmd(
    key: Annotated[str | None, typer.Argument(help="One claim's key (see the list) for its full rule.")] = None,
    results: Annotated[
        Path | None, typer.Option("--results", help="A folder of saved results: show their verdicts per claim.")
    ] = None,
    sensitivity: Annotated[
        bool,
        typer.Option(
            "--sensitivity",
            help="With --results: re-judge every saved verdict on 20 other splits of the images and with each "
            "number of its band at 0.5x and 1.5x, and print the share that keeps its label.",
        ),
    ] = False,
) -> None:
    """List the claims the harness judges (bench.claims): what is measured, the paper's value,
    the band that counts as reproduced and the one that counts as not reproduced (inconclusive
    otherwise), and which reports judge each."""

    console = Console()
    if results is not None and not results.is_dir():
        raise OptionError(f"--results: {results} is not a folder")
    if sensitivity:
        if results is None:
            raise OptionError("--sensitivity: needs --results DIR (the saved results to re-judge)")

        rows = sensitivity_rows(results)
        cols = ("claim", "verdict", "splits", "bands", "fragile", "subject", "report", "flips")
        show(
            console,
            f"How stable each verdict is ({results}): share of 20 re-drawn image splits and of band "
            "numbers moved 0.5x/1.5x that keep the label; fragile under 80% of splits",
            cols,
            [[str(r[k]) for k in cols] for r in rows],
            wide_only=("flips",),
        )
        return
    verdicts: dict[str, list[str]] = {}
    if results is not None:
        for path, res in collect(results):
            for v in res.verdict_objs():
                if v.key:
                    subject = v.claim.split(": (", 1)[0]
                    verdicts.setdefault(v.key, []).append(f"{path.removesuffix('.json')} {subject}: {v.shown}")
    if key is not None:
        try:
            claim = get(key)
        except ValueError as e:
            raise OptionError(f"bench claims: {e}") from None
        console.print(f"[bold]{claim.title}[/bold] ({claim.key})", highlight=False)
        console.print(claim.rule(), highlight=False)

        console.print(paper.describe(claim.key), highlight=False)

        console.print(f"Credibility: {GATE_TEXT.get(claim.gate, 'no bar')}.", highlight=False)
        console.print(f"judged in: {', '.join(claim.reports)}", highlight=False)
        for line in verdicts.get(claim.key, []):
            console.print(f"  {line}", highlight=False)
        return
    cols = ["#", "key", "claim (paper)", "paper value", "reproduced", "not reproduced", "reports"]
    rows = [
        [c.number, c.key, f"{c.statement} ({c.paper})", c.paper_value, c.reproduced.rule, c.not_reproduced.rule]
        + ["\n".join(c.reports)]
        for c in all_claims()
    ]
    if results is not None:
        cols.append("verdicts")
        for c, row in zip(all_claims(), rows):
            row.append("\n".join(verdicts.get(c.key, [])) or "none")
    show(
        console,
        "Claims (bench.claims)",
        cols,
        rows,
        wide_only=("paper value", "reproduced", "not reproduced", "reports", "verdicts"),
        note="`bench claims KEY` prints a claim's rule in full; a wider terminal shows the bands here.",
    )


def register(app: typer.Typer) -> None:
    app.command("claims", epilog=EPILOG)(claims_cmd)
