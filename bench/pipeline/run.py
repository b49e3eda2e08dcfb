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
import datetime as dt
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import plugins, precision, sensitivity, tracking
from bench.atomic import atomic_write_text
from bench.data import inputs
from bench.errors import BenchError
from bench.facts import collect_facts, git_state
from bench.outputs import probe_dir, probe_files
from bench.pipeline import remote
from bench.pipeline import store as cellstore
from bench.pipeline.context import Context
from bench.pipeline.executor import default_workers, execute
from bench.pipeline.registry import Experiment, ensure_registered, get
from bench.pipeline.remote import ExecutorSpec
from bench.pipeline.results import Results, load
from bench.pipeline.worker import CELL_DONE
from bench.progress import ProgressFn, null_progress
from bench.report import markdown_table, write_csv, write_report
from bench.verdict import verdict_tags


@dataclass
class RunOptions:
    """How to run (never what: that is the settings)."""

    out: Path = Path("reports")
    device: str = "cpu"
    resume: bool = False
    retrain: bool = False
    train_precision: str = "fp32"  # fp32, bf16 or auto: the models a run trains (bench.precision)
    workers: int | None = None  # local worker processes (None: the experiment's default)
    threads: int | None = None  # torch threads per process
    data_dir: str | None = None
    track: bool = True
    tracking_uri: str | None = None
    experiment: str | None = None  # MLflow experiment name (default: the experiment's)
    command: str | None = None  # the command line, for the report and the run's tags
    executor: ExecutorSpec = field(default_factory=ExecutorSpec)  # local, ray or slurm


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


def paths(exp: Experiment, settings, out: Path) -> dict[str, Path]:
    name = exp.report(settings)
    return {ext: Path(out) / f"{name}.{ext}" for ext in ("md", "csv", "json")}


def _flat(d: dict) -> dict:
    """Settings as MLflow params: lists joined by commas, dicts as JSON."""
    out = {}
    for k, v in d.items():
        if isinstance(v, (list, tuple)):
            v = ",".join(json.dumps(x) if isinstance(x, (dict, list)) else str(x) for x in v)
        elif isinstance(v, dict):
            v = json.dumps(v, sort_keys=True)
        out[k] = v
    return out


