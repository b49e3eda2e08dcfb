"""The settings of the LWGAN-side experiments (`bench isometry`, `stochastic`, `mnist`; `rank`'s are
in bench.experiments.rank.rank_settings),
declared once (bench.settings), with the constants they are built from. A light module (no torch
at import): the commands build their options from these fields, and `--help` stays instant."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from bench.claims.gates import gate_setting
from bench.options import parse_int
from bench.settings import SettingError, Settings, setting
from lwgan.recipes import MNIST_EVAL, TOY, get_recipe

SCORER_SEED = 0  # the scorer is one fixed model: seeds vary generators and subsets, never the judge
OBJECTIVES = ("lwgan", "published")
ALIASES = {"autoencoder": "published"}  # the name the published objective had before


def _objectives(text: str) -> tuple[str, ...]:
    """`both` is lwgan and published; `autoencoder` the old name of published."""
    if text.strip() == "both":
        return OBJECTIVES
    return tuple(ALIASES.get(x.strip(), x.strip()) for x in text.split(","))


def _eval_rank(text: str) -> int | str:

    t = text.strip()
    if t in ("max", "estimate"):
        return t
    try:
        return parse_int(t)
    except ValueError:
        raise SettingError(f"--eval-rank: expected max, estimate or an integer, got {text!r}") from None


def _check_eval_rank(value: int | str, z_max: int) -> None:
    if isinstance(value, str) and value not in ("max", "estimate"):
        raise SettingError(f"--eval-rank: expected max, estimate or an integer, got {value!r}")
    if isinstance(value, int) and not 1 <= value <= z_max:
        raise SettingError(f"--eval-rank: expected max, estimate or an integer in 1..{z_max}, got {value!r}")


def check_overrides(value: dict) -> str | None:
    """LWGANConfig fields over a recipe: each a field of the config, its value of the field's
    kind (a number for a number, text for text, a list for a tuple)."""
    if not value:
        return None
    from lwgan.model import LWGANConfig

    defaults = {f.name: getattr(LWGANConfig(), f.name) for f in dataclasses.fields(LWGANConfig)}
    for key, v in value.items():
        if key not in defaults:
            return f"unknown LWGANConfig field {key!r}; valid: {', '.join(sorted(defaults))}"
        d = defaults[key]
        kinds = {bool: (bool,), int: (int,), float: (int, float), str: (str,), tuple: (list, tuple)}
        want = next((k for t, k in kinds.items() if isinstance(d, t)), None)
        if want and (not isinstance(v, want) or (isinstance(v, bool) and bool not in want)):
            return f"{key}: expected {type(d).__name__}, got {v!r}"
    return None


def synthetic_names() -> list[str]:
    from bench.data.synthetic import SYNTHETIC

    return list(SYNTHETIC)


OBJECTIVE_HELP = (
    "lwgan (the full objective the paper states), published (the authors' public run exactly: a "
    "plain autoencoder with the isometric term and the noise; `autoencoder` is its old name) or both, "
    "side by side."
)
EVAL_RANK_HELP = (
    "Rank r of Q(x, r) and Z_r when measuring: max (z_max), estimate (LWGAN's estimated rank) or an integer."
)


def _objective_setting():
    return setting(OBJECTIVES, OBJECTIVE_HELP, aliases=("--objective",), choices=OBJECTIVES, parse=_objectives)


# ------------------------------------------------------------------------------------- toys


@dataclass(frozen=True)
class ToySettings(Settings):
    """A grid of toy cells: objectives x lambda_iso x sigma_noise x seeds on one dataset."""

    dataset: str = setting("two_gaussians", "Synthetic dataset of the cells.", choices=synthetic_names, cli=False)
    objectives: tuple[str, ...] = _objective_setting()
    lambdas: tuple[float, ...] = setting((0.0,), "lambda_iso values (>= 0).", aliases=("--lambda",), minimum=0)
    sigmas: tuple[float, ...] = setting((0.0,), "sigma_noise values (>= 0).", aliases=("--sigma",), minimum=0)
    seeds: tuple[int, ...] = setting(
        (0, 1, 2), "Seeds: the data draw, initialisation and evaluation of a cell.", minimum=0
    )
    z_max: int = setting(
        3, "Largest latent rank (the published toy runs' z_dim: 3, one more than the data's).", minimum=1
    )
    noise_dim: int = setting(
        0, "Noise channels k of G(z, eps) (2 for 2-D data when the noise is studied).", minimum=0, cli=False
    )
    iterations: int = setting(
        TOY["iterations"],
        "Training iterations per LWGAN model (recipe `toy`; the published run's epochs are fixed).",
        minimum=1,
    )
    width: int = setting(TOY["width_q"], "Structural width of Q, G and f (hidden layers are 1x-8x it).", minimum=1)
    iso_start: float | None = setting(
        None,
        "LWGAN objective: fraction of training without the isometric term, "
        "a warm start (none: the recipe's 0.2; 0 trains with it from the first step).",
        minimum=0,
        maximum=1,
    )
    overrides: dict = setting({}, "LWGANConfig fields over the recipe (JSON).", check=check_overrides, cli=False)
    eval_rank: int | str = setting("max", EVAL_RANK_HELP, parse=_eval_rank)
    rank_reps: int = setting(10, "Fresh held-out batches of the rank score (LWGAN objective; at least 2).", minimum=2)
    # Refit a copy of the critic to the final Q, G before scoring the ranks: `bench rank` found
    # 1,000 steps necessary (200 left most Swiss-roll critic gaps negative, unconverged).
    rank_critic_steps: int = setting(
        1000,
        "Before the rank score, refit a copy of the critic to the final "
        "encoder and generator for this many steps (0: the trained critic).",
        aliases=("--critic-steps",),
        minimum=0,
    )
    n_samples: int = setting(500, "Generated points for the energy distance and the mode shares.", minimum=2, cli=False)
    draws: int = setting(10, "G(z, eps) draws per input for the diversity (SPEC: 10).", minimum=2, cli=False)
    interp_pairs: int = setting(64, "Held-out pairs for the interpolation irregularity.", minimum=1, cli=False)
    interp_steps: int = setting(10, "Steps of an interpolation line.", minimum=3, cli=False)
    n_boot: int = setting(1000, "Bootstrap resamples of the per-seed intervals.", minimum=1, cli=False)
    centres: tuple[tuple[float, float], ...] | None = setting(None, "Cluster centres for the mode shares.", cli=False)

    def check(self) -> None:
        _check_eval_rank(self.eval_rank, self.z_max)

    def recipe(self) -> dict:
        """The training settings actually used (recipe `toy` + width/iterations + overrides).
        The critic warm-up is at most a tenth of the iterations, so short runs stay short."""
        w = {"width_q": self.width, "width_g": self.width, "width_d": self.width}
        warmup = min(TOY["critic_warmup"], max(1, self.iterations // 10))
        iso = {} if self.iso_start is None else {"iso_start": self.iso_start}
        return {**TOY, **w, "iterations": self.iterations, "critic_warmup": warmup, **iso, **self.overrides}

    def spec(self, objective: str, lambda_iso: float, sigma: float, ambient: int):
        """`lwgan.toy` (the harness's toy recipe) or `published.toy` (the authors' run, whose
        training settings are fixed) with this cell's knobs."""
        from lwgan.registry import get_generator

        knobs = {"lambda_iso": float(lambda_iso), "sigma_noise": float(sigma), "noise_dim": self.noise_dim}
        if objective == "published":
            return get_generator("published.toy", z_dim=self.z_max, **knobs)
        knobs.update(x_shape=(ambient,), z_max=self.z_max)
        return get_generator(f"{objective}.toy", **{**self.recipe(), **knobs, **self.overrides})


