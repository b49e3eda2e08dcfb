"""Every table a command prints reads well at 80 columns: one line per row, nothing past the edge
(a bordered table that wraps its cells to a word a line is the failure this guards against)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from bench.cli import main

REPORTS = Path(__file__).resolve().parent.parent / "reports"


def _lines(capsys) -> list[str]:
    return [line.rstrip() for line in capsys.readouterr().out.splitlines() if line.strip()]


@pytest.mark.parametrize(
    "argv, rows",
    [
        (["claims"], 13),
        (["regulators"], 9),
        (["generators"], 28),  # the variants, then the recipes
        (["experiments"], 6),
    ],
)
def test_listings_fit_80_columns(argv, rows, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    assert main(argv) == 0
    lines = _lines(capsys)
    assert max(len(line) for line in lines) <= 80
    # a few lines a row at most (a title, a header, a note besides), not a word-a-line wall
    assert len(lines) <= 3 * rows + 10, "\n".join(lines)


def test_a_runs_verdicts_fit_80_columns(monkeypatch, capsys):
    from bench.commands.common import print_output
    from bench.pipeline import load

    monkeypatch.setenv("COLUMNS", "80")
    results = load(REPORTS / "isometry.json")
    files = {k: REPORTS / f"isometry.{k}" for k in ("md", "csv", "json")}
    out = SimpleNamespace(results=results, failed=[], figures=[], parent_run_id=None, run_url=None)
    out.report, out.csv, out.json = files["md"], files["csv"], files["json"]
    print_output(out)
    lines = _lines(capsys)
    assert max(len(line) for line in lines) <= 80
    verdicts = results.verdict_objs()
    assert len(lines) <= len(verdicts) + 8, "\n".join(lines)
    for v in verdicts:  # every verdict on a line of its own, its label first
        assert any(line.startswith(v.shown[:8]) for line in lines), v.shown


def test_a_wide_terminal_keeps_the_full_table(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "250")
    assert main(["claims"]) == 0
    text = capsys.readouterr().out
    assert "not reproduced" in text and "┃" in text  # the bands' columns, bordered