def _child(
    exp: Experiment,
    cell: dict,
    key: str,
    record: dict | None,
    error: str | None,
    resumed: bool,
    sweep,
    folder: Path,
    facts: dict,
    common: dict,
) -> None:
    """Log one cell as a child run: the cell's fields and record['params'] as params, the
    record's top-level numbers as metrics, its histories as step metrics; as tags the run's
    `common` ones (git commit, device), the data fingerprint and the checkpoint digests (the
    record's, else the experiment's cell_tags from the prepare() facts); its datasets as inputs."""
    record = record or {}
    metrics = {k: float(v) for k, v in record.items() if isinstance(v, (int, float)) and k != "history_every"}
    every = int(record.get("history_every", 1))
    histories = {k: {i * every: v for i, v in enumerate(vals)} for k, vals in (record.get("histories") or {}).items()}
    figures = []
    if error is None and exp.cell_figures is not None and sweep.enabled:
        figures = exp.cell_figures(cell, record, folder)
    tags = {**common, **(exp.cell_tags(cell, facts) if exp.cell_tags else {}), **(record.get("tags") or {})}
    fingerprint = record.get("data_fingerprint") or facts.get("data_fingerprint")
    if fingerprint:
        tags["data_fingerprint"] = fingerprint
    sweep.log_child(
        key,
        params={**_flat(cell), **_flat(record.get("params") or {})},
        metrics=None if error else metrics,
        histories=None if error else histories,
        tags={**tags, "resumed": str(resumed).lower()},
        artifacts=figures,
        error=error,
        datasets=record.get("datasets") or facts.get("datasets") or (),
    )


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
    event = on_event or (lambda message: None)
    t0 = time.perf_counter()
    try:  # the grid first: a sweep with no cells is refused before any folder is made
        cells = [cellstore.plain(c, "cell") for c in exp.cells(settings)]
    except ValueError as e:
        raise BenchError(f"{exp.name}: {' '.join(str(e).split())}") from None
    if not cells:
        raise BenchError(f"{exp.name}: these settings give no cells to run; nothing was started")
    out = probe_dir(opts.out)
    files = paths(exp, settings, out)
    probe_files(files.values())
    if opts.track:
        tracking.preflight(opts.tracking_uri)
    remote.preflight(opts.executor)

    settings_dict = cellstore.plain(dataclasses.asdict(settings), "settings")
    keys = [exp.cell_name(c) for c in cells]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{exp.name}: two cells share a name; cell_name must tell them apart")
    workers = opts.workers or default_workers(exp, opts.device, len(cells))
    # The data folder made absolute: a Ray or SLURM worker runs in another directory.
    train_label = precision.run_label(opts.train_precision, opts.device)  # checks the name, too
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
        ctx.facts = cellstore.plain(exp.prepare(ctx), "prepare()")
    measured = {k: v for k, v in settings_dict.items() if k not in exp.judging}
    identity = dict(ctx.facts.get("identity", {}))
    if train_label != "fp32":  # models trained in bf16 are other models; fp32 keeps the older keys
        identity["train_precision"] = train_label
    key = cellstore.store_key(exp.name, measured, identity, exp.version)
    cell_store = cellstore.CellStore(out / "runs" / f"{exp.report(settings)}-{key}")

    done: dict[str, dict] = {}
    if opts.resume:
        done = {k: r for k in keys if (r := cell_store.load(k)) is not None}
    todo = [(k, c) for k, c in zip(keys, cells) if k not in done]
    event(
        f"{len(cells)} cells: {len(done)} already finished (--resume), {len(todo)} to run on "
        f"{opts.device}" + _where(opts.executor, workers, bool(todo)) + f"; results in {out}"
    )
    chunks = _chunks(exp, todo)
    if exp.estimate is not None and todo:
        at_once = remote.parallelism(opts.executor, workers, len(chunks))
        seconds = exp.estimate(ctx, [c for _, c in todo]) / at_once
        event(
            f"about {_minutes(seconds)} to run them (estimated on this machine, {at_once} chunk"
            f"{'s' * (at_once != 1)} at a time)"
        )
    outcome: dict[str, dict] = {}
    params = {**_flat(settings_dict), **_flat(exp.params(settings) if exp.params else {}), "store_key": key}
    seeds = list(getattr(settings, "seeds", ()) or [])
    tags = tracking.run_tags(opts.device, seeds, command=opts.command)
    common = {k: tags[k] for k in ("git_commit", "device") if k in tags}
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
        for k, c in zip(keys, cells):
            if k in done:
                outcome[k] = {"status": "finished", "record": done[k], "error": None, "resumed": True}
                _child(exp, c, k, done[k], None, True, sweep, Path(tmp), ctx.facts, common)
        progress("cells", len(done), len(cells))
        partial: dict[int, int] = {}  # cells finished in chunks still running
        returned: set[int] = set()

        def on_progress(task: str, k: int, n: int, **info) -> None:
            if task != CELL_DONE:
                progress(task, k, n, **info)
            elif info.get("chunk") not in returned:
                partial[info.get("chunk")] = k
                progress("cells", len(outcome) + sum(partial.values()), len(cells))

        ctx.progress = on_progress
        plain = [[c for _, c in ch] for ch in chunks]
        outcomes = execute(
            exp, plain, ctx, workers=workers, spec=opts.executor, state=cell_store.folder, collect=opts.resume
        )
        for index, chunk, result in outcomes:
            returned.add(index)
            partial.pop(index, None)
            for i, c in enumerate(chunk):
                k = exp.cell_name(c)
                if isinstance(result, BaseException):
                    error = f"{type(result).__name__}: {' '.join(str(result).split())}"
                    outcome[k] = {"status": "failed", "record": None, "error": error, "resumed": False}
                    _child(exp, c, k, None, error, False, sweep, Path(tmp), ctx.facts, common)
                    continue
                record = cellstore.plain(result[i], f"record of {k}")
                cell_store.save(k, c, record)
                outcome[k] = {"status": "finished", "record": record, "error": None, "resumed": False}
                _child(exp, c, k, record, None, False, sweep, Path(tmp), ctx.facts, common)
            progress("cells", len(outcome), len(cells))

        results = Results(
            exp.name,
            settings_dict,
            [{"key": k, "cell": c, **slimmed(exp, outcome[k], c, settings_dict)} for k, c in zip(keys, cells)],
            context=ctx.facts,
        )
        results.verdicts = judge(exp, results)
        fingerprint, checkpoints = _provenance(ctx.facts, results.records())
        results.facts = collect_facts(
            seeds=seeds,
            data_fingerprint=fingerprint,
            device=opts.device,
            checkpoints=checkpoints,
            wall_time_s=time.perf_counter() - t0,
            command=opts.command,
            out=out,
            resumed_cells=len(done),
            total_cells=len(cells),
            plugins=plugins.described(),
            numerics=precision.describe(opts.device, train_label, ctx.facts.get("precision")),
        ).to_dict()
        saved, written = write_outputs(exp, results, files)
        sweep.set_tags(verdict_tags(results.verdict_objs()))
        sweep.log_inputs(
            inputs.unique(
                [*(ctx.facts.get("datasets") or []), *(d for r in results.records() for d in r.get("datasets") or [])]
            )
        )
        numbers = {k: v for k, v in ctx.facts.items() if isinstance(v, (int, float))}
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
        for p in (files["md"], files["csv"], files["json"], *written):
            sweep.log_artifact(p)
    return RunOutput(
        saved,
        files["md"],
        files["csv"],
        files["json"],
        written,
        cell_store.folder,
        workers,
        sweep.run_id,
        sweep.url,
        [c["key"] for c in saved.failed()],
    )


