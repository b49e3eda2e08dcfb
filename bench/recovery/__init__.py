"""The latent recovery study (SPEC part A): grids of cells, the batched engine, per-cell scores.

    from bench.recovery import expand_grid, recover_cells, score_cell
    cells = expand_grid("paper", regulators.names())
    results = recover_cells(G, D, targets, cells, steps=200, seed=0)
    scores = [score_cell(r, targets, labels, classifier) for r in results]

The names load on first use, so the light modules of this package (its settings, which the
command line reads for its options) import no torch.
"""

import importlib

_API = {
    "bench.recovery.engine": ("CellRecovery", "cell_draws", "derive_seed", "initial_latents", "recover_cells"),
    "bench.recovery.grid": ("GRIDS", "Cell", "cell_id", "expand_grid", "paper_rows", "unique_runs"),
    "bench.recovery.metrics": ("latent_stats", "pixel_errors", "predict", "score_cell"),
    "bench.recovery.recover_settings": ("DEFAULT_MAX_BATCH",),
}
_WHERE = {name: module for module, names in _API.items() for name in names}
__all__ = [  # noqa: RUF022 - grouped by module, as _API
    "CellRecovery", "cell_draws", "derive_seed", "initial_latents", "recover_cells",
    "GRIDS", "Cell", "cell_id", "expand_grid", "paper_rows", "unique_runs",
    "latent_stats", "pixel_errors", "predict", "score_cell", "DEFAULT_MAX_BATCH",
]  # fmt: skip


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'bench.recovery' has no attribute {name!r}")
