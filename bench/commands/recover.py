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
    ResumeOpt,
    RetrainOpt,
    SeedOpt,
    SeedsOpt,
    ThreadsOpt,
    TrackingUriOpt,
    WorkersOpt,
    check_positive,
    parse_int,
    parse_list,
)

EPILOG = """Examples:

  bench recover --regulator all --grid paper --data-dir ../shared/data/mnist

  bench recover --regulator wasserstein,log_normal_density --grid quick --images 200

  bench recover --regulator energy --lr 0.01,0.1 --hp 0,0.1,1 --seeds 0,1,2

  bench recover --regulator all --grid paper --resume     # finish an interrupted sweep

  bench recover --grid paper --generator-seeds 0,1,2      # the claims over three trained GANs

  bench recover --grid quick --generator all --generator-seeds 0,1,2   # LSGAN and the LWGAN family

  bench recover --grid quick --generator lwgan,iso-lwgan --targets generated   # in-span targets

  bench recover --grid quick --generator my_gen.py:build  # your own generator (see ARCHITECTURE.md)

  bench recover --regulator truncated_normal_cutoff,logistic_cutoff --resample-at before   # another reading
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
    generator: Annotated[str, typer.Option("--generator", help="Comma list or 'all' (lsgan, lwgan, iso-lwgan, iso-lwgan-stochastic): registry variants (`bench generators`, recipes by name) or module:function for your own.")] = "lsgan",
    generator_seeds: Annotated[str, typer.Option("--generator-seeds", help="Training seeds of every generator (each trained through the cache); claims are judged over them.")] = "0",
    latent_rank: Annotated[str, typer.Option("--latent-rank", help="LWGAN family: estimate (the model's estimated rank), max (z_max) or an integer.")] = "estimate",
    noise: Annotated[str, typer.Option("--noise", help="Stochastic generators: fixed (drawn once per image and restart) or resample (every step).")] = "fixed",
    targets: Annotated[str, typer.Option("--targets", help="test (MNIST test images) or generated (in-span: G(z*) of known z*).")] = "test",
    latent_tol: Annotated[float, typer.Option("--latent-tol", help="In-span: a latent counts as recovered when ||z - z*|| / sqrt(d) is at most this.")] = 0.1,
    latent_dim: Annotated[int | None, typer.Option("--latent-dim", help="d_z of the generator (default 256).")] = None,
    arch: Annotated[str | None, typer.Option("--arch", help="LSGAN architecture: mlp (default, CPU) or cho (the author's, for GPUs).")] = None,
    prior_samples: Annotated[int | None, typer.Option("--prior-samples", help="m, the size of the fresh prior sample of the Wasserstein/energy regulators (default d_z; the author's code: 1,000).")] = None,
    max_batch: Annotated[int | None, typer.Option("--max-batch", help="Rows (cell x image x restart) per forward pass; bounds memory.")] = None,
    quality_samples: Annotated[int, typer.Option("--quality-samples", help="Generator samples judged by the classifier (digit shares, Frechet distance).")] = 10_000,
    resample_at: Annotated[str, typer.Option("--resample-at", help="Reading of the resampling cutoffs' rule: after (each Adam step; the SPEC's), before (each step, so the last Adam step follows the last resample) or accept (after, kept only where it lowers the image's objective).")] = "after",
    resample_every: Annotated[int, typer.Option("--resample-every", help="Resampling cutoffs act at every k-th step only (1: every step).")] = 1,
    split_seed: Annotated[int, typer.Option("--split-seed", help="Seed of the split of the target images into a selection half (best cells are chosen there) and an evaluation half (verdicts are judged there).")] = 0,
    gate_reference: Annotated[str, typer.Option("--gate-reference", help="The reference LSGAN of the Frechet ratio bar when the sweep has no LSGAN (trained at seed 0 through the cache).", rich_help_panel="Credibility bars (verdicts on a model that fails one are withheld; 0 turns a bar off)")] = "lsgan",
    resume: ResumeOpt = False,
    retrain: RetrainOpt = False,
    workers: WorkersOpt = None,
    threads: ThreadsOpt = None,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    data_dir: DataDirOpt = None,
    out: OutOpt = Path("reports"),
    tracking_uri: TrackingUriOpt = None,
    experiment: ExperimentOpt = None,
    no_track: NoTrackOpt = False,
    gates: dict | None = None,
) -> None:
    """Recover 1,000 MNIST test images through a trained LSGAN (or several generators, each at
    several training seeds) under every latent regulator, score them with a frozen classifier,
    and judge the paper's claims with paired statistics; write the report beside its tables."""
    import regulators as regs
    from bench.errors import BenchError

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
    gen_seeds = parse_list(generator_seeds, option="--generator-seeds", cast=parse_int, minimum=0)
    from bench.recovery.generators import parse_generators
    from bench.recovery.sweep import NOISE, TARGETS

    gens = parse_generators(generator)
    if latent_rank not in ("estimate", "max"):
        try:
            rank = parse_int(latent_rank)
        except ValueError:
            rank = 0
        if rank < 1:
            raise OptionError(f"--latent-rank: expected estimate, max or a positive integer, got {latent_rank!r}")
        latent_rank = str(rank)
    for value, option, accepted in ((noise, "--noise", NOISE), (targets, "--targets", TARGETS)):
        if value not in accepted:
            raise OptionError(f"{option}: unknown value {value!r}; accepted: {', '.join(accepted)}")
    if not latent_tol > 0:
        raise OptionError(f"--latent-tol: expected a positive number, got {latent_tol}")
    from bench.recovery.engine import READINGS

    if resample_at not in READINGS:
        raise OptionError(f"--resample-at: unknown value {resample_at!r}; accepted: {', '.join(READINGS)}")
    check_positive(resample_every, "--resample-every")
    if split_seed < 0:
        raise OptionError(f"--split-seed: expected a seed >= 0, got {split_seed}")
    try:
        reference = parse_generators(gate_reference)
    except BenchError as e:
        raise OptionError(str(e).replace("--generator", "--gate-reference", 1)) from None
    if len(reference) != 1 or reference[0] == "all":
        raise OptionError(f"--gate-reference: expected one LSGAN variant, got {gate_reference!r}")

    from bench.recovery.engine import DEFAULT_MAX_BATCH
    from bench.recovery.sweep import RecoverSettings

    settings = RecoverSettings(regulators=tuple(names), grid=grid_name, lrs=tuple(lrs), hps=tuple(hps),
                               images=images, subset_seed=seed, steps=steps, restarts=restarts,
                               seeds=tuple(seed_list), generators=tuple(gens), generator_seeds=tuple(gen_seeds),
                               latent_dim=latent_dim, arch=arch, latent_rank=latent_rank.strip(), noise=noise,
                               targets=targets, latent_tol=latent_tol, prior_samples=prior_samples,
                               quality_samples=quality_samples, max_batch=max_batch or DEFAULT_MAX_BATCH,
                               resample_at=resample_at, resample_every=resample_every,
                               split_seed=split_seed, gate_reference=reference[0], **(gates or {}))  # fmt: skip
    try:
        settings.cells()
    except ValueError as e:
        raise OptionError(f"--grid: {e}") from None
    from bench.recovery.generators import is_user, spec_for

    for g in gens:  # a bad --latent-dim/--arch is a one-line ConfigError now, not after loading
        if not is_user(g):
            spec_for(g, latent_dim, arch)
    from bench.commands.common import run

    run("recover", settings, out=out, device=device, resume=resume, retrain=retrain, workers=workers,
        threads=threads, data_dir=data_dir, tracking_uri=tracking_uri, experiment=experiment,
        no_track=no_track)  # fmt: skip


