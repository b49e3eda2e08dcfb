"""`bench mnist`: base LWGAN against Iso-LWGAN on MNIST under one brief budget, with the 2x2 ablation.

Iso-LWGAN experiment 3 (SPEC part B): four configurations (isometric term off/on x noise off/on;
"base LWGAN" is off/off, "Iso-LWGAN" is lambda_iso 1 with sigma_noise 0.1) trained for the same
number of iterations (recipe `mnist`; `mnist-public` is the public LWGAN code's GPU schedule,
`mnist-tiny` a test-size one), beside the authors' published autoencoders. Per model: the test-set
reconstruction error (mean per-image l2 norm, pixels in [-1, 1]; the paper: 5.62 base against
5.76 Iso-LWGAN), the Frechet distance of generated images to test images in the frozen MNIST
classifier's feature space, the estimated rank, the mean isometry discrepancy, the interpolation
irregularity and wall time. The report is in mnist_report.py, the figures in mnist_figures.py.
"""

from __future__ import annotations

import time
from dataclasses import asdict

from bench.data.inputs import mnist_input
from bench.experiments.lwgan_metrics import (
    decode_lines,
    discrepancy_matrix,
    interpolate,
    is_collapsed,
    step_irregularity,
)
from bench.experiments.lwgan_settings import EVAL, REFERENCE_GAN, MnistSettings
from bench.experiments.mnist import mnist_cells, mnist_figures, mnist_report, mnist_tables
from bench.experiments.mnist.mnist_cells import STEPS, MnistCell
from bench.experiments.records import mlflow_extras
from bench.pipeline import Experiment, register
from bench.pipeline.prepared import Prepared
from bench.settings import judging_fields
from bench.stats import bootstrap_ci, pair_mean_ci

SAMPLE_GRID = 64  # generated samples kept per model for the sample figure
FIGURE_PAIRS = 4  # rows of each interpolation grid

BATCH = 128  # the published run measured its reconstruction on one shuffled training batch


def cells(s: MnistSettings) -> list[dict]:
    return [
        {"objective": o, "model": c, "seed": int(seed)} for o in s.objectives for c in s.configs for seed in s.seeds
    ]


def cell_name(cell: dict) -> str:
    return f"{cell['objective']}: {cell['model']} s{cell['seed']}"


def _rank(setting, z_max: int, estimate: int) -> int:
    if setting == "max":
        return z_max
    if setting == "estimate":
        return estimate
    return int(setting)


def _scorer(ctx):
    """(classifier, its cache entry), trained through the cache once per process. The scorer's
    own settings (5 epochs), shared with `bench recover`; only the tiny budget shortens it."""
    from bench.classifier import load_or_train_classifier

    s: MnistSettings = ctx.settings
    # The judge: float32 whatever --train-precision says, one scorer for every run.
    return ctx.memo(
        "classifier",
        lambda: load_or_train_classifier(
            ctx.mnist(),
            seed=s.classifier_seed,
            device=ctx.torch_device,
            epochs=EVAL[s.budget].get("classifier_epochs"),
            progress=ctx.progress,
            on_event=ctx.event,
            precision="fp32",
        ),
    )


def _pixels(ctx):
    """(evaluation test images, first 10,000 training images, test features) once per process."""

    def build():
        from bench.classifier import features
        from bench.data import to_pixels

        mnist = ctx.mnist()
        test = to_pixels(mnist.test_images[: ctx.settings.eval_size("eval_images")])
        return test, to_pixels(mnist.train_images[:10000]), features(_scorer(ctx)[0], test)

    return ctx.memo("pixels", build)


def plan(ctx) -> list[str]:
    from bench.models import status

    s: MnistSettings = ctx.settings
    train = s.train_overrides()
    fp = ctx.mnist().fingerprint
    # Measured 2026-12-01 on 2 CPU cores, two models at a time: 206-234 s a model (24 cells,
    # 25.5 min in all with the published models and the evaluation).
    est = {"default": 3.7}.get(s.budget)
    n_lw = sum(c["objective"] == "lwgan" for c in cells(s))
    lines = [
        (
            f"{len(cells(s))} models (2x2 ablation x {len(s.seeds)} seed(s) x objectives "
            f"{', '.join(s.objectives)}); lwgan budget {s.budget}: {train['iterations']} "
            f"iterations of batch {train['batch_size']} each"
            + (
                f" (about {est:g} min a model, two at a time on 2 CPU cores: about "
                f"{est * n_lw / 2:.0f} min for the {n_lw} to train, if none is cached)"
                if est and n_lw
                else ""
            )
            + "; published: 5 epochs of batch 128 (12-24 s a model)"
        )
    ]
    for c in cells(s):
        state = status(s.spec(c["model"], c["objective"]), fp, c["seed"], ctx.train_precision, ctx.torch_device)
        lines.append(f"  {cell_name(c)}: {state}")
    state = status(_reference_spec(s), fp, 0, ctx.train_precision, ctx.torch_device)
    lines.append(
        f"  reference LSGAN ({REFERENCE_GAN[s.budget]}, Frechet yardstick): {state}"
        + ("" if state == "cached" or s.budget not in ("default", "public") else " (about 4 min on 2 CPU cores)")
    )
    return lines


