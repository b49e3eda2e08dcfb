"""Grids of the recovery study: which (regulator, learning rate, hyperparameter) cells to run.

A grid is a list of `Cell`s. The paper grid is the 124 cells of tables 1-6 of the Wasserstein
latent regulation paper (bench/reference/wasserstein_latent_regulation_tables.csv). A loss
regulator at weight 0 is the unregulated baseline, so those cells are not recovered separately:
`Cell.run` maps them to the shared run `none|lr=...|hp=0` (16 cells of tables 1-4 -> 4 runs, 112
unique runs in all). The engine seeds a run from its run id, so shared cells get identical results.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

PAPER_CSV = "wasserstein_latent_regulation_tables.csv"
GRIDS = ("paper", "quick")
LOSS_TABLES = ("table1", "table2", "table3", "table4")  # hyperparameter = loss weight lambda
BASELINE = "none"


def fmt(x: float) -> str:
    """Stable text of a grid value: 0.1 -> '0.1', 1.0 -> '1', 1e-06 -> '1e-06'."""
    return f"{float(x):.12g}"


def cell_id(regulator: str, lr: float, hp: float) -> str:
    return f"{regulator}|lr={fmt(lr)}|hp={fmt(hp)}"


@dataclass(frozen=True)
class Cell:
    regulator: str
    lr: float
    hp: float  # loss weight lambda, logistic slope a or truncation cutoff c
    table: str | None = None  # paper table the cell comes from
    paper_accuracy: float | None = None  # the paper's accuracy (%) for this cell, if any
    shared: bool = False  # weight-0 loss cell: recovered once as the `none` baseline of its lr

    @property
    def id(self) -> str:
        return cell_id(self.regulator, self.lr, self.hp)

    @property
    def run(self) -> Cell:
        """The cell actually recovered (shared baselines collapse onto regulator `none`)."""
        if self.shared or self.regulator == BASELINE:
            return Cell(BASELINE, float(self.lr), 0.0)
        return Cell(self.regulator, float(self.lr), float(self.hp))

    @property
    def run_id(self) -> str:
        return self.run.id


def paper_rows() -> list[dict]:
    """The paper's cells as dicts: table, regulator, learning_rate, hyperparameter, accuracy_percent."""
    text = resources.files("bench").joinpath("reference", PAPER_CSV).read_text(encoding="utf-8")
    rows = []
    for r in csv.DictReader(io.StringIO(text)):
        rows.append(
            {
                "table": r["table"],
                "regulator": r["regulator"],
                "learning_rate": float(r["learning_rate"]),
                "hyperparameter": float(r["hyperparameter"]),
                "accuracy_percent": float(r["accuracy_percent"]),
            }
        )
    return rows


@cache
def _paper_index() -> dict[str, tuple[str, float]]:
    """cell id -> (table, paper accuracy); weight-0 loss cells also indexed as `none` baselines."""
    index: dict[str, tuple[str, float]] = {}
    for r in paper_rows():
        index[cell_id(r["regulator"], r["learning_rate"], r["hyperparameter"])] = (
            r["table"],
            r["accuracy_percent"],
        )
        if r["table"] in LOSS_TABLES and r["hyperparameter"] == 0:
            index.setdefault(cell_id(BASELINE, r["learning_rate"], 0.0), ("table1-4", r["accuracy_percent"]))
    return index


def make_cell(regulator: str, lr: float, hp: float) -> Cell:
    """The grid cell (regulator, lr, hp) with its paper table, paper accuracy and shared run."""
    return _make(regulator, lr, hp, _kind(regulator), _paper_index())


def _kind(name: str) -> str:
    import regulators

    return regulators.get(name).kind  # unknown name -> ValueError listing the valid names


def _make(regulator: str, lr: float, hp: float, kind: str, index: dict) -> Cell:
    if regulator == BASELINE:
        hp = 0.0
    table, acc = index.get(cell_id(regulator, lr, hp), (None, None))
    shared = kind == "loss" and regulator != BASELINE and hp == 0
    return Cell(regulator, float(lr), float(hp), table, acc, shared)


