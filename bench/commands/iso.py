"""`bench isometry`, `bench stochastic`, `bench mnist`: the three Iso-LWGAN experiments. Their
options are the settings' fields (bench.experiments.lwgan_settings)."""

from __future__ import annotations

import typer

from bench.commands.build import experiment_command
from bench.experiments.lwgan_settings import IsometrySettings, MnistSettings, StochasticSettings

ISOMETRY_EPILOG = """Examples:

  bench isometry                                   # lambda 0,0.5,1,2 x seeds 0,1,2, both objectives

  bench isometry --objectives published             # the authors' published run alone (seconds)

  bench isometry --lambdas 0,1 --seeds 0 --iterations 300 --out reports/quick

  bench isometry --print-config > iso.toml         # a sweep file to edit, then: bench isometry --config iso.toml
"""

STOCHASTIC_EPILOG = """Examples:

  bench stochastic                                 # sigma 0,0.1,0.5 x seeds 0,1,2

  bench stochastic --sigmas 0,0.05,0.1,0.5 --lambdas 1

  bench stochastic --objectives lwgan               # the full LWGAN objective alone
"""

MNIST_EPILOG = """Examples:

  bench mnist --data-dir ../shared/data/mnist      # the default budget, seeds 0,1,2 (about 26 min cold on 2 CPU cores)

  bench mnist --budget public --device cuda        # the public LWGAN code's MNIST schedule (a GPU one)

  bench mnist --iterations 4000 --seeds 0          # the default budget with 4,000 iterations per model
"""

DOCS = {
    "isometry": "Iso-LWGAN experiment 1: pairwise-distance discrepancy between latent and generated points on "
                "two Gaussians per lambda_iso, beside the paper's 1.20 and 0.02-0.03.",
    "stochastic": "Iso-LWGAN experiment 2: output diversity, reconstruction, mode coverage and sample quality of "
                  "the partially stochastic generator on three clusters per sigma_noise.",
    "mnist": "Iso-LWGAN experiment 3: base LWGAN against Iso-LWGAN on MNIST under one brief budget, with the 2x2 "
             "ablation (isometric term x noise); reconstruction, Frechet distance, rank, isometry.",
}  # fmt: skip


def register(app: typer.Typer) -> None:

    for name, cls, epilog in (
        ("isometry", IsometrySettings, ISOMETRY_EPILOG),
        ("stochastic", StochasticSettings, STOCHASTIC_EPILOG),
        ("mnist", MnistSettings, MNIST_EPILOG),
    ):
        app.command(name, epilog=epilog)(experiment_command(name, cls, DOCS[name]))
