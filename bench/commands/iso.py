"""`bench isometry`, `bench stochastic`, `bench mnist`: the three Iso-LWGAN experiments."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bench.options import (
    DataDirOpt,
    DeviceOpt,
    ExperimentOpt,
    NoTrackOpt,
    OptionError,
    OutOpt,
    ResumeOpt,
    RetrainOpt,
    SeedsOpt,
    ThreadsOpt,
    TrackingUriOpt,
    WorkersOpt,
    check_positive,
    parse_int,
    parse_list,
)

ISOMETRY_EPILOG = """Examples:

  bench isometry                                   # lambda 0,0.5,1,2 x seeds 0,1,2, both objectives

  bench isometry --objective published             # the authors' published run alone (seconds)

  bench isometry --lambda 0,1 --seeds 0 --iterations 300 --out reports/quick
"""

STOCHASTIC_EPILOG = """Examples:

  bench stochastic                                 # sigma 0,0.1,0.5 x seeds 0,1,2

  bench stochastic --sigma 0,0.05,0.1,0.5 --lambda-iso 1

  bench stochastic --objective lwgan               # the full LWGAN objective alone
"""

MNIST_EPILOG = """Examples:

  bench mnist --data-dir ../shared/data/mnist      # the default budget, seeds 0,1,2 (about 35 min on 2 CPU cores)

  bench mnist --budget public --device cuda        # the public LWGAN code's MNIST schedule (a GPU one)

  bench mnist --budget 4000 --seeds 0              # the default budget with 4,000 iterations per model
