"""A recovery sweep's settings and its unit of work.

`run_chunk` is a plain function of (models, targets, grid cells of one regulator at one seed,
settings) that returns one plain record per cell, so it runs in this process or another. The
pipeline (bench.pipeline) stores each record as it finishes, and the recover experiment
(bench.experiments.recover.recover_run) drives the chunks and renders the report.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from bench.errors import BenchError
from bench.progress import ProgressFn, null_progress
from bench.recovery.codec import pack_uint8_images
from bench.recovery.engine import recover_cells
from bench.recovery.grid import Cell
from bench.recovery.metrics import latent_errors, score_cell
from bench.recovery.recover_settings import NOISE, TARGETS, RecoverSettings, needs_discriminator  # noqa: F401

PREVIEW = 10  # recovered images kept per cell (uint8) for the report's target/recovery figure


def select_images(test_labels: torch.Tensor, n: int, subset_seed: int) -> list[int]:
    """A fixed, seeded subset of test-image indices (sorted, so image i is always the same one)."""
    total = int(test_labels.shape[0])
    if not 0 < n <= total:
        raise BenchError(f"--images: expected 1..{total}, got {n}")
    g = torch.Generator().manual_seed(int(subset_seed))
    return sorted(torch.randperm(total, generator=g)[:n].tolist())


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    x = torch.nan_to_num(images.detach().float().cpu(), nan=0.0).clamp(-1, 1)
    return ((x + 1) * 127.5).round().to(torch.uint8).reshape(-1, 28, 28)


def pack_images(images: torch.Tensor) -> str:
    """Images in [-1, 1] as compact text (bench.recovery.codec: uint8, zlib, base64)."""
    return pack_uint8_images(to_uint8(images).numpy())


def run_chunk(
    model,
    classifier: torch.nn.Module,
    targets: torch.Tensor,
    labels: torch.Tensor,
    image_ids: Sequence[int],
    cells: Sequence[Cell],
    seed: int,
    settings: RecoverSettings,
    *,
    device: torch.device,
    z_star: torch.Tensor | None = None,
    noise_rows: torch.Tensor | None = None,
    progress: ProgressFn = null_progress,
    precision: str = "fp32",
) -> list[dict]:
    """Recover and score `cells` (one regulator's runs; cells sharing a run are recovered once)
    through `model` (a bench.recovery.generators.RecoveryModel) at one seed; one record per
    cell. With in-span targets, `z_star` [images, d] are the latents that made them and
    `noise_rows` the noise (held fixed, so the targets are reachable)."""
    prior = model.prior
    recs = recover_cells(
        model.G,
        model.D,
        targets,
        cells,
        steps=settings.steps,
        restarts=settings.restarts,
        seed=seed,
        prior=prior,
        prior_samples=settings.prior_samples,
        image_ids=image_ids,
        latent_dim=model.latent_dim,
        device=device,
        max_batch=settings.max_batch,
        noise_dim=model.noise_dim,
        noise=settings.noise,
        noise_rows=noise_rows,
        progress=progress,
        resample_at=settings.resample_at,
        resample_every=settings.resample_every,
        precision=precision,
    )
    out, scored = [], {}
    for cell, rec in zip(cells, recs):
        if cell.run_id not in scored:  # cells sharing a run share its recovery: score it once
            metrics = score_cell(rec, targets, labels, classifier, prior=prior, seed=seed, device=device)
            if z_star is not None:
                metrics.update(latent_errors(rec.z_final, z_star, settings.latent_tol))
            scored[cell.run_id] = metrics
        metrics = dict(scored[cell.run_id])
        out.append(
            {
                **metrics,
                "run_id": cell.run_id,
                "histories": {"loss": [float(v) for v in rec.loss_history]},
                "preview": pack_images(rec.images_rec[:PREVIEW]),
            }
        )
    return out
