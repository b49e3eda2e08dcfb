"""Reports: markdown tables, numbers with intervals, the paper's figures, atomic writers."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from bench.report import (
    format_ci,
    format_mean_sd,
    format_seeds,
    markdown_table,
    parse_reference,
    write_csv,
    write_report,
)

# --- tables ------------------------------------------------------------------------------------


def _cells(table: str) -> list[list[str]]:
    # Split on unescaped pipes only: a cell may hold an escaped one.
    return [[c.strip() for c in re.split(r"(?<!\\)\|", line[1:-1])] for line in table.splitlines()]


def test_markdown_table_pipe_format_and_float_formatting():
    df = pd.DataFrame({"key": ["123e4567", "0001"], "acc": [94.123, np.nan], "n": [3, 4], "note": ["a|b", None]})
    rows = _cells(markdown_table(df, floatfmt=".1f"))
    assert rows[0] == ["key", "acc", "n", "note"]
    # Alignment row: text left, numbers right.
    align = ["right" if c.endswith(":") else "left" if c.startswith(":") else "?" for c in rows[1]]
    assert align == ["left", "right", "right", "left"]
    assert rows[2] == ["123e4567", "94.1", "3", "a\\|b"]  # hex key not parsed as 1.23e10
    assert rows[3] == ["0001", "n/a", "4", "n/a"]


def test_markdown_table_rows_dicts_and_per_column_formats():
    t = markdown_table([("x", 0.123456, 2.5)], headers=["name", "a", "b"], floatfmt={"a": ".2e"})
    assert _cells(t)[2] == ["x", "1.23e-01", "2.5"]
    t = markdown_table([{"a": 1.0, "b": "u"}, {"a": 2.0, "c": 3}])
    assert _cells(t)[0] == ["a", "b", "c"]
    assert _cells(t)[3] == ["2", "n/a", "3"]
    with pytest.raises(ValueError):
        markdown_table([(1, 2)])  # rows without headers


def test_format_helpers():
    assert format_ci(94.1234, 92.5678, 95.4567) == "94.1 [92.6, 95.5]"
    assert format_ci(94.06, 92.6, 95.5) == "94.1 [92.6, 95.5]"
    assert format_ci(0.0057, digits=4) == "0.0057"
    assert format_ci(float("nan"), 1, 2) == "n/a"
    assert format_mean_sd([1.0, 2.0, 3.0]) == "2.0 ± 1.0 (3 seeds)"
    assert format_mean_sd([5.0]) == "5.0 (1 seed)"
    row = {"value": 0.5123, "lo": 0.4, "hi": 0.62, "n_seeds": 3}
    assert format_seeds(row) == "0.512 [0.400, 0.620] (3 seeds)"
    assert format_seeds({**row, "lo": float("nan"), "n_seeds": 1}, 2) == "0.51 (1 seed)"


def test_parse_reference():
    assert parse_reference("0.02-0.03") == (0.02, 0.03)
    assert parse_reference("1.20") == (1.2, 1.2)
    assert parse_reference(75.8) == (75.8, 75.8)
    assert parse_reference("see text") is None and parse_reference(float("nan")) is None


def test_verdict_labels_are_checked():
    from bench.verdict import Verdict

    v = Verdict("a claim", "reproduced", "the rule", "1.2 vs 1.3")
    assert Verdict.from_dict(v.to_dict()) == v
    with pytest.raises(ValueError, match="inconclusive"):
        Verdict("a claim", "maybe", "the rule")


def test_writers_are_atomic_and_return_paths(tmp_path):
    md = write_report(tmp_path / "out", "recover", "# Title\n\ntext")
    assert md == tmp_path / "out" / "recover.md" and md.read_text() == "# Title\n\ntext\n"
    assert write_report(tmp_path / "out", "recover.md", "x\n") == md
    df = pd.DataFrame({"a": [1, 2], "b": [0.5, np.nan], "c": ["x", "y"]})
    csv = write_csv(df, tmp_path / "out" / "cells.csv")
    pd.testing.assert_frame_equal(pd.read_csv(csv), df)
    leftovers = [p.name for p in tmp_path.rglob("*.tmp")]
    assert leftovers == []