"""

OBJECTIVES = ("lwgan", "published", "both", "autoencoder")  # autoencoder: the old name of published
BUDGET_NAMES = ("default", "public", "tiny", "public-tiny")

ObjectiveOpt = Annotated[
    str,
    typer.Option("--objective", help="lwgan (the full objective the paper states), published (the "
                 "authors' public run exactly: a plain autoencoder with the isometric term and the "
                 "noise; `autoencoder` is its old name) or both, side by side."),
]  # fmt: skip
IterationsOpt = Annotated[
    int | None, typer.Option("--iterations", help="Training iterations per LWGAN model (default 1500; the published run's epochs are fixed).")
]
WidthOpt = Annotated[
    int | None, typer.Option("--width", help="Network width (hidden layers are 1x-8x it; default 16).")
]
ZMaxOpt = Annotated[int, typer.Option("--z-max", help="Largest latent rank (the published toy z_dim: 3).")]
EvalRankOpt = Annotated[
    str,
    typer.Option("--eval-rank", help="Rank r of Q(x, r) and Z_r when measuring: max (z_max), "
                 "estimate (LWGAN's estimated rank) or an integer."),
]  # fmt: skip
RankRepsOpt = Annotated[int, typer.Option("--rank-reps", help="Fresh held-out batches of the rank score.")]
IsoStartOpt = Annotated[
    float | None,
    typer.Option("--iso-start", help="LWGAN objective: fraction of training without the isometric "
                 "term, a warm start (default 0.2; 0 trains with it from the first step)."),
]  # fmt: skip
CriticStepsOpt = Annotated[
    int,
    typer.Option("--critic-steps", help="Before the rank score, refit a copy of the critic to the "
                 "final encoder and generator for this many steps (0: the trained critic)."),
]  # fmt: skip
def _objectives(objective: str) -> tuple[str, ...]:
    if objective not in OBJECTIVES:
        raise OptionError(f"--objective: unknown value {objective!r}; accepted: {', '.join(OBJECTIVES)}")
    if objective == "both":
        return ("lwgan", "published")
    return ("published",) if objective == "autoencoder" else (objective,)



def _eval_rank(text: str, z_max: int) -> int | str:
    if text in ("max", "estimate"):
        return text
    try:
        r = parse_int(text)
    except ValueError:
        r = None
    if r is None or not 1 <= r <= z_max:
        raise OptionError(f"--eval-rank: expected max, estimate or an integer in 1..{z_max}, got {text!r}")
    return r


def _toy_common(seeds, iterations, width, z_max, rank_reps, critic_steps) -> tuple[int, ...]:
    check_positive(critic_steps, "--critic-steps", allow_zero=True)
    for value, option in ((iterations, "--iterations"), (width, "--width"), (z_max, "--z-max"),
                          (rank_reps, "--rank-reps")):  # fmt: skip
        check_positive(value, option)
    if rank_reps < 2:
        raise OptionError(f"--rank-reps: expected at least 2 (a standard error needs two), got {rank_reps}")
    return tuple(parse_list(seeds, option="--seeds", cast=parse_int, minimum=0))


def isometry_cmd(
    lambdas: Annotated[str, typer.Option("--lambda", help="Comma-separated lambda_iso values (>= 0).")] = "0,0.5,1,2",
    seeds: SeedsOpt = "0,1,2",
    objective: ObjectiveOpt = "both",
    iterations: IterationsOpt = None,
    width: WidthOpt = None,
    z_max: ZMaxOpt = 3,
    eval_rank: EvalRankOpt = "max",
    rank_reps: RankRepsOpt = 10,
    critic_steps: CriticStepsOpt = 1000,
    iso_start: IsoStartOpt = None,
    workers: WorkersOpt = None,
    threads: ThreadsOpt = None,
    resume: ResumeOpt = False,
    retrain: RetrainOpt = False,
    device: DeviceOpt = "auto",
    out: OutOpt = Path("reports"),
    tracking_uri: TrackingUriOpt = None,
    experiment: ExperimentOpt = None,
    no_track: NoTrackOpt = False,
) -> None:
    """Iso-LWGAN experiment 1: pairwise-distance discrepancy between latent and generated points on
    two Gaussians per lambda_iso, beside the paper's 1.20 and 0.02-0.03."""
    lams = parse_list(lambdas, option="--lambda", minimum=0)
    objectives = _objectives(objective)
    seed_list = _toy_common(seeds, iterations, width, z_max, rank_reps, critic_steps)
    rank = _eval_rank(eval_rank, z_max)

    from bench.commands.common import run
    from bench.experiments.isometry import IsometrySettings

    extra = {k: v for k, v in (("iterations", iterations), ("width", width)) if v is not None}
    if iso_start is not None:
        if not 0 <= iso_start <= 1:
            raise OptionError(f"--iso-start: expected a fraction in [0, 1], got {iso_start}")
        extra["overrides"] = {"iso_start": iso_start}
    settings = IsometrySettings(lambdas=tuple(lams), seeds=seed_list, objectives=objectives,
                                z_max=z_max, eval_rank=rank, rank_reps=rank_reps,
                                rank_critic_steps=critic_steps, **extra)  # fmt: skip
    run("isometry", settings, out=out, device=device, resume=resume, retrain=retrain,
        workers=workers, threads=threads, tracking_uri=tracking_uri, experiment=experiment,
        no_track=no_track)  # fmt: skip


def stochastic_cmd(
    sigmas: Annotated[str, typer.Option("--sigma", help="Comma-separated sigma_noise values (>= 0).")] = "0,0.1,0.5",
    lambda_iso: Annotated[float, typer.Option("--lambda-iso", help="Isometric weight (0: the noise alone, as published).")] = 0.0,
    seeds: SeedsOpt = "0,1,2",
    objective: ObjectiveOpt = "both",
    iterations: IterationsOpt = None,
    width: WidthOpt = None,
    z_max: ZMaxOpt = 3,
    eval_rank: EvalRankOpt = "max",
    rank_reps: RankRepsOpt = 10,
    critic_steps: CriticStepsOpt = 1000,
    iso_start: IsoStartOpt = None,
    workers: WorkersOpt = None,
    threads: ThreadsOpt = None,
    resume: ResumeOpt = False,
    retrain: RetrainOpt = False,
    device: DeviceOpt = "auto",
    out: OutOpt = Path("reports"),
    tracking_uri: TrackingUriOpt = None,
    experiment: ExperimentOpt = None,
    no_track: NoTrackOpt = False,
) -> None:
    """Iso-LWGAN experiment 2: output diversity, reconstruction, mode coverage and sample quality
    of the partially stochastic generator on three clusters per sigma_noise."""
    sigma_list = parse_list(sigmas, option="--sigma", minimum=0)
    check_positive(lambda_iso, "--lambda-iso", allow_zero=True)
    objectives = _objectives(objective)
    seed_list = _toy_common(seeds, iterations, width, z_max, rank_reps, critic_steps)
    rank = _eval_rank(eval_rank, z_max)

    from bench.commands.common import run
    from bench.experiments.stochastic import StochasticSettings

    extra = {k: v for k, v in (("iterations", iterations), ("width", width)) if v is not None}
    if iso_start is not None:
        if not 0 <= iso_start <= 1:
            raise OptionError(f"--iso-start: expected a fraction in [0, 1], got {iso_start}")
        extra["overrides"] = {"iso_start": iso_start}
    settings = StochasticSettings(sigmas=tuple(sigma_list), lambdas=(float(lambda_iso),),
                                  seeds=seed_list, objectives=objectives, z_max=z_max,
                                  eval_rank=rank, rank_reps=rank_reps,
                                  rank_critic_steps=critic_steps, **extra)  # fmt: skip
    run("stochastic", settings, out=out, device=device, resume=resume, retrain=retrain,
        workers=workers, threads=threads, tracking_uri=tracking_uri, experiment=experiment,
        no_track=no_track)  # fmt: skip


