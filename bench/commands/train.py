"""`bench train lsgan|classifier|generator`: train (or load from the model cache) the recovery study's
models, or any registered generator of any family."""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bench.atomic import atomic_savefig
from bench.errors import BenchError
from bench.options import (
    DataDirOpt,
    DeviceOpt,
    OutOpt,
    SeedOpt,
    check_positive,
    check_precision,
    default_out,
    resolve_device,
)
from bench.outputs import probe_dir
from bench.progress import rich_progress
from lwgan.errors import ConfigError

RetrainOpt = Annotated[bool, typer.Option("--retrain", help="Train again even when the cache holds this model.")]
PrecisionOpt = Annotated[
    str,
    typer.Option(
        "--train-precision",
        metavar="fp32|bf16|auto",
        help="Training's number format: fp32, bf16 (bfloat16 autocast; weights and optimiser state "
        "float32) or auto (bf16 where the device computes it natively). Cached apart from fp32.",
    ),
]
OldPrecisionOpt = Annotated[  # the older name, as the sweep commands now say --train-precision
    str | None, typer.Option("--precision", hidden=True, help="Older name of --train-precision.")
]


def _precision(new: str, old: str | None) -> str:
    """The training precision asked for, under either name (both: refused)."""
    if old is not None and new != "fp32":
        raise BenchError("--train-precision: given twice (under its older name --precision too)")
    return check_precision(old, "--precision") if old is not None else check_precision(new, "--train-precision")


EpochsOpt = Annotated[
    int | None,
    typer.Option("--epochs", help="Training epochs (default: the model's own, see `bench models`)."),
]

LSGAN_EPILOG = """Examples:

  bench train lsgan --data-dir ../shared/data/mnist

  bench train lsgan --epochs 5 --seed 1 --out reports/lsgan-short

  bench train lsgan --arch cho --device cuda   (the author's conv architecture, for GPUs)

  bench train lsgan --train-precision bf16   (bfloat16 autocast; judged by the float32 classifier)
"""

CLASSIFIER_EPILOG = """Examples:

  bench train classifier --data-dir ../shared/data/mnist

  bench train classifier --retrain --epochs 3
"""


def _session(console):
    """A progress callback that opens rich bars on first use (a cache hit prints no bar)."""

    stack = ExitStack()
    bars: list = []

    def progress(task: str, done: int, total: int, **info) -> None:
        if not bars:
            bars.append(stack.enter_context(rich_progress(console)))
        bars[0](task, done, total, **info)

    return stack, progress


def _check_epochs(epochs: int | None) -> None:

    check_positive(epochs, "--epochs")


def _entry_rows(entry) -> list[tuple[str, str]]:
    how = "loaded from cache" if entry.loaded else "trained"
    if entry.retrained_because:
        how += f" ({entry.retrained_because})"
    return [("checkpoint", str(entry.path)), ("content digest", entry.digest[:16]), ("status", how)]


def _table(title: str, rows: list[tuple[str, str]]):

    table = Table(title=title, title_justify="left")
    table.add_column("metric", no_wrap=True)
    table.add_column("value")
    for k, v in rows:
        table.add_row(k, v)
    return table


def classifier(
    data_dir: DataDirOpt = None,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    retrain: RetrainOpt = False,
    epochs: EpochsOpt = None,
    precision: PrecisionOpt = "fp32",
    old_precision: OldPrecisionOpt = None,
) -> None:
    """Train (or load) the frozen MNIST classifier that scores recovered images.

    Prints its accuracy on the 10,000 test images; the recovery study needs at least 99.3%.
    """

    from bench.classifier import classifier_precision, load_or_train_classifier
    from bench.data import load_mnist

    _check_epochs(epochs)
    dev = resolve_device(device)
    precision = classifier_precision(_precision(precision, old_precision), dev)
    console = Console()
    mnist = load_mnist(data_dir)
    stack, progress = _session(console)
    with stack:
        _model, entry = load_or_train_classifier(
            mnist,
            seed=seed,
            device=dev,
            progress=progress,
            retrain=retrain,
            epochs=epochs,
            on_event=lambda msg: console.print(f"[yellow]{msg}[/]"),
            precision=precision,
        )
    m = entry.metrics
    acc = m.get("test_accuracy", float("nan"))
    rows = [
        ("test accuracy (10,000 images)", f"{acc:.2f}%"),
        ("train time", f"{m.get('train_seconds', float('nan')):.0f} s on {m.get('device', '?')}, {precision}"),
        ("seed", str(seed)),
    ] + _entry_rows(entry)
    console.print(_table("MNIST classifier", rows))
    if acc < 99.3:
        console.print(
            f"[yellow]warning: {acc:.2f}% is below the 99.3% the recovery study asks "
            "for; train longer (--epochs) or with another --seed[/]"
        )


