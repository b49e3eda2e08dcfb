"""What every cell of a recovery run shares, made once in the driver: the scorer, the generators
at their seeds and the target images; the plan said up front (models to train, how long), the
facts `prepare` saves with the results (accuracies, digests, each generator's quality and the
reference LSGAN's), and the time the cells left will take here. Worker processes load what
`prepare` made (never retrain), through the same functions."""

from __future__ import annotations

import dataclasses
import time

from bench.cache import status
from bench.data.inputs import mnist_input
from bench.pipeline.prepared import Prepared
from bench.precision import resolve as resolve_precision
from bench.recovery.grid import make_cell, unique_runs
from bench.recovery.recover_settings import RecoverSettings


def cells(s: RecoverSettings) -> list[dict]:
    """Generator x generator seed x grid cell x recovery seed, one generator's cells together; a
    generator on fewer images (images_for) carries its count in each cell."""
    return [
        {
            "generator": g,
            "generator_seed": int(gs),
            "regulator": c.regulator,
            "learning_rate": c.lr,
            "hyperparameter": c.hp,
            "seed": int(seed),
            **({"images": s.images_of(g)} if g in s.images_for else {}),
        }
        for g in s.generators
        for gs in s.seeds_of(g)
        for c in s.generator_cells(g)
        for seed in s.seeds
    ]


def model_key(generator: str, generator_seed: int) -> str:
    return f"{generator} s{generator_seed}"


def grid_cell(cell: dict):
    """The grid cell behind a pipeline cell (its table, paper accuracy and shared run)."""
    return make_cell(cell["regulator"], cell["learning_rate"], cell["hyperparameter"])


# Training times of the default models on 2 otherwise idle CPU cores, rounded up (the classifier
# 5 x 16.5 s and the LSGAN 20 x 9.9 s per epoch, benchmarks/cold_start.py, 2026-12-01; an MNIST
# LWGAN 141-150 s). Models train one after the other: side by side in threads they would share
# torch's global RNG (the classifier's dropout, every model's init), and their weights would
# depend on the threads' timing. Only used to tell the user what to expect.
CLASSIFIER_MINUTES = 2  # the scorer's training on 2 CPU cores; a generator's time is its family's to say


def scorer(ctx):
    """(classifier, its cache entry), loaded once per process."""

    def build():
        from bench.classifier import SCORER_SEED, ClassifierConfig, load_or_train_classifier

        # A worker scores with the scorer the driver prepared (its config travels in the facts),
        # whatever its own process's defaults, and never retrains what the driver verified.
        cfg = ctx.prepared.facts.get("classifier_config") if ctx.prepared else None
        # The judge never changes with the run: float32 whatever --train-precision says, so every
        # accuracy and Frechet distance of every run is in the same scorer's terms.
        return load_or_train_classifier(
            ctx.mnist(),
            seed=SCORER_SEED,
            device=ctx.torch_device,
            progress=ctx.progress,
            retrain=ctx.retrain and ctx.prepared is None,
            on_event=ctx.event,
            cfg=ClassifierConfig(**cfg) if cfg else None,
            precision="fp32",
        )

    return ctx.memo("recover-classifier", build)


def generator_model(ctx, generator: str, generator_seed: int):
    """The RecoveryModel of (generator, seed), trained or loaded once per process."""
    from bench.recovery import generators

    s: RecoverSettings = ctx.settings
    return ctx.memo(
        ("recover-model", generator, generator_seed),
        lambda: generators.load(
            generator,
            generator_seed,
            ctx.mnist(),
            device=ctx.torch_device,
            retrain=ctx.retrain and ctx.prepared is None,
            latent_rank=s.latent_rank,
            latent_dim=s.latent_dim,
            arch=s.arch,
            prior=s.prior,
            progress=ctx.progress,
            on_event=ctx.event,
            precision=ctx.train_precision,
        ),
    )


def target_images(ctx, model):
    """(image ids, target pixels, labels, z*, eps*): the fixed test-image subset (z* and eps* None),
    or with targets "generated" G(z*, eps*) for the model's images draws of its prior, labelled by
    the classifier. Once per process and image count (per model for generated targets)."""
    s: RecoverSettings = ctx.settings
    n = s.images_of(model.name)

    def test():
        from bench.data import to_pixels
        from bench.recovery.sweep import select_images

        mnist = ctx.mnist()
        ids = select_images(mnist.test_labels, n, s.subset_seed)
        return ids, to_pixels(mnist.test_images[ids]), mnist.test_labels[ids], None, None

    def generated():
        from bench.classifier import predict
        from bench.recovery.generators import draw

        z, eps, x = draw(model, n, s.subset_seed, tag="target")
        return list(range(n)), x, predict(scorer(ctx)[0], x).cpu(), z, eps

    if s.targets == "test":
        return ctx.memo(("recover-targets", n), test)
    return ctx.memo(("recover-span", model.name, model.seed), generated)


