"""`bench recover`: latent vector recovery under every latent regulator (tables 1-6 of Cho's
latent regulation paper), as an experiment of the pipeline.

The grid (bench.recovery.grid) gives the cells: (regulator, learning rate, hyperparameter) x
recovery seed. Cells of one regulator at one seed form a chunk that the batched engine recovers
in one tensor (bench.recovery.sweep.run_chunk); the weight-0 cells of tables 1-4 share the `none`
baseline's run and are recovered once. `prepare` trains or loads the scorer and the generator
and judges the generator; the report (bench.recovery.report) is a pure function of the results.
"""

from __future__ import annotations

import time

from bench.pipeline import Experiment, register
from bench.recovery import report
from bench.recovery.grid import Cell, cell_id, make_cell
from bench.recovery.sweep import PREVIEW, RecoverSettings, run_chunk, select_images, to_uint8

# Training times of the default models on 2 otherwise idle CPU cores, rounded up (measured on the
# cold-cache run of `bench recover --grid paper` of 2026-11-22: classifier 163 s, lsgan 235 s).
# Only used to tell the user what to expect before training starts.
EST_TRAIN_MINUTES = {"classifier": 3, "lsgan": 4}


def cells(s: RecoverSettings) -> list[dict]:
    return [{"regulator": c.regulator, "learning_rate": c.lr, "hyperparameter": c.hp, "seed": int(seed)}
            for c in s.cells() for seed in s.seeds]  # fmt: skip


def grid_cell(cell: dict) -> Cell:
    """The grid cell behind a pipeline cell (its table, paper accuracy and shared run)."""
    return make_cell(cell["regulator"], cell["learning_rate"], cell["hyperparameter"])


def cell_name(cell: dict) -> str:
    return f"{cell_id(cell['regulator'], cell['learning_rate'], cell['hyperparameter'])}|seed={cell['seed']}"


def chunk_key(cell: dict) -> list:
    """One chunk per (seed, regulator actually recovered): the engine batches a chunk's cells."""
    return [cell["seed"], grid_cell(cell).run.regulator]


def _models(ctx):
    """(classifier, classifier entry, trained generator), loaded once per process."""

    def build():
        from bench.classifier import SCORER_SEED, load_or_train_classifier
        from bench.models import load_or_train

        s: RecoverSettings = ctx.settings
        mnist = ctx.mnist()
        classifier, entry = load_or_train_classifier(
            mnist, seed=SCORER_SEED, device=ctx.torch_device, progress=ctx.progress,
            retrain=ctx.retrain, on_event=ctx.event)  # fmt: skip
        trained = load_or_train(s.spec(), mnist, seed=s.subset_seed, device=ctx.torch_device,
                                retrain=ctx.retrain, progress=ctx.progress, on_event=ctx.event)  # fmt: skip
        return classifier, entry, trained

    return ctx.memo("recover-models", build)


def _targets(ctx):
    """(image ids, target pixels, labels) of the fixed test-image subset, once per process."""

    def build():
        from bench.data import to_pixels

        s: RecoverSettings = ctx.settings
        mnist = ctx.mnist()
        ids = select_images(mnist.test_labels, s.images, s.subset_seed)
        return ids, to_pixels(mnist.test_images[ids]), mnist.test_labels[ids]

    return ctx.memo("recover-targets", build)


def plan(ctx) -> list[str]:
    """What the sweep will do and which models it must train first (files read and verified)."""
    from dataclasses import asdict

    from bench.cache import status
    from bench.classifier import SCORER_SEED, ClassifierConfig
    from bench.models import status as model_status

    s: RecoverSettings = ctx.settings
    grid = s.cells()
    runs = len({c.run_id for c in grid})
    fp = ctx.mnist().fingerprint
    lines = [(f"{len(grid)} cells ({runs} distinct runs) x {len(s.seeds)} seed(s) x {s.images} images "
              f"x {s.steps} steps x {s.restarts} restart(s) on {ctx.device}; regulators: "
              f"{', '.join(s.names())}")]  # fmt: skip
    cfg = asdict(ClassifierConfig())
    for kind, state in (("classifier", status("classifier", cfg, fp, SCORER_SEED)),
                        (s.generator, model_status(s.spec(), fp, s.subset_seed))):  # fmt: skip
        if state != "cached" or ctx.retrain:
            est = EST_TRAIN_MINUTES.get(kind)
            state = ("retrain requested" if ctx.retrain else state) + ", will train it now" + (
                f" (about {est} min on 2 CPU cores)" if est else "")
        lines.append(f"  {kind}: {state}")
    return lines