def lsgan(
    data_dir: DataDirOpt = None,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    retrain: RetrainOpt = False,
    epochs: EpochsOpt = None,
    arch: Annotated[str | None, typer.Option("--arch", help="Architecture (default: mlp; cho for GPUs).")] = None,
    samples: Annotated[int, typer.Option("--samples", help="Generated images scored by the classifier.")] = 10000,
    out: OutOpt = None,
    precision: PrecisionOpt = "fp32",
    old_precision: OldPrecisionOpt = None,
) -> None:
    """Train (or load) the LSGAN of the recovery study and score its samples.

    The classifier (trained or loaded first) judges --samples generated images: the Frechet
    distance to the test set in its feature space and the share of each digit. A grid of 100
    samples sorted by predicted digit goes to OUT/lsgan-samples.png and .pdf. The classifier is
    the float32 one whatever --train-precision says, so models of both precisions face the same judge.
    """
    from bench.classifier import generator_quality, load_or_train_classifier
    from bench.data import load_mnist, to_pixels
    from bench.models import load_or_train, training_precision
    from lwgan.lsgan import ARCHITECTURES, generator_flops
    from lwgan.registry import get_generator

    _check_epochs(epochs)
    check_positive(samples, "--samples")
    if arch is not None and arch not in ARCHITECTURES:
        raise BenchError(f"--arch: unknown architecture {arch!r}; accepted: {', '.join(ARCHITECTURES)}")
    dev = resolve_device(device)
    spec = get_generator("lsgan", arch=arch, epochs=epochs)
    precision = training_precision(spec, _precision(precision, old_precision), dev)
    cfg = spec.config
    folder = probe_dir(Path(out or default_out()))
    console = Console()
    mnist = load_mnist(data_dir)
    warn = lambda msg: console.print(f"[yellow]{msg}[/]")
    stack, progress = _session(console)
    with stack:
        clf, _ = load_or_train_classifier(mnist, seed=0, device=dev, progress=progress, on_event=warn)
        trained = load_or_train(
            spec, mnist, seed=seed, device=dev, progress=progress, retrain=retrain, on_event=warn, precision=precision
        )
    g, entry = trained.model.G, trained.entry
    test = to_pixels(mnist.test_images)
    q = generator_quality(g, clf, test, n=samples, seed=seed)
    m = entry.metrics
    shares = "  ".join(f"{d}:{100 * s:.1f}" for d, s in enumerate(q["shares"]))
    rows = [
        ("architecture", f"{cfg.arch}, d_z {cfg.latent_dim}, {cfg.epochs} epochs"),
        ("G forward cost", f"{generator_flops(g, cfg.latent_dim) / 1e6:.2f} MFLOP per image"),
        ("train time", f"{m.get('train_seconds', float('nan')):.0f} s on {m.get('device', '?')}, {precision}"),
        ("final losses", f"D {m.get('d_loss', float('nan')):.4f}  G {m.get('g_loss', float('nan')):.4f}"),
        ("Frechet distance", f"{q['frechet']:.3f} (classifier features, {samples} samples vs test set)"),
        ("digit shares %", shares),
        ("min share", f"{100 * q['min_share']:.2f}% (digit {q['min_share_digit']})"),
        ("seed", str(seed)),
    ] + _entry_rows(entry)
    console.print(_table("LSGAN", rows))
    if q["min_share"] < 0.05:
        warn(
            f"warning: digit {q['min_share_digit']} is {100 * q['min_share']:.1f}% of the "
            "samples (< 5%): the generator under-covers it"
        )

    for path in _sample_grid(g, clf, cfg, seed, dev, folder):
        console.print(f"wrote {path}")


def _sample_grid(g, clf, cfg, seed: int, dev, folder: Path) -> list[Path]:
    """100 samples, sorted by the classifier's digit so coverage is visible at a glance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from bench.classifier import predict

    z = torch.randn(100, cfg.latent_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        x = g(z.to(dev)).cpu()
    x = x[torch.argsort(predict(clf, x), stable=True)]
    grid = x.view(10, 10, 28, 28).permute(0, 2, 1, 3).reshape(280, 280)
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.imshow(grid.numpy(), cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(f"LSGAN ({cfg.arch}, seed {seed}): 100 samples sorted by predicted digit")
    paths = [
        atomic_savefig(fig, folder / f"lsgan-samples.{suffix}", dpi=100, bbox_inches="tight")
        for suffix in ("png", "pdf")
    ]
    plt.close(fig)
    return paths


GENERATOR_EPILOG = """Examples:

  bench train generator iso-lwgan --data-dir ../shared/data/mnist --seed 1

  bench train generator lsgan.e8 --train-precision bf16

  bench --plugin examples/tiny_family.py train generator tinydec