def plan(ctx) -> list[str]:
    """What the sweep will do and which models it must train first (files read and verified)."""
    from bench.classifier import SCORER_SEED, ClassifierConfig, classifier_key
    from bench.recovery import generators
    from lwgan.families import get_family

    s: RecoverSettings = ctx.settings
    grid = s.cells()
    runs = len({c.run_id for c in grid})
    fp = ctx.mnist().fingerprint
    lines = [
        (
            f"{len(cells(s))} cells: {len(grid)} grid cells ({runs} distinct runs) x "
            f"{len(s.generators)} generator(s) x {len(s.generator_seeds)} generator seed(s) x "
            + (f"(fewer for {', '.join(f'{g} {list(v)}' for g, v in s.seeds_for.items())}) x " if s.seeds_for else "")
            + f"{len(s.seeds)} recovery seed(s); {s.images} {s.targets} images x {s.steps} steps x "
            f"{s.restarts} restart(s) on {ctx.device}; regulators: {', '.join(s.names())}"
        )
    ]
    for g in s.generators:
        if len(s.generator_cells(g)) < len(grid):
            lines.append(f"  {g}: no LSGAN discriminator, so trick_discriminator's cells are not run")
    tp, dev = ctx.train_precision, ctx.torch_device
    key = classifier_key(ClassifierConfig(), "fp32")  # the scorer: float32 in every run
    models = [("classifier", "classifier", status("classifier", key, fp, SCORER_SEED))]
    overrides = {"latent_dim": s.latent_dim, "arch": s.arch}
    models += [
        (model_key(g, gs), g, generators.status(g, gs, fp, precision=tp, device=dev, **overrides))
        for g in s.generators
        for gs in s.seeds_of(g)
    ]
    ref = reference_key(s)
    if ref is not None and not ref[2]:
        models.append(
            (
                f"reference LSGAN {ref[0]} s{ref[1]} (Frechet yardstick)",
                ref[0],
                generators.status(ref[0], ref[1], fp, precision=tp, device=dev),
            )
        )
    for key, kind, state in models:
        if state not in ("cached", "user module") or ctx.retrain:
            words = None
            if kind == "classifier":
                words = f"about {CLASSIFIER_MINUTES} min on 2 CPU cores"
            elif not generators.is_user(kind):  # the family's own estimate, scaled by the recipe
                spec = generators.spec_for(kind, **overrides)
                words = get_family(spec.family).train_estimate(spec.config)
            state = ("retrain requested" if ctx.retrain else state) + ", will train it now"
            state += f" ({words})" if words else ""
        lines.append(f"  {key}: {state}")
    return lines


def prepare(ctx) -> Prepared:
    """Train or load the scorer and every generator, judge each generator with the scorer, say
    how long the sweep will take; the facts the report states about the models. (`--retrain`
    acts here only: once the facts exist, cells in any process load what prepare made.)"""
    from bench.classifier import ClassifierConfig
    from bench.data import to_pixels
    from bench.recovery import generators
    from bench.recovery.sweep import PREVIEW, to_uint8

    s: RecoverSettings = ctx.settings
    mnist = ctx.mnist()
    classifier, c_entry = scorer(ctx)
    test = to_pixels(mnist.test_images).to(ctx.torch_device)
    models, digests = {}, {}
    for g in s.generators:
        for gs in s.seeds_of(g):
            m = generator_model(ctx, g, gs)
            q = generators.quality(m, classifier, test, s.quality_samples, gs)
            key = model_key(g, gs)
            models[key] = {
                **m.facts,
                "generator": g,
                "generator_seed": gs,
                "latent_dim": m.latent_dim,
                "noise_dim": m.noise_dim,
                "prior": m.prior,
                "frechet": q["frechet"],
                "digit_shares": q["shares"],
                "min_share": q["min_share"],
                "min_share_digit": q["min_share_digit"],
                "quality_samples": q["n"],
            }
            digests[key] = m.facts["digest"]
            ctx.event(
                f"{key}: latent rank {m.latent_dim}, Frechet {q['frechet']:.2f}, smallest digit share "
                f"{100 * q['min_share']:.1f}% (digit {q['min_share_digit']})"
            )
            if q["min_share"] < 0.05:
                ctx.event(f"warning: {key} under-produces a digit (<5% of samples); recovery accuracy on it is capped")
    first = generator_model(ctx, s.generators[0], s.seeds_of(s.generators[0])[0])
    ids, targets, *_ = target_images(ctx, first)
    reference = reference_lsgan(ctx, models, classifier, test)
    precision = resolve_precision(s.precision, ctx.torch_device)
    from bench.recovery.fused import engine_key  # torch: not at import (light commands)

    # fp32 keeps the older keys; bf16 names its route (fused.engine_key)
    precision_key = {} if precision == "fp32" else {"precision": precision, **engine_key(precision, ctx.torch_device)}
    facts = {
        "classifier_test_accuracy": c_entry.metrics.get("test_accuracy"),
        "classifier_config": dataclasses.asdict(ClassifierConfig()),
        "classifier_train_seconds": c_entry.metrics.get("train_seconds"),
        "models": models,
        "reference": reference,
        "image_ids": ids,
        "target_preview": to_uint8(targets[:PREVIEW]).tolist(),
    }
    ctx.event(f"classifier test accuracy {facts['classifier_test_accuracy']:.2f}%")
    if precision != "fp32":
        ctx.event(f"precision {precision}: G's and D's passes in bfloat16 (--precision {s.precision})")
    return Prepared(
        identity={"data": mnist.fingerprint, "classifier": c_entry.digest, **digests, **precision_key},
        datasets=[mnist_input(mnist, "evaluation")],
        checkpoints={"classifier": c_entry.digest, **digests},
        data_fingerprint=mnist.fingerprint,
        precision=precision,
        facts=facts,
    )


