"""`bench rank`: does LWGAN's rank score find the intrinsic dimension of data that has a known one?

For each (dataset, seed): train LWGAN through the model cache, score every rank s = 1..z_max on
fresh held-out batches (lwgan.rank), and put the estimate beside the truth and beside two
standard estimators on the same training points (Levina-Bickel MLE and TwoNN). One MLflow child
run per (dataset, seed); a markdown report, a CSV and the rank-score curves as PDF and PNG.

Cells are independent plain functions of their inputs (`rank_cell`), so they run sequentially or
in worker processes (`workers`) with identical results.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.progress import ProgressFn, null_progress

DEFAULT_DATASETS = ("swissroll", "scurve", "hyperplane")
# The public LWGAN code's maximum latent dimension per toy dataset (run_toy.sh).
Z_MAX = {"swissroll": 5, "scurve": 5, "hyperplane": 7}
Z_MAX_EXTRA = 3  # other datasets: ambient dimension + 3

# Training settings of `bench rank`, chosen so 9 trainings fit 20 minutes on 2 CPU cores; the
# public code's toy settings (SPEC part B) are PUBLIC_TOY, `--schedule public`. Four phases, each
# with fresh Adam optimisers and its own step decay (halving at 70, 80, 90 and 95% of the phase):
# 1. rank 1 only, reconstruction + MMD (a WAE) at a high learning rate. The Swiss roll's
#    rank-1 code must unroll the spiral into one Gaussian coordinate; trained with every rank at
#    once from the start, G serves the 2-D codes of ranks >= 2 first and never unrolls it (rank-1
#    reconstruction 0.42-0.45 after 3,000 WAE iterations, 0.04-0.05 after this phase).
# 2. every rank, reconstruction + MMD: the higher ranks learn to share G's rank-1 axis.
# 3. the full LWGAN objective (critic, 5 steps per iteration on one encoded batch, with a
#    burst at its start and every 100th iteration), at the public code's learning rate.
# 4. every rank, reconstruction + MMD again, at phase 3's learning rate (about 12 s a cell). The
#    rank-1 code of the Swiss roll unrolls the spiral in pieces (Q jumps at about three places
#    along it, the folds of the encoder's initial projection), so G(Z_1) bridges the pieces, and
#    phase 3's critic term pulls the reconstructions towards the bridges: with a 3,000-iteration
#    phase 3 the rank-1 reconstruction rose from 0.065-0.084 to 0.087-0.345 (seeds 0-2) while
#    rank 2's stayed near 0.05; this phase brought it back to 0.042, 0.143, 0.068.
# Measured cold on 2 idle cores (reports/rank/): 17.6 min, peak RSS 0.55 GB; truth in swissroll
# 2/3, scurve 3/3, hyperplane 3/3 (3,000 iterations in phase 3: the same, in 23.1 min). The
# Swiss roll wins narrowly (rank 1's score within lambda_hat of rank 2's: 0.053 against 0.051,
# 0.111 against 0.114); seed 1's adversarial phase leaves every rank's critic gap near 0.22.
# Without phase 4 the Swiss roll was 1/3 under refits of 200, 1,000 or 2,000 steps. The critic
# must be refitted for long (`critic_steps` 1,000): the 200 steps used before left most
# Swiss-roll critic gaps negative (seed 2, rank 2: -0.06 after 200 steps, +0.06 after 2,000), so
# the gap, the term that separates the ranks, told them little.
RANK_PHASES = (
    {"iterations": 3000, "max_rank": 1, "lr": 5e-3, "adversarial_start": 1.0, "mmd_start": 0.0},
    {"iterations": 3000, "lr": 2e-3, "adversarial_start": 1.0, "mmd_start": 0.0},
    {"iterations": 2000, "lr": 2e-4, "adversarial_start": 0.0, "mmd_start": 0.0},
    {"iterations": 1000, "lr": 2e-4, "adversarial_start": 1.0, "mmd_start": 0.0},
)
RANK_TRAINING = {
    "width_q": 32,
    "width_g": 32,
    "width_d": 32,
    "batch_size": 256,
    "iter_d": 5,
    "iter_gq": 1,
    "lambda_rank": 0.01,
    "critic_warmup": 20,
    "critic_burst": 50,
    "critic_burst_every": 100,
    "critic_reuse": True,
    "lr_milestones": (0.7, 0.8, 0.9, 0.95),
    "lr_gamma": 0.5,
    "phases": RANK_PHASES,
}
PUBLIC_TOY = {
    "width_q": 64,
    "width_g": 64,
    "width_d": 64,
    "batch_size": 512,
    "iterations": "5000 (swissroll), 10000",
    "iter_d": 20,
    "iter_gq": "5 (swissroll), 1",
    "lr": 2e-4,
    "lambda_rank": 0.01,
    "critic_warmup": 100,
    "critic_burst": 100,
    "critic_burst_every": 100,
    "lr_milestones": (0.8, 0.85, 0.9, 0.95),
    "lr_gamma": 0.9,
    "mmd_start": 0.5,
    "adversarial_start": 0.0,
    "rank_sampling": "iteration",
    "critic_reuse": False,
}
HISTORY_LOGGED = ("recon", "critic_gap", "grad_penalty", "mmd", "loss_gq")
SCHEDULES = ("default", "public")
# How the rank score's evaluations are made (lwgan.rank): "refit" freezes the trained encoder and
# generator and refits a copy of the critic; "training" is the public code's, training goes on
# between evaluations. Each schedule's own protocol and evaluation count are the defaults.
PROTOCOLS = ("refit", "training")
SCHEDULE_PROTOCOL = {"default": "refit", "public": "training"}
PROTOCOL_REPS = {"refit": 20, "training": 50}


def public_schedule(dataset: str) -> dict:
    """The public code's toy settings (run_toy.sh) as LWGANConfig fields, meant for a GPU. Swiss
    roll: 5,000 iterations of 5 encoder/generator steps; the others: 10,000 of 1. On 2 CPU cores
    an iteration past the critic's warm-up takes about 0.53 s; a Swiss-roll cell trained in 39 min
    (seed 0, measured), so the default nine cells take about 7-8 h (extrapolated)."""
    swiss = dataset == "swissroll"
    return {
        **{k: v for k, v in PUBLIC_TOY.items() if not isinstance(v, str)},
        "iterations": 5000 if swiss else 10000,
        "iter_gq": 5 if swiss else 1,
    }


def with_overrides(cfg: dict, overrides: dict) -> dict:
    """`cfg` with `overrides` applied. In a phased schedule a training field is set in every phase,
    except `iterations`, the total, which is shared out in the phases' proportions."""
    over = dict(overrides)
    phases = over.pop("phases", cfg.get("phases", ()))  # a whole new schedule may be given
    if not phases:
        return {**cfg, **over, "phases": ()}
    from lwgan.model import PHASE_FIELDS

    total = over.pop("iterations", None)
    shared = {k: over.pop(k) for k in list(over) if k in PHASE_FIELDS}
    planned = sum(p["iterations"] for p in phases)
    new = []
    for p in phases:
        p = {**p, **shared}
        if total is not None:
            p["iterations"] = max(1, round(total * p["iterations"] / planned))
        new.append(p)
    iterations = sum(p["iterations"] for p in new)
    return {**cfg, **shared, **over, "iterations": iterations, "phases": tuple(new)}


