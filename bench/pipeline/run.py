"""One pipeline for every experiment: probe, plan, prepare, cells, store, MLflow, report.

    output = run_experiment("isometry", settings, RunOptions(out=Path("reports")))

The order, and why:
1. every output path is created and probed, the tracking store checked: a typo costs nothing;
2. the experiment's plan says what will happen (models to train, time) before any work;
3. prepare (driver, once): shared models and data facts, saved with the results;
4. the cells: finished ones come from the cell store with --resume; the rest run in chunks on
   the executor; each finished cell is stored (atomically, one file) and logged as an MLflow
   child as it arrives; a cell whose work raised is recorded FAILED and the sweep goes on;
5. the results JSON is written, then read back: the CSV, figures and markdown are made from
   that saved form, which is what `bench report` rebuilds them from.
Ctrl-C stops after the chunk in flight; finished cells stay stored and KeyboardInterrupt
propagates (the parent run ends KILLED).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import plugins, precision, tracking
from bench.data import inputs
from bench.errors import BenchError
from bench.facts import collect_facts
from bench.outputs import probe_dir, probe_files
from bench.pipeline import store as cellstore
from bench.pipeline.child_runs import flat, log_cell, once
from bench.pipeline.context import Context
from bench.pipeline.executors import execute, get_executor
from bench.pipeline.on_local import default_workers
from bench.pipeline.prepared import Prepared
from bench.pipeline.registry import Experiment, get
from bench.pipeline.results import Results
from bench.pipeline.run_settings import RunOptions, resolve_device
from bench.pipeline.saved import judge, slimmed, write_outputs
from bench.pipeline.worker import CELL_DONE
from bench.progress import ProgressFn, null_progress
from bench.verdict import description, verdict_tags


@dataclass
class RunOutput:
    results: Results
    report: Path
    csv: Path
    json: Path
    figures: list[Path]
    store: Path
    workers: int
    parent_run_id: str | None = None
    run_url: str | None = None
    failed: list[str] = field(default_factory=list)
    ui_command: str | None = None  # `mlflow ui ...` for a local store, before run_url


def paths(exp: Experiment, settings, out: Path) -> dict[str, Path]:
    name = exp.report(settings)
    return {ext: Path(out) / f"{name}.{ext}" for ext in ("md", "csv", "json")}


@dataclass
class _Run:
    """One invocation's state, from the probed paths to the cells left to run."""

    exp: Experiment
    opts: RunOptions
    settings: object
    settings_dict: dict
    cells: list[dict]
    keys: list[str]
    out: Path
    files: dict[str, Path]
    workers: int
    train_label: str
    ctx: Context
    store: cellstore.CellStore
    key: str
    done: dict[str, dict]
    t0: float


def run_experiment(
    name: str | Experiment,
    settings,
    options: RunOptions | None = None,
    *,
    progress: ProgressFn = null_progress,
    on_event: Callable[[str], None] | None = None,
) -> RunOutput:
    """Run every cell of `settings` (those not finished, with resume), log them, write the report.

    Returns the results and the paths written. Raises BenchError for what the user can fix,
    before any work where it can be known then; KeyboardInterrupt after storing what finished.
    """
    exp = name if isinstance(name, Experiment) else get(name)
    opts = options or RunOptions()
    opts = dataclasses.replace(opts, device=resolve_device(opts.device))  # auto -> cpu or cuda, once
    event = on_event or (lambda message: None)
    run = _start(exp, settings, opts, progress, event)
    todo = [(k, c) for k, c in zip(run.keys, run.cells) if k not in run.done]
    chunks = _announce(run, todo, event)
    seeds = list(getattr(settings, "seeds", ()) or [])
    tags = tracking.run_tags(opts.device, seeds, command=opts.command)
    params, _ = once({**flat(run.settings_dict), **flat(exp.params(settings) if exp.params else {})}, prefix="train.")
    params["store_key"] = run.key
    with (
        tracking.start_sweep(
            exp.name,
            experiment=opts.experiment,
            tracking_uri=opts.tracking_uri,
            params=params,
            tags=tags,
            enabled=opts.track,
        ) as sweep,
        tempfile.TemporaryDirectory() as tmp,
    ):
        common = {k: tags[k] for k in ("git_commit", "device") if k in tags}
        outcome = _run_cells(run, chunks, sweep, Path(tmp), common, progress)
        return _finish(run, outcome, sweep, seeds)


