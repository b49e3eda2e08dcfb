"""Grids: the paper's 124 cells (112 runs), quick and explicit grids, against the CSV read by pandas."""

from pathlib import Path

import pandas as pd
import pytest

import regulators
from bench.recovery.grid import Cell, expand_grid, unique_runs

CSV = Path(__file__).resolve().parents[1] / "bench" / "reference" / "wasserstein_latent_regulation_tables.csv"


@pytest.fixture(scope="module")
def paper():
    return pd.read_csv(CSV)


PAPERS_SEVEN = regulators.names(include_extras=False)


def test_paper_grid_has_every_cell_with_its_accuracy(paper):
    cells = expand_grid("paper", PAPERS_SEVEN)
    assert len(cells) == 124 == len(paper)
    assert len({c.id for c in cells}) == 124
    got = {(c.regulator, c.lr, c.hp): (c.table, c.paper_accuracy) for c in cells}
    for row in paper.itertuples():
        assert got[(row.regulator, row.learning_rate, row.hyperparameter)] == (row.table, row.accuracy_percent)


def test_paper_grid_shares_the_four_baselines(paper):
    cells = expand_grid("paper", PAPERS_SEVEN)
    runs = unique_runs(cells)
    assert len(runs) == 112
    shared = [c for c in cells if c.shared]
    assert len(shared) == 16
    assert all(c.table in ("table1", "table2", "table3", "table4") and c.hp == 0 for c in shared)
    assert {c.run_id for c in shared} == {f"none|lr={lr}|hp=0" for lr in ("0.001", "0.01", "0.1", "1")}
    assert sum(r.regulator == "none" for r in runs) == 4
    # hp 0 of the resampling tables is a real setting (a = 0 replaces half, c = 0 everything)
    resample_zero = [c for c in cells if c.table in ("table5", "table6") and c.hp == 0]
    assert len(resample_zero) == 10 and all(c.run_id == c.id for c in resample_zero)


def test_paper_grid_subsets():
    assert len(expand_grid("paper", ["logistic_cutoff"])) == 20
    assert len(expand_grid("paper", ["trick_discriminator"])) == 24
    base = expand_grid("paper", ["none"])  # no table of its own: the four baseline runs
    assert [c.id for c in base] == [f"none|lr={lr}|hp=0" for lr in ("0.001", "0.01", "0.1", "1")]
    assert [c.paper_accuracy for c in base] == [46.0, 75.8, 73.5, 49.4]
    # An extra (the author's, no table in the paper) gets its registered rows, crossed, and no
    # paper accuracy: the loss tables' learning rates and weights.
    extra = expand_grid("paper", ["z_abs"])
    spec = regulators.get("z_abs")
    assert len(extra) == len(spec.lrs) * len(spec.hps) > 0
    assert {(c.lr, c.hp) for c in extra} == {(lr, hp) for lr in spec.lrs for hp in spec.hps}
    assert all(c.paper_accuracy is None and c.table is None for c in extra)
    assert len(PAPERS_SEVEN) == 7 and "z_abs" not in PAPERS_SEVEN


def test_quick_grid_two_cells_per_regulator(paper):
    cells = expand_grid("quick", regulators.names())
    for name in regulators.names():
        mine = [c for c in cells if c.regulator == name]
        assert 1 <= len(mine) <= 2
    best = paper.loc[paper.groupby("regulator")["accuracy_percent"].idxmax()]
    ids = {c.id for c in cells}
    for row in best.itertuples():
        assert f"{row.regulator}|lr={row.learning_rate:g}|hp={row.hyperparameter:g}" in ids


def test_explicit_grid():
    cells = expand_grid(([0.01, 0.1], [0, 0.1, 1]), ["wasserstein", "none", "logistic_cutoff"])
    by = {name: [c for c in cells if c.regulator == name] for name in ("wasserstein", "none", "logistic_cutoff")}
    assert len(by["wasserstein"]) == 6 and len(by["logistic_cutoff"]) == 6
    assert [c.id for c in by["none"]] == ["none|lr=0.01|hp=0", "none|lr=0.1|hp=0"]
    assert sum(c.shared for c in by["wasserstein"]) == 2
    assert not any(c.shared for c in by["logistic_cutoff"])
    w = {c.id: c for c in by["wasserstein"]}
    assert w["wasserstein|lr=0.1|hp=1"].paper_accuracy == 94.7
    assert w["wasserstein|lr=0.1|hp=1"].table == "table1"
    off = expand_grid(([0.5], [0.3]), ["wasserstein"])[0]
    assert off.paper_accuracy is None and off.table is None
    assert len(unique_runs(cells)) == 6 + 2 + 6 - 2  # wasserstein's two weight-0 cells are none's


def test_cell_ids_are_stable():
    assert Cell("wasserstein", 0.1, 1.0).id == "wasserstein|lr=0.1|hp=1"
    assert Cell("trick_discriminator", 0.01, 1e-06).id == "trick_discriminator|lr=0.01|hp=1e-06"
    assert Cell("energy", 1.0, 0.0, shared=True).run_id == "none|lr=1|hp=0"


def test_bad_grids():
    with pytest.raises(ValueError, match="paper, quick"):
        expand_grid("papre", ["none"])
    with pytest.raises(ValueError, match=r"unknown regulator 'nope'; did you mean none\? \(registered: none, "):
        expand_grid("paper", ["nope"])
    with pytest.raises(ValueError, match="positive"):
        expand_grid(([0.0], [1.0]), ["wasserstein"])
    with pytest.raises(ValueError):
        expand_grid(([0.1], []), ["wasserstein"])