@dataclass
class RankSettings:
    datasets: tuple[str, ...] = DEFAULT_DATASETS
    seeds: tuple[int, ...] = (0, 1, 2)
    generator: str = "lwgan"  # registry variant trained on each dataset
    z_max: int | None = None  # None: Z_MAX per dataset
    overrides: dict = field(default_factory=dict)  # LWGANConfig fields over the schedule
    schedule: str = "default"  # "default": RANK_TRAINING (CPU budget); "public": public_schedule
    reps: int = 20  # evaluations of the rank score (fresh held-out batches)
    eval_batch: int = 512
    protocol: str = "refit"  # PROTOCOLS
    critic_steps: int = 1000  # "refit": refit a copy of the critic to the final Q, G before scoring
    every: int = 20  # "training": primal-dual iterations between evaluations (public code: 20)
    mle_k: tuple[int, int] = (10, 20)

    def z_max_for(self, dataset: str, ambient: int) -> int:
        return self.z_max if self.z_max is not None else Z_MAX.get(dataset, ambient + Z_MAX_EXTRA)

    def spec(self, dataset: str, ambient: int):
        from lwgan.registry import get_generator

        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; valid: {', '.join(SCHEDULES)}")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {self.protocol!r}; valid: {', '.join(PROTOCOLS)}")
        base = RANK_TRAINING if self.schedule == "default" else public_schedule(dataset)
        cfg = {**base, "x_shape": (ambient,), "z_max": self.z_max_for(dataset, ambient)}
        return get_generator(self.generator, **with_overrides(cfg, self.overrides))


