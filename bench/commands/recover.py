"""`bench recover`: the latent-recovery study (tables 1-6 of Cho's latent regulation paper)."""

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
    SeedOpt,
    SeedsOpt,
    TrackingUriOpt,
    check_positive,
    parse_int,
    parse_list,
)

EPILOG = """Examples:

  bench recover --regulator all --grid paper --data-dir ../shared/data/mnist

  bench recover --regulator wasserstein,log_normal_density --grid quick --images 200

  bench recover --regulator energy --lr 0.01,0.1 --hp 0,0.1,1 --seeds 0,1,2

  bench recover --regulator all --grid paper --resume     # finish an interrupted sweep
"""


def recover_cmd(
    regulator: Annotated[str, typer.Option("--regulator", help="'all' (the paper's seven) or a comma list of registry names (see `bench regulators`).")] = "all",
    grid: Annotated[str, typer.Option("--grid", help="paper (the 124 cells of tables 1-6) or quick (two cells per regulator). Ignored with --lr/--hp.")] = "paper",
    lr: Annotated[str | None, typer.Option("--lr", help="Explicit grid: comma-separated learning rates (with --hp).")] = None,
    hp: Annotated[str | None, typer.Option("--hp", help="Explicit grid: comma-separated hyperparameters: loss weight, slope a or cutoff c.")] = None,
    images: Annotated[int, typer.Option("--images", help="Test images to recover (a fixed, seeded subset of the 10,000).")] = 1000,
    steps: Annotated[int, typer.Option("--steps", help="Adam steps per recovery.")] = 200,
    restarts: Annotated[int, typer.Option("--restarts", help="Candidate latents per image; the lowest final loss is kept (the author's code: 16).")] = 1,
    seeds: SeedsOpt = "0",
    generator: Annotated[str, typer.Option("--generator", help="Generator variant (see `bench generators`).")] = "lsgan",
    latent_dim: Annotated[int | None, typer.Option("--latent-dim", help="d_z of the generator (default 256).")] = None,
    arch: Annotated[str | None, typer.Option("--arch", help="LSGAN architecture: mlp (default, CPU) or cho (the author's, for GPUs).")] = None,
    prior_samples: Annotated[int | None, typer.Option("--prior-samples", help="m, the size of the fresh prior sample of the Wasserstein/energy regulators (default d_z; the author's code: 1,000).")] = None,
    max_batch: Annotated[int | None, typer.Option("--max-batch", help="Rows (cell x image x restart) per forward pass; bounds memory.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Keep the cells an earlier run of the same sweep finished; run the rest.")] = False,
    retrain: Annotated[bool, typer.Option("--retrain", help="Retrain the classifier and generator even if cached.")] = False,
    quality_samples: Annotated[int, typer.Option("--quality-samples", help="Generator samples judged by the classifier (digit shares, Frechet distance).")] = 10_000,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    data_dir: DataDirOpt = None,
    out: OutOpt = Path("reports"),
    tracking_uri: TrackingUriOpt = None,
    experiment: ExperimentOpt = None,
    no_track: NoTrackOpt = False,
) -> None:
    """Recover 1,000 MNIST test images through a trained LSGAN under every latent regulator and
    score them with a frozen classifier; write the report beside the paper's tables."""
    import regulators as regs

    # Validate everything before loading data or models: a typo costs no training time.
    names = regs.names(include_extras=False) if regulator.strip() == "all" else parse_list(
        regulator, option="--regulator", cast=str, choices=regs.names())
    if (lr is None) != (hp is None):
        raise OptionError("--lr/--hp: an explicit grid needs both (e.g. --lr 0.01,0.1 --hp 0,0.1,1)")
    if lr is not None:
        lrs = parse_list(lr, option="--lr", minimum=0)
        if 0 in lrs:
            raise OptionError("--lr: learning rates must be positive")
        hps = parse_list(hp, option="--hp")
        grid_name = "explicit"
    else:
        from bench.recovery.grid import GRIDS

        if grid not in GRIDS:
            raise OptionError(f"--grid: unknown grid {grid!r}; accepted: {', '.join(GRIDS)} (or --lr/--hp lists)")
        lrs, hps, grid_name = [], [], grid
    for value, option in ((images, "--images"), (steps, "--steps"), (restarts, "--restarts"),
                          (latent_dim, "--latent-dim"), (prior_samples, "--prior-samples"),
                          (max_batch, "--max-batch"), (quality_samples, "--quality-samples")):
        check_positive(value, option)
    if images > 10_000:
        raise OptionError(f"--images: expected 1..10000 (the MNIST test set), got {images}")
    seed_list = parse_list(seeds, option="--seeds", cast=parse_int, minimum=0)
    from lwgan.registry import generator_names, get_generator

    mnist_gens = [g for g in generator_names() if get_generator(g).family == "lsgan"]
    if generator not in mnist_gens:
        raise OptionError(f"--generator: {generator!r} is not a recovery generator; accepted: {', '.join(mnist_gens)}")

    from rich.console import Console

    from bench.data import load_mnist
    from bench.options import resolve_device
    from bench.progress import rich_progress
    from bench.recovery.run import load_models, model_plan, run_recover
    from bench.recovery.sweep import RecoverSettings
    from bench.report import command_line

    console = Console(stderr=True)
    dev = resolve_device(device)
    settings = RecoverSettings(regulators=tuple(names), grid=grid_name, lrs=tuple(lrs), hps=tuple(hps),
                               images=images, subset_seed=seed, steps=steps, restarts=restarts,
                               seeds=tuple(seed_list), generator=generator, prior_samples=prior_samples)
    try:
        cells = settings.cells()
    except ValueError as e:
        raise OptionError(f"--grid: {e}") from None
    overrides = {"latent_dim": latent_dim, "arch": arch}
    mnist = load_mnist(data_dir)

    # Say what will happen before it starts (training may take a while on a CPU).
    plan = model_plan(generator, mnist, seed=seed, **overrides)
    runs = len({c.run_id for c in cells})
    console.print(f"[bold]bench recover[/]: {len(cells)} cells ({runs} distinct runs) x {len(seed_list)} seed(s) x "
                  f"{images} images x {steps} steps x {restarts} restart(s) on {dev}; regulators: {', '.join(names)}")
    for p in plan:
        if p["cached"] and not retrain:
            console.print(f"  {p['kind']}: cached ({p['path']})")
        else:
            est = f", about {p['est_minutes']} min on 2 CPU cores" if p["est_minutes"] else ""
            console.print(f"  {p['kind']}: not cached, will train it now{est}")

    def event(msg: str) -> None:
        console.print(f"  {msg}", highlight=False)

    with rich_progress(console) as progress:
        models = load_models(generator, mnist, seed=seed, device=dev, progress=progress, on_event=event,
                             retrain=retrain, quality_samples=quality_samples, **overrides)
    f = models.facts
    console.print(f"  classifier test accuracy {f['classifier_test_accuracy']:.2f}%; generator Frechet "
                  f"{f['generator_frechet']:.2f}, smallest digit share {100 * f['generator_min_share']:.1f}% "
                  f"(digit {f['generator_min_share_digit']})")
    if f["generator_min_share"] < 0.05:
        console.print("  [yellow]warning[/]: the generator under-produces a digit (<5% of samples); recovery "
                      "accuracy on it is capped")

    from bench.recovery.run import estimate_sweep_seconds

    est = estimate_sweep_seconds(settings, models, mnist, device=dev)
    console.print(f"  sweep: about {est / 60:.0f} min (timed on a few steps here)")
    try:
        with rich_progress(console) as progress:
            output = run_recover(settings, mnist=mnist, models=models, out=out, device=dev, resume=resume,
                                 max_batch=max_batch, track=not no_track, tracking_uri=tracking_uri,
                                 experiment=experiment, command=command_line(), progress=progress,
                                 on_event=event)
    except KeyboardInterrupt:
        console.print(f"interrupted: finished cells are kept under {out / 'recover-runs'}; "
                      "rerun the same command with --resume to finish", style="yellow")
        raise typer.Exit(130) from None
    _print_summary(output)


