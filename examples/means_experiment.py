"""An experiment in one file: `bench --plugin examples/means_experiment.py run means --seeds 0,1`."""

from dataclasses import dataclass

from bench.claims import Band, Claim, Estimate, Outcome
from bench.claims import register as register_claim
from bench.pipeline import Experiment, register
from bench.settings import Settings, setting


def decide(e: Estimate, c: dict) -> Outcome:
    """The largest |mean| over seeds, in standard errors: within c["within"] (4) is 0, beyond
    c["beyond"] (6) is not. The numbers come from the claim's `constants`, so `bench claims
    --sensitivity` can move them and say how stable the verdict is."""
    label = "reproduced" if e.value <= c["within"] else "not reproduced" if e.value > c["beyond"] else "inconclusive"
    return Outcome(label)


# The claim the experiment judges, stated once: its bands and their reasons.
CLAIM = register_claim(
    Claim(
        "mean-is-zero",
        "M1",
        "this example",
        "the sample mean of N(0, 1) draws is 0",
        quantity="|mean| per seed, its largest over seeds",
        paper_value="0",
        reproduced=Band(
            "every |mean| at or below 4 standard errors (4 / sqrt(n))",
            "a normal mean strays further only once in 15,000 seeds",
        ),
        not_reproduced=Band("some |mean| above 6 standard errors", "beyond doubt not 0"),
        inconclusive=Band("otherwise", "in between"),
        reports=("means",),
        decide=decide,
        constants={"within": 4.0, "beyond": 6.0},
    )
)


@dataclass(frozen=True)
class MeansSettings(Settings):
    seeds: tuple[int, ...] = setting((0, 1, 2), "One cell per seed.", minimum=0)
    n: int = setting(1000, "Samples per cell.", minimum=2)


def cells(s: MeansSettings) -> list[dict]:
    return [{"seed": seed} for seed in s.seeds]


def run_cell(cell: dict, ctx) -> dict:  # plain in, plain out: runs in any process
    import torch

    x = torch.randn(ctx.settings.n, generator=torch.Generator().manual_seed(cell["seed"]))
    return {"seed": cell["seed"], "mean": float(x.mean()), "histories": {"running": x.cumsum(0)[::100].tolist()}}


def verdicts(results):
    n = results.settings_obj().n
    worst = max(abs(r["mean"]) for r in results.records()) * n**0.5  # in standard errors
    return [CLAIM.judge("N(0, 1)", Estimate("|mean| / se", worst, worst, worst), f"largest {worst:.2f} se")]


def render(results) -> str:  # a pure function of the saved results
    rows = "\n".join(f"| {r['seed']} | {r['mean']:.4f} |" for r in results.records())
    v = results.verdict_objs()[0]
    return f"# Means\n\n**{v.shown}**: {v.numbers}\n\n{CLAIM.rule()}\n\n| seed | mean |\n| --- | --- |\n{rows}\n"


register(
    Experiment("means", "means of normal samples", MeansSettings, cells, render, run_cell=run_cell, verdicts=verdicts)
)