def _reference_spec(s: MnistSettings):
    from lwgan.registry import get_generator

    return get_generator(REFERENCE_GAN[s.budget])


def prepare(ctx) -> Prepared:
    """The scorer (trained if needed), the Frechet floor (real training images against the same
    test images, as many as the generated samples) and the reference LSGAN's Frechet distance and
    digit shares measured the same way (the scale a GAN reaches on this hardware)."""
    from bench.classifier import features, frechet_distance, generator_quality
    from bench.data import to_pixels
    from bench.models import load_or_train

    s: MnistSettings = ctx.settings
    mnist = ctx.mnist()
    _, entry = _scorer(ctx)
    test_feats = _pixels(ctx)[2]
    k = min(s.eval_size("fd_samples"), len(mnist.train_images))
    floor = frechet_distance(features(_scorer(ctx)[0], to_pixels(mnist.train_images[:k])), test_feats)
    classifier = {
        "test_accuracy": entry.metrics.get("test_accuracy"),
        "digest": entry.digest,
        "loaded": entry.loaded,
        "train_seconds": entry.metrics.get("train_seconds"),
        "frechet_floor": floor,
        "floor_images": k,
    }
    ref = load_or_train(
        _reference_spec(s),
        mnist,
        seed=0,
        device=ctx.torch_device,
        retrain=ctx.retrain,
        progress=ctx.progress,
        task="reference LSGAN: train",
        on_event=ctx.event,
        precision=ctx.train_precision,
    )
    quality = generator_quality(
        ref.model.G, _scorer(ctx)[0], _pixels(ctx)[0].to(ctx.torch_device), n=s.eval_size("fd_samples"), seed=0
    )
    reference = {
        "name": REFERENCE_GAN[s.budget],
        "frechet": quality["frechet"],
        "digit_shares": quality["shares"],
        "samples": quality["n"],
        "digest": ref.entry.digest,
        "loaded": ref.entry.loaded,
    }
    return Prepared(
        identity={"data": mnist.fingerprint, "classifier": entry.digest},
        datasets=[mnist_input(mnist, "training+evaluation")],
        checkpoints={"classifier": entry.digest, "reference_gan": ref.entry.digest},
        data_fingerprint=mnist.fingerprint,
        facts={"classifier": classifier, "reference_gan": reference, "eval_images": s.eval_size("eval_images")},
    )


def run_cell(cell: dict, ctx) -> dict:
    """Train (or load) one configuration and measure it on the evaluation test images."""
    from bench.models import load_or_train

    s: MnistSettings = ctx.settings
    objective, name, seed = cell["objective"], cell["model"], cell["seed"]
    spec = s.spec(name, objective)
    cfg = spec.config
    tag = cell_name(cell)
    trained = load_or_train(
        spec,
        ctx.mnist(),
        seed=seed,
        device=ctx.torch_device,
        retrain=ctx.retrain,
        progress=ctx.progress,
        task=f"{tag}: train",
        on_event=ctx.event,
        precision=ctx.train_precision,
    )
    t0 = time.perf_counter()
    estimate, lam_hat = _rank_score(trained.model, s, objective, seed, ctx, tag)
    r = _rank(s.eval_rank, cfg.z_max, estimate if estimate is not None else cfg.z_max)
    m = _measure(trained.model, s, cfg, r, seed, ctx)
    trivial = float((m["x"] - m["train_x"].mean(0, keepdim=True)).flatten(1).norm(dim=1).mean())
    ci = bootstrap_ci(m["recon"], n_boot=s.n_boot, seed=seed)
    result = MnistCell(
        objective=objective,
        name=name,
        seed=seed,
        lambda_iso=cfg.lambda_iso,
        sigma_noise=cfg.sigma_noise,
        eval_rank=r,
        recon=ci.value,
        recon_lo=ci.lo,
        recon_hi=ci.hi,
        batch_recon=m["batch_recon"],
        frechet=m["frechet"],
        digit_shares=m["shares"],
        discrepancy=m["disc"].value,
        discrepancy_lo=m["disc"].lo,
        discrepancy_hi=m["disc"].hi,
        interp_irregularity=m["irregularity"],
        trivial_recon=trivial,
        collapsed=is_collapsed(ci.value, trivial),
        rank_estimate=estimate,
        lambda_hat=lam_hat,
        train_time_s=float(trained.train_seconds or 0.0),
        eval_time_s=time.perf_counter() - t0,
        loaded=trained.entry.loaded,
        checkpoint=trained.entry.digest,
        config=cfg.to_dict(),
        recon_per_image=m["recon"].tolist(),
        grid=m["grid"],
        samples=m["samples"],
    )
    return {**asdict(result), "wall_time_s": result.wall_time_s, **mlflow_extras(trained, cfg, tag)}


