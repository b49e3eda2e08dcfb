"""`bench regulators`: print the latent-regulator registry (name, kind, hyperparameter, source)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from bench.commands.tables import show
from bench.options import OptionError

EPILOG = """Examples:

  bench regulators

  bench regulators --kind resample --paper-only
"""


def regulators_cmd(
    kind: Annotated[str | None, typer.Option("--kind", help="Show only one kind: loss or resample.")] = None,
    paper_only: Annotated[
        bool, typer.Option("--paper-only", help="Hide the extras (the author's later code).")
    ] = False,
) -> None:
    """List every latent regulator of the recovery study: what it is, what its swept
    hyperparameter means, where it comes from; extras are marked. Priors are listed below."""

    import regulators

    if kind is not None and kind not in regulators.KINDS:
        raise OptionError(f"--kind: unknown kind {kind!r}; accepted: {', '.join(regulators.KINDS)}")
    rows = []
    for name in regulators.names(include_extras=not paper_only, kind=kind):
        reg = regulators.get(name)
        opts = [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in reg.options.items()]
        opts += [f"needs {k}=" for k in getattr(reg, "context", ())]
        opts = ", ".join(opts)
        rows.append((name, reg.kind, reg.hyperparameter, "extra" if reg.extra else "", reg.description, opts or "-"))
    console = Console()
    show(
        console,
        "Latent regulators",
        ("name", "kind", "hyperparameter", "extra", "source / description", "options / needs"),
        rows,
        wide_only=("options / needs",),
    )
    priors = "; ".join(
        f"{p}{' (default)' if p == regulators.DEFAULT_PRIOR else ''}: {regulators.get_prior(p).description}"
        for p in regulators.prior_names()
    )
    console.print(f"priors: {priors}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("regulators", epilog=EPILOG)(regulators_cmd)
