"""The latent recovery study (SPEC part A): grids of cells, the batched engine, per-cell scores.

    from bench.recovery import expand_grid, recover_cells, score_cell
    cells = expand_grid("paper", regulators.names())
    results = recover_cells(G, D, targets, cells, steps=200, seed=0)
    scores = [score_cell(r, targets, labels, classifier) for r in results]
"""

from bench.recovery.engine import (
    DEFAULT_MAX_BATCH,
    CellRecovery,
    cell_draws,
    derive_seed,
    initial_latents,
    recover_cells,
)
from bench.recovery.grid import GRIDS, Cell, cell_id, expand_grid, paper_rows, unique_runs
from bench.recovery.metrics import latent_stats, pixel_errors, predict, score_cell

__all__ = [
    "DEFAULT_MAX_BATCH",
    "GRIDS",
    "Cell",
    "CellRecovery",
    "cell_draws",
    "cell_id",
    "derive_seed",
    "expand_grid",
    "initial_latents",
    "latent_stats",
    "paper_rows",
    "pixel_errors",
    "predict",
    "recover_cells",
    "score_cell",
    "unique_runs",
]
