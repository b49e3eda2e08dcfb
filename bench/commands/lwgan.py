"""`bench rank` (LWGAN's intrinsic-dimension estimate on data of known dimension) and
`bench generators` (the generator-variant and recipe registries)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bench.options import (
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

RANK_EPILOG = """Examples:

  bench rank                                   # six manifolds x fresh seeds 3-7 (0-2 chose the schedule)

  bench rank --dataset swissroll --seeds 0 --no-track

  bench rank --schedule public --device cuda   # the public code's toy settings and rank-score
                                               # protocol (hours on a CPU)

  bench rank --protocol training               # default training, the public code's scoring
"""


def rank_cmd(
    dataset: Annotated[str, typer.Option("--dataset", help="Comma list of synthetic datasets with a known intrinsic dimension (the LWGAN paper's swissroll, scurve, hyperplane; helix, torus, subspace10 never used to choose the schedule).")] = "swissroll,scurve,hyperplane,helix,torus,subspace10",
    seeds: SeedsOpt = "3,4,5,6,7",
    generator: Annotated[str, typer.Option("--generator", help="LWGAN-family variant to train (see `bench generators`).")] = "lwgan",
    z_max: Annotated[int | None, typer.Option("--z-max", help="Largest rank scored (default per dataset: 5 for data of dimension 1-2, the truth + 3 otherwise, as the public code: hyperplane 7, subspace10 8).")] = None,
    schedule: Annotated[str, typer.Option("--schedule", help="Training settings: default (fits 20 min on 2 CPU cores) or public (the public code's toy settings, for a GPU). The options below override either.")] = "default",
    iterations: Annotated[int | None, typer.Option("--iterations", help="Total primal-dual iterations (default schedule: 9000 in four phases; a new total is shared out in their proportions).")] = None,
    iter_d: Annotated[int | None, typer.Option("--iter-d", help="Critic steps per iteration.")] = None,
    iter_gq: Annotated[int | None, typer.Option("--iter-gq", help="Encoder/generator steps per iteration.")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Adam learning rate (of every phase of the default schedule).")] = None,
    width: Annotated[int | None, typer.Option("--width", help="Structural width of Q, G and f (hidden layers are 1x..8x).")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Training batch size.")] = None,
    lambda_mmd: Annotated[float | None, typer.Option("--lambda-mmd", help="Weight of the MMD term.")] = None,
    lambda_gp: Annotated[float | None, typer.Option("--lambda-gp", help="Weight of the gradient penalty.")] = None,
    protocol: Annotated[str | None, typer.Option("--protocol", help="How the rank score is evaluated: refit (encoder and generator frozen, the critic refitted; the default schedule's) or training (the public code's: training goes on between evaluations; the public schedule's).")] = None,
    reps: Annotated[int | None, typer.Option("--reps", help="Evaluations of the rank score on fresh held-out batches (default: 20 with refit, 50 with training, as the public code).")] = None,
    eval_batch: Annotated[int, typer.Option("--eval-batch", help="Points per evaluation.")] = 512,
    critic_steps: Annotated[int, typer.Option("--critic-steps", help="Protocol refit: before scoring, refit a copy of the critic to the final encoder and generator for this many steps (0: score with the trained critic).")] = 1000,
    every: Annotated[int, typer.Option("--every", help="Protocol training: primal-dual iterations between evaluations.")] = 20,
    workers: WorkersOpt = None,
    threads: ThreadsOpt = None,
    resume: ResumeOpt = False,
    retrain: RetrainOpt = False,
    device: DeviceOpt = "auto",
    out: OutOpt = Path("reports"),
    tracking_uri: TrackingUriOpt = None,
    experiment: ExperimentOpt = None,
    no_track: NoTrackOpt = False,
) -> None:  # fmt: skip
    """Train LWGAN on data of known intrinsic dimension, estimate the dimension by the penalised
    rank score, and report it beside the truth and beside MLE and TwoNN on the same data."""
    from bench.data import SYNTHETIC
    from bench.experiments.rank import PROTOCOL_REPS, PROTOCOLS, SCHEDULE_PROTOCOL, SCHEDULES

    datasets = parse_list(dataset, option="--dataset", cast=str, choices=list(SYNTHETIC))
    if schedule not in SCHEDULES:
        raise OptionError(f"--schedule: expected one of {', '.join(SCHEDULES)}, got {schedule!r}")
    protocol = protocol or SCHEDULE_PROTOCOL[schedule]
    if protocol not in PROTOCOLS:
        raise OptionError(f"--protocol: expected one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    reps = PROTOCOL_REPS[protocol] if reps is None else reps
    seed_list = parse_list(seeds, option="--seeds", cast=parse_int, minimum=0)
    for value, option in ((z_max, "--z-max"), (iterations, "--iterations"), (iter_d, "--iter-d"),
                          (iter_gq, "--iter-gq"), (lr, "--lr"), (width, "--width"),
                          (batch_size, "--batch-size"), (reps, "--reps"), (eval_batch, "--eval-batch"),
                          (every, "--every"),):  # fmt: skip
        check_positive(value, option)
    check_positive(lambda_mmd, "--lambda-mmd", allow_zero=True)
    check_positive(critic_steps, "--critic-steps", allow_zero=True)
    check_positive(lambda_gp, "--lambda-gp", allow_zero=True)
    if reps < 2:
        raise OptionError(
            f"--reps: expected at least 2 (the penalty needs a standard error), got {reps}"
        )
    if batch_size is not None and batch_size < 2:
        raise OptionError(f"--batch-size: expected at least 2, got {batch_size}")
    from lwgan.registry import generator_names, get_generator

    # The rank score needs the critic and the MMD: the autoencoder objective trains neither.
    lw = [g for g in generator_names(family="lwgan") if get_generator(g).config.objective == "lwgan"]
    if generator not in lw:
        raise OptionError(
            f"--generator: {generator!r} is not an LWGAN-objective variant; accepted: {', '.join(lw)}"
        )

    from bench.experiments.rank import RankSettings

    overrides = {
        "iterations": iterations, "iter_d": iter_d, "iter_gq": iter_gq, "lr": lr,
        "width_q": width, "width_g": width, "width_d": width, "batch_size": batch_size,
        "lambda_mmd": lambda_mmd, "lambda_gp": lambda_gp,
    }  # fmt: skip
    settings = RankSettings(
        datasets=tuple(datasets), seeds=tuple(seed_list), generator=generator, z_max=z_max,
        overrides={k: v for k, v in overrides.items() if v is not None}, reps=reps,
        eval_batch=eval_batch, protocol=protocol, critic_steps=critic_steps, every=every,
        schedule=schedule,
    )  # fmt: skip
    for d in datasets:  # a bad combination (e.g. --z-max with a conv variant) fails before training
        settings.spec(d, SYNTHETIC[d].ambient_dim)
    from bench.commands.common import run

    run("rank", settings, out=out, device=device, resume=resume, retrain=retrain, workers=workers,
        threads=threads, tracking_uri=tracking_uri, experiment=experiment, no_track=no_track)  # fmt: skip


def generators_cmd() -> None:
    """List the generator variants and the training recipes a name may carry after a dot
    (`lwgan.rank`, `iso-lwgan.mnist-tiny`)."""
    from rich.console import Console
    from rich.table import Table

    from lwgan.recipes import RECIPES
    from lwgan.registry import DEFAULT_RECIPE, generator_names, get_generator

    table = Table(title="Generator variants (use the name with --generator; the name alone takes "
                  f"the recipe `{DEFAULT_RECIPE}`)")  # fmt: skip
    for col in ("name", "family", "data kind", "key config", "description"):
        table.add_column(col, no_wrap=col in ("name", "family", "data kind"))
    for name in generator_names():
        spec = get_generator(name)
        table.add_row(name, spec.family, spec.data_kind, spec.key_text(), spec.description)
    console = Console()
    console.print(table)
    recipes = Table(title="Training recipes (variant.recipe, e.g. lwgan.rank)")
    for col in ("recipe", "family", "description"):
        recipes.add_column(col, no_wrap=col != "description")
    for r in RECIPES.values():
        recipes.add_row(r.name, r.family, r.description)
    console.print(recipes)


def register(app: typer.Typer) -> None:
    from bench.commands.executor import executor_options

    app.command("rank", epilog=RANK_EPILOG)(executor_options(rank_cmd))
    app.command("generators")(generators_cmd)