def _start(exp: Experiment, settings, opts: RunOptions, progress: ProgressFn, event) -> _Run:
    """Everything before the first cell: the grid, every output path probed, the tracking store and
    the executor checked, the plan said, the shared models prepared, the store keyed and read."""
    t0 = time.perf_counter()
    try:  # the grid first: a sweep with no cells is refused before any folder is made
        cells = [cellstore.plain(c, "cell") for c in exp.cells(settings)]
    except ValueError as e:
        raise BenchError(f"{exp.name}: {' '.join(str(e).split())}") from None
    if not cells:
        raise BenchError(f"{exp.name}: these settings give no cells to run; nothing was started")
    out = probe_dir(opts.out)
    if opts.cache_dir is not None:  # the cache every process of the run uses (workers get it in their env)
        os.environ["BENCH_CACHE_DIR"] = str(probe_dir(opts.cache_dir, option="--cache-dir").resolve())
    files = paths(exp, settings, out)
    probe_files(files.values())
    if opts.track:
        tracking.preflight(opts.tracking_uri)
    get_executor(opts.executor).preflight(opts.executor_settings)
    settings_dict = cellstore.plain(dataclasses.asdict(settings), "settings")
    keys = [exp.cell_name(c) for c in cells]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{exp.name}: two cells share a name; cell_name must tell them apart")
    workers = opts.workers or default_workers(exp, opts.device, len(cells))
    train_label = precision.run_label(opts.train_precision, opts.device)  # checks the name, too
    # The data folder made absolute: a Ray or SLURM worker runs in another directory.
    ctx = Context(
        settings,
        device=str(opts.device),
        retrain=opts.retrain,
        train_precision=opts.train_precision,
        data_dir=None if opts.data_dir is None else str(Path(opts.data_dir).resolve()),
        plugins=tuple(plugins.loaded()),
        threads=opts.threads,
        progress=progress,
        event=event,
    )
    for line in exp.plan(ctx) if exp.plan else []:
        event(line)
    if exp.prepare is not None:
        ctx.prepared = Prepared.of(cellstore.plain(Prepared.of(exp.prepare(ctx)).as_dict(), "prepare()"))
    measured = {k: v for k, v in settings_dict.items() if k not in exp.judging}
    identity = dict(ctx.prepared.identity if ctx.prepared else {})
    if train_label != "fp32":  # models trained in bf16 are other models; fp32 keeps the older keys
        identity["train_precision"] = train_label
    key = cellstore.store_key(exp.name, measured, identity, exp.version)
    store = cellstore.CellStore(out / "runs" / f"{exp.report(settings)}-{key}")
    done = {k: r for k in keys if (r := store.load(k)) is not None} if opts.resume else {}
    return _Run(
        exp, opts, settings, settings_dict, cells, keys, out, files, workers, train_label, ctx, store, key, done, t0
    )


def _announce(run: _Run, todo: list[tuple[str, dict]], event) -> list[list[tuple[str, dict]]]:
    """Say how many cells run where and, when the experiment can tell, how long they may take;
    the cells left, in chunks."""
    opts = run.opts
    event(
        f"{len(run.cells)} cells: {len(run.done)} already finished (--resume), {len(todo)} to run on "
        f"{opts.device}"
        + (get_executor(opts.executor).where(opts.executor_settings, run.workers) if todo else "")
        + f"; results in {run.out}"
    )
    chunks = _chunks(run.exp, todo)
    if run.exp.estimate is not None and todo:
        at_once = get_executor(opts.executor).parallelism(opts.executor_settings, run.workers, len(chunks))
        seconds = run.exp.estimate(run.ctx, [c for _, c in todo]) / at_once
        event(
            f"about {_minutes(seconds)} to run them (estimated on this machine, {at_once} chunk"
            f"{'s' * (at_once != 1)} at a time)"
        )
    return chunks


def _run_cells(run: _Run, chunks, sweep, tmp: Path, common: dict, progress: ProgressFn) -> dict[str, dict]:
    """Every cell's outcome: the resumed ones logged first, the rest as their chunks return, each
    stored (atomically) and logged as an MLflow child as it arrives."""
    exp, ctx, n = run.exp, run.ctx, len(run.cells)
    context = (ctx.prepared or Prepared()).as_dict()  # what cell_tags read: the saved form
    outcome: dict[str, dict] = {}
    for k, c in zip(run.keys, run.cells):
        if k in run.done:
            outcome[k] = {"status": "finished", "record": run.done[k], "error": None, "resumed": True}
            log_cell(exp, c, k, run.done[k], None, True, sweep, tmp, context, common)
    progress("cells", len(run.done), n)
    partial: dict[int, int] = {}  # cells finished in chunks still running
    returned: set[int] = set()

    def on_progress(task: str, k: int, total: int, **info) -> None:
        if task != CELL_DONE:
            progress(task, k, total, **info)
        elif info.get("chunk") not in returned:
            partial[info.get("chunk")] = k
            progress("cells", len(outcome) + sum(partial.values()), n)

    ctx.progress = on_progress
    plain = [[c for _, c in ch] for ch in chunks]
    for index, chunk, result in execute(
        exp,
        plain,
        ctx,
        run.opts.executor,
        run.opts.executor_settings,
        workers=run.workers,
        state=run.store.folder,
        collect=run.opts.resume,
    ):
        returned.add(index)
        partial.pop(index, None)
        for i, c in enumerate(chunk):
            k = exp.cell_name(c)
            if isinstance(result, BaseException):
                error = f"{type(result).__name__}: {' '.join(str(result).split())}"
                outcome[k] = {"status": "failed", "record": None, "error": error, "resumed": False}
                log_cell(exp, c, k, None, error, False, sweep, tmp, context, common)
                continue
            record = cellstore.plain(result[i], f"record of {k}")
            run.store.save(k, c, record)
            outcome[k] = {"status": "finished", "record": record, "error": None, "resumed": False}
            log_cell(exp, c, k, record, None, False, sweep, tmp, context, common)
        progress("cells", len(outcome), n)
    return outcome