def _rank_score(model, s: MnistSettings, objective: str, seed: int, ctx, tag: str):
    """(estimate, lambda_hat) of the rank score; (None, None) for the published run (no critic)."""
    from lwgan.rank import score_ranks

    if objective != "lwgan":
        return None, None
    x, train_x, _ = _pixels(ctx)
    steps = s.eval_size("rank_critic_steps")
    scores = score_ranks(
        model,
        x,
        reps=s.eval_size("rank_reps"),
        batch_size=s.eval_size("rank_batch"),
        seed=seed,
        critic_steps=steps,
        critic_data=train_x if steps else None,
        progress=ctx.progress,
        task=f"{tag}: rank score",
    )
    return scores.estimate, scores.lambda_hat


def _measure(model, s: MnistSettings, cfg, r: int, seed: int, ctx) -> dict:
    """Every measurement of one model at rank r, in a fixed order of draws from one generator
    seeded by the seed (a rerun measures the same)."""
    import torch

    from bench.classifier import digit_shares, features, frechet_distance, predict
    from bench.recovery.sweep import pack_images
    from lwgan.networks import prior_sample

    dev = ctx.torch_device
    x, train_x, test_features = _pixels(ctx)
    gen = torch.Generator(device=dev).manual_seed(seed)
    chunk = 500
    with torch.no_grad():
        recon, zs = [], []
        for i in range(0, len(x), chunk):
            xb = x[i : i + chunk].to(dev)
            z = model.Q(xb, r)
            recon.append((xb - model.G(z, generator=gen)).flatten(1).norm(dim=1).cpu())
            zs.append(z.cpu())
        z = torch.cat(zs)
        n_fd = s.eval_size("fd_samples")
        fake = torch.cat(
            [
                model.G(
                    prior_sample(min(chunk, n_fd - i), cfg.z_max, r, generator=gen, device=dev), generator=gen
                ).cpu()
                for i in range(0, n_fd, chunk)
            ]
        )
        zi = z[: s.eval_size("iso_images")].to(dev)
        disc = pair_mean_ci(discrepancy_matrix(zi, model.G(zi, generator=gen)).cpu().numpy(), s.n_boot, seed)
        pairs = torch.randint(len(x), (2, s.eval_size("interp_pairs")), generator=torch.Generator().manual_seed(seed))
        line = interpolate(z[pairs[0]], z[pairs[1]], STEPS).to(dev)
        paths = decode_lines(model, line, gen).view(-1, STEPS, 28, 28).cpu()
        # As the authors measured: one shuffled batch of 128 training images (noise on, if any).
        idx = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(seed + 2))[:BATCH]
        xb = train_x[idx].to(dev)
        batch_recon = float((xb - model.G(model.Q(xb, r), generator=gen)).flatten(1).norm(dim=1).mean())
    classifier = _scorer(ctx)[0]
    k = min(FIGURE_PAIRS, len(paths))
    grid = torch.cat([x[pairs[0][:k]].view(k, 1, 28, 28), paths[:k], x[pairs[1][:k]].view(k, 1, 28, 28)], dim=1)
    return {
        "x": x,
        "train_x": train_x,
        "recon": torch.cat(recon).double().numpy(),
        "disc": disc,
        "batch_recon": batch_recon,
        "frechet": frechet_distance(features(classifier, fake), test_features),
        "shares": digit_shares(predict(classifier, fake)),
        "irregularity": float(step_irregularity(paths.numpy()).mean()),
        # pixels as bytes (0..255): the figure needs no more, and the results file stays small
        "grid": ((grid.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy().tolist(),
        "samples": pack_images(fake[:SAMPLE_GRID]),
    }


def params(s: MnistSettings) -> dict:
    """The LWGAN training settings, for the parent run (none when no cell trains an LWGAN)."""
    return {f"train.{k}": v for k, v in s.train_overrides().items()} if "lwgan" in s.objectives else {}


EXPERIMENT = register(
    Experiment(
        name="mnist",
        description="Iso-LWGAN exp. 3: base LWGAN against Iso-LWGAN on MNIST, with the 2x2 ablation",
        settings=MnistSettings,
        cells=cells,
        run_cell=run_cell,
        render=mnist_report.render,
        verdicts=mnist_report.verdicts,
        figures=mnist_figures.figures,
        prepare=prepare,
        plan=plan,
        rows=mnist_tables.rows,
        cell_name=cell_name,
        params=params,
        summary_metrics=mnist_tables.summary_metrics,
        cell_figures=mnist_figures.cell_figure,
        workers="cores",  # the MLP nets run best one thread a model, one model a core
        slim=mnist_cells.slim,
        judging=judging_fields(MnistSettings),
        version=2,  # 2: digit shares and a sample grid per model, Frechet over 10,000 draws
    )
)