def mnist_cmd(
    budget: Annotated[str, typer.Option("--budget", help="LWGAN training budget: default (about 2.5 min a model on 2 CPU cores), public (the public LWGAN code's MNIST schedule, for a GPU), tiny and public-tiny (for tests), or a number of iterations (the default budget's other settings).")] = "default",
    seeds: SeedsOpt = "0,1,2",
    objective: ObjectiveOpt = "both",
    lambda_iso: Annotated[float, typer.Option("--lambda-iso", help="Isometric weight of the models with the term on.")] = 1.0,
    sigma: Annotated[float, typer.Option("--sigma", help="sigma_noise of the models with noise on.")] = 0.1,
    eval_rank: EvalRankOpt = "max",
    workers: WorkersOpt = None,
    threads: ThreadsOpt = None,
    resume: ResumeOpt = False,
    retrain: RetrainOpt = False,
    device: DeviceOpt = "auto",
    data_dir: DataDirOpt = None,
    out: OutOpt = Path("reports"),
    tracking_uri: TrackingUriOpt = None,
    experiment: ExperimentOpt = None,
    no_track: NoTrackOpt = False,
) -> None:
    """Iso-LWGAN experiment 3: base LWGAN against Iso-LWGAN on MNIST under one brief budget, with
    the 2x2 ablation (isometric term x noise); reconstruction, Frechet distance, rank, isometry."""
    iterations = None
    if budget not in BUDGET_NAMES:
        try:
            iterations = parse_int(budget)
        except ValueError:
            iterations = 0
        if iterations < 1:
            raise OptionError(f"--budget: expected {', '.join(BUDGET_NAMES)} or a positive number "
                              f"of iterations, got {budget!r}")  # fmt: skip
        budget = "default"
    seed_list = tuple(parse_list(seeds, option="--seeds", cast=parse_int, minimum=0))
    check_positive(lambda_iso, "--lambda-iso", allow_zero=True)
    check_positive(sigma, "--sigma", allow_zero=True)
    rank = _eval_rank(eval_rank, 16)

    from bench.commands.common import run
    from bench.experiments.mnist import MnistSettings

    settings = MnistSettings(budget=budget, iterations=iterations, seeds=seed_list,
                             objectives=_objectives(objective), lambda_iso=lambda_iso,
                             sigma_noise=sigma, eval_rank=rank)  # fmt: skip
    run("mnist", settings, out=out, device=device, resume=resume, retrain=retrain, workers=workers,
        threads=threads, data_dir=data_dir, tracking_uri=tracking_uri, experiment=experiment,
        no_track=no_track)  # fmt: skip


def register(app: typer.Typer) -> None:
    from bench.commands.executor import executor_options

    app.command("isometry", epilog=ISOMETRY_EPILOG)(executor_options(isometry_cmd))
    app.command("stochastic", epilog=STOCHASTIC_EPILOG)(executor_options(stochastic_cmd))
    app.command("mnist", epilog=MNIST_EPILOG)(executor_options(mnist_cmd))