ISOMETRY_DATASET = "two_gaussians"
ISOMETRY_LAMBDAS = (0.0, 0.5, 1.0, 2.0)


@dataclass(frozen=True)
class IsometrySettings(ToySettings):
    """Two Gaussians; lambda_iso x seeds x objectives (every ToySettings field can be given)."""

    dataset: str = setting(
        ISOMETRY_DATASET, "Synthetic dataset of the cells (SPEC: two Gaussians).", choices=synthetic_names, cli=False
    )
    lambdas: tuple[float, ...] = setting(
        ISOMETRY_LAMBDAS, "lambda_iso values (>= 0).", aliases=("--lambda",), minimum=0
    )


STOCHASTIC_DATASET = "three_clusters"
# SPEC part B, experiment 2 (bench/data/synthetic.py samples around the same centres; a test
# checks that the two agree).
CENTRES = ((0.0, 0.0), (3.0, 3.0), (-3.0, 3.0))
STOCHASTIC_SIGMAS = (0.0, 0.1, 0.5)
NOISE_DIM = 2  # k = 2 noise channels for 2-D data (SPEC)


@dataclass(frozen=True)
class StochasticSettings(ToySettings):
    """Three clusters; sigma_noise x seeds x objectives, lambda_iso 0 by default (the noise
    alone, as in the published run); every ToySettings field can be given."""

    dataset: str = setting(
        STOCHASTIC_DATASET, "Synthetic dataset of the cells (SPEC: three clusters).", choices=synthetic_names, cli=False
    )
    lambdas: tuple[float, ...] = setting(
        (0.0,),
        "Isometric weight(s) (0: the noise alone, as published).",
        aliases=("--lambda-iso", "--lambda"),
        minimum=0,
    )
    sigmas: tuple[float, ...] = setting(
        STOCHASTIC_SIGMAS, "sigma_noise values (>= 0).", aliases=("--sigma",), minimum=0
    )
    noise_dim: int = setting(NOISE_DIM, "Noise channels k of G(z, eps) (SPEC: 2 for 2-D data).", minimum=1, cli=False)
    centres: tuple[tuple[float, float], ...] | None = setting(
        CENTRES, "Cluster centres for the mode shares.", cli=False
    )


