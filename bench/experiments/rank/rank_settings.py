"""The rank experiment's settings (`bench rank`): which datasets claim 9 is judged on, the schedules
and protocols of the rank score, and the fields a training override may set. Light (no torch), as
every settings module: the command line reads its options from here."""

from __future__ import annotations

from dataclasses import dataclass

from bench.experiments.lwgan_settings import check_overrides, synthetic_names
from bench.settings import SettingError, Settings, setting
from lwgan.recipes import PUBLIC_TOY, get_recipe, with_overrides

# The LWGAN paper's three datasets, and three manifolds never used to choose the schedule.
PAPER_DATASETS = ("swissroll", "scurve", "hyperplane")
FRESH_DATASETS = ("helix", "torus", "subspace10")
# Datasets no encoder into R^(intrinsic dimension) can represent: claim 9 is not put to them (a
# rank estimate there is an out-of-scope probe, reported without a verdict), with the reason.
UNREPRESENTABLE = {
    "torus": "no continuous one-to-one map takes a torus into R^2, so an encoder of rank 2 cannot represent it "
    "and rank 3 is the least that can; the LWGAN paper never used one",
}
# The seeds and datasets the default schedule (recipe `rank`) was revised on until the Swiss roll
# came out right: claim 9 is judged on other seeds only, and the report says which datasets the
# schedule saw.
TUNING_SEEDS = (0, 1, 2)
TUNING_DATASETS = PAPER_DATASETS
# The public LWGAN code's maximum latent dimension per toy dataset (run_toy.sh): 5 for data of
# dimension 1-2, the truth + 3 for the hyperplane. The fresh manifolds follow the same pattern.
Z_MAX = {"swissroll": 5, "scurve": 5, "hyperplane": 7, "helix": 5, "torus": 5, "subspace10": 8}
Z_MAX_EXTRA = 3  # other datasets: ambient dimension + 3
SCHEDULES = {"default": "rank", "public": "public-toy"}  # --schedule -> training recipe
# How the rank score's evaluations are made (lwgan.rank): "refit" freezes the trained encoder and
# generator and refits a copy of the critic; "training" is the public code's, training goes on
# between evaluations. Each schedule's own protocol and evaluation count are the defaults.
PROTOCOLS = ("refit", "training")
SCHEDULE_PROTOCOL = {"default": "refit", "public": "training"}
PROTOCOL_REPS = {"refit": 20, "training": 50}
# --iterations and friends: LWGANConfig fields the command sets over the schedule.
TRAIN_FIELDS = {"iterations": ("iterations",), "iter_d": ("iter_d",), "iter_gq": ("iter_gq",), "lr": ("lr",),
                "width": ("width_q", "width_g", "width_d"), "batch_size": ("batch_size",),
                "lambda_mmd": ("lambda_mmd",), "lambda_gp": ("lambda_gp",)}  # fmt: skip


def public_schedule(dataset: str) -> dict:
    """The public code's toy settings (run_toy.sh) as LWGANConfig fields, meant for a GPU. Swiss
    roll: 5,000 iterations of 5 encoder/generator steps; the others: 10,000 of 1. On 2 CPU cores
    an iteration past the critic's warm-up takes about 0.53 s; a Swiss-roll cell trained in 39 min
    (seed 0, measured), so the default nine cells take about 7-8 h (extrapolated)."""
    swiss = dataset == "swissroll"
    return {**PUBLIC_TOY, "iterations": 5000 if swiss else 10000, "iter_gq": 5 if swiss else 1}


def _lwgan_objective_variants() -> list[str]:
    from lwgan.registry import generator_names, get_generator

    # The rank score needs the critic and the MMD: the autoencoder objective trains neither.
    return [g for g in generator_names(family="lwgan") if get_generator(g).config.objective == "lwgan"]


