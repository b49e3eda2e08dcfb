"""`bench recover` as a library call: models, sweep, MLflow, report, CSV and figure in one function.

`run_recover` is the public Python API behind the CLI. It never prints: messages go to `on_event`,
progress to `progress`; it returns a `RecoverOutput` with the sweep result and the paths written.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from bench.progress import ProgressFn, null_progress
from bench.recovery.grid import Cell
from bench.recovery.sweep import (
    PREVIEW,
    CellStore,
    RecoverSettings,
    RunResult,
    SweepResult,
    run_sweep,
)

# Training times of the default models on 2 otherwise idle CPU cores, rounded up (measured on the
# cold-cache run of `bench recover --grid paper` of 2026-11-22: classifier 163 s, lsgan 235 s).
# Only used to tell the user what to expect before training starts.
EST_TRAIN_MINUTES = {"classifier": 3, "lsgan": 4}


@dataclass
class RecoverModels:
    generator: torch.nn.Module
    discriminator: torch.nn.Module | None
    classifier: torch.nn.Module
    facts: dict = field(default_factory=dict)  # accuracy, frechet, shares, checkpoint hashes
    checkpoints: dict = field(default_factory=dict)  # name -> sha256


@dataclass
class RecoverOutput:
    result: SweepResult
    report: Path
    csv: Path
    figures: list[Path]
    store: Path
    run_url: str | None = None
    parent_run_id: str | None = None


def model_plan(generator: str, mnist, *, seed: int = 0, **overrides) -> list[dict]:
    """Which models the sweep needs and whether each is cached (nothing is loaded or trained)."""
    from bench.cache import cache_key, entry_path
    from bench.classifier import SCORER_SEED, ClassifierConfig
    from lwgan.lsgan import config_dict
    from lwgan.registry import get_generator

    spec = get_generator(generator, **overrides)
    if spec.data_kind != "mnist" or spec.family != "lsgan":
        from bench.errors import BenchError

        raise BenchError(f"--generator: {generator!r} is not an MNIST generator for recovery; use lsgan")
    out = []
    for kind, config, kseed in (("classifier", asdict(ClassifierConfig()), SCORER_SEED),
                                ("lsgan", config_dict(spec.config), seed)):
        path = entry_path(kind, cache_key(kind, config, mnist.fingerprint, kseed))
        out.append({"kind": kind, "cached": path.exists(), "path": path,
                    "est_minutes": EST_TRAIN_MINUTES.get(kind)})
    return out


def load_models(
    generator: str,
    mnist,
    *,
    seed: int = 0,
    device: torch.device,
    progress: ProgressFn = null_progress,
    on_event: Callable[[str], None] | None = None,
    retrain: bool = False,
    quality_samples: int = 10_000,
    **overrides,
) -> RecoverModels:
    """Train or load the classifier and the generator, then measure the generator's quality."""
    from bench.classifier import SCORER_SEED, generator_quality, load_or_train_classifier
    from bench.data import to_pixels
    from lwgan.registry import get_generator

    spec = get_generator(generator, **overrides)
    classifier, c_entry = load_or_train_classifier(mnist, seed=SCORER_SEED, device=device, progress=progress,
                                                   retrain=retrain, on_event=on_event)
    G, D, g_entry = spec.load_or_train(mnist, seed=seed, device=device, progress=progress, retrain=retrain,
                                       on_event=on_event)
    quality = generator_quality(G, classifier, to_pixels(mnist.test_images).to(device), n=quality_samples,
                                seed=seed)
    from lwgan.lsgan import generator_flops

    facts = {
        "classifier_test_accuracy": c_entry.metrics.get("test_accuracy"),
        "generator": generator,
        "generator_config": {k: v for k, v in asdict(spec.config).items()},
        "generator_frechet": quality["frechet"],
        "generator_digit_shares": quality["shares"],
        "generator_min_share": quality["min_share"],
        "generator_min_share_digit": quality["min_share_digit"],
        "generator_quality_samples": quality["n"],
        "generator_mflop_per_image": generator_flops(G) / 1e6,
        "classifier_train_seconds": c_entry.metrics.get("train_seconds"),
        "generator_train_seconds": g_entry.metrics.get("train_seconds"),
    }
    return RecoverModels(G, D, classifier, facts, {"classifier": c_entry.sha256, generator: g_entry.sha256})