# ------------------------------------------------------------------------------------ mnist

# name -> (registry variant, isometric term on, noise on)
CONFIGS = {
    "base LWGAN": ("lwgan", False, False),
    "+ isometric": ("iso-lwgan", True, False),
    "+ noise": ("lwgan", False, True),
    "Iso-LWGAN": ("iso-lwgan-stochastic", True, True),
}
# --budget -> the training recipe (lwgan.recipes). "default" fits 30 minutes for the four models
# on 2 CPU cores; "tiny" is for tests; "public" is the public LWGAN code's schedule, for a GPU.
RECIPES = {"default": "mnist", "public": "mnist-public", "tiny": "mnist-tiny", "public-tiny": "mnist-public-tiny"}
# The evaluation sizes of each budget (the recovery study's LWGAN-family rank score reads them too).
EVAL = MNIST_EVAL  # the evaluation budgets, by --budget (lwgan.recipes)
# The yardstick of the Frechet distance and digit shares: the recovery study's LSGAN (cached by
# `bench recover`, about 4 min on 2 CPU cores otherwise), its tiny recipe for the tiny budgets.
REFERENCE_GAN = {"default": "lsgan", "public": "lsgan", "tiny": "lsgan.test", "public-tiny": "lsgan.test"}


@dataclass(frozen=True)
class MnistSettings(Settings):
    budget: str = setting(
        "default",
        "LWGAN training budget: default (about 3.7 min a model on 2 CPU cores), public "
        "(the public LWGAN code's MNIST schedule, for a GPU), tiny and public-tiny (for tests).",
        choices=tuple(RECIPES),
    )
    # lwgan: the full LWGAN objective under the budget; published: the authors' run exactly (a
    # plain MLP autoencoder, 5 epochs; the budget does not apply to it).
    objectives: tuple[str, ...] = _objective_setting()
    iterations: int | None = setting(None, "Training iterations of every LWGAN model (none: the budget's).", minimum=1)
    seeds: tuple[int, ...] = setting((0, 1, 2), "Seeds (claim 8 is judged over seeds: at least three).", minimum=0)
    configs: tuple[str, ...] = setting(
        tuple(CONFIGS), "Which of the 2x2 ablation to run.", choices=tuple(CONFIGS), cli=False
    )
    lambda_iso: float = setting(1.0, "Isometric weight of the models with the term on.", minimum=0)
    sigma_noise: float = setting(0.1, "sigma_noise of the models with the noise on.", aliases=("--sigma",), minimum=0)
    noise_dim: int = setting(10, "Noise channels k (SPEC: 10 for MNIST).", minimum=1, cli=False)
    eval_rank: int | str = setting("max", EVAL_RANK_HELP, parse=_eval_rank)
    overrides: dict = setting({}, "LWGANConfig fields over the budget (JSON).", check=check_overrides, cli=False)
    classifier_seed: int = setting(SCORER_SEED, "Seed of the scorer.", minimum=0, cli=False)
    n_boot: int = setting(1000, "Bootstrap resamples of the per-model intervals.", minimum=1, cli=False)
    gate_reference_frechet: float = gate_setting(
        "reference_frechet", "The reference LSGAN's Frechet distance at most this."
    )
    gate_frechet_ratio: float = gate_setting(
        "frechet_ratio", "LWGAN-objective models' Frechet distance at most this many times the reference LSGAN's."
    )
    gate_min_share: float = gate_setting(
        "min_share", "Every digit at least this share of an LWGAN-objective model's draws.", maximum=0.1
    )

    def check(self) -> None:
        _check_eval_rank(self.eval_rank, self.train_overrides().get("z_max", 20))

    def eval_size(self, key: str) -> int:
        return int(EVAL[self.budget][key])

    def train_overrides(self) -> dict:
        """The budget's recipe with `iterations` and `overrides` over it (the settings used)."""
        out = dict(get_recipe("lwgan", RECIPES[self.budget]).settings)
        if self.iterations is not None:
            out["iterations"] = int(self.iterations)
        return {**out, **self.overrides}

    def spec(self, name: str, objective: str = "lwgan"):
        from lwgan.registry import get_generator

        variant, iso, noise = CONFIGS[name]
        knobs = {
            "lambda_iso": self.lambda_iso if iso else 0.0,
            "sigma_noise": self.sigma_noise if noise else 0.0,
            "noise_dim": self.noise_dim if noise else 0,
        }
        if objective == "published":
            return get_generator("published.mnist", **knobs)
        return get_generator(f"{variant}.{RECIPES[self.budget]}", **{**self.train_overrides(), **knobs})
