"""`bench rank` (LWGAN's intrinsic-dimension estimate on data of known dimension) and
`bench generators` (the generator-variant and recipe registries)."""

from __future__ import annotations

import typer
from rich.console import Console

from bench.commands.build import experiment_command
from bench.commands.tables import show
from bench.experiments.rank.rank_settings import RankSettings
from lwgan.recipes import RECIPES

RANK_EPILOG = """Examples:

  bench rank                                   # six manifolds x fresh seeds 3-7 (0-2 chose the schedule)

  bench rank --datasets swissroll --seeds 0 --no-track

  bench rank --schedule public --device cuda   # the public code's toy settings and rank-score
                                               # protocol (hours on a CPU)

  bench rank --protocol training               # default training, the public code's scoring
"""


RANK_DOC = """Train LWGAN on data of known intrinsic dimension, estimate the dimension by the penalised
rank score, and report it beside the truth and beside MLE and TwoNN on the same data."""


def generators_cmd() -> None:
    """List the generator variants and the training recipes a name may carry after a dot
    (`lwgan.rank`, `iso-lwgan.mnist-tiny`)."""

    from lwgan.registry import DEFAULT_RECIPE, generator_names, get_generator

    console = Console()
    rows = []
    for name in generator_names():
        spec = get_generator(name)
        rows.append((name, spec.family, spec.data_kind, spec.description, spec.key_text()))
    show(
        console,
        f"Generator variants (use the name with --generator; the name alone takes the recipe `{DEFAULT_RECIPE}`)",
        ("name", "family", "data kind", "description", "key config"),
        rows,
        wide_only=("key config",),
    )
    show(
        console,
        "Training recipes (variant.recipe, e.g. lwgan.rank)",
        ("recipe", "family", "description"),
        [(r.name, r.family, r.description) for r in RECIPES.values()],
    )


def register(app: typer.Typer) -> None:

    rank = experiment_command("rank", RankSettings, RANK_DOC)
    app.command("rank", epilog=RANK_EPILOG)(rank)
    app.command("generators")(generators_cmd)
