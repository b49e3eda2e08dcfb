"""Reports: bootstrap intervals against scipy and exact cases, tables, paper columns, facts, writers."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench import report
from bench.report import (
    RunFacts,
    bootstrap_ci,
    collect_facts,
    facts_markdown,
    format_ci,
    format_mean_sd,
    markdown_table,
    measured_vs_reference,
    parse_reference,
    verdict,
    write_csv,
    write_json,
    write_report,
)

REPO = Path(__file__).resolve().parents[1]
PAPER = REPO / "bench" / "reference" / "wasserstein_latent_regulation_tables.csv"

# --- bootstrap ---------------------------------------------------------------------------------


@pytest.mark.parametrize("stat", [np.mean, np.median])
def test_bootstrap_matches_scipy_percentile_method(stat):
    x = np.random.default_rng(1).normal(loc=2.0, size=200)
    ours = bootstrap_ci(x, stat=stat, n_boot=20_000, seed=3)
    ref = stats.bootstrap(
        (x,), stat, n_resamples=20_000, method="percentile", confidence_level=0.95, rng=7
    ).confidence_interval
    # Both are Monte Carlo estimates of the same quantiles; their error here is ~0.002.
    assert ours.lo == pytest.approx(ref.low, abs=0.015)
    assert ours.hi == pytest.approx(ref.high, abs=0.015)
    assert ours.value == pytest.approx(stat(x))
    assert ours.lo < ours.value < ours.hi


def test_bootstrap_of_accuracy_matches_binomial_quantiles():
    # Resampling 1000 hits/misses with 940 hits: the resampled mean is exactly Binomial(1000,
    # 0.94)/1000, so its 2.5% and 97.5% quantiles are known without simulation.
    x = np.r_[np.ones(940), np.zeros(60)]
    ci = bootstrap_ci(x)
    assert ci.value == pytest.approx(0.94)
    assert ci.lo == pytest.approx(stats.binom.ppf(0.025, 1000, 0.94) / 1000, abs=0.003)
    assert ci.hi == pytest.approx(stats.binom.ppf(0.975, 1000, 0.94) / 1000, abs=0.003)


def test_bootstrap_hand_cases():
    # Two values: the resampled mean is 0, 0.5 or 1 with probabilities 1/4, 1/2, 1/4, so the
    # 2.5% and 97.5% percentiles are the extremes.
    assert tuple(bootstrap_ci([0.0, 1.0], n_boot=4000)) == (0.5, 0.0, 1.0)
    assert tuple(bootstrap_ci([3.0] * 7)) == (3.0, 3.0, 3.0)
    assert tuple(bootstrap_ci([5.0])) == (5.0, 5.0, 5.0)


def test_bootstrap_batched_rows_equal_each_row_alone_and_seeded():
    x = np.random.default_rng(0).random((3, 50))
    batch = bootstrap_ci(x, n_boot=500, seed=4)
    assert batch.lo.shape == (3,)
    for i in range(3):
        alone = bootstrap_ci(x[i], n_boot=500, seed=4)
        assert (batch.value[i], batch.lo[i], batch.hi[i]) == pytest.approx(tuple(alone), abs=1e-12)
    assert tuple(bootstrap_ci(x[0], seed=4)) == tuple(bootstrap_ci(x[0], seed=4))
    assert tuple(bootstrap_ci(x[0], seed=4)) != tuple(bootstrap_ci(x[0], seed=5))
    wide, narrow = bootstrap_ci(x[0], level=0.99), bootstrap_ci(x[0], level=0.5)
    assert wide.lo < narrow.lo < narrow.hi < wide.hi


def test_bootstrap_mean_shortcut_equals_gathering_resamples():
    # np.mean takes a counts-times-values shortcut; any other callable gathers each resample.
    x = np.random.default_rng(5).normal(size=(4, 300))
    fast = bootstrap_ci(x, stat=np.mean, n_boot=700, seed=2)
    slow = bootstrap_ci(
        x, stat=lambda a, axis: a.sum(axis=axis) / a.shape[axis], n_boot=700, seed=2
    )
    for f, s in zip(fast, slow, strict=True):
        np.testing.assert_allclose(f, s, rtol=0, atol=1e-12)


@pytest.mark.parametrize("stat", [np.mean, np.median])
def test_bootstrap_chunking_does_not_change_the_answer(monkeypatch, stat):
    x = np.random.default_rng(2).random((2, 40))
    full = bootstrap_ci(x, stat=stat, n_boot=300, seed=1)
    monkeypatch.setattr(report, "_BOOT_BUDGET", 40 * 7)  # 7 resamples per chunk, 1 row per block
    tiny = bootstrap_ci(x, stat=stat, n_boot=300, seed=1)
    # Row by row, each row alone, equals the blocked batch exactly (same draws).
    alone = bootstrap_ci(x[1], stat=stat, n_boot=300, seed=1)
    assert (tiny.value[1], tiny.lo[1], tiny.hi[1]) == pytest.approx(tuple(alone), abs=1e-12)
    # The RNG stream is consumed in a different grouping, so compare statistically, not exactly.
    np.testing.assert_allclose(tiny.lo, full.lo, atol=0.05)
    np.testing.assert_allclose(tiny.hi, full.hi, atol=0.05)
    np.testing.assert_array_equal(tiny.value, full.value)


@pytest.mark.parametrize("bad", [[], [1.0, float("nan")], [1.0, float("inf")]])
def test_bootstrap_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        bootstrap_ci(bad)


# --- tables ------------------------------------------------------------------------------------


def _cells(table: str) -> list[list[str]]:
    # Split on unescaped pipes only: a cell may hold an escaped one.
    return [[c.strip() for c in re.split(r"(?<!\\)\|", line[1:-1])] for line in table.splitlines()]


def test_markdown_table_pipe_format_and_float_formatting():
    df = pd.DataFrame(
        {"key": ["123e4567", "0001"], "acc": [94.123, np.nan], "n": [3, 4], "note": ["a|b", None]}
    )
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
    assert report._duration(42.04) == "42.0 s" and report._duration(3723.4) == "1h 02m 03s"


def test_parse_reference_and_verdict():
    assert parse_reference("0.02-0.03") == (0.02, 0.03)
    assert parse_reference("1.20") == (1.2, 1.2)
    assert parse_reference(75.8) == (75.8, 75.8)
    assert parse_reference("see text") is None and parse_reference(float("nan")) is None

    assert verdict(94.7, 92.6, 95.5).label == "reproduced"
    assert verdict(94.7, 90.0, 94.0).label == "not reproduced"
    assert verdict(94.7, 90.0, 94.0, tolerance=1.0).label == "reproduced"
    assert verdict("0.02-0.03", 0.025, 0.04).label == "reproduced"  # ranges overlap
    assert verdict("0.02-0.03", 0.031, 0.04).label == "not reproduced"
    assert verdict(94.7, 60.0, 99.0, max_width=10).label == "inconclusive"
    assert verdict("see text", 1.0, 2.0).label == "inconclusive"
    v = verdict(94.7, 92.6, 95.5, tolerance=0.5, max_width=10)
    assert "± 0.5" in v.rule and "wider than 10" in v.rule


def test_measured_vs_reference_on_the_paper_grid():
    paper = pd.read_csv(PAPER).rename(columns={"accuracy_percent": "reference"})
    t1 = paper[paper["table"] == "table1"].drop(columns="reference").copy()
    t1["value"] = paper.loc[t1.index, "reference"] + 1.0
    t1["lo"], t1["hi"] = t1["value"] - 2.0, t1["value"] + 2.0
    on = ["table", "regulator", "learning_rate", "hyperparameter"]
    out = measured_vs_reference(t1.iloc[:-1], paper, on=on)
    assert len(out) == len(t1) - 1
    np.testing.assert_allclose(out["delta"], 1.0)
    first = t1.iloc[0]
    assert out["paper"].iloc[0] == f"{paper.loc[t1.index[0], 'reference']:.1f}"
    assert out["measured"].iloc[0] == (
        f"{first['value']:.1f} [{first['lo']:.1f}, {first['hi']:.1f}]"
    )
    # outer: every paper cell appears; the unmeasured ones say n/a.
    everything = measured_vs_reference(t1.iloc[:-1], paper, on=on, how="outer")
    assert len(everything) == len(paper)
    assert (everything["measured"] == "n/a").sum() == len(paper) - len(t1) + 1
    with pytest.raises(KeyError):
        measured_vs_reference(t1, paper, on=["nope"])


# --- facts and writers -------------------------------------------------------------------------


def test_collect_facts_and_markdown(tmp_path):
    facts = collect_facts(
        seeds=[0, 1],
        data_fingerprint="abcd1234abcd1234",
        device="cpu",
        checkpoints={"lsgan": "f" * 64},
        wall_time_s=12.5,
        command="bench recover --grid quick",
    )
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False
    )
    if head.returncode == 0:
        assert facts.commit == head.stdout.strip()
    assert facts.versions["lwgan-bench"] == "0.1.0" and "torch" in facts.versions
    md = facts_markdown(facts)
    assert md.startswith("## Run facts")
    for text in ("`bench recover --grid quick`", "0, 1", "abcd1234abcd1234", "12.5 s", "f" * 64):
        assert text in md
    # Round trip through JSON: a report rebuilt from the saved facts is identical.
    path = write_json({"facts": facts}, tmp_path / "facts.json")
    again = RunFacts.from_dict(json.loads(path.read_text())["facts"])
    assert again == facts and facts_markdown(again) == md


def test_command_line_quotes_arguments():
    assert report.command_line(["/venv/bin/bench", "recover", "--lr", "0.1 0.2"]) == (
        "bench recover --lr '0.1 0.2'"
    )
    assert report.command_line(["python", "-m", "x"]) == "python -m x"


def test_writers_are_atomic_and_return_paths(tmp_path):
    md = write_report(tmp_path / "out", "recover", "# Title\n\ntext")
    assert md == tmp_path / "out" / "recover.md" and md.read_text() == "# Title\n\ntext\n"
    assert write_report(tmp_path / "out", "recover.md", "x\n") == md
    df = pd.DataFrame({"a": [1, 2], "b": [0.5, np.nan], "c": ["x", "y"]})
    csv = write_csv(df, tmp_path / "out" / "cells.csv")
    pd.testing.assert_frame_equal(pd.read_csv(csv), df)
    js = write_json(
        {"x": np.float32(0.5), "arr": np.arange(3), "p": Path("/a")}, tmp_path / "r.json"
    )
    assert json.loads(js.read_text()) == {"x": 0.5, "arr": [0, 1, 2], "p": "/a"}
    leftovers = [p.name for p in tmp_path.rglob("*.tmp")]
    assert leftovers == []


def test_git_state_ignores_the_runs_own_output_folder(tmp_path):
    """A run that rewrites committed reports is not a dirty checkout; any other change is."""
    from bench.report import git_state

    repo = tmp_path / "repo"
    (repo / "reports").mkdir(parents=True)
    (repo / "code.py").write_text("x = 1\n")
    (repo / "reports" / "r.md").write_text("old\n")

    def git(*args):
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)

    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    assert git_state(repo)[1] is False
    (repo / "reports" / "r.md").write_text("new\n")
    assert git_state(repo)[1] is True
    assert git_state(repo, exclude=repo / "reports")[1] is False
    assert git_state(repo, exclude=tmp_path / "elsewhere")[1] is True  # outside: no effect
    (repo / "code.py").write_text("x = 2\n")
    assert git_state(repo, exclude=repo / "reports")[1] is True