DEPENDENCE_EPILOG = """Examples:

  bench dependence --data-dir ../shared/data/mnist     # the study: 7 LSGANs, paper grid, 500 images

  bench dependence --generator lsgan,lsgan.e8 --generator-seeds 0 --images 200 --readings before

  bench dependence --resume                            # finish an interrupted study
"""


def dependence_cmd(
    generator: Annotated[str | None, typer.Option("--generator", help="Comma list of generators (default: the study's LSGAN family, `bench generators` lists the recipes); the first is the reference of the credibility bars and of the readings.")] = None,
    generator_seeds: Annotated[str, typer.Option("--generator-seeds", help="Training seeds of every generator (the study's two costliest LSGANs keep seed 0 only unless listed here with --all-seeds).")] = "0,1,2",
    all_seeds: Annotated[bool, typer.Option("--all-seeds", help="Every generator at every --generator-seeds (no one-seed exceptions).")] = False,
    images: Annotated[int, typer.Option("--images", help="Test images (half choose the best cells, half judge them).")] = 500,
    grid: Annotated[str, typer.Option("--grid", help="paper or quick.")] = "paper",
    readings: Annotated[str, typer.Option("--readings", help="Other readings of the resampling cutoffs' rule to compare on the reference generator: before, accept, after/k (every k-th step); 'none' for none.")] = "before,accept,after/10",
    steps: Annotated[int, typer.Option("--steps", help="Adam steps per recovery.")] = 200,
    quality_samples: Annotated[int, typer.Option("--quality-samples", help="Generator samples judged by the classifier (digit shares, Frechet distance).")] = 10_000,
    seeds: SeedsOpt = "0",
    resume: ResumeOpt = False,
    retrain: RetrainOpt = False,
    workers: WorkersOpt = None,
    threads: ThreadsOpt = None,
    device: DeviceOpt = "auto",
    data_dir: DataDirOpt = None,
    out: OutOpt = Path("reports/dependence"),
    tracking_uri: TrackingUriOpt = None,
    experiment: ExperimentOpt = None,
    no_track: NoTrackOpt = False,
    gates: dict | None = None,
) -> None:
    """Does the regulators' ranking depend on the generator? The paper grid over a family of
    LSGANs (training budgets, latent sizes, the author's optimiser and conv architecture), with
    each claim's verdict per generator, each regulator's lift against the generator's quality,
    and the resampling cutoffs under other readings of their rule."""
    from bench.errors import BenchError
    from bench.experiments.dependence import DependenceSettings, parse_reading
    from bench.recovery.generators import parse_generators

    defaults = DependenceSettings()
    try:
        gens = tuple(parse_generators(generator)) if generator else defaults.generators
    except BenchError as e:
        raise OptionError(str(e)) from None
    gen_seeds = tuple(parse_list(generator_seeds, option="--generator-seeds", cast=parse_int, minimum=0))
    seed_list = tuple(parse_list(seeds, option="--seeds", cast=parse_int, minimum=0))
    reading_list = () if readings.strip() == "none" else tuple(parse_list(readings, option="--readings", cast=str))
    for r in reading_list:
        try:
            parse_reading(r)
        except ValueError as e:
            raise OptionError(f"--readings: {e}") from None
    for value, option in ((images, "--images"), (steps, "--steps"), (quality_samples, "--quality-samples")):
        check_positive(value, option)
    if images > 10_000:
        raise OptionError(f"--images: expected 1..10000 (the MNIST test set), got {images}")
    from bench.recovery.grid import GRIDS

    if grid not in GRIDS:
        raise OptionError(f"--grid: unknown grid {grid!r}; accepted: {', '.join(GRIDS)}")
    fewer = {} if all_seeds else {g: tuple(v) for g, v in defaults.seeds_for.items()
                                  if g in gens and set(v) <= set(gen_seeds)}  # fmt: skip
    settings = DependenceSettings(generators=gens, generator_seeds=gen_seeds, seeds_for=fewer, images=images,
                                  grid=grid, readings=reading_list, steps=steps, seeds=seed_list,
                                  quality_samples=quality_samples, **(gates or {}))  # fmt: skip
    from bench.commands.common import run

    run("dependence", settings, out=out, device=device, resume=resume, retrain=retrain, workers=workers,
        threads=threads, data_dir=data_dir, tracking_uri=tracking_uri, experiment=experiment,
        no_track=no_track)  # fmt: skip


def register(app: typer.Typer) -> None:
    from bench.commands.executor import executor_options
    from bench.commands.gates import gate_options

    bars = gate_options("scorer", "reference_frechet", "frechet_ratio", "min_share")
    app.command("recover", epilog=EPILOG)(executor_options(bars(recover_cmd)))
    app.command("dependence", epilog=DEPENDENCE_EPILOG)(executor_options(bars(dependence_cmd)))