def _print_summary(output) -> None:
    from rich.console import Console
    from rich.table import Table

    from bench.recovery.report import best_cells, cell_frame, summary_frame, verdict

    frame = summary_frame(cell_frame(output.result))
    best = best_cells(frame)
    table = Table(title="Best cell per regulator (accuracy %, measured vs paper)")
    for col in ("regulator", "measured best cell", "measured", "paper best cell", "paper"):
        table.add_column(col)
    for _, b in best.iterrows():
        paper = "" if b["paper_accuracy"] != b["paper_accuracy"] else f"{b['paper_accuracy']:.1f}"
        table.add_row(b["regulator"], b["measured_best_cell"], b["measured_ci"], b["paper_best_cell"], paper)
    console = Console()
    console.print(table)
    v = verdict(best)
    console.print(f"verdict on the paper's conclusion: [bold]{v.label}[/] ({v.rule})")
    failed = sum(not r.ok for r in output.result.results.values())
    if failed:
        console.print(f"[yellow]{failed} run(s) failed[/]: see the report")
    console.print(f"report: {output.report}\nresults: {output.csv}")
    for p in output.figures:
        console.print(f"figure: {p}")
    if output.parent_run_id:
        console.print(f"MLflow parent run: {output.parent_run_id}" + (f" ({output.run_url})" if output.run_url else ""))
    console.print(f"wall time: {output.result.wall_time_s / 60:.1f} min")


def register(app: typer.Typer) -> None:
    app.command("recover", epilog=EPILOG)(recover_cmd)
