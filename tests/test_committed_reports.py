"""Every committed report is what the current code renders from its saved results: a report is a
pure function of its JSON, so a change to a renderer that would alter a committed report shows
up here (regenerate it with `bench report reports/X.json` and commit both)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPORTS = Path(__file__).resolve().parent.parent / "reports"
SAVED = sorted(p for p in REPORTS.rglob("*.json") if "runs" not in p.relative_to(REPORTS).parts)


def test_the_committed_reports_have_saved_results():
    names = {p.relative_to(REPORTS).as_posix() for p in SAVED}
    assert {"recover-paper.json", "rank.json", "isometry.json", "stochastic.json", "mnist.json"} <= names


@pytest.mark.parametrize("path", SAVED, ids=lambda p: p.relative_to(REPORTS).as_posix())
def test_a_committed_report_is_its_results_rendered(path):
    from bench.pipeline import get
    from bench.pipeline.results import load
    from bench.pipeline.saved import markdown

    results = load(path)
    committed = path.with_suffix(".md").read_text(encoding="utf-8")
    assert markdown(get(results.experiment), results) == committed


@pytest.mark.parametrize("path", SAVED, ids=lambda p: p.relative_to(REPORTS).as_posix())
def test_a_committed_report_names_the_folder_it_is_committed_in(path):
    """Its command says `--out reports/x` (or the experiment's default), not a scratch folder of
    the machine that ran it: the command a reader copies writes where the report is."""
    import shlex

    from bench.pipeline import get
    from bench.pipeline.results import load

    results = load(path)
    args = shlex.split(results.facts["command"])
    out = args[args.index("--out") + 1] if "--out" in args else get(results.experiment).out
    assert out == path.parent.relative_to(REPORTS.parent).as_posix(), results.facts["command"]


def test_the_readme_headline_tables_are_the_committed_results():
    """The results page's summary block is generated from the saved results (`bench report --summary
    reports/ --readme reports/README.md`): a page that disagrees with the results fails here."""
    from bench.summary import END, START, summary_markdown

    readme = (REPORTS / "README.md").read_text(encoding="utf-8")
    assert START in readme and END in readme, "the README lost its summary markers"
    assert readme.split(START, 1)[1].split(END, 1)[0].strip("\n") == summary_markdown(REPORTS)


PROSE = ("<!-- prose:start", "<!-- prose:end -->")
# A number with a decimal point, with its sign where one is written before it (after a space, a
# bracket or a parenthesis): "+4.6", "[-0.6,", "86.1%", "x0.83" (the ratio's digits).
NUMBER = re.compile(r"(?<![\d.])(?:(?<![^\s\[(])[+-])?\d+\.\d+")


def prose_numbers(text: str) -> list[str]:
    return NUMBER.findall(text)


def test_the_number_pattern_reads_signs_and_ranges():
    assert prose_numbers("+4.6 [+3.5, +5.7] and 0.020-0.023, x0.83, 86.1%") == [
        "+4.6",
        "+3.5",
        "+5.7",
        "0.020",
        "0.023",
        "0.83",
        "86.1",
    ]


def test_every_number_in_the_readme_results_prose_is_in_a_committed_report():
    """The results page's prose is written by hand, so each number in it with a decimal point
    must appear, as written, in some committed report: a number nobody measured, or one left
    behind when a report changed, fails here."""
    readme = (REPORTS / "README.md").read_text(encoding="utf-8")
    assert PROSE[0] in readme and PROSE[1] in readme, "the README lost its prose markers"
    prose = readme.split(PROSE[0], 1)[1].split(PROSE[1], 1)[0].split("-->", 1)[1]
    corpus = "\n".join(p.read_text(encoding="utf-8") for p in REPORTS.rglob("*.md") if p.name != "README.md")
    numbers = prose_numbers(prose)
    assert len(numbers) > 20
    missing = sorted({n for n in numbers if n not in corpus})
    assert not missing, f"numbers in the README's results prose that no committed report shows: {missing}"


def test_no_committed_verdict_comes_from_outside_the_claims_registry():
    """Every verdict of a committed report names its claim in bench.claims, whose rule can reach
    all three outcomes (tests/test_claims.py)."""
    from bench.claims import names
    from bench.pipeline.results import load

    for path in SAVED:
        for v in load(path).verdict_objs():
            assert v.key in names(), (path.name, v.claim)


@pytest.mark.parametrize("path", SAVED, ids=lambda p: p.relative_to(REPORTS).as_posix())
def test_a_committed_verdict_is_what_the_current_rules_say(path):
    """A rule or statistic that changes a committed verdict shows up here: judge the saved cells
    again (`bench report X.json --rejudge`) and commit what it says."""
    from bench.pipeline import get
    from bench.pipeline.results import load

    results = load(path)
    now = [(v.claim, v.label, v.note, v.provisional) for v in get(results.experiment).verdicts(results)]
    assert now == [(v.claim, v.label, v.note, v.provisional) for v in results.verdict_objs()]


def test_committed_results_stay_small():
    """reports/ under 30 MB and no saved results over 5 MB: records keep what a report or figure
    reads (Experiment.slim), figures are palette PNGs."""
    files = [p for p in REPORTS.rglob("*") if p.is_file() and "runs" not in p.relative_to(REPORTS).parts]
    assert sum(p.stat().st_size for p in files) < 30e6
    big = [p.relative_to(REPORTS).as_posix() for p in SAVED if p.stat().st_size > 5e6]
    assert not big, big


def test_the_readme_is_a_first_screen():
    """The README stays short (the results live in reports/README.md, the rest in docs/), and
    only its two install commands run past 120 characters."""
    lines = (REPORTS.parent / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) < 200
    long = [line for line in lines if len(line) > 120]
    assert len(long) == 2 and all(line.strip().startswith("python3 -m venv") for line in long)
