"""The record of a toy cell (`bench isometry`, `bench stochastic`): one trained model's
measurements, shared by the toy experiment (bench.experiments.toy.toy_base) and its reports."""

from __future__ import annotations

from dataclasses import dataclass, field, fields


def cell_name(cell: dict) -> str:
    return f"{cell['objective']} λ={cell['lambda_iso']:g} σ={cell['sigma_noise']:g} s{cell['seed']}"


@dataclass
class ToyCell:
    """One cell's measurements (a record, and the columns of the CSV)."""

    dataset: str
    objective: str
    lambda_iso: float
    sigma_noise: float
    seed: int
    eval_rank: int
    discrepancy: float  # mean |‖z_i - z_j‖ - ‖G_i - G_j‖| over held-out pairs, z = Q(x, r)
    discrepancy_lo: float
    discrepancy_hi: float
    recon: float  # mean ‖x - G(Q(x, r), eps)‖ over held-out points
    recon_lo: float
    recon_hi: float
    # Energy distance between G(Z_r, eps) and the held-out points. No interval per seed: it is
    # not a mean over points, and its percentile bootstrap is biased upward (repeated points in a
    # resample look like a worse fit), so its spread is shown over seeds only.
    energy: float
    # As the authors measured, on one shuffled training batch of 128: the discrepancy averaged
    # over all 128 x 128 entries (the diagonal's zeros included), and the diversity of 10 draws
    # for each of the batch's first 5 inputs.
    batch_discrepancy: float
    batch_diversity: float
    # Stability: the standard deviation of the per-step training reconstruction loss over the
    # last quarter of training (a loss that still jumps about has not settled).
    loss_spread: float
    # Collapse diagnosis. early_recon: the training reconstruction over the first tenth of
    # training (a model stuck near the constant map from the start shows it there). The stated
    # LWGAN objective at the trained model and eval rank r, from the rank score's evaluations
    # (refitted critic): recon + critic gap + lambda_mmd MMD + lambda_iso discrepancy +
    # lambda_rank r (None for the published autoencoder, which has no critic). Latent and data
    # distances between the two modes' centres (two_gaussians only): the isometric term asks
    # the latent gap to equal the data's, the MMD asks the latent codes to be N(0, I).
    early_recon: float
    objective_value: float | None
    latent_mode_gap: float | None
    data_mode_gap: float | None
    diversity: float  # mean over held-out inputs of the mean pairwise l2 of `draws` G(z, eps)
    diversity_lo: float
    diversity_hi: float
    interp_irregularity: float  # mean step std/mean along decoded latent lines
    trivial_recon: float  # the error of the constant map at the training mean, E‖x - mean‖
    collapsed: bool  # recon >= COLLAPSE x trivial_recon: Q or G (nearly) constant
    rank_estimate: int | None  # LWGAN's rank score (None: the autoencoder has no critic)
    lambda_hat: float | None
    train_time_s: float
    eval_time_s: float
    loaded: bool
    checkpoint: str  # content digest of the trained model
    data_fingerprint: str
    discrepancy_by_rank: list[float] = field(default_factory=list)
    mode_shares: list[float] = field(default_factory=list)
    # The rank estimate's margin (lwgan.rank.rank_margin): the penalised score's gap to the
    # runner-up (to the truth when the estimate is wrong) in standard errors; claim 9's evidence.
    rank_truth: int | None = None
    rank_margin: float | None = None
    rank_rival: int | None = None
    # Plot data (not in the CSV): generated points, decoded latent lines, draws per input.
    samples: list = field(default_factory=list, repr=False)
    interp: list = field(default_factory=list, repr=False)
    interp_ends: list = field(default_factory=list, repr=False)  # [P, 2, D]: the pairs' data points
    draw_sets: list = field(default_factory=list, repr=False)

    @property
    def label(self) -> str:
        return cell_name(
            {
                "objective": self.objective,
                "lambda_iso": self.lambda_iso,
                "sigma_noise": self.sigma_noise,
                "seed": self.seed,
            }
        )

    @classmethod
    def from_record(cls, record: dict) -> ToyCell:
        """A record's cell; fields added since (the rank margin) take their defaults."""
        return cls(**{f.name: record[f.name] for f in fields(cls) if f.name in record})


PLOT_FIELDS = ("samples", "interp", "interp_ends", "draw_sets", "discrepancy_by_rank", "mode_shares")


def toy_cells(results) -> list[ToyCell]:
    return [ToyCell.from_record(r) for r in results.records()]
