"""`bench regulators`: the table lists every entry, marks extras, filters, and rejects bad input."""

import pytest

import regulators
from bench.cli import main


@pytest.fixture(autouse=True)
def _wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps to the terminal width; keep rows on one line


def rows(out):
    """name -> table row text, for lines that start a row."""
    found = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if cells and cells[0] in regulators.names():
            found[cells[0]] = cells
    return found


def test_lists_every_regulator_and_marks_extras(capsys):
    assert main(["regulators"]) == 0
    table = rows(capsys.readouterr().out)
    assert set(table) == set(regulators.names())
    for name, cells in table.items():
        reg = regulators.get(name)
        assert cells[1] == reg.kind and cells[2] == reg.hyperparameter
        assert (cells[3] == "extra") == reg.extra
    assert "b=2" in table["logistic_cutoff"][-1]
    assert "prior_sample" in table["wasserstein"][-1]


def test_filters(capsys):
    assert main(["regulators", "--paper-only", "--kind", "resample"]) == 0
    out = capsys.readouterr().out
    assert set(rows(out)) == {"logistic_cutoff", "truncated_normal_cutoff"}
    assert "priors: normal (default)" in out


def test_bad_kind_is_one_line_exit_2(capsys):
    assert main(["regulators", "--kind", "both"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--kind" in err and "loss, resample" in err


def test_help_ends_with_an_example(capsys):
    assert main(["regulators", "--help"]) == 0
    lines = [ln.strip(" │") for ln in capsys.readouterr().out.splitlines() if ln.strip(" │")]
    assert lines[-1].startswith("bench regulators")
