"""`bench models`: list the cached checkpoints (kind, key, size, date, key metrics, hash)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from bench import cache
from bench.commands.tables import show
from bench.options import OptionError

CacheDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        envvar="BENCH_CACHE_DIR",
        help="Model cache folder. Default: $BENCH_CACHE_DIR, else ~/.cache/lwgan-bench.",
        show_default=False,
    ),
]

# Metrics worth a column's space first; any others follow in name order.
_PREFERRED = ("accuracy", "test_accuracy", "fid", "recon", "reconstruction", "rank", "loss")


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


def _metrics(metrics: dict, limit: int = 4) -> str:
    names = [k for k in _PREFERRED if k in metrics]
    names += sorted(k for k in metrics if k not in names)
    parts = []
    for k in names[:limit]:
        v = metrics[k]
        parts.append(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}")
    if len(names) > limit:
        parts.append(f"(+{len(names) - limit})")
    return " ".join(parts)


def register(app: typer.Typer) -> None:
    @app.command(
        "models",
        epilog="Example: bench models --cache-dir ~/.cache/lwgan-bench",
    )
    def models(cache_dir: CacheDirOpt = None) -> None:
        """List the cached model checkpoints: kind, key, size, date, key metrics and content digest.

        Unreadable files are listed in red with the reason; delete them and the next run retrains.
        """

        root = cache_dir if cache_dir is not None else cache.cache_dir()
        if root.exists() and not root.is_dir():
            raise OptionError(f"--cache-dir {root}: exists and is not a folder")
        entries = cache.list_entries(root)
        console = Console()
        if not entries:
            console.print(f"No cached models in {root}.")
            return
        rows = []
        for e in entries:
            date = e.created.replace("T", " ").split("+")[0]
            what = f"[red]{escape(e.error)}[/red]" if e.error else _metrics(e.metrics)
            rows.append((e.kind, e.key, _size(e.size_bytes), date, e.digest[:12] if not e.error else "", what))
        show(
            console,
            f"Cached models in {root}",
            ("kind", "key", "size", "created (UTC)", "digest", "metrics"),
            rows,
        )
        bad = sum(1 for e in entries if e.error)
        console.print(f"{len(entries)} checkpoint(s), {bad} unreadable.")
