"""`bench data`: locate MNIST, verify it, print what was found and save a grid of sample digits."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bench.atomic import atomic_savefig
from bench.options import DataDirOpt, OutOpt, default_out
from bench.outputs import probe_files
from bench.progress import rich_progress

EPILOG = """Examples:

  bench data --data-dir ../shared/data/mnist

  bench data --no-download --out reports/

  BENCH_DATA_DIR=~/datasets bench data   (a folder holding MNIST/raw/ works too)
"""


def data(
    data_dir: DataDirOpt = None,
    out: OutOpt = None,
    no_download: Annotated[
        bool, typer.Option("--no-download", help="Never download; fail if MNIST is not found locally.")
    ] = False,
) -> None:
    """Locate MNIST (downloading it into the cache if needed), verify the four IDX files and save
    a 10x10 grid of sample digits (one row per class) to OUT/mnist-samples.png."""

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bench.data import MD5, load_mnist, sample_grid

    target = Path(out or default_out()) / "mnist-samples.png"
    probe_files([target])  # before the download: a bad --out costs nothing
    console = Console()
    with ExitStack() as stack:
        bars = []

        def progress(task: str, done: int, total: int, **info) -> None:
            # Bars start on the first report, so a quick local load or an error prints nothing extra.
            if not bars:
                bars.append(stack.enter_context(rich_progress(console, transient=True)))
            bars[0](task, done, total, **info)

        mnist = load_mnist(data_dir, download=not no_download, progress=progress)

    arrays = {
        "train_images": mnist.train_images,
        "train_labels": mnist.train_labels,
        "test_images": mnist.test_images,
        "test_labels": mnist.test_labels,
    }
    table = Table(title=f"MNIST in {mnist.source}")
    table.add_column("file", no_wrap=True)
    table.add_column("count", justify="right", no_wrap=True)
    table.add_column("shape", no_wrap=True)
    table.add_column("md5 = original release", no_wrap=True)
    # files and arrays are both in FILES order: train images, train labels, test images, test labels
    for name, array in zip(mnist.files, arrays.values()):
        if name not in MD5:
            release = "n/a (not gzip)"
        elif MD5[name] == mnist.md5.get(name):
            release = "[green]yes[/]"
        else:
            release = "[yellow]no[/] (a rebuilt copy?)"
        table.add_row(name, f"{array.shape[0]:,}", "x".join(map(str, array.shape)), release)
    console.print(table)
    # Hashes as sha256sum/md5sum print them, unwrapped so they can be copied and compared.
    for title, digests in (("sha256", mnist.files), ("md5", mnist.md5)):
        console.print(f"{title}:")
        for name, digest in digests.items():
            console.print(f"  {digest}  {name}", soft_wrap=True, highlight=False)
    console.print(
        f"train: {mnist.train_images.shape[0]:,} images, {mnist.train_labels.shape[0]:,} labels; "
        f"test: {mnist.test_images.shape[0]:,} images, {mnist.test_labels.shape[0]:,} labels"
    )
    console.print("verified: IDX magic, dims and byte counts, labels 0..9, image/label counts agree")
    console.print(f"fingerprint: {mnist.fingerprint}")

    grid = sample_grid(mnist.train_images, mnist.train_labels, per_class=10)
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.imshow(grid.numpy(), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax.set_yticks([14 + 28 * d for d in range(10)], [str(d) for d in range(10)])
    ax.set_xticks([])
    ax.set_title("MNIST training set: first 10 images of each digit")
    path = atomic_savefig(fig, target, dpi=100, bbox_inches="tight")
    plt.close(fig)
    console.print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command("data", epilog=EPILOG)(data)