@dataclass
class RankCell:
    dataset: str
    seed: int
    truth: int
    ambient: int
    estimate: int
    argmin_unpenalised: int
    lambda_hat: float
    ranks: list[int]
    mean: list[float]  # score per rank
    se: list[float]
    penalised: list[float]
    components: dict[str, list[float]]  # mean of each score term per rank
    mle: float
    twonn: float
    config: dict
    train_metrics: dict
    history: dict[str, list[float]]
    train_time_s: float  # of the training that produced the checkpoint (0 if it predates metrics)
    score_time_s: float
    loaded: bool  # the checkpoint came from the cache
    checkpoint_sha256: str
    data_fingerprint: str

    @property
    def correct(self) -> bool:
        return self.estimate == self.truth


@dataclass
class RankResults:
    settings: RankSettings
    cells: list[RankCell]
    wall_time_s: float


def rank_cell(
    dataset: str,
    seed: int,
    settings: RankSettings,
    *,
    device: str = "cpu",
    retrain: bool = False,
    progress: ProgressFn = null_progress,
) -> RankCell:
    """Train (or load) LWGAN on one dataset and seed, estimate the rank, run MLE and TwoNN."""
    import torch

    from bench.data import make_synthetic
    from lwgan.intrinsic_dim import mle_dimension, twonn_dimension
    from lwgan.rank import score_ranks, score_ranks_training

    data = make_synthetic(dataset, seed=seed)
    spec = settings.spec(dataset, data.ambient_dim)
    tag = f"{dataset} s{seed}"
    model, payload, entry = spec.load_or_train(
        data, seed=seed, device=torch.device(device), retrain=retrain, progress=progress,
        task=f"{tag}: train",
    )  # fmt: skip
    t0 = time.perf_counter()
    if settings.protocol == "training":
        scores = score_ranks_training(
            model, data.heldout, train_data=data.train, reps=settings.reps, every=settings.every,
            batch_size=settings.eval_batch, seed=seed, progress=progress, task=f"{tag}: score",
        )  # fmt: skip
    else:
        scores = score_ranks(
            model, data.heldout, reps=settings.reps, batch_size=settings.eval_batch, seed=seed,
            critic_steps=settings.critic_steps, critic_data=data.train, progress=progress,
            task=f"{tag}: score",
        )  # fmt: skip
    score_time = time.perf_counter() - t0
    k1, k2 = settings.mle_k
    return RankCell(
        dataset=dataset,
        seed=seed,
        truth=data.intrinsic_dim,
        ambient=data.ambient_dim,
        estimate=scores.estimate,
        argmin_unpenalised=scores.argmin_unpenalised,
        lambda_hat=scores.lambda_hat,
        ranks=scores.ranks,
        mean=scores.mean.tolist(),
        se=scores.se.tolist(),
        penalised=scores.penalised.tolist(),
        components={k: v.mean(axis=0).tolist() for k, v in scores.components.items()},
        mle=mle_dimension(data.train, k1, k2),
        twonn=twonn_dimension(data.train),
        config=spec.config.to_dict(),
        train_metrics=dict(payload.get("metrics", {})),
        history={k: list(v) for k, v in payload.get("history", {}).items()},
        train_time_s=float(payload.get("metrics", {}).get("wall_time_s", 0.0)),
        score_time_s=score_time,
        loaded=entry.loaded,
        checkpoint_sha256=entry.sha256,
        data_fingerprint=data.fingerprint,
    )


def _worker_cell(job: tuple, queue) -> RankCell:
    """Entry point of a worker process: one thread each, progress forwarded to the parent."""
    import torch

    dataset, seed, settings, device, retrain, threads = job
    torch.set_num_threads(threads)

    def forward(task, done, total, **info):
        queue.put((task, done, total, info))

    return rank_cell(dataset, seed, settings, device=device, retrain=retrain, progress=forward)