@dataclass(frozen=True)
class RankSettings(Settings):
    datasets: tuple[str, ...] = setting(
        PAPER_DATASETS + FRESH_DATASETS,
        "Synthetic datasets with a known intrinsic dimension (the LWGAN paper's "
        "swissroll, scurve, hyperplane; helix, torus, subspace10 never used to choose the schedule).",
        aliases=("--dataset",),
        choices=synthetic_names,
    )
    seeds: tuple[int, ...] = setting(
        (3, 4, 5, 6, 7), "Seeds (0-2 chose the default schedule, so claim 9 is not judged on them).", minimum=0
    )
    generator: str = setting(
        "lwgan", "LWGAN-objective variant to train (see `bench generators`).", choices=_lwgan_objective_variants
    )
    z_max: int | None = setting(
        None,
        "Largest rank scored (none: per dataset, 5 for data of dimension 1-2, the "
        "truth + 3 otherwise, as the public code: hyperplane 7, subspace10 8).",
        minimum=1,
    )
    schedule: str = setting(
        "default",
        "Training settings: default (the CPU budget) or public (the public code's "
        "toy settings, for a GPU). The options below override either.",
        choices=tuple(SCHEDULES),
    )
    iterations: int | None = setting(
        None,
        "Total primal-dual iterations (none: the schedule's; a new total is shared out in the phases' proportions).",
        minimum=1,
    )
    iter_d: int | None = setting(None, "Critic steps per iteration (none: the schedule's).", minimum=1)
    iter_gq: int | None = setting(None, "Encoder/generator steps per iteration (none: the schedule's).", minimum=1)
    lr: float | None = setting(
        None,
        "Adam learning rate, of every phase (none: the schedule's).",
        check=lambda v: None if v is None or v > 0 else f"expected a positive number, got {v}",
    )
    width: int | None = setting(None, "Structural width of Q, G and f (none: the schedule's).", minimum=1)
    batch_size: int | None = setting(None, "Training batch size (none: the schedule's).", minimum=2)
    lambda_mmd: float | None = setting(None, "Weight of the MMD term (none: the schedule's).", minimum=0)
    lambda_gp: float | None = setting(None, "Weight of the gradient penalty (none: the schedule's).", minimum=0)
    overrides: dict = setting({}, "LWGANConfig fields over the schedule (JSON).", check=check_overrides, cli=False)
    protocol: str | None = setting(
        None,
        "How the rank score is evaluated: refit (encoder and generator frozen, "
        "the critic refitted) or training (the public code's); none: the schedule's.",
        choices=PROTOCOLS,
    )
    reps: int | None = setting(
        None,
        "Evaluations of the rank score on fresh held-out batches (none: 20 with refit, "
        "50 with training, as the public code).",
        minimum=2,
    )
    eval_batch: int = setting(512, "Points per evaluation.", minimum=2)
    critic_steps: int = setting(
        1000,
        "Protocol refit: before scoring, refit a copy of the critic for this many "
        "steps (0: score with the trained critic).",
        minimum=0,
    )
    every: int = setting(20, "Protocol training: primal-dual iterations between evaluations.", minimum=1)
    mle_k: tuple[int, ...] = setting((10, 20), "Levina-Bickel neighbourhood sizes (k1, k2).", minimum=2, cli=False)

    def check(self) -> None:
        # The schedule's protocol, and the protocol's evaluation count, where not given.
        if self.protocol is None:
            object.__setattr__(self, "protocol", SCHEDULE_PROTOCOL[self.schedule])
        if self.reps is None:
            object.__setattr__(self, "reps", PROTOCOL_REPS[self.protocol])
        if len(self.mle_k) != 2 or self.mle_k[0] > self.mle_k[1]:
            raise SettingError(f"mle_k: expected (k1, k2) with k1 <= k2, got {self.mle_k}")

    def z_max_for(self, dataset: str, ambient: int) -> int:
        return self.z_max if self.z_max is not None else Z_MAX.get(dataset, ambient + Z_MAX_EXTRA)

    def train_overrides(self) -> dict:
        """The LWGANConfig fields this run sets over the schedule."""
        out = {}
        for name, keys in TRAIN_FIELDS.items():
            value = getattr(self, name)
            if value is not None:
                out.update({k: value for k in keys})
        return {**out, **self.overrides}

    def spec(self, dataset: str, ambient: int):
        from lwgan.registry import get_generator

        recipe = SCHEDULES[self.schedule]
        base = get_recipe("lwgan", recipe).settings if self.schedule == "default" else public_schedule(dataset)
        cfg = {**base, "x_shape": (ambient,), "z_max": self.z_max_for(dataset, ambient)}
        return get_generator(f"{self.generator}.{recipe}", **with_overrides(cfg, self.train_overrides()))
