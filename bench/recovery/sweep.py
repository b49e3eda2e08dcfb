"""A recovery sweep's settings and its unit of work.

`run_chunk` is a plain function of (models, targets, grid cells of one regulator at one seed,
settings) that returns one plain record per cell, so it runs in this process or another. The
pipeline (bench.pipeline) stores each record as it finishes, and the recover experiment
(bench.experiments.recover) drives the chunks and renders the report.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from bench.progress import ProgressFn, null_progress
from bench.recovery.engine import DEFAULT_MAX_BATCH, recover_cells
from bench.recovery.grid import Cell, expand_grid
from bench.recovery.metrics import score_cell

PREVIEW = 10  # recovered images kept per cell (uint8) for the report's target/recovery figure


@dataclass(frozen=True)
class RecoverSettings:
    """Everything that defines the numbers of a recovery sweep. Flat, so it can be logged as
    MLflow params and hashed into the resume key."""

    regulators: tuple[str, ...] = ()  # registry names; () = the paper's seven
    grid: str = "paper"  # paper | quick | explicit (then lrs and hps)
    lrs: tuple[float, ...] = ()
    hps: tuple[float, ...] = ()
    images: int = 1000  # a fixed, seeded subset of the 10,000 test images
    subset_seed: int = 0  # which subset (and which generator seed); independent of `seeds`
    steps: int = 200  # Adam steps per recovery
    restarts: int = 1  # candidates per image, the lowest final loss kept (author's code: 16)
    seeds: tuple[int, ...] = (0,)  # recovery seeds: z0 and per-step prior draws
    generator: str = "lsgan"  # generator variant (lwgan.registry), trained with seed subset_seed
    latent_dim: int | None = None  # generator overrides (None: the variant's)
    arch: str | None = None
    prior: str = "normal"
    prior_samples: int | None = None  # m of the Wasserstein/energy prior sample; None = d_z
    quality_samples: int = 10_000  # generator samples judged by the classifier
    max_batch: int = DEFAULT_MAX_BATCH  # rows per forward pass (memory; results up to rounding)

    def names(self) -> list[str]:
        import regulators

        return list(self.regulators) or regulators.names(include_extras=False)

    def cells(self) -> list[Cell]:
        grid = (list(self.lrs), list(self.hps)) if self.grid == "explicit" else self.grid
        return expand_grid(grid, self.names())

    def spec(self):
        from lwgan.registry import get_generator

        return get_generator(self.generator, latent_dim=self.latent_dim, arch=self.arch)


def select_images(test_labels: torch.Tensor, n: int, subset_seed: int) -> list[int]:
    """A fixed, seeded subset of test-image indices (sorted, so image i is always the same one)."""
    total = int(test_labels.shape[0])
    if not 0 < n <= total:
        from bench.errors import BenchError

        raise BenchError(f"--images: expected 1..{total}, got {n}")
    g = torch.Generator().manual_seed(int(subset_seed))
    return sorted(torch.randperm(total, generator=g)[:n].tolist())


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    x = torch.nan_to_num(images.detach().float().cpu(), nan=0.0).clamp(-1, 1)
    return ((x + 1) * 127.5).round().to(torch.uint8).reshape(-1, 28, 28)


def pack_images(images: torch.Tensor) -> str:
    """uint8 images as base64 text (a record is JSON; 10 digits take 10 KB, not 30)."""
    return base64.b64encode(to_uint8(images).numpy().tobytes()).decode()


def unpack_images(text: str):
    import numpy as np

    return np.frombuffer(base64.b64decode(text), dtype=np.uint8).reshape(-1, 28, 28)


def run_chunk(
    generator: torch.nn.Module,
    discriminator: torch.nn.Module | None,
    classifier: torch.nn.Module,
    targets: torch.Tensor,
    labels: torch.Tensor,
    image_ids: Sequence[int],
    cells: Sequence[Cell],
    seed: int,
    settings: RecoverSettings,
    *,
    device: torch.device,
    progress: ProgressFn = null_progress,
) -> list[dict]:
    """Recover and score `cells` (one regulator's runs; cells sharing a run are recovered once)
    at one seed; one record per cell."""
    recs = recover_cells(
        generator, discriminator, targets, cells, steps=settings.steps,
        restarts=settings.restarts, seed=seed, prior=settings.prior,
        prior_samples=settings.prior_samples, image_ids=image_ids, device=device,
        max_batch=settings.max_batch, progress=progress,
    )  # fmt: skip
    out = []
    for cell, rec in zip(cells, recs):
        metrics = score_cell(rec, targets, labels, classifier, prior=settings.prior, seed=seed,
                             device=device)  # fmt: skip
        out.append({**metrics, "run_id": cell.run_id, "histories": {"loss": [float(v) for v in rec.loss_history]},
                    "preview": pack_images(rec.images_rec[:PREVIEW])})  # fmt: skip
    return out