def slimmed(exp: Experiment, outcome: dict, cell: dict, settings: dict) -> dict:
    """A cell's outcome as the saved results keep it (the experiment's `slim` of its record)."""
    if exp.slim is None or not outcome.get("record"):
        return outcome
    return {**outcome, "record": exp.slim(outcome["record"], cell, settings)}


def judge(exp: Experiment, results: Results) -> list[dict]:
    """The experiment's verdicts on the results, each with how stable it is (bench.sensitivity),
    as saved dicts."""

    return [v.to_dict() for v in sensitivity.measure(exp, results, exp.verdicts(results))]


def _where(spec: ExecutorSpec, workers: int, todo: bool) -> str:
    if not todo:
        return ""
    if spec.kind == "ray":
        return f" as Ray tasks ({spec.cpus_per_task:g} CPU, {spec.gpus_per_task:g} GPU each)"
    if spec.kind == "slurm":
        return f" as a SLURM job array (logs in {spec.slurm_log_dir})"
    return f" in {workers} worker processes" if workers > 1 else ""


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def _provenance(facts: dict, records: list[dict]) -> tuple[str | None, dict]:
    """The data fingerprint(s) and checkpoint digests of a run: what prepare() found, and what
    each record names (`data_fingerprint`, `checkpoints`: cells that train their own models)."""
    prints = {facts["data_fingerprint"]} if facts.get("data_fingerprint") else set()
    checkpoints = dict(facts.get("checkpoints") or {})
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


def write_outputs(exp: Experiment, results: Results, files: dict[str, Path]):
    """Save the results JSON, then make the CSV, figures and markdown from the saved form (so a
    rebuild from the JSON makes the same markdown byte for byte). Returns (saved, figures)."""

    text = results.to_json()
    atomic_write_text(files["json"], text)
    saved = Results.from_json(text)
    return saved, _render_all(exp, saved, files)


def _render_all(exp: Experiment, results: Results, files: dict[str, Path]) -> list[Path]:

    write_csv(exp.rows(results) if exp.rows else default_rows(results), files["csv"])
    figures = exp.figures(results, files["md"].parent)
    write_report(files["md"].parent, files["md"].stem, markdown(exp, results))
    return figures


def markdown(exp: Experiment, results: Results) -> str:
    """The experiment's report, and below it the cells that failed, whatever the experiment."""
    text = exp.render(results).rstrip("\n") + "\n"
    failed = results.failed()
    if failed:
        rows = [{"cell": c["key"], "error": c["error"]} for c in failed]
        text += (
            f"\n## Failed cells\n\n{len(failed)} of {len(results.cells)} cells failed; "
            "the tables above leave them out. Rerun with `--resume` to retry them.\n\n" + markdown_table(rows) + "\n"
        )
    return text


def default_rows(results: Results) -> list[dict]:
    """One CSV row per cell: its fields, its status, and its record's top-level scalars."""
    rows = []
    for c in results.cells:
        record = c["record"] or {}
        scalars = {k: v for k, v in record.items() if isinstance(v, (int, float, str, bool))}
        rows.append({**c["cell"], "status": c["status"], "error": c["error"] or "", **scalars})
    return rows


def rejudge(path: str | Path) -> Results:
    """`bench report --rejudge`: judge a saved run's cells again by the current claims and
    statistics (nothing re-runs: verdicts are a function of the saved records), record when and at
    which commit in the run facts, and save the results in place (atomically)."""

    results = load(path)
    ensure_registered(results.experiment, results.facts.get("plugins", []), str(path))
    results.verdicts = judge(get(results.experiment), results)
    commit, _ = git_state()
    when = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    results.facts["judged"] = f"{when}, commit {(commit or 'unknown')[:12]} (bench report --rejudge)"
    atomic_write_text(Path(path), results.to_json())
    return results


def rebuild(path: str | Path, out: str | Path | None = None) -> dict[str, Path | list[Path]]:
    """`bench report`: the markdown, CSV and figures of a saved run, without rerunning it."""

    results = load(path)
    ensure_registered(results.experiment, results.facts.get("plugins", []), str(path))
    exp = get(results.experiment)
    folder = probe_dir(Path(out) if out is not None else Path(path).parent)
    name = Path(path).name.removesuffix(".json")
    files = {ext: folder / f"{name}.{ext}" for ext in ("md", "csv")}
    probe_files(files.values())
    figures = _render_all(exp, results, files)
    return {"report": files["md"], "csv": files["csv"], "figures": figures}