def run_rank(
    settings: RankSettings,
    *,
    device="cpu",
    workers: int = 1,
    retrain: bool = False,
    progress: ProgressFn = null_progress,
    on_cell: Callable[[RankCell], None] | None = None,
) -> RankResults:
    """Every (dataset, seed) cell, in `workers` processes (1: in this process). `on_cell` is
    called in this process as each cell finishes (e.g. to log it), in completion order; the
    returned cells are in (dataset, seed) order."""
    jobs = [(d, s) for d in settings.datasets for s in settings.seeds]
    device = str(device)
    t0 = time.perf_counter()
    done: dict[tuple[str, int], RankCell] = {}

    def finish(cell: RankCell) -> None:
        done[(cell.dataset, cell.seed)] = cell
        progress("rank cells", len(done), len(jobs))
        if on_cell is not None:
            on_cell(cell)

    progress("rank cells", 0, len(jobs))
    workers = max(1, min(int(workers), len(jobs)))
    if workers == 1:
        for d, s in jobs:
            finish(rank_cell(d, s, settings, device=device, retrain=retrain, progress=progress))
    else:
        _run_parallel(jobs, settings, device, retrain, workers, progress, finish)
    cells = [done[j] for j in jobs]
    return RankResults(settings, cells, time.perf_counter() - t0)