def _own_rows(name: str, grid: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The regulator's registered grid rows (lrs, hps), or a ValueError saying what to add."""
    import regulators

    reg = regulators.get(name)
    if not reg.lrs or not reg.hps:
        raise ValueError(
            f"regulator {name!r} has no cells on the {grid} grid: the paper has no table for it; register it "
            f"with lrs=(...) and hps=(...) (its default learning rates and {reg.hyperparameter} values), or "
            "give --lrs and --hp"
        )
    return reg.lrs, reg.hps


def _paper(regs: list[str], kinds: dict[str, str], index: dict) -> list[Cell]:
    rows = paper_rows()
    cells = [
        _make(r["regulator"], r["learning_rate"], r["hyperparameter"], kinds[r["regulator"]], index)
        for r in rows
        if r["regulator"] in kinds
    ]
    tabled = {r["regulator"] for r in rows}
    for name in regs:  # a regulator the paper has no table for: its own rows, crossed
        if name != BASELINE and name not in tabled:
            lrs, hps = _own_rows(name, "paper")
            cells += [_make(name, lr, hp, kinds[name], index) for lr in lrs for hp in hps]
    # `none` has no table of its own: its cells are the weight-0 columns of tables 1-4. Asked for
    # without any of those regulators, it contributes the four baseline runs themselves.
    if BASELINE in regs and not any(c.shared for c in cells):
        lrs = sorted({r["learning_rate"] for r in rows if r["table"] in LOSS_TABLES})
        cells += [_make(BASELINE, lr, 0.0, "loss", index) for lr in lrs]
    return cells


def _quick(regs: list[str], kinds: dict[str, str], index: dict) -> list[Cell]:
    """At most two cells per regulator: the paper's best and worst cell (weight-0 columns aside),
    so a smoke run shows both ends of each table; a regulator without a table gets its own rows'
    middle learning rate at its middle (or first) and its last hyperparameter."""
    rows = paper_rows()
    cells: list[Cell] = []
    for name in regs:
        if name == BASELINE:
            mine = [r for r in rows if r["table"] in LOSS_TABLES and r["hyperparameter"] == 0]
        else:
            mine = [
                r
                for r in rows
                if r["regulator"] == name and not (r["table"] in LOSS_TABLES and r["hyperparameter"] == 0)
            ]
        if mine:
            ranked = sorted(mine, key=lambda r: r["accuracy_percent"])
            picks = [(ranked[-1]["learning_rate"], ranked[-1]["hyperparameter"])]
            picks.append((ranked[0]["learning_rate"], ranked[0]["hyperparameter"]))
        else:
            lrs, hps = _own_rows(name, "quick")
            lr, mid = lrs[len(lrs) // 2], hps[len(hps) // 2]
            picks = [(lr, mid if mid != hps[-1] else hps[0]), (lr, hps[-1])]
        for lr, hp in picks:
            cell = _make(name, lr, hp, kinds[name], index)
            if cell.id not in {c.id for c in cells}:
                cells.append(cell)
    return cells


def _explicit(lrs: Sequence[float], hps: Sequence[float], regs, kinds, index) -> list[Cell]:
    for v in lrs:
        if not float(v) > 0:
            raise ValueError(f"learning rates must be positive, got {v}")
    cells: list[Cell] = []
    seen: set[str] = set()
    for name in regs:
        for lr in lrs:
            for hp in hps:
                cell = _make(name, float(lr), float(hp), kinds[name], index)
                if cell.id not in seen:  # `none` ignores hp: one cell per lr
                    seen.add(cell.id)
                    cells.append(cell)
    return cells


def expand_grid(grid, regulators: Sequence[str]) -> list[Cell]:
    """Cells of `grid` for the named regulators.

    grid: "paper" (the tables' cells of those regulators; one without a table: its own registered
    rows, crossed; without rows it is a ValueError saying what to add),
    "quick" (at most two cells per regulator) or a pair (learning rates, hyperparameters) for the
    full product per regulator. Unknown grid or regulator names raise ValueError listing the valid ones.
    """
    regs = list(dict.fromkeys(regulators))
    if not regs:
        raise ValueError("no regulator given")
    kinds = {name: _kind(name) for name in regs}
    index = _paper_index()
    if isinstance(grid, str):
        if grid == "paper":
            return _paper(regs, kinds, index)
        if grid == "quick":
            return _quick(regs, kinds, index)
        raise ValueError(
            f"unknown grid {grid!r}; valid: {', '.join(GRIDS)} (or explicit learning-rate and hyperparameter lists)"
        )
    try:
        lrs, hps = grid
        lrs, hps = [float(v) for v in lrs], [float(v) for v in hps]
    except (TypeError, ValueError):
        raise ValueError(
            f"grid must be one of {', '.join(GRIDS)} or a pair (learning rates, hyperparameters), got {grid!r}"
        ) from None
    if not lrs or not hps:
        raise ValueError("an explicit grid needs at least one learning rate and one hyperparameter")
    return _explicit(lrs, hps, regs, kinds, index)


def unique_runs(cells: Sequence[Cell]) -> list[Cell]:
    """The distinct runs behind `cells` (shared baselines once), in first-seen order."""
    runs: dict[str, Cell] = {}
    for c in cells:
        runs.setdefault(c.run_id, c.run)
    return list(runs.values())