def models_markdown(m: RecoverModels) -> str:
    f = m.facts
    shares = f.get("generator_digit_shares") or []
    share_txt = ", ".join(f"{d}: {100 * s:.1f}%" for d, s in enumerate(shares))
    lines = [
        (f"- Classifier (scorer): test accuracy {f['classifier_test_accuracy']:.2f}% on the 10,000 MNIST test "
        "images (trained on the training set only; the paper's: 99.4%)."),
        (f"- Generator `{f['generator']}`: Frechet distance to the test set in the classifier's feature space "
        f"{f['generator_frechet']:.2f}; digit shares among {f['generator_quality_samples']:,} samples: {share_txt} "
        f"(minimum {100 * f['generator_min_share']:.1f}%, digit {f['generator_min_share_digit']}); "
        f"{f['generator_mflop_per_image']:.2f} MFLOP per image forward."),
        f"- Generator config: `{json.dumps(f['generator_config'], sort_keys=True)}`.",
        "- Checkpoints (sha256): " + ", ".join(f"{k} `{v[:16]}`" for k, v in m.checkpoints.items()) + ".",
    ]
    times = [f"{name} {f[key]:.0f} s" for name, key in (("classifier", "classifier_train_seconds"),
                                                        (f["generator"], "generator_train_seconds"))
             if f.get(key) is not None]
    if times:
        lines.append("- Training time of each checkpoint when it was trained (not part of this run's wall time "
                     "if it was loaded from the cache): " + ", ".join(times) + ".")
    return "\n".join(lines)


def _cell_params(cell: Cell, seed: int, s: RecoverSettings) -> dict:
    return {
        "regulator": cell.regulator,
        "learning_rate": cell.lr,
        "hyperparameter": cell.hp,
        "generator": s.generator,
        "seed": seed,
        "table": cell.table or "",
        "shared_baseline": cell.shared,
        "run_id": cell.run_id,
        "images": s.images,
        "steps": s.steps,
        "restarts": s.restarts,
        "prior": s.prior,
        "prior_samples": s.prior_samples or "d_z",
    }


