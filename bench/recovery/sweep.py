"""A recovery sweep: expand the grid, recover and score it chunk by chunk, keep every finished cell.

The unit of work is `run_chunk`: a plain function of (models, targets, runs of one regulator, one
seed, settings) that returns scored results, so it can be shipped to another process (Ray) later.
`run_sweep` drives the chunks in order and hands every finished result to `CellStore`, which
writes it atomically to its own file; an interrupted sweep (Ctrl-C, a kill) keeps those files and
`resume=True` skips them. Nothing here prints: progress goes to the callback, results are returned.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from bench.atomic import atomic_write_text
from bench.progress import ProgressFn, null_progress
from bench.recovery.engine import DEFAULT_MAX_BATCH, recover_cells
from bench.recovery.grid import Cell, expand_grid, unique_runs
from bench.recovery.metrics import score_cell

PREVIEW = 10  # recovered images kept per cell (uint8) for the report's target/recovery figure
STORE_VERSION = 1


@dataclass(frozen=True)
class RecoverSettings:
    """Everything that defines the numbers of a sweep (the models aside). Flat, so it can be
    logged as MLflow params and hashed into the resume key."""

    regulators: tuple[str, ...]
    grid: str = "paper"  # paper | quick | explicit (then lrs and hps)
    lrs: tuple[float, ...] = ()
    hps: tuple[float, ...] = ()
    images: int = 1000  # a fixed, seeded subset of the 10,000 test images
    subset_seed: int = 0  # which subset; independent of the recovery seeds
    steps: int = 200
    restarts: int = 1  # candidates per image, the lowest final loss kept (author's code: 16)
    seeds: tuple[int, ...] = (0,)  # recovery seeds: z0 and per-step prior draws
    generator: str = "lsgan"
    prior: str = "normal"
    prior_samples: int | None = None  # m of the Wasserstein/energy prior sample; None = d_z

    def cells(self) -> list[Cell]:
        grid = (list(self.lrs), list(self.hps)) if self.grid == "explicit" else self.grid
        return expand_grid(grid, list(self.regulators))

    def key(self, model_hashes: dict[str, str], data_fingerprint: str) -> str:
        """Resume key: the settings that change numbers, the checkpoints and the data (16 hex)."""
        blob = json.dumps(
            {"v": STORE_VERSION, "settings": asdict(self), "models": model_hashes, "data": data_fingerprint},
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class RunResult:
    """One recovered run (a unique cell) at one seed: its scores or its error."""

    run_id: str
    regulator: str
    lr: float
    hp: float
    seed: int
    metrics: dict = field(default_factory=dict)
    loss_history: list[float] = field(default_factory=list)
    preview: list = field(default_factory=list)  # [PREVIEW][28][28] uint8 of G(z_final)
    error: str | None = None
    resumed: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class SweepResult:
    settings: RecoverSettings
    cells: list[Cell]
    results: dict[tuple[str, int], RunResult]  # (run_id, seed) -> result
    image_ids: list[int]
    wall_time_s: float
    interrupted: bool = False

    def result(self, cell: Cell, seed: int) -> RunResult | None:
        return self.results.get((cell.run_id, seed))


def select_images(test_labels: torch.Tensor, n: int, subset_seed: int) -> list[int]:
    """A fixed, seeded subset of test-image indices (sorted, so image i is always the same one)."""
    total = int(test_labels.shape[0])
    if not 0 < n <= total:
        from bench.errors import BenchError

        raise BenchError(f"--images: expected 1..{total}, got {n}")
    g = torch.Generator().manual_seed(int(subset_seed))
    return sorted(torch.randperm(total, generator=g)[:n].tolist())


def _to_uint8(images: torch.Tensor) -> list:
    x = torch.nan_to_num(images[:PREVIEW].detach().float().cpu(), nan=0.0).clamp(-1, 1)
    return ((x + 1) * 127.5).round().to(torch.uint8).reshape(-1, 28, 28).tolist()


def run_chunk(
    generator: torch.nn.Module,
    discriminator: torch.nn.Module | None,
    classifier: torch.nn.Module,
    targets: torch.Tensor,
    labels: torch.Tensor,
    image_ids: Sequence[int],
    runs: Sequence[Cell],
    seed: int,
    settings: RecoverSettings,
    *,
    device: torch.device,
    max_batch: int = DEFAULT_MAX_BATCH,
    progress: ProgressFn = null_progress,
) -> list[RunResult]:
    """Recover and score `runs` (one regulator) at one seed; the sweep's shippable unit of work."""
    recs = recover_cells(
        generator,
        discriminator,
        targets,
        runs,
        steps=settings.steps,
        restarts=settings.restarts,
        seed=seed,
        prior=settings.prior,
        prior_samples=settings.prior_samples,
        image_ids=image_ids,
        device=device,
        max_batch=max_batch,
        progress=progress,
    )
    out = []
    for run, rec in zip(runs, recs):
        metrics = score_cell(rec, targets, labels, classifier, prior=settings.prior, seed=seed, device=device)
        out.append(
            RunResult(
                run_id=run.id,
                regulator=run.regulator,
                lr=run.lr,
                hp=run.hp,
                seed=seed,
                metrics=metrics,
                loss_history=[float(v) for v in rec.loss_history],
                preview=_to_uint8(rec.images_rec),
            )
        )
    return out


