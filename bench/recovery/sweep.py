"""A recovery sweep's settings and its unit of work.

`run_chunk` is a plain function of (models, targets, grid cells of one regulator at one seed,
settings) that returns one plain record per cell, so it runs in this process or another. The
pipeline (bench.pipeline) stores each record as it finishes, and the recover experiment
(bench.experiments.recover) drives the chunks and renders the report.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from bench.progress import ProgressFn, null_progress
from bench.recovery.engine import DEFAULT_MAX_BATCH, recover_cells
from bench.recovery.grid import Cell, expand_grid
from bench.recovery.metrics import latent_errors, score_cell

PREVIEW = 10  # recovered images kept per cell (uint8) for the report's target/recovery figure


TARGETS = ("test", "generated")
# Settings that change only how finished cells are judged: changing them re-judges, and --resume
# still reuses every finished cell.
JUDGING = ("split_seed", "gate_reference", "gate_scorer", "gate_reference_frechet", "gate_frechet_ratio", "gate_min_share")
NOISE = ("fixed", "resample")


@dataclass(frozen=True)
class RecoverSettings:
    """Everything that defines the numbers of a recovery sweep. Flat, so it can be logged as
    MLflow params and hashed into the resume key."""

    regulators: tuple[str, ...] = ()  # registry names; () = the paper's seven
    grid: str = "paper"  # paper | quick | explicit (then lrs and hps)
    lrs: tuple[float, ...] = ()
    hps: tuple[float, ...] = ()
    images: int = 1000  # a fixed, seeded subset of the 10,000 test images
    subset_seed: int = 0  # which test images (and, with targets "generated", which z*)
    steps: int = 200  # Adam steps per recovery
    restarts: int = 1  # candidates per image, the lowest final loss kept (author's code: 16)
    seeds: tuple[int, ...] = (0,)  # recovery seeds: z0 and per-step prior draws
    # Generator variants (bench.recovery.generators) and their training seeds: every generator
    # is trained (through the cache) at every seed, and each is a set of cells of its own.
    generators: tuple[str, ...] = ("lsgan",)
    generator_seeds: tuple[int, ...] = (0,)
    # Fewer (or other) seeds for some generators: {generator: seeds}, e.g. where training one
    # costs more than the budget allows three times. The report says which.
    seeds_for: dict = field(default_factory=dict)
    latent_dim: int | None = None  # LSGAN overrides (None: the variant's)
    arch: str | None = None
    latent_rank: str = "estimate"  # LWGAN family: "estimate" (the rank score), "max" or an int
    noise: str = "fixed"  # stochastic generators: noise fixed per (image, restart) or "resample"
    targets: str = "test"  # test images, or "generated": G(z*) of known z* (in-span targets)
    latent_tol: float = 0.1  # in-span: z recovered when ||z - z*|| / sqrt(d) <= latent_tol
    prior: str = "normal"  # the LSGAN's prior (LWGAN and user generators bring their own)
    prior_samples: int | None = None  # m of the Wasserstein/energy prior sample; None = d_z
    quality_samples: int = 10_000  # generator samples judged by the classifier
    max_batch: int = DEFAULT_MAX_BATCH  # rows per forward pass (memory; results up to rounding)
    # The reading of the resampling rule (engine.READINGS): after each Adam step (the SPEC's, the
    # default), before it, or after it but kept only when it lowers the objective; every k steps.
    resample_at: str = "after"
    resample_every: int = 1
    # Judging only (not in the resume key, see JUDGING): each regulator's best cell is chosen on
    # a seeded half of the target images and judged on the other half; the credibility bars
    # (bench.claims.gates) a generator must clear before a verdict rests on it (0: off).
    split_seed: int = 0
    gate_reference: str = "lsgan"  # the Frechet yardstick when the sweep has no LSGAN (seed 0)
    gate_scorer: float = 99.3
    gate_reference_frechet: float = 90.0
    gate_frechet_ratio: float = 4.0
    gate_min_share: float = 0.05

    def seeds_of(self, generator: str) -> tuple[int, ...]:
        """The training seeds of `generator`: its own (seeds_for) or generator_seeds."""
        return tuple(self.seeds_for.get(generator, self.generator_seeds))

    def names(self) -> list[str]:
        import regulators

        return list(self.regulators) or regulators.names(include_extras=False)

    def cells(self) -> list[Cell]:
        grid = (list(self.lrs), list(self.hps)) if self.grid == "explicit" else self.grid
        return expand_grid(grid, self.names())

    def generator_cells(self, generator: str) -> list[Cell]:
        """The grid cells a generator runs: those of regulators that need an LSGAN discriminator
        only where the generator has one."""
        from bench.recovery.generators import has_discriminator

        if has_discriminator(generator):
            return self.cells()
        return [c for c in self.cells() if not needs_discriminator(c.regulator)]


def needs_discriminator(regulator: str) -> bool:
    import regulators

    return "discriminator" in getattr(regulators.get(regulator), "context", ())


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
) -> list[dict]:
    """Recover and score `cells` (one regulator's runs; cells sharing a run are recovered once)
    through `model` (a bench.recovery.generators.RecoveryModel) at one seed; one record per
    cell. With in-span targets, `z_star` [images, d] are the latents that made them and
    `noise_rows` the noise (held fixed, so the targets are reachable)."""
    prior = model.prior
    recs = recover_cells(
        model.G, model.D, targets, cells, steps=settings.steps, restarts=settings.restarts,
        seed=seed, prior=prior, prior_samples=settings.prior_samples, image_ids=image_ids,
        latent_dim=model.latent_dim, device=device, max_batch=settings.max_batch,
        noise_dim=model.noise_dim, noise=settings.noise, noise_rows=noise_rows, progress=progress,
        resample_at=settings.resample_at, resample_every=settings.resample_every,
    )  # fmt: skip
    out, scored = [], {}
    for cell, rec in zip(cells, recs):
        if cell.run_id not in scored:  # cells sharing a run share its recovery: score it once
            metrics = score_cell(rec, targets, labels, classifier, prior=prior, seed=seed, device=device)
            if z_star is not None:
                metrics.update(latent_errors(rec.z_final, z_star, settings.latent_tol))
            scored[cell.run_id] = metrics
        metrics = dict(scored[cell.run_id])
        out.append({**metrics, "run_id": cell.run_id, "histories": {"loss": [float(v) for v in rec.loss_history]},
                    "preview": pack_images(rec.images_rec[:PREVIEW])})  # fmt: skip
    return out