def _child_metrics(r: RunResult, cell: Cell) -> dict:
    out = {k: v for k, v in r.metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    if cell.paper_accuracy is not None:
        out["paper_accuracy"] = cell.paper_accuracy
    return out


def run_recover(
    settings: RecoverSettings,
    *,
    mnist,
    models: RecoverModels,
    out: Path,
    device: torch.device,
    resume: bool = False,
    max_batch: int | None = None,
    track: bool = True,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    command: str | None = None,
    progress: ProgressFn = null_progress,
    on_event: Callable[[str], None] | None = None,
) -> RecoverOutput:
    """Sweep the grid with `models`, log it to MLflow, write report, CSV and figure into `out`."""
    from bench.data import to_pixels
    from bench.recovery.engine import DEFAULT_MAX_BATCH
    from bench.recovery.figures import recovery_figure, save_figure
    from bench.recovery.report import best_cells, cell_frame, render, summary_frame
    from bench.report import collect_facts, facts_markdown, markdown_table, write_csv, write_report
    from bench.tracking import run_tags, start_sweep

    t0 = time.perf_counter()
    out = Path(out)
    key = settings.key(models.checkpoints, mnist.fingerprint)
    store = CellStore(out / "recover-runs" / key)
    name = f"recover-{settings.grid}"
    test_images = to_pixels(mnist.test_images)
    cells_by_run: dict[str, list[Cell]] = {}
    for c in settings.cells():
        cells_by_run.setdefault(c.run_id, []).append(c)

    params = {k: (",".join(map(str, v)) if isinstance(v, tuple) else v) for k, v in asdict(settings).items()}
    params["sweep_key"] = key
    with start_sweep(name, experiment=experiment or "recover", tracking_uri=tracking_uri, params=params,
                     tags={**run_tags(device, list(settings.seeds), command=command), **{
                         f"checkpoint.{k}": v for k, v in models.checkpoints.items()}},
                     enabled=track) as sweep:
        sweep.log_metrics({k: v for k, v in models.facts.items() if isinstance(v, (int, float))})

        def on_result(r: RunResult) -> None:
            for cell in cells_by_run.get(r.run_id, []):
                sweep.log_child(
                    f"{cell.id}|seed={r.seed}",
                    params=_cell_params(cell, r.seed, settings),
                    metrics=_child_metrics(r, cell) if r.ok else None,
                    histories={"loss": r.loss_history} if r.ok and r.loss_history else None,
                    tags={"resumed": str(r.resumed).lower()},
                    error=r.error,
                )

        result = run_sweep(settings, generator=models.generator, discriminator=models.discriminator,
                           classifier=models.classifier, test_images=test_images, test_labels=mnist.test_labels,
                           store=store, resume=resume, device=device, max_batch=max_batch or DEFAULT_MAX_BATCH,
                           progress=progress, on_result=on_result)
        result.wall_time_s = time.perf_counter() - t0

        cells = cell_frame(result)
        csv_path = write_csv(cells, out / f"{name}.csv")
        facts = collect_facts(seeds=list(settings.seeds), data_fingerprint=mnist.fingerprint, device=device,
                              checkpoints=models.checkpoints, wall_time_s=result.wall_time_s, command=command,
                              out=out)
        md = render(result, facts_md=facts_markdown(facts), models_md=models_markdown(models),
                    markdown_table=markdown_table)
        best = best_cells(summary_frame(cells))
        figures = _best_figure(result, best, test_images, out / f"{name}-best", recovery_figure, save_figure)
        if figures:
            md += f"\nFigure: targets (top row) and their recoveries in the best cell of each regulator: `{figures[-1].name}`.\n"
        report = write_report(out, name, md)
        store.write_manifest({"settings": asdict(settings), "models": models.checkpoints,
                              "data": mnist.fingerprint, "facts": facts.to_dict()})
        for p in [report, csv_path, *figures]:
            sweep.log_artifact(p)
        fin = best[best["measured_accuracy"].notna()]
        if len(fin):
            top = fin.iloc[0]
            sweep.set_tags({"best_regulator": top["regulator"], "best_cell": top["measured_best_cell"]})
            sweep.log_metrics({"best_accuracy": float(top["measured_accuracy"])})
        if result.interrupted:
            raise KeyboardInterrupt  # the parent run ends KILLED; everything above is saved
    return RecoverOutput(result, report, csv_path, figures, store.folder, sweep.url, sweep.run_id)


def _best_figure(result: SweepResult, best, test_images, stem: Path, recovery_figure, save_figure) -> list[Path]:
    """Targets and the recoveries of each regulator's best cell (first seed), as PDF and PNG."""
    import numpy as np

    seed = result.settings.seeds[0]
    rows = []
    for _, b in best[best["measured_accuracy"].notna()].iterrows():
        cell = next((c for c in result.cells if c.regulator == b["regulator"] and c.lr == b["_lr"]
                     and c.hp == b["_hp"]), None)
        r = result.result(cell, seed) if cell is not None else None
        if r is not None and r.ok and r.preview:
            rows.append((f"{b['regulator']}\n{b['measured_best_cell']}", np.asarray(r.preview, dtype=np.uint8)))
    if not rows:
        return []
    ids = result.image_ids[:PREVIEW]
    targets = ((test_images[ids].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).reshape(-1, 28, 28).numpy()
    fig = recovery_figure(targets, rows, title="Targets and recoveries, best cell per regulator")
    return save_figure(fig, stem)


def estimate_sweep_seconds(settings: RecoverSettings, models: RecoverModels, mnist, *, device,
                           probe_images: int = 250, probe_steps: int = 3) -> float:
    """Rough wall time of the sweep: time a few steps of each regulator on a small chunk here and
    scale by its number of runs, images, restarts, steps and seeds. Costs a few seconds."""
    from bench.data import to_pixels
    from bench.recovery.engine import recover_cells
    from bench.recovery.grid import unique_runs

    runs = unique_runs(settings.cells())
    n = min(probe_images, settings.images)
    targets = to_pixels(mnist.test_images[:n])
    total = 0.0
    by_reg: dict[str, list[Cell]] = {}
    for r in runs:
        by_reg.setdefault(r.regulator, []).append(r)
    for group in by_reg.values():
        probe = group[:2]
        t0 = time.perf_counter()
        recover_cells(models.generator, models.discriminator, targets, probe, steps=probe_steps,
                      restarts=1, seed=0, prior=settings.prior, prior_samples=settings.prior_samples,
                      device=device)
        per_row_step = (time.perf_counter() - t0) / (len(probe) * n * probe_steps)
        total += per_row_step * len(group) * settings.images * settings.restarts * settings.steps
    return total * len(settings.seeds)
