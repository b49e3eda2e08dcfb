"""The record of a `bench rank` cell (one dataset and seed), shared by the experiment
(bench.experiments.rank.rank_run) and its report."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from bench.experiments.rank.rank_settings import TUNING_SEEDS


@dataclass
class RankCell:
    dataset: str
    seed: int
    truth: int
    ambient: int
    estimate: int
    argmin_unpenalised: int
    lambda_hat: float
    mle: float
    twonn: float
    train_time_s: float  # of the training that produced the checkpoint (0 if it predates metrics)
    score_time_s: float
    loaded: bool  # the checkpoint came from the cache
    checkpoint: str  # its content digest
    data_fingerprint: str
    # The estimate's margin (lwgan.rank.rank_margin): the penalised score's gap to its rival (the
    # runner-up, or the truth when the estimate is wrong) in standard errors of that gap.
    margin: float | None = None
    rival: int | None = None
    ranks: list[int] = field(default_factory=list)
    mean: list[float] = field(default_factory=list)  # score per rank
    se: list[float] = field(default_factory=list)
    penalised: list[float] = field(default_factory=list)
    components: dict[str, list[float]] = field(default_factory=dict)  # mean of each score term
    config: dict = field(default_factory=dict)

    @property
    def correct(self) -> bool:
        return self.estimate == self.truth

    @property
    def fresh(self) -> bool:
        """The seed was not among those the schedule was chosen on."""
        return self.seed not in TUNING_SEEDS

    @classmethod
    def from_record(cls, record: dict) -> RankCell:
        return cls(**{f.name: record[f.name] for f in fields(cls) if f.name in record})