"""


def generator(
    name: Annotated[str, typer.Argument(help="A registered generator variant[.recipe] (see `bench generators`).")],
    data_dir: DataDirOpt = None,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    retrain: RetrainOpt = False,
    samples: Annotated[int, typer.Option("--samples", help="Generated images scored by the classifier.")] = 10000,
    precision: PrecisionOpt = "fp32",
    old_precision: OldPrecisionOpt = None,
) -> None:
    """Train (or load) any registered MNIST generator, of any family (plugins' too), through the
    model cache, and score its samples with the classifier where it has a prior to draw from."""
    from bench.classifier import load_or_train_classifier
    from bench.data import load_mnist, to_pixels
    from bench.models import load_or_train, training_precision
    from bench.recovery import generators as gens
    from lwgan.registry import get_generator

    check_positive(samples, "--samples")
    try:
        spec = get_generator(name)
    except ConfigError as e:
        raise BenchError(f"bench train generator: {e}") from None
    if spec.data_kind != "mnist":
        raise BenchError(
            f"bench train generator: {name} trains on {spec.data_kind} data; bench rank and bench isometry train those"
        )
    dev = resolve_device(device)
    precision = training_precision(spec, _precision(precision, old_precision), dev)
    console, mnist = Console(), load_mnist(data_dir)
    warn = lambda msg: console.print(f"[yellow]{msg}[/]")
    stack, progress = _session(console)
    with stack:
        trained = load_or_train(
            spec, mnist, seed=seed, device=dev, progress=progress, retrain=retrain, on_event=warn, precision=precision
        )
        m = trained.entry.metrics
        rows = [
            ("family", f"{spec.family}: {spec.description}"),
            ("train time", f"{m.get('train_seconds', m.get('wall_time_s', float('nan'))):.0f} s, {precision}"),
            ("seed", str(seed)),
        ]
        try:
            gens.check_name(name)
        except BenchError as e:  # no prior to draw from: the training is all there is to show
            rows.append(("samples", str(e).split(": ", 1)[1]))
        else:
            clf, _ = load_or_train_classifier(mnist, seed=0, device=dev, progress=progress, on_event=warn)
            model = gens.load(name, seed, mnist, device=dev, progress=progress, precision=precision)
            q = gens.quality(model, clf, to_pixels(mnist.test_images), samples, seed)
            shares = "  ".join(f"{d}:{100 * s:.1f}" for d, s in enumerate(q["shares"]))
            rows += [
                (
                    "latent",
                    f"{model.latent_dim} of a {model.prior} prior"
                    + (f", noise {model.noise_dim}" if model.noise_dim else ""),
                ),
                ("Frechet distance", f"{q['frechet']:.3f} (classifier features, {samples} samples vs test set)"),
                ("digit shares %", shares),
            ]
    console.print(_table(name, rows + _entry_rows(trained.entry)))


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Train (or load from the model cache) the MNIST classifier, the LSGAN, or any registered generator.",
        no_args_is_help=True,
        epilog="Examples:\n\n  bench train classifier --data-dir ../shared/data/mnist\n\n"
        "  bench train lsgan --data-dir ../shared/data/mnist --out reports/\n\n"
        "  bench train generator iso-lwgan --data-dir ../shared/data/mnist",
    )

    @group.callback()
    def _cache(
        cache_dir: Annotated[
            Path | None,
            typer.Option(
                "--cache-dir", envvar="BENCH_CACHE_DIR", help="Model cache folder. Default: ~/.cache/lwgan-bench."
            ),
        ] = None,
    ) -> None:
        if cache_dir is not None:
            os.environ["BENCH_CACHE_DIR"] = str(probe_dir(cache_dir, option="--cache-dir").resolve())

    group.command("lsgan", epilog=LSGAN_EPILOG)(lsgan)
    group.command("generator", epilog=GENERATOR_EPILOG)(generator)
    group.command("classifier", epilog=CLASSIFIER_EPILOG)(classifier)
    app.add_typer(group, name="train")