def _run_parallel(jobs, settings, device, retrain, workers, progress, finish) -> None:
    import multiprocessing as mp
    import queue as queue_mod
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    ctx = mp.get_context("spawn")  # no fork of a process that has started torch's thread pools
    threads = max(1, (os.cpu_count() or 1) // workers)
    with ctx.Manager() as manager, ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        q = manager.Queue()
        pending = {
            pool.submit(_worker_cell, (d, s, settings, device, retrain, threads), q)
            for d, s in jobs
        }

        def drain() -> None:
            while True:
                try:
                    task, n, total, info = q.get_nowait()
                except queue_mod.Empty:
                    return
                progress(task, n, total, **info)

        try:
            while pending:
                finished, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                drain()
                for fut in finished:
                    finish(fut.result())
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise
        drain()


# ------------------------------------------------------------------------------------ report
VERDICT_RULE = (
    "LWGAN finds a dataset's intrinsic dimension when its estimate equals the truth in more than "
    "half of the seeds (2 of 3 with the defaults): reproduced; otherwise not reproduced. MLE and "
    "TwoNN are counted correct when they round to the truth."
)


def cell_frame(results: RankResults):
    import pandas as pd

    rows = []
    for c in results.cells:
        rows.append({
            "dataset": c.dataset, "seed": c.seed, "truth": c.truth, "lwgan": c.estimate,
            "lwgan_unpenalised": c.argmin_unpenalised, "lambda_hat": c.lambda_hat,
            "mle": c.mle, "twonn": c.twonn, "lwgan_correct": c.correct,
            "mle_correct": round(c.mle) == c.truth, "twonn_correct": round(c.twonn) == c.truth,
            "z_max": len(c.ranks), "train_time_s": c.train_time_s, "cached": c.loaded,
            "checkpoint": c.checkpoint_sha256[:12],
        })  # fmt: skip
    return pd.DataFrame(rows)


def summary_frame(results: RankResults):
    """One row per dataset: the three estimators over seeds and the verdict."""
    import pandas as pd

    from bench.report import format_mean_sd

    df = cell_frame(results)
    rows = []
    for name, g in df.groupby("dataset", sort=False):
        n, hits = len(g), int(g["lwgan_correct"].sum())
        rows.append({
            "dataset": name, "truth": int(g["truth"].iloc[0]),
            "lwgan estimates": ", ".join(str(v) for v in g["lwgan"]),
            "lwgan correct": f"{hits}/{n}",
            "mle": format_mean_sd(g["mle"], digits=2), "mle correct": f"{int(g['mle_correct'].sum())}/{n}",
            "twonn": format_mean_sd(g["twonn"], digits=2),
            "twonn correct": f"{int(g['twonn_correct'].sum())}/{n}",
            "verdict": "reproduced" if hits > n / 2 else "not reproduced",
        })  # fmt: skip
    return pd.DataFrame(rows)


def _score_rows(results: RankResults) -> list[dict]:
    rows = []
    for c in results.cells:
        row = {"dataset": c.dataset, "seed": c.seed}
        for r, m, se, p in zip(c.ranks, c.mean, c.se, c.penalised):
            mark = " *" if r == c.estimate else ""
            row[f"s={r}"] = f"{m:.3f} ± {se:.3f} ({p:.3f}){mark}"
        rows.append(row)
    return rows


def _component_rows(results: RankResults) -> list[dict]:
    rows = []
    for c in results.cells:
        for k, v in c.components.items():
            rows.append({"dataset": c.dataset, "seed": c.seed, "term": k,
                         **{f"s={r}": x for r, x in zip(c.ranks, v)}})  # fmt: skip
    return rows


def plot_rank_scores(results: RankResults, path: Path) -> list[Path]:
    """One panel per dataset: mean score ± se per rank for each seed (solid) and the penalised
    score (dashed); the true dimension as a vertical line. Writes `path` (.pdf) and a .png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bench.atomic import atomic_savefig

    datasets = list(dict.fromkeys(c.dataset for c in results.cells))
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.2 * len(datasets), 3.6), squeeze=False)
    for ax, name in zip(axes[0], datasets):
        cells = [c for c in results.cells if c.dataset == name]
        for i, c in enumerate(cells):
            color = f"C{i}"
            ax.errorbar(c.ranks, c.mean, yerr=c.se, color=color, marker="o", ms=3, capsize=2,
                        label=f"seed {c.seed}: score (est. {c.estimate})")  # fmt: skip
            ax.plot(c.ranks, c.penalised, color=color, ls="--", lw=1)
            ax.plot([c.estimate], [c.penalised[c.ranks.index(c.estimate)]], "v", color=color, ms=7)
        ax.axvline(
            cells[0].truth, color="k", lw=1, ls=":", label=f"true dimension {cells[0].truth}"
        )
        ax.set_title(name)
        ax.set_xlabel("rank s")
        ax.set_xticks(cells[0].ranks)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("rank score (dashed: + lambda_hat s)")
    fig.tight_layout()
    path = Path(path).with_suffix(".pdf")
    out = [atomic_savefig(fig, path), atomic_savefig(fig, path.with_suffix(".png"), dpi=150)]
    plt.close(fig)
    return out


def plot_cell(cell: RankCell, path: Path) -> Path:
    """The score curve of one (dataset, seed), with its four terms: a child run's figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bench.atomic import atomic_savefig

    fig, (a, b) = plt.subplots(1, 2, figsize=(8.4, 3.4))
    a.errorbar(cell.ranks, cell.mean, yerr=cell.se, marker="o", capsize=2, label="score")
    a.plot(cell.ranks, cell.penalised, ls="--", label=f"+ {cell.lambda_hat:.3g} s")
    a.axvline(cell.truth, color="k", ls=":", label=f"truth {cell.truth}")
    a.set_title(f"{cell.dataset}, seed {cell.seed}: estimate {cell.estimate}")
    for k, v in cell.components.items():
        b.plot(cell.ranks, v, marker="o", ms=3, label=k)
    b.set_title("score terms")
    for ax in (a, b):
        ax.set_xlabel("rank s")
        ax.set_xticks(cell.ranks)
        ax.legend(fontsize=7)
    fig.tight_layout()
    out = atomic_savefig(fig, Path(path))
    plt.close(fig)
    return out


def _setting(cfg: dict, key: str) -> str:
    """A setting as the report shows it: its value, or its value in each phase (a / b / c)."""
    phases = cfg.get("phases") or ()
    if phases and any(key in p for p in phases):
        return " / ".join(str(p.get(key, cfg.get(key))) for p in phases)
    return str(cfg.get(key))


def phase_rows(cfg: dict) -> list[dict]:
    """One row per phase of a phased schedule: iterations, ranks drawn, lr and which terms train."""
    rows = []
    for i, p in enumerate(cfg.get("phases") or (), 1):
        full = {**cfg, **p}
        n, top = int(full["iterations"]), full.get("max_rank") or full["z_max"]

        def span(start: float, n=n) -> str:
            first = math.floor(n * start)
            return "off" if first >= n else "on" if first == 0 else f"from iteration {first + 1}"

        rows.append({
            "phase": i, "iterations": n, "ranks": "1" if top == 1 else f"1..{top}",
            "lr": full["lr"], "critic": span(full["adversarial_start"]),
            "MMD": span(full["mmd_start"]),
        })  # fmt: skip
    return rows


def rank_markdown(results: RankResults, facts, figure: Path) -> str:
    from bench.report import facts_markdown, markdown_table

    s = results.settings
    cfg = results.cells[0].config if results.cells else {}
    summary = summary_frame(results)
    cells = cell_frame(results)
    show = ["dataset", "seed", "truth", "lwgan", "lwgan_unpenalised", "lambda_hat", "mle", "twonn",
            "train_time_s", "cached", "checkpoint"]  # fmt: skip
    public = public_schedule(results.cells[0].dataset) if results.cells else {}
    used = {k: _setting(cfg, k) for k in cfg if k != "phases"}
    departures = [(k, used.get(k), v) for k, v in public.items() if used.get(k) != str(v)]
    parts = [
        "# Intrinsic dimension by LWGAN's rank score",
        "",
        (
            "LWGAN (Qiu, Gao and Wang; SPEC part B) trained on data with a known intrinsic dimension; "
            "the rank score is evaluated for every s = 1..z_max on fresh held-out batches and the "
            "estimate is argmin_s mean score(s) + lambda_hat s, lambda_hat = (standard error at the "
            f"unpenalised argmin)^0.8 ({s.reps} evaluations of {s.eval_batch} points; "
            f"{protocol_text(s)}). MLE "
            f"(Levina-Bickel, k = {s.mle_k[0]}..{s.mle_k[1]}) and TwoNN (Facco et al., 10% discarded) "
            "run on the same training points."
        ),
        "",
        "## Verdict",
        "",
        markdown_table(summary),
        "",
        f"Rule: {VERDICT_RULE}",
        "",
        "## Per dataset and seed",
        "",
        markdown_table(
            cells[show],
            floatfmt={"lambda_hat": ".3g", "mle": ".2f", "twonn": ".2f", "train_time_s": ".0f"},
        ),
        "",
        f"![rank score curves]({Path(figure).name})",
        "",
        "## Rank scores",
        "",
        "Mean ± standard error over the evaluations, (penalised score); * marks the estimate.",
        "",
        markdown_table(_score_rows(results)),
        "",
        (
            "Mean of each score term (critic gap E f(G(Q(X))) - E f(G(Z)), reconstruction "
            "E||X - G(Q(X))||, gradient penalty unweighted, lambda_mmd * MMD) per rank:"
        ),
        "",
        markdown_table(_component_rows(results), floatfmt=".3f"),
        "",
        "## Training",
        "",
        f"Generator variant `{s.generator}`; z_max per dataset: "
        + ", ".join(sorted({f"{c.dataset} {len(c.ranks)}" for c in results.cells}))
        + ". Configuration of the first cell:",
        "",
        markdown_table(list(used.items()), headers=["setting", "value"]),
        "",
    ]
    if cfg.get("phases"):
        parts += [
            (
                "The schedule's phases, in order (each with fresh optimisers and its own step "
                "decay; a setting given per phase is listed as a / b / c above):"
            ),
            "",
            markdown_table(phase_rows(cfg)),
            "",
        ]
    if departures:
        parts += [
            (
                f"Schedule `{s.schedule}`. Departures of the first cell's settings from the public "
                "code's for its dataset (the default schedule fits the CPU budget; `--schedule "
                "public` runs the public code's; it trains swissroll for 5,000 iterations of 5 "
                "encoder/generator steps, the others for 10,000 of 1):"
            ),
            "",
            markdown_table(
                [(k, str(a), str(b)) for k, a, b in departures],
                headers=["setting", "used", "public code"],
            ),
            "",
            (
                "Also: each critic step uses one batch for the critic gap and the penalty's "
                "interpolates, and the MMD uses the batch already encoded (the public code draws "
                "separate batches: same expectations, fewer passes)."
            ),
            "",
        ]
    parts.append(facts_markdown(facts))
    return "\n".join(parts)


@dataclass
class RankOutput:
    results: RankResults
    report: Path
    csv: Path
    figures: list[Path]
    parent_run_id: str | None
    run_url: str | None


def _child_record(cell: RankCell) -> dict:
    params = {
        "dataset": cell.dataset,
        "seed": cell.seed,
        **{f"cfg.{k}": v for k, v in cell.config.items()},
    }
    metrics = {
        "estimate": cell.estimate, "truth": cell.truth, "correct": float(cell.correct),
        "argmin_unpenalised": cell.argmin_unpenalised, "lambda_hat": cell.lambda_hat,
        "mle": cell.mle, "twonn": cell.twonn, "train_time_s": cell.train_time_s,
        "score_time_s": cell.score_time_s,
        **{f"score_s{r}": m for r, m in zip(cell.ranks, cell.mean)},
        **{f"score_se_s{r}": v for r, v in zip(cell.ranks, cell.se)},
        **{f"train_{k}": v for k, v in cell.train_metrics.items() if isinstance(v, (int, float))},
    }  # fmt: skip
    histories = {k: cell.history[k] for k in HISTORY_LOGGED if k in cell.history}
    tags = {"checkpoint_sha256": cell.checkpoint_sha256, "data_fingerprint": cell.data_fingerprint,
            "cached": str(cell.loaded).lower()}  # fmt: skip
    return {"params": params, "metrics": metrics, "histories": histories, "tags": tags}


def protocol_text(s: RankSettings) -> str:
    """How the evaluations were made, for the report."""
    from lwgan.rank import SCORING_ITER_D

    if s.protocol == "training":
        return (
            f"protocol `training`, the public code's: training goes on between evaluations, "
            f"{s.every} primal-dual iterations apart, at the learning rate the schedule ended on "
            f"with the critic trained at least {SCORING_ITER_D} steps per iteration; the trained "
            f"model is left as it was"
        )
    if s.critic_steps == 0:
        return "protocol `refit` with no refit: the trained encoder, generator and critic, frozen"
    return (
        f"protocol `refit`: the trained encoder and generator frozen, a copy of the critic "
        f"refitted to them for {s.critic_steps} steps on the training points"
    )


def schedule_params(settings: RankSettings) -> dict:
    """The training settings of a sweep, for the parent run: the schedule's own (the public one's
    per-dataset values as "5000 (swissroll), 10000") with the user's overrides over them."""
    base = RANK_TRAINING if settings.schedule == "default" else PUBLIC_TOY
    return {**base, **settings.overrides}


def run_rank_experiment(
    settings: RankSettings,
    *,
    out: Path,
    device="cpu",
    workers: int = 1,
    retrain: bool = False,
    track: bool = True,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    command: str | None = None,
    progress: ProgressFn = null_progress,
) -> RankOutput:
    """Run the cells, log one MLflow child per cell as it finishes, write report/CSV/figures
    under `out/rank/`."""
    from bench.report import collect_facts, write_csv, write_report
    from bench.tracking import run_tags, start_sweep

    out_dir = Path(out) / "rank"
    cell_dir = out_dir / "cells"
    params = {
        "datasets": ",".join(settings.datasets), "seeds": ",".join(map(str, settings.seeds)),
        "generator": settings.generator, "z_max": settings.z_max, "reps": settings.reps,
        "eval_batch": settings.eval_batch, "protocol": settings.protocol,
        "critic_steps": settings.critic_steps, "every": settings.every,
        "workers": workers, "schedule": settings.schedule,
        **{f"train.{k}": v for k, v in schedule_params(settings).items()},
    }  # fmt: skip
    tags = run_tags(device, settings.seeds, command=command)
    with start_sweep("rank", experiment=experiment, tracking_uri=tracking_uri, params=params,
                     tags=tags, enabled=track) as sweep:  # fmt: skip

        def log_cell(cell: RankCell) -> None:
            fig = plot_cell(cell, cell_dir / f"{cell.dataset}_s{cell.seed}.pdf")
            sweep.log_child(
                f"{cell.dataset} seed {cell.seed}", artifacts=[fig], **_child_record(cell)
            )

        results = run_rank(settings, device=device, workers=workers, retrain=retrain,
                           progress=progress, on_cell=log_cell)  # fmt: skip
        figures = plot_rank_scores(results, out_dir / "rank_scores.pdf")
        csv = write_csv(cell_frame(results), out_dir / "rank.csv")
        facts = collect_facts(
            seeds=settings.seeds,
            data_fingerprint=",".join(sorted({c.data_fingerprint for c in results.cells})),
            device=device,
            checkpoints={f"{c.dataset} s{c.seed}": c.checkpoint_sha256 for c in results.cells},
            wall_time_s=results.wall_time_s,
            command=command,
            out=out,
        )
        report = write_report(out_dir, "rank", rank_markdown(results, facts, figures[0]))
        summary = summary_frame(results)
        sweep.log_metrics({
            "datasets_reproduced": float((summary["verdict"] == "reproduced").sum()),
            "cells_correct": float(sum(c.correct for c in results.cells)),
            "wall_time_s": results.wall_time_s,
        })  # fmt: skip
        for path in (*figures, csv, report):
            sweep.log_artifact(path)
    return RankOutput(results, report, csv, figures, sweep.run_id, sweep.url)
