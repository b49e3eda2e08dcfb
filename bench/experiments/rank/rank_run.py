"""`bench rank`: does LWGAN's rank score find the intrinsic dimension of data that has a known one?

For each (dataset, seed): train LWGAN through the model cache (recipe `rank`, or the public
code's `public-toy` with `--schedule public`), score every rank s = 1..z_max on fresh held-out
batches (lwgan.rank), and put the estimate beside the truth and beside two standard estimators on
the same training points (Levina-Bickel MLE and TwoNN). The report is in rank_report.py.
"""

from __future__ import annotations

import time
from dataclasses import asdict

from bench.data.inputs import synthetic_input
from bench.experiments.rank import rank_report
from bench.experiments.rank.rank_cells import RankCell
from bench.experiments.rank.rank_settings import RankSettings
from bench.experiments.records import mlflow_extras
from bench.pipeline import Experiment, register
from lwgan.recipes import PUBLIC_TOY, get_recipe


def cells(s: RankSettings) -> list[dict]:
    return [{"dataset": d, "seed": int(seed)} for d in s.datasets for seed in s.seeds]


def cell_name(cell: dict) -> str:
    return f"{cell['dataset']} seed {cell['seed']}"


def run_cell(cell: dict, ctx) -> dict:
    """Train (or load) LWGAN on one dataset and seed, estimate the rank, run MLE and TwoNN."""
    from bench.data import make_synthetic
    from bench.models import load_or_train
    from lwgan.intrinsic_dim import mle_dimension, twonn_dimension
    from lwgan.rank import rank_margin, score_ranks, score_ranks_training

    s: RankSettings = ctx.settings
    dataset, seed = cell["dataset"], cell["seed"]
    data = make_synthetic(dataset, seed=seed)
    spec = s.spec(dataset, data.ambient_dim)
    tag = f"{dataset} s{seed}"
    trained = load_or_train(
        spec,
        data,
        seed=seed,
        device=ctx.torch_device,
        retrain=ctx.retrain,
        progress=ctx.progress,
        task=f"{tag}: train",
        on_event=ctx.event,
        precision=ctx.train_precision,
    )
    model = trained.model
    t0 = time.perf_counter()
    if s.protocol == "training":
        scores = score_ranks_training(
            model,
            data.heldout,
            train_data=data.train,
            reps=s.reps,
            every=s.every,
            batch_size=s.eval_batch,
            seed=seed,
            progress=ctx.progress,
            task=f"{tag}: score",
        )
    else:
        scores = score_ranks(
            model,
            data.heldout,
            reps=s.reps,
            batch_size=s.eval_batch,
            seed=seed,
            critic_steps=s.critic_steps,
            critic_data=data.train,
            progress=ctx.progress,
            task=f"{tag}: score",
        )
    score_time = time.perf_counter() - t0
    margin = rank_margin(scores.scores, scores.ranks, scores.estimate, scores.lambda_hat, truth=data.intrinsic_dim)
    k1, k2 = s.mle_k
    result = RankCell(
        dataset=dataset,
        seed=seed,
        truth=data.intrinsic_dim,
        ambient=data.ambient_dim,
        estimate=scores.estimate,
        argmin_unpenalised=scores.argmin_unpenalised,
        lambda_hat=scores.lambda_hat,
        mle=mle_dimension(data.train, k1, k2),
        twonn=twonn_dimension(data.train),
        train_time_s=float(trained.train_seconds or 0.0),
        score_time_s=score_time,
        loaded=trained.entry.loaded,
        checkpoint=trained.entry.digest,
        data_fingerprint=data.fingerprint,
        margin=margin["margin"],
        rival=margin["rival"],
        ranks=scores.ranks,
        mean=scores.mean.tolist(),
        se=scores.se.tolist(),
        penalised=scores.penalised.tolist(),
        components={k: v.mean(axis=0).tolist() for k, v in scores.components.items()},
        config=spec.config.to_dict(),
    )
    extras = mlflow_extras(trained, spec.config, tag)
    extras["metrics"].update({f"score_s{r}": m for r, m in zip(result.ranks, result.mean)})
    extras["metrics"].update({f"score_se_s{r}": v for r, v in zip(result.ranks, result.se)})
    return {**asdict(result), "correct": float(result.correct), **extras, "datasets": [synthetic_input(data)]}


def plan(ctx) -> list[str]:
    """The models to train, cached or not (each file read and verified)."""
    from bench.data import make_synthetic
    from bench.models import status

    s: RankSettings = ctx.settings
    states = {}
    for c in cells(s):
        data = make_synthetic(c["dataset"], seed=c["seed"])
        states[cell_name(c)] = status(
            s.spec(c["dataset"], data.ambient_dim), data.fingerprint, c["seed"], ctx.train_precision, ctx.torch_device
        )
    cached = sum(v == "cached" for v in states.values())
    lines = [
        (
            f"{len(states)} models (schedule {s.schedule}, {', '.join(s.datasets)} x {len(s.seeds)} "
            f"seed(s)): {cached} cached, {len(states) - cached} to train"
        )
    ]
    return lines + [f"  {n}: {v}" for n, v in states.items() if v not in ("cached", "not cached")]


def params(s: RankSettings) -> dict:
    """The schedule's training settings, for the parent run (the public one's per-dataset values
    as "5000 (swissroll), 10000"), with the user's overrides over them."""
    if s.schedule == "default":
        base = dict(get_recipe("lwgan", "rank").settings)
    else:
        base = {**PUBLIC_TOY, "iterations": "5000 (swissroll), 10000", "iter_gq": "5 (swissroll), 1"}
    return {f"train.{k}": v for k, v in {**base, **s.train_overrides()}.items()}


EXPERIMENT = register(
    Experiment(
        name="rank",
        description="LWGAN's intrinsic-dimension estimate on six manifolds of known dimension, fresh seeds",
        settings=RankSettings,
        cells=cells,
        run_cell=run_cell,
        render=rank_report.render,
        verdicts=rank_report.verdicts,
        figures=rank_report.figures,
        rows=rank_report.rows,
        cell_name=cell_name,
        params=params,
        plan=plan,
        summary_metrics=rank_report.summary_metrics,
        cell_figures=rank_report.cell_figure,
        workers="cores",
        version=2,  # 2: the estimate's margin in standard errors (claim 9)
    )
)
