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
    SeedsOpt,
    TrackingUriOpt,
    check_positive,
    parse_int,
    parse_list,
)

ISOMETRY_EPILOG = """Examples:

  bench isometry                                   # lambda 0,0.5,1,2 x seeds 0,1,2, LWGAN objective

  bench isometry --objective both                  # LWGAN and the as-published autoencoder side by side

  bench isometry --lambda 0,1 --seeds 0 --iterations 300 --out reports/quick
"""

STOCHASTIC_EPILOG = """Examples:

  bench stochastic                                 # sigma 0,0.1,0.5 x seeds 0,1,2

  bench stochastic --sigma 0,0.05,0.1,0.5 --lambda-iso 1

  bench stochastic --objective autoencoder         # the published run's setup (no critic)
"""

MNIST_EPILOG = """Examples:

  bench mnist --data-dir ../shared/data/mnist      # the default brief budget (~30 min on 2 CPU cores)

  bench mnist --budget long --device cuda --seeds 0,1,2

  bench mnist --budget 2000                        # the default budget with 2,000 iterations per model
"""

OBJECTIVES = ("lwgan", "autoencoder", "both")
BUDGET_NAMES = ("tiny", "default", "long")

ObjectiveOpt = Annotated[
    str,
    typer.Option("--objective", help="lwgan (the full objective), autoencoder (as published: "
                 "reconstruction + isometric term only) or both (side by side)."),
]  # fmt: skip
IterationsOpt = Annotated[
    int | None, typer.Option("--iterations", help="Training iterations per model (default 1500).")
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
CriticStepsOpt = Annotated[
    int,
    typer.Option("--critic-steps", help="Before the rank score, refit a copy of the critic to the "
                 "final encoder and generator for this many steps (0: the trained critic)."),
]  # fmt: skip
ThreadsOpt = Annotated[
    int | None,
    typer.Option("--threads", help="torch CPU threads (toy default 1: the small MLPs run fastest "
                 "on one; mnist default: torch's own)."),
]  # fmt: skip
RetrainOpt = Annotated[bool, typer.Option("--retrain", help="Train again even when cached.")]


def _objectives(objective: str) -> tuple[str, ...]:
    if objective not in OBJECTIVES:
        raise OptionError(f"--objective: unknown value {objective!r}; accepted: {', '.join(OBJECTIVES)}")
    return ("lwgan", "autoencoder") if objective == "both" else (objective,)


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


def _threads(threads: int | None, default: int | None) -> None:
    check_positive(threads, "--threads")
    n = threads if threads is not None else default
    if n is not None:
        import torch

        torch.set_num_threads(n)


def _toy_common(seeds, iterations, width, z_max, rank_reps, critic_steps) -> tuple[int, ...]:
    check_positive(critic_steps, "--critic-steps", allow_zero=True)
    for value, option in ((iterations, "--iterations"), (width, "--width"), (z_max, "--z-max"),
                          (rank_reps, "--rank-reps")):  # fmt: skip
        check_positive(value, option)
    if rank_reps < 2:
        raise OptionError(f"--rank-reps: expected at least 2 (a standard error needs two), got {rank_reps}")
    return tuple(parse_list(seeds, option="--seeds", cast=parse_int, minimum=0))


def _run(console, fn, **kwargs):
    """Run a library experiment with rich bars on stderr and cache notices printed."""
    from bench.progress import rich_progress
    from bench.report import command_line

    def event(msg: str) -> None:
        console.print(f"  {msg}", highlight=False)

    with rich_progress(console) as progress:
        return fn(command=command_line(), progress=progress, on_event=event, **kwargs)


def _print_output(output, rows: list[dict], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=title, title_justify="left")
    for col in rows[0] if rows else []:
        table.add_column(col)
    for r in rows:
        table.add_row(*(str(v) for v in r.values()))
    console.print(table)
    console.print(f"report: {output.report}\nresults: {output.csv}")
    for p in output.figures:
        if p.suffix == ".pdf":
            console.print(f"figure: {p}")
    if output.parent_run_id:
        console.print(f"MLflow parent run: {output.parent_run_id}" + (f" ({output.run_url})" if output.run_url else ""))
    console.print(f"wall time: {output.results.wall_time_s / 60:.1f} min")


def isometry_cmd(
    lambdas: Annotated[str, typer.Option("--lambda", help="Comma-separated lambda_iso values (>= 0).")] = "0,0.5,1,2",
    seeds: SeedsOpt = "0,1,2",
    objective: ObjectiveOpt = "lwgan",
    iterations: IterationsOpt = None,
    width: WidthOpt = None,
    z_max: ZMaxOpt = 3,
    eval_rank: EvalRankOpt = "max",
    rank_reps: RankRepsOpt = 10,
    critic_steps: CriticStepsOpt = 100,
    threads: ThreadsOpt = None,
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

    from rich.console import Console

    from bench.experiments.isometry import isometry_settings, run_isometry_experiment, verdicts
    from bench.options import resolve_device

    _threads(threads, 1)
    dev = resolve_device(device)
    extra = {k: v for k, v in (("iterations", iterations), ("width", width)) if v is not None}
    settings = isometry_settings(lams, seed_list, objectives, z_max=z_max, eval_rank=rank,
                                 rank_reps=rank_reps, rank_critic_steps=critic_steps, **extra)  # fmt: skip
    console = Console(stderr=True)
    console.print(f"[bold]bench isometry[/]: {len(settings.cells())} models ({len(objectives)} "
                  f"objective(s) x {len(lams)} lambda_iso x {len(seed_list)} seed(s)), "
                  f"{settings.iterations} iterations each, on {dev}")  # fmt: skip
    output = _run(console, run_isometry_experiment, settings=settings, out=out, device=dev,
                  retrain=retrain, track=not no_track, tracking_uri=tracking_uri,
                  experiment=experiment)  # fmt: skip
    rows = [{"objective": o, "verdict": v, "numbers": d} for o, (v, d) in verdicts(output.results).items()]
    _print_output(output, rows, "Isometry: verdict per objective")


def stochastic_cmd(
    sigmas: Annotated[str, typer.Option("--sigma", help="Comma-separated sigma_noise values (>= 0).")] = "0,0.1,0.5",
    lambda_iso: Annotated[float, typer.Option("--lambda-iso", help="Isometric weight (0: the noise alone, as published).")] = 0.0,
    seeds: SeedsOpt = "0,1,2",
    objective: ObjectiveOpt = "lwgan",
    iterations: IterationsOpt = None,
    width: WidthOpt = None,
    z_max: ZMaxOpt = 3,
    eval_rank: EvalRankOpt = "max",
    rank_reps: RankRepsOpt = 10,
    critic_steps: CriticStepsOpt = 100,
    threads: ThreadsOpt = None,
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

    from rich.console import Console

    from bench.experiments.stochastic import (
        run_stochastic_experiment,
        stochastic_settings,
        verdicts,
    )
    from bench.options import resolve_device

    _threads(threads, 1)
    dev = resolve_device(device)
    extra = {k: v for k, v in (("iterations", iterations), ("width", width)) if v is not None}
    settings = stochastic_settings(sigma_list, seed_list, objectives, lambda_iso, z_max=z_max,
                                   eval_rank=rank, rank_reps=rank_reps, rank_critic_steps=critic_steps, **extra)  # fmt: skip
    console = Console(stderr=True)
    console.print(f"[bold]bench stochastic[/]: {len(settings.cells())} models ({len(objectives)} "
                  f"objective(s) x {len(sigma_list)} sigma_noise x {len(seed_list)} seed(s)), "
                  f"{settings.iterations} iterations each, on {dev}")  # fmt: skip
    output = _run(console, run_stochastic_experiment, settings=settings, out=out, device=dev,
                  retrain=retrain, track=not no_track, tracking_uri=tracking_uri,
                  experiment=experiment)  # fmt: skip
    rows = [{"objective": o, "verdict": v, "numbers": d} for o, (v, d) in verdicts(output.results).items()]
    _print_output(output, rows, "Stochastic generator: verdict per objective")


def mnist_cmd(
    budget: Annotated[str, typer.Option("--budget", help="Training budget: tiny, default (about 30 min on 2 CPU cores), long, or a number of iterations (the default budget's other settings).")] = "default",
    seeds: SeedsOpt = "0",
    lambda_iso: Annotated[float, typer.Option("--lambda-iso", help="Isometric weight of the models with the term on.")] = 1.0,
    sigma: Annotated[float, typer.Option("--sigma", help="sigma_noise of the models with noise on.")] = 0.1,
    eval_rank: EvalRankOpt = "max",
    threads: ThreadsOpt = None,
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

    from rich.console import Console

    from bench.data import load_mnist
    from bench.experiments.mnist import MnistSettings, mnist_verdict, run_mnist_experiment
    from bench.options import resolve_device

    _threads(threads, None)
    dev = resolve_device(device)
    settings = MnistSettings(budget=budget, iterations=iterations, seeds=seed_list,
                             lambda_iso=lambda_iso, sigma_noise=sigma, eval_rank=rank)  # fmt: skip
    train = settings.train_overrides()
    console = Console(stderr=True)
    mnist = load_mnist(data_dir)
    console.print(f"[bold]bench mnist[/]: {len(settings.configs) * len(seed_list)} models (2x2 "
                  f"ablation x {len(seed_list)} seed(s)), budget {settings.budget}: "
                  f"{train['iterations']} iterations of batch {train['batch_size']} each, on {dev}")  # fmt: skip
    output = _run(console, run_mnist_experiment, settings=settings, mnist=mnist, out=out,
                  device=dev, retrain=retrain, track=not no_track, tracking_uri=tracking_uri,
                  experiment=experiment)  # fmt: skip
    label, detail = mnist_verdict(output.results)
    rows = [{"model": c.name, "seed": c.seed, "recon": f"{c.recon:.3f}",
             "frechet": f"{c.frechet:.2f}", "rank": c.rank_estimate,
             "discrepancy": f"{c.discrepancy:.3f}"} for c in output.results.cells]  # fmt: skip
    _print_output(output, rows, f"MNIST: {label} ({detail})")


def register(app: typer.Typer) -> None:
    app.command("isometry", epilog=ISOMETRY_EPILOG)(isometry_cmd)
    app.command("stochastic", epilog=STOCHASTIC_EPILOG)(stochastic_cmd)
    app.command("mnist", epilog=MNIST_EPILOG)(mnist_cmd)