def prepare(ctx) -> dict:
    """Train or load the scorer and the generator, judge the generator with the scorer, say how
    long the sweep will take; the facts the report states about the models."""
    from dataclasses import asdict

    from bench.classifier import generator_quality
    from bench.data import to_pixels
    from lwgan.lsgan import generator_flops

    s: RecoverSettings = ctx.settings
    mnist = ctx.mnist()
    classifier, c_entry, trained = _models(ctx)
    G = trained.model.G
    quality = generator_quality(G, classifier, to_pixels(mnist.test_images).to(ctx.torch_device),
                                n=s.quality_samples, seed=s.subset_seed)  # fmt: skip
    ids, targets, _ = _targets(ctx)
    facts = {
        "classifier_test_accuracy": c_entry.metrics.get("test_accuracy"),
        "generator_config": asdict(trained.spec.config),
        "generator_frechet": quality["frechet"],
        "generator_digit_shares": quality["shares"],
        "generator_min_share": quality["min_share"],
        "generator_min_share_digit": quality["min_share_digit"],
        "generator_quality_samples": quality["n"],
        "generator_mflop_per_image": generator_flops(G) / 1e6,
        "classifier_train_seconds": c_entry.metrics.get("train_seconds"),
        "generator_train_seconds": trained.train_seconds,
        "image_ids": ids,
        "target_preview": to_uint8(targets[:PREVIEW]).tolist(),
        "data_fingerprint": mnist.fingerprint,
        "checkpoints": {"classifier": c_entry.digest, s.generator: trained.entry.digest},
        "identity": {"data": mnist.fingerprint, "classifier": c_entry.digest,
                     "generator": trained.entry.digest},
    }  # fmt: skip
    ctx.event(f"classifier test accuracy {facts['classifier_test_accuracy']:.2f}%; generator Frechet "
              f"{quality['frechet']:.2f}, smallest digit share {100 * quality['min_share']:.1f}% "
              f"(digit {quality['min_share_digit']})")  # fmt: skip
    if quality["min_share"] < 0.05:
        ctx.event("warning: the generator under-produces a digit (<5% of samples); recovery accuracy "
                  "on it is capped")  # fmt: skip
    ctx.event(f"sweep: about {estimate_seconds(ctx) / 60:.0f} min (timed on a few steps here)")
    return facts


def estimate_seconds(ctx, probe_images: int = 250, probe_steps: int = 3) -> float:
    """Rough wall time of the sweep: time a few steps of each regulator on a small chunk here and
    scale by its number of runs, images, restarts, steps and seeds. Costs a few seconds."""
    from bench.recovery.engine import recover_cells
    from bench.recovery.grid import unique_runs

    s: RecoverSettings = ctx.settings
    _, _, trained = _models(ctx)
    _, targets, _ = _targets(ctx)
    n = min(probe_images, s.images)
    by_reg: dict[str, list[Cell]] = {}
    for r in unique_runs(s.cells()):
        by_reg.setdefault(r.regulator, []).append(r)
    total = 0.0
    for group in by_reg.values():
        t0 = time.perf_counter()
        recover_cells(trained.model.G, trained.model.D, targets[:n], group[:2], steps=probe_steps,
                      prior=s.prior, prior_samples=s.prior_samples, device=ctx.torch_device)  # fmt: skip
        per_row_step = (time.perf_counter() - t0) / (len(group[:2]) * n * probe_steps)
        total += per_row_step * len(group) * s.images * s.restarts * s.steps
    return total * len(s.seeds)


def chunk(cells_: list[dict], ctx) -> list[dict]:
    """Recover and score one chunk (one regulator's cells at one seed); a record per cell."""
    s: RecoverSettings = ctx.settings
    classifier, _, trained = _models(ctx)
    ids, targets, labels = _targets(ctx)
    grid = [grid_cell(c) for c in cells_]
    records = run_chunk(trained.model.G, getattr(trained.model, "D", None), classifier, targets,
                        labels, ids, grid, cells_[0]["seed"], s, device=ctx.torch_device,
                        progress=ctx.progress)  # fmt: skip
    out = []
    for c, r in zip(grid, records):
        params = {"table": c.table or "", "shared_baseline": c.shared, "run_id": c.run_id,
                  "generator": s.generator, "images": s.images, "steps": s.steps,
                  "restarts": s.restarts, "prior": s.prior, "prior_samples": s.prior_samples or "d_z"}  # fmt: skip
        extra = {"paper_accuracy": c.paper_accuracy} if c.paper_accuracy is not None else {}
        out.append({**r, **extra, "params": params})
    return out


def summary_metrics(results) -> dict:
    """The best cell: its accuracy as a metric, its regulator and cell as tags."""
    best = report.best_cells(report.summary_frame(report.cell_frame(results)))
    fin = best[best["measured_accuracy"].notna()]
    if not len(fin):
        return {}
    top = fin.iloc[0]
    return {"best_accuracy": float(top["measured_accuracy"]), "best_regulator": top["regulator"],
            "best_cell": top["measured_best_cell"]}  # fmt: skip


EXPERIMENT = register(Experiment(
    name="recover",
    description="latent vector recovery under every regulator: tables 1-6 of Cho's paper",
    settings=RecoverSettings, cells=cells, run_chunk=chunk, chunk_key=chunk_key,
    render=report.render, verdicts=report.verdicts, figures=report.figures, prepare=prepare,
    plan=plan, rows=report.rows, cell_name=cell_name, report_name=lambda s: f"recover-{s.grid}",
    summary_metrics=summary_metrics,
))  # fmt: skip