def reference_key(s: RecoverSettings) -> tuple[str, int, bool] | None:
    """(generator, seed, in the sweep) of the reference LSGAN, the Frechet ratio bar's yardstick:
    the sweep's first LSGAN at its first seed, else `gate_reference` at seed 0; None when the
    bar is off."""
    from bench.recovery.generators import is_reference

    if not s.gate_frechet_ratio:
        return None
    for g in s.generators:
        if is_reference(g):
            return g, s.seeds_of(g)[0], True
    return s.gate_reference, 0, False


def reference_lsgan(ctx, models: dict, classifier, test) -> dict | None:
    """The reference LSGAN's name, seed, digest and Frechet distance (its own quality run with the
    same scorer, images and sample count as every generator of the sweep)."""
    from bench.recovery import generators

    s: RecoverSettings = ctx.settings
    key = reference_key(s)
    if key is None:
        return None
    name, seed, in_sweep = key
    if in_sweep:
        m = models[model_key(name, seed)]
        return {"name": name, "seed": seed, "frechet": m["frechet"], "digest": m["digest"], "in_sweep": True}
    model = generators.load(
        name,
        seed,
        ctx.mnist(),
        device=ctx.torch_device,
        retrain=False,
        progress=ctx.progress,
        on_event=ctx.event,
        precision=ctx.train_precision,
    )
    q = generators.quality(model, classifier, test, s.quality_samples, seed)
    ctx.event(f"reference LSGAN {name} s{seed}: Frechet {q['frechet']:.2f}")
    return {"name": name, "seed": seed, "frechet": q["frechet"], "digest": model.facts["digest"], "in_sweep": False}


def estimate_seconds(ctx, todo: list[dict], probe_images: int = 1000, probe_steps: int = 3) -> float:
    """Rough wall time of the cells left to run. Per regulator and generator: a chunk's fixed cost
    and its cost per step from two timed probes (1 and 1 + probe_steps steps, after an untimed
    warm-up, on a batch as large as the sweep's up to probe_images: a smaller batch costs more
    per image), scaled by the distinct runs and chunks left, images, restarts and steps; plus the
    scoring of each cell (the classifier on its recovered images, timed once)."""
    from bench.classifier import predict
    from bench.recovery.engine import recover_cells

    s: RecoverSettings = ctx.settings
    runs: dict[tuple, set] = {}  # (generator, regulator) -> distinct runs left (shared baselines once)
    for c in todo:
        run = grid_cell(c).run
        runs.setdefault((c["generator"], run.regulator), set()).add((c["generator_seed"], c["seed"], run.run_id))
    if not runs:
        return 0.0
    total = 0.0
    for (g, reg), left in runs.items():
        model = generator_model(ctx, g, s.seeds_of(g)[0])
        _, targets, *_ = target_images(ctx, model)
        n = min(probe_images, s.images_of(g))
        mine = [grid_cell(c) for c in todo if c["generator"] == g]
        group = [r for r in unique_runs(mine) if r.regulator == reg][:2]
        kw = {
            "prior": model.prior,
            "prior_samples": s.prior_samples,
            "latent_dim": model.latent_dim,
            "noise_dim": model.noise_dim,
            "device": ctx.torch_device,
        }
        recover_cells(model.G, model.D, targets[:n], group, steps=1, **kw)
        times = []
        for steps in (1, 1 + probe_steps):
            t0 = time.perf_counter()
            recover_cells(model.G, model.D, targets[:n], group, steps=steps, **kw)
            times.append(time.perf_counter() - t0)
        per_row_step = max(times[1] - times[0], 0.0) / (len(group) * n * probe_steps)
        chunks = len({(gs, seed) for gs, seed, _ in left})
        total += per_row_step * len(left) * s.images_of(g) * s.restarts * s.steps + times[0] * chunks
    t0 = time.perf_counter()
    predict(scorer(ctx)[0], targets[: min(probe_images, s.images)])
    return total + 1.5 * (time.perf_counter() - t0) * max(1, s.images // probe_images) * len(todo)