class CellStore:
    """Finished runs of one sweep key, one JSON file each, written atomically."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def _path(self, run_id: str, seed: int) -> Path:
        safe = run_id.replace("|", "__").replace("=", "-")
        return self.folder / "cells" / f"seed{seed}" / f"{safe}.json"

    def save(self, result: RunResult) -> Path:
        body = asdict(result)
        body.pop("resumed")
        # JSON has no NaN/inf: store them as strings so a diverged cell round-trips exactly.
        return atomic_write_text(self._path(result.run_id, result.seed), json.dumps(_encode(body)))

    def load(self, run_id: str, seed: int) -> RunResult | None:
        path = self._path(run_id, seed)
        if not path.exists():
            return None
        try:
            body = _decode(json.loads(path.read_text(encoding="utf-8")))
            result = RunResult(**body, resumed=True)
        except (ValueError, TypeError):
            return None  # unreadable: redo the cell rather than trust it
        return result if result.ok else None  # failed cells are retried on resume

    def write_manifest(self, manifest: dict) -> None:
        atomic_write_text(self.folder / "manifest.json", json.dumps(_encode(manifest), indent=2))


def _encode(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"__float__": repr(obj)}
    if isinstance(obj, dict):
        return {k: _encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_encode(v) for v in obj]
    return obj


def _decode(obj):
    if isinstance(obj, dict):
        if set(obj) == {"__float__"}:
            return float(obj["__float__"])
        return {k: _decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    return obj


def run_sweep(
    settings: RecoverSettings,
    *,
    generator: torch.nn.Module,
    discriminator: torch.nn.Module | None,
    classifier: torch.nn.Module,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
    store: CellStore,
    resume: bool = False,
    device: torch.device | None = None,
    max_batch: int = DEFAULT_MAX_BATCH,
    progress: ProgressFn = null_progress,
    on_result: Callable[[RunResult], None] | None = None,
) -> SweepResult:
    """Run every (unique run, seed) of the grid not already in `store` (with resume).

    test_images: float [10000, 1, 28, 28] in [-1, 1]. A chunk that raises is recorded as failed
    for its runs and the sweep goes on. KeyboardInterrupt stops the sweep after saving what
    finished; the returned result then has `interrupted=True`.
    """
    t0 = time.perf_counter()
    device = torch.device(device or "cpu")
    cells = settings.cells()
    runs = unique_runs(cells)
    ids = select_images(test_labels, settings.images, settings.subset_seed)
    targets, labels = test_images[ids], test_labels[ids]
    results: dict[tuple[str, int], RunResult] = {}

    todo: list[tuple[int, str, list[Cell]]] = []  # (seed, regulator, runs) chunks in grid order
    for seed in settings.seeds:
        by_reg: dict[str, list[Cell]] = {}
        for run in runs:
            done = store.load(run.id, seed) if resume else None
            if done is not None:
                results[(run.id, seed)] = done
                if on_result is not None:
                    on_result(done)
            else:
                by_reg.setdefault(run.regulator, []).append(run)
        todo += [(seed, reg, group) for reg, group in by_reg.items()]

    total = sum(len(g) for _, _, g in todo) * settings.steps
    finished = 0
    interrupted = False
    for seed, reg, group in todo:
        base, size = finished, len(group) * settings.steps

        def chunk_progress(task, done, total_chunk, base=base, size=size, reg=reg, seed=seed, **info):
            # recover_cells counts the steps of its own chunk; map them onto the sweep's total.
            progress("recover", base + int(done * size / max(total_chunk, 1)), total, regulator=reg, seed=seed)

        try:
            chunk = run_chunk(generator, discriminator, classifier, targets, labels, ids, group, seed, settings,
                              device=device, max_batch=max_batch, progress=chunk_progress)
        except KeyboardInterrupt:
            interrupted = True
            break
        except Exception as e:  # noqa: BLE001 - a failed chunk is recorded and the sweep goes on
            msg = f"{type(e).__name__}: {e}"
            chunk = [RunResult(run.id, run.regulator, run.lr, run.hp, seed, error=msg) for run in group]
        for r in chunk:
            results[(r.run_id, seed)] = r
            if r.ok:
                store.save(r)
            if on_result is not None:
                on_result(r)
        finished += len(group) * settings.steps
        progress("recover", finished, total, regulator=reg, seed=seed)

    return SweepResult(settings, cells, results, ids, time.perf_counter() - t0, interrupted)
