"""`bench recover` (the latent-recovery study, tables 1-6 of Cho's latent regulation paper) and
`bench dependence` (its paper grid over a family of LSGANs). Their options are the settings'
fields (bench.recovery.recover_settings)."""

from __future__ import annotations

import typer

from bench.commands.build import experiment_command
from bench.recovery.recover_settings import DependenceSettings, RecoverSettings

EPILOG = """Examples:

  bench recover --regulators all --grid paper --data-dir ../shared/data/mnist

  bench recover --regulators wasserstein,log_normal_density --grid quick --images 200

  bench recover --regulators energy --lrs 0.01,0.1 --hps 0,0.1,1 --seeds 0,1,2

  bench recover --regulators all --grid paper --resume     # finish an interrupted sweep

  bench recover --grid paper --generator-seeds 0,1,2      # the claims over three trained GANs

  bench recover --grid quick --generators all --generator-seeds 0,1,2   # LSGAN and the LWGAN family

  bench recover --grid quick --generators lwgan,iso-lwgan --targets generated   # in-span targets

  bench recover --grid quick --generators my_gen.py:build  # your own generator (see ARCHITECTURE.md)

  bench recover --regulators truncated_normal_cutoff,logistic_cutoff --resample-at before   # another reading

  bench recover --config sweep.toml --seeds 1             # a sweep file, one setting changed
"""

DEPENDENCE_EPILOG = """Examples:

  bench dependence --data-dir ../shared/data/mnist     # the study: 7 LSGANs, paper grid, 500 images

  bench dependence --generators lsgan,lsgan.e8 --generator-seeds 0 --images 200 --readings before

  bench dependence --seeds-for '{}'                    # three seeds for every generator

  bench dependence --resume                            # finish an interrupted study
"""

RECOVER_DOC = """Recover 1,000 MNIST test images through a trained LSGAN (or several generators, each at
several training seeds) under every latent regulator, score them with a frozen classifier,
and judge the paper's claims with paired statistics; write the report beside its tables."""

DEPENDENCE_DOC = """Does the regulators' ranking depend on the generator? The paper grid over a family of
LSGANs (training budgets, latent sizes, the author's optimiser and conv architecture), with
each claim's verdict per generator, each regulator's lift against the generator's quality,
and the resampling cutoffs under other readings of their rule."""


def register(app: typer.Typer) -> None:

    recover = experiment_command("recover", RecoverSettings, RECOVER_DOC)
    dependence = experiment_command("dependence", DependenceSettings, DEPENDENCE_DOC, out="reports/dependence")
    app.command("recover", epilog=EPILOG)(recover)
    app.command("dependence", epilog=DEPENDENCE_EPILOG)(dependence)
