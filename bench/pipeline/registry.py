"""The experiment registry: a name, its settings, its cells, its unit of work and its report.

An experiment is one module that builds an `Experiment` and calls `register` on it. The pipeline
(bench.pipeline.run) runs any registered experiment the same way: cells -> run_cell (or
run_chunk) -> records -> Results -> verdicts, render, figures. See ARCHITECTURE.md, "Add an
experiment in one file".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import plugins
from registries import Registry


def _no_verdicts(results) -> list:
    return []


def _no_figures(results, out: Path) -> list[Path]:
    return []


def default_cell_name(cell: dict) -> str:
    """`a=1|b=x`: the cell's fields in order (the key of its stored result and its MLflow run)."""
    return "|".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in cell.items())


@dataclass(frozen=True)
class Experiment:
    """What the pipeline needs to run, store, report and track one experiment.

    Required:
    - settings: a flat dataclass with commented defaults (every field JSON-able);
    - cells(settings) -> list of plain dicts, one per unit of the grid;
    - run_cell(cell, ctx) -> record: a plain function of its inputs returning plain data (dicts,
      lists, numbers, strings), so it can run in another process or on another machine; or
      run_chunk(cells, ctx) -> records, for work batched over several cells (see chunk_key);
    - render(results) -> markdown: a pure function of the saved results.
    Optional: verdicts(results) -> [Verdict]; figures(results, out) -> paths written;
    prepare(ctx) -> plain facts computed once in the driver before the cells (models to train,
    scorer accuracy), saved with the results; plan(ctx) -> lines saying what will happen, before
    any work; rows(results) -> CSV rows; cell_name(cell); report_name(settings);
    params(settings) -> extra MLflow params; summary_metrics(results); cell_figures(cell,
    record, folder) -> figure paths attached to the cell's MLflow run; cell_tags(cell, facts) ->
    tags of the cell's MLflow run (the digest of a model prepare() made); estimate(ctx, cells) ->
    seconds the cells left to run will take here (said up front, after --resume); slim(record,
    cell, settings) -> the record the saved results keep; version (bump it when
    run_cell measures differently, so --resume does not reuse older cells); judging (settings kept
    out of the resume key: those that only change the verdicts, and those prepare() keys by their
    resolved value, such as --precision auto).

    Records: top-level numbers are logged as the cell's MLflow metrics; `histories` (name ->
    list, one value per `history_every` iterations), `params` and `tags` (dicts) go to MLflow as
    such, `datasets` (bench.data.inputs dicts, else prepare()'s facts["datasets"]) as the run's
    dataset inputs, `data_fingerprint` (else the facts') as a tag; everything else is data for
    the report.
    """

    name: str
    description: str  # one line, for `bench experiments`
    settings: type
    cells: Callable[[Any], list[dict]]
    render: Callable[[Any], str]
    run_cell: Callable[[dict, Any], dict] | None = None
    run_chunk: Callable[[list[dict], Any], list[dict]] | None = None
    chunk_key: Callable[[dict], Any] | None = None  # cells with equal keys share a chunk
    verdicts: Callable[[Any], list] = _no_verdicts
    figures: Callable[[Any, Path], list[Path]] = _no_figures
    prepare: Callable[[Any], dict] | None = None
    plan: Callable[[Any], list[str]] | None = None
    rows: Callable[[Any], list[dict]] | None = None
    cell_name: Callable[[dict], str] = default_cell_name
    report_name: Callable[[Any], str] | None = None  # default: the experiment's name
    params: Callable[[Any], dict] | None = None
    summary_metrics: Callable[[Any], dict] | None = None
    estimate: Callable[[Any, list[dict]], float] | None = None  # (ctx, cells to run) -> seconds
    cell_figures: Callable[[dict, dict, Path], list[Path]] | None = None
    cell_tags: Callable[[dict, dict], dict] | None = None  # (cell, prepare() facts) -> MLflow tags
    # (record, cell, settings) -> the record as the saved results keep it: what no report or figure
    # reads left out, bulky data in compact text (the cell store and MLflow keep the full record).
    slim: Callable[[dict, dict, Any], dict] | None = None
    # Default number of local worker processes: "cores" when a cell runs on one thread (small
    # models), "one" when a cell uses the whole machine (batched engines, convnets).
    workers: str = "one"
    # Bump when run_cell measures differently (a new metric, another sample size): finished
    # cells of another version are then not reused by --resume.
    version: int = 1
    # Settings fields left out of the resume key (bench.settings.unkeyed_fields): those that only
    # change how finished cells are judged (a held-out split, the credibility bars), so changing
    # them re-judges without rerunning, and those prepare() puts in the key by their resolved value.
    judging: tuple[str, ...] = ()
    out: str = "reports"  # the command's default output folder

    def __post_init__(self):
        if (self.run_cell is None) == (self.run_chunk is None):
            raise ValueError(f"experiment {self.name!r}: give run_cell or run_chunk (one of them)")
        if self.workers not in ("one", "cores"):
            raise ValueError(f"experiment {self.name!r}: workers must be 'one' or 'cores'")

    def report(self, settings) -> str:
        return self.report_name(settings) if self.report_name else self.name

    def chunk(self, cells: list[dict], ctx) -> list[dict]:
        """Run one chunk of cells; one record per cell, in order."""
        if self.run_chunk is not None:
            records = self.run_chunk(cells, ctx)
            if len(records) != len(cells):
                raise ValueError(f"{self.name}: run_chunk returned {len(records)} records for {len(cells)} cells")
            return records
        return [self.run_cell(c, ctx) for c in cells]