def _finish(run: _Run, outcome: dict[str, dict], sweep, seeds: list[int]) -> RunOutput:
    """The results (slimmed records, verdicts, run facts) saved, the report made from the saved
    form, and the parent MLflow run given its verdict tags, summary metrics and artifacts."""
    exp, ctx, opts = run.exp, run.ctx, run.opts
    cells = [
        {"key": k, "cell": c, **slimmed(exp, outcome[k], c, run.settings_dict)} for k, c in zip(run.keys, run.cells)
    ]
    prepared = ctx.prepared or Prepared()
    results = Results(exp.name, run.settings_dict, cells, context=prepared.as_dict())
    results.verdicts = judge(exp, results)
    fingerprint, checkpoints = _provenance(prepared, results.records())
    results.facts = collect_facts(
        seeds=seeds,
        data_fingerprint=fingerprint,
        device=opts.device,
        checkpoints=checkpoints,
        wall_time_s=time.perf_counter() - run.t0,
        command=opts.command,
        out=run.out,
        resumed_cells=len(run.done),
        total_cells=len(run.cells),
        plugins=plugins.described(),
        numerics=precision.describe(opts.device, run.train_label, prepared.precision),
    ).to_dict()
    saved, written = write_outputs(exp, results, run.files)
    sweep.set_tags(
        {
            **verdict_tags(results.verdict_objs()),
            "mlflow.note.content": description(results.verdict_objs(), str(run.files["md"])),
        }
    )
    datasets = [*prepared.datasets, *(d for r in results.records() for d in r.get("datasets") or [])]
    sweep.log_inputs(inputs.unique(datasets))
    numbers = {k: v for k, v in prepared.facts.items() if isinstance(v, (int, float))}
    summary = exp.summary_metrics(saved) if exp.summary_metrics else {}
    sweep.set_tags({k: v for k, v in summary.items() if isinstance(v, str)})
    summary = {k: v for k, v in summary.items() if not isinstance(v, str)}
    sweep.log_metrics(
        {
            **numbers,
            **summary,
            "wall_time_s": results.facts["wall_time_s"],
            "failed_cells": float(len(results.failed())),
        }
    )
    for p in (run.files["md"], run.files["csv"], run.files["json"], *written):
        sweep.log_artifact(p)
    files = run.files
    return RunOutput(
        saved,
        files["md"],
        files["csv"],
        files["json"],
        written,
        run.store.folder,
        run.workers,
        sweep.run_id,
        sweep.url,
        [c["key"] for c in saved.failed()],
        sweep.ui_command(),
    )


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def _provenance(prepared: Prepared, records: list[dict]) -> tuple[str | None, dict]:
    """The data fingerprint(s) and checkpoint digests of a run: what prepare() found, and what
    each record names (`data_fingerprint`, `checkpoints`: cells that train their own models)."""
    prints = {prepared.data_fingerprint} if prepared.data_fingerprint else set()
    checkpoints = dict(prepared.checkpoints)
    for r in records:
        if r.get("data_fingerprint"):
            prints.add(r["data_fingerprint"])
        checkpoints.update(r.get("checkpoints") or {})
    return (",".join(sorted(prints)) or None), checkpoints


def _chunks(exp: Experiment, todo: list[tuple[str, dict]]) -> list[list[tuple[str, dict]]]:
    """Cells in grid order, grouped by the experiment's chunk key (one chunk per cell without)."""
    if exp.chunk_key is None:
        return [[item] for item in todo]
    groups: dict = {}
    for item in todo:
        groups.setdefault(json.dumps(exp.chunk_key(item[1]), sort_keys=True), []).append(item)
    return list(groups.values())
