"""The record of a `bench mnist` cell (one model) and what the report reads from the saved
results: the cells, and Iso-LWGAN's reconstruction gap to the base paired over the same images.
Shared by the experiment (bench.experiments.mnist.mnist_run), its report and its figures."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from bench.crossed import crossed_interval
from bench.recovery.codec import pack_floats, pack_uint8_images, unpack_floats, unpack_images

BASE, ISO = "base LWGAN", "Iso-LWGAN"
STEPS = 10  # interpolation steps (the paper's grids)


@dataclass
class MnistCell:
    objective: str
    name: str
    seed: int
    lambda_iso: float
    sigma_noise: float
    eval_rank: int
    recon: float  # mean per-image ‖x - G(Q(x))‖_2 over the evaluation test images, pixels in [-1, 1]
    recon_lo: float
    recon_hi: float
    batch_recon: float  # as the authors measured: one shuffled batch of 128 training images
    frechet: float  # G(Z_r) against the evaluation test images, classifier feature space
    discrepancy: float  # mean |‖z_i - z_j‖ - ‖G_i - G_j‖| over pairs of test images
    discrepancy_lo: float
    discrepancy_hi: float
    interp_irregularity: float
    trivial_recon: float  # the error of the constant map at the mean training image
    collapsed: bool  # recon >= COLLAPSE x trivial_recon
    rank_estimate: int | None  # None: the published autoencoder has no critic to score ranks
    lambda_hat: float | None
    train_time_s: float
    eval_time_s: float
    loaded: bool
    checkpoint: str  # content digest
    config: dict = field(default_factory=dict, repr=False)
    recon_per_image: list[float] = field(default_factory=list, repr=False)  # the paired gap
    grid: list = field(default_factory=list, repr=False)  # uint8 [pairs, STEPS + 2, 28, 28]
    samples: str = field(default="", repr=False)  # SAMPLE_GRID draws G(Z_r), base64 uint8
    # Of the same G(Z_r) draws as the Frechet distance, as the classifier labels them (empty in
    # results saved before version 2).
    digit_shares: list[float] = field(default_factory=list)

    @property
    def min_share(self) -> float:
        return min(self.digit_shares) if self.digit_shares else float("nan")

    @property
    def wall_time_s(self) -> float:
        return self.train_time_s + self.eval_time_s

    @classmethod
    def from_record(cls, record: dict) -> MnistCell:

        values = {f.name: record[f.name] for f in fields(cls) if f.name in record}
        if "recon_per_image" in values:
            values["recon_per_image"] = unpack_floats(values["recon_per_image"])
        if isinstance(values.get("grid"), str):  # compact text (slim): uint8 [pairs, STEPS + 2, 28, 28]
            values["grid"] = unpack_images(values["grid"]).reshape(-1, STEPS + 2, 28, 28)
        return cls(**values)


def slim(record: dict, cell: dict, settings: dict) -> dict:
    """The record the saved results keep: the per-image errors, the interpolation grid and the
    sample grid as compact text (lossless: float32 errors, uint8 images), about a third of the
    JSON lists' size."""

    out = dict(record)
    if isinstance(out.get("recon_per_image"), list):
        out["recon_per_image"] = pack_floats(out["recon_per_image"])
    if isinstance(out.get("grid"), list) and out["grid"]:
        out["grid"] = pack_uint8_images(np.asarray(out["grid"], dtype=np.uint8).reshape(-1, 28, 28))
    if isinstance(out.get("samples"), str) and out["samples"]:
        out["samples"] = pack_uint8_images(unpack_images(out["samples"]))
    return out


def mnist_cells(results) -> list[MnistCell]:
    return [MnistCell.from_record(r) for r in results.records()]


def recon_gaps(results, objective: str) -> dict | None:
    """recon(Iso-LWGAN) - recon(base LWGAN) of one objective on the same test images: per seed the
    gap with a t-interval over the images, and the crossed interval over images and seeds
    (bench.stats.crossed_interval: every seed is scored on the same images). None when base or
    Iso-LWGAN is missing."""

    mine = [c for c in mnist_cells(results) if c.objective == objective]
    base = {c.seed: c for c in mine if c.name == BASE}
    iso = {c.seed: c for c in mine if c.name == ISO}
    seeds = sorted(set(base) & set(iso))
    if not seeds:
        return None
    table = np.stack([np.asarray(iso[s].recon_per_image) - np.asarray(base[s].recon_per_image) for s in seeds])
    per_seed = {s: tuple(crossed_interval(table[k : k + 1])[:3]) for k, s in enumerate(seeds)}
    return {"per_seed": per_seed, "crossed": crossed_interval(table), "images": table.shape[1]}