# The built-in experiments are loaded like plugins, by name, on first use: the pipeline does not
# depend on the experiments built on it.
BUILTIN = "bench.experiments.builtin"
EXPERIMENTS: Registry[Experiment] = Registry("experiment", builtins=(BUILTIN,), group="lwgan_bench.experiments")


def register(experiment: Experiment) -> Experiment:
    """Add an experiment; a name registered twice is an error (at import time)."""
    return EXPERIMENTS.add(experiment.name, experiment)


def unregister(name: str) -> None:
    """Remove an experiment (tests register throwaway ones)."""
    EXPERIMENTS.remove(name)


def names() -> list[str]:
    return EXPERIMENTS.names()


def is_registered(name: str) -> bool:
    return name in EXPERIMENTS


def get(name: str) -> Experiment:
    """The experiment `name`; an unknown name raises ValueError naming the nearest ones."""
    return EXPERIMENTS.get(name)


def ensure_registered(experiment: str, recorded: list[dict], where: str) -> list[str]:
    """Make `experiment` (of saved results at `where`) registered: load the plugins its results
    record where they are found unchanged (a built-in experiment's run may have used a plugin's
    regulator); else a one-line PluginError naming what to pass. Returns the plugins that could
    not be loaded (missing or changed)."""

    problems = []
    for p in recorded:  # loaded even when the experiment is built in: a plugin may add a regulator
        path = Path(p["file"]) if p.get("file") else None
        if path is None or not path.is_file():
            problems.append(f"{p['spec']} (not found)")
        elif p.get("digest") and plugins.digest(path) != p["digest"]:
            problems.append(
                f"{p['spec']} (changed since the run: digest {plugins.digest(path)}, recorded {p['digest']})"
            )
        else:
            plugins.load(str(path) if p["spec"].endswith(".py") else p["spec"])
    if is_registered(experiment):
        return problems
    hint = f"pass --plugin {' --plugin '.join(p['spec'] for p in recorded)}" if recorded else "no plugin recorded"
    detail = f"; {', '.join(problems)}" if problems else ""
    raise plugins.PluginError(f"{where}: experiment {experiment!r} is not registered ({hint}{detail})")
