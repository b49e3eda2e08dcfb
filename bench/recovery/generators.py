"""The generators a recovery sweep goes through, each seen by the engine the same way.

A `RecoveryModel` is G: z [N, latent_dim] (and eps [N, noise_dim] for a partially stochastic
generator) -> images [N, 1, 28, 28] in [-1, 1], the prior its latents are compared with, and the
discriminator if it has an LSGAN one. The recovery objective is always taken in pixels scaled to
[-1, 1] (the paper's range), so a loss weight means the same for every generator.

- `lsgan` (recipes by name, e.g. `lsgan.test`): z ~ N(0, I_d); its LSGAN discriminator is kept
  for trick_discriminator.
- The LWGAN family (`lwgan`, `iso-lwgan`, `iso-lwgan-stochastic`, on MNIST recipes): the prior is
  N(0, A) of rank r (SPEC part B), so recovery acts on the first r coordinates and the rest stay
  0 (`RankedGenerator`); the regulators compare those r elements with N(0, 1). r is the model's
  estimated rank (LWGAN's rank score, as `bench mnist` measures it) unless `latent_rank` is "max"
  (z_max) or an integer. Their critic is a Wasserstein critic, not an LSGAN discriminator, so
  regulators that need the latter (trick_discriminator) are not run through them.
- A user's generator: `module:function` or `path/to/file.py:function`, where the function
  returns a `UserGenerator` (the network, its latent size, prior and pixel range, a checkpoint).
- Generators with no prior to recover from (the published autoencoders, the LWGAN code's
  autoencoder objective: no prior matching) are refused with the reason.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bench.checkpoint import payload_digest
from bench.errors import BenchError
from bench.plugins import import_module_or_file
from bench.progress import null_progress


@dataclass
class UserGenerator:
    """What a user's `module:function` returns."""

    generator: nn.Module  # z [N, latent_dim] (, eps [N, noise_dim]) -> [N, 1, 28, 28] or [N, 784]
    latent_dim: int
    pixel_range: tuple[float, float] = (-1.0, 1.0)  # G's output range; mapped to [-1, 1]
    prior: str = "normal"  # a regulators prior name
    checkpoint: str | None = None  # a state_dict file loaded into `generator`
    discriminator: nn.Module | None = None  # an LSGAN-style D(x) (for trick_discriminator)
    noise_dim: int = 0


@dataclass
class RecoveryModel:
    name: str
    seed: int
    G: nn.Module  # see the module docstring
    D: nn.Module | None  # an LSGAN discriminator, or None
    latent_dim: int
    noise_dim: int
    prior: str
    facts: dict = field(default_factory=dict)  # family, digest, latent_rank, z_max, times, config


class PixelRange(nn.Module):
    """A user's G with its output mapped from [lo, hi] to [-1, 1] and shaped [N, 1, 28, 28]."""

    def __init__(self, G: nn.Module, lo: float, hi: float, noise_dim: int):
        super().__init__()
        self.G, self.lo, self.hi, self.noise_dim = G, float(lo), float(hi), int(noise_dim)

    def forward(self, z: torch.Tensor, eps: torch.Tensor | None = None) -> torch.Tensor:
        x = self.G(z) if eps is None else self.G(z, eps)
        return ((x - self.lo) * (2.0 / (self.hi - self.lo)) - 1.0).reshape(-1, 1, 28, 28)


def is_user(name: str) -> bool:
    return ":" in name


@dataclass(frozen=True)
class Resolved:
    """A generator name resolved once: a registered variant's spec and family (with the sweep's
    model overrides applied), or a user's built UserGenerator. Passed along from then on."""

    name: str
    spec: object | None = None  # lwgan.registry.GeneratorSpec of a registered variant
    family: object | None = None  # its lwgan.families.Family
    user: UserGenerator | None = None

    @property
    def is_reference(self) -> bool:
        """Whether it can be the Frechet yardstick of the credibility bars: a registered variant of
        a family that carries an LSGAN discriminator (the recovery study's own kind)."""
        return self.user is None and self.family.discriminator

    @property
    def has_discriminator(self) -> bool:
        """Whether it brings an LSGAN discriminator (built, not trained, for a user's)."""
        return self.user.discriminator is not None if self.user is not None else self.family.discriminator


@functools.cache
def resolve(name: str, latent_dim: int | None = None, arch: str | None = None) -> Resolved:
    """Generator `name` resolved (once per process for each name and overrides): a user's
    `module:function` built and checked, or a registered variant's spec with the model overrides
    its family takes (an LSGAN's latent_dim and arch). A one-line BenchError for a name that
    cannot be recovered through; nothing is trained or loaded."""
    if is_user(name):
        built = _built(name)
        if built.checkpoint and not Path(built.checkpoint).is_file():  # found now, not after the models train
            raise BenchError(f"--generator: {name}: its checkpoint {built.checkpoint} does not exist")
        return Resolved(name, user=built)
    from lwgan.families import get_family
    from lwgan.registry import VARIANTS, get_generator

    if name.split(".", 1)[0] not in VARIANTS:
        raise BenchError(f"--generator: {VARIANTS.unknown(name.split('.', 1)[0])}; or module:function")
    try:
        fam = get_family(get_generator(name).family)
        given = {k: v for k, v in (("latent_dim", latent_dim), ("arch", arch)) if k in fam.overrides}
        spec = get_generator(name, **given)
    except (KeyError, ValueError) as e:
        raise BenchError(f"--generator: {e}") from None
    refusal = fam.recovery_refusal(spec.config) or (None if fam.recovery else f"family {fam.name} has no prior")
    if refusal:
        raise BenchError(
            f"--generator: {name!r} has no latent prior to recover from ({refusal}); use lsgan or "
            "an LWGAN-family generator"
        )
    if spec.data_kind != "mnist":
        raise BenchError(f"--generator: {name!r} is not an MNIST generator (recipe for {spec.data_kind} data)")
    return Resolved(name, spec, fam)


def check_name(name: str) -> None:
    resolve(name)


def recoverable() -> list[str]:
    """`--generators all`: every registered variant whose default recipe is an MNIST generator with
    a prior to recover from, plugins' included, in registration order."""
    from lwgan.registry import generator_names

    out = []
    for name in generator_names():
        try:
            resolve(name)
        except BenchError:
            continue
        out.append(name)
    return out


def parse_generators(text: str) -> list[str]:
    """`all` or a comma list of names (validated); a one-line BenchError otherwise."""
    if text.strip() == "all":
        return recoverable()
    names = [p.strip() for p in text.split(",")]
    if any(not p for p in names):
        raise BenchError(f"--generator: empty element in {text!r}")
    for n in names:
        check_name(n)
    if len(set(names)) != len(names):
        raise BenchError(f"--generator: a generator is listed twice in {text!r}")
    return names


def _user_builder(name: str) -> Callable[[], UserGenerator]:

    module, _, attr = name.rpartition(":")
    try:
        mod = import_module_or_file(
            str(Path(module).expanduser()) if module.endswith(".py") else module, prefix="bench_user_generator_"
        )
    except FileNotFoundError:
        raise BenchError(f"--generator: no such file {module!r}") from None
    except Exception as e:  # noqa: BLE001 - any import failure is the user's module's
        raise BenchError(f"--generator: cannot import {module!r}: {type(e).__name__}: {e}") from None
    fn = getattr(mod, attr, None)
    if not callable(fn):
        raise BenchError(f"--generator: {module!r} has no function {attr!r}")
    return fn


@functools.cache
def _built(name: str) -> UserGenerator:
    """What a user's `module:function` returns, checked: a UserGenerator, or a one-line error
    that names the function and the type expected (never a traceback from its use later)."""
    try:
        built = _user_builder(name)()
    except BenchError:
        raise
    except Exception as e:  # noqa: BLE001 - any failure of the user's builder is theirs, in one line
        raise BenchError(f"--generator: {name}() raised {type(e).__name__}: {' '.join(str(e).split())}") from None
    if not isinstance(built, UserGenerator):
        raise BenchError(
            f"--generator: {name}() returned {type(built).__name__}; expected a "
            "bench.recovery.generators.UserGenerator (see ARCHITECTURE.md, Recover through your own generator)"
        )
    if not isinstance(built.generator, nn.Module) or not isinstance(built.latent_dim, int) or built.latent_dim < 1:
        raise BenchError(f"--generator: {name}(): generator must be a torch.nn.Module and latent_dim a positive int")
    return built


def is_reference(name: str) -> bool:
    return resolve(name).is_reference


def has_discriminator(name: str) -> bool:
    return resolve(name).has_discriminator


def spec_for(name: str, latent_dim: int | None = None, arch: str | None = None):
    """The registry spec of a named generator, with the recovery sweep's model overrides its
    family takes (an LSGAN's latent_dim and arch)."""
    return resolve(name, latent_dim, arch).spec


def status(name: str, seed: int, data_fingerprint: str, precision: str = "fp32", device="cpu", **overrides) -> str:
    from bench.models import status as model_status

    if is_user(name):
        return "user module"
    return model_status(spec_for(name, **overrides), data_fingerprint, seed, precision, device)


def load(
    name: str,
    seed: int,
    mnist,
    *,
    device,
    retrain: bool = False,
    latent_rank="estimate",
    latent_dim: int | None = None,
    arch: str | None = None,
    prior: str = "normal",
    progress=None,
    on_event=None,
    precision: str = "fp32",
) -> RecoveryModel:
    """Train (through the cache) or load generator `name` at training seed `seed`. `prior` is
    the LSGAN's (the LWGAN family and a user's generator bring their own). `precision`: the
    training's number format (resolved; a user's module is loaded as it is)."""
    r = resolve(name, latent_dim, arch)
    if r.user is not None:
        return _load_user(name, r.user, seed, device)
    from bench.data import to_pixels
    from bench.models import cache_config, load_or_train, training_precision

    progress = progress or null_progress
    trained = load_or_train(
        r.spec,
        mnist,
        seed=seed,
        device=device,
        retrain=retrain,
        progress=progress,
        task=f"{name} s{seed}: train",
        on_event=on_event,
        precision=precision,
    )
    facts = {
        "family": r.spec.family,
        "digest": trained.entry.digest,
        "loaded": trained.entry.loaded,
        "train_seconds": trained.train_seconds,
        "config": cache_config(r.spec, training_precision(r.spec, precision, device)),
    }
    rank = None
    if r.family.estimate_rank is not None:  # recovery on an estimated rank of z_max (the family's own prior)
        z_max = r.spec.config.z_max
        estimate, lam = r.family.estimate_rank(
            trained.model,
            to_pixels(mnist.test_images),
            to_pixels(mnist.train_images[:10000]),
            seed=seed,
            progress=progress,
            task=f"{name} s{seed}: rank score",
        )
        rank = z_max if latent_rank == "max" else estimate if latent_rank == "estimate" else int(latent_rank)
        if not 1 <= rank <= z_max:
            raise BenchError(f"--latent-rank: {rank} is outside 1..{z_max} (z_max of {name})")
        facts.update(rank_estimate=estimate, lambda_hat=lam)
    view = r.family.recovery(trained.model, r.spec.config, rank=rank, prior=prior)
    facts.update(latent_rank=view.latent_dim, **view.facts)
    return RecoveryModel(name, seed, view.G, view.D, view.latent_dim, view.noise_dim, view.prior, facts)


def _load_user(name: str, built: UserGenerator, seed: int, device) -> RecoveryModel:
    import regulators

    lo, hi = built.pixel_range
    if not hi > lo:
        raise BenchError(f"--generator: {name}: pixel_range {built.pixel_range} is not (low, high)")
    try:
        regulators.get_prior(built.prior)
    except ValueError as e:
        raise BenchError(f"--generator: {name}: {e}") from None
    G = built.generator
    if built.checkpoint:
        try:
            G.load_state_dict(torch.load(built.checkpoint, map_location="cpu", weights_only=True))
        except Exception as e:  # noqa: BLE001 - a missing or mismatched file is the user's
            raise BenchError(f"--generator: {name}: cannot load {built.checkpoint}: {e}") from None
    G = G.to(device).eval()
    D = built.discriminator.to(device).eval() if built.discriminator is not None else None
    facts = {
        "family": "user",
        "digest": payload_digest(G.state_dict()),
        "loaded": True,
        "train_seconds": None,
        "config": {"builder": name, "pixel_range": [lo, hi], "checkpoint": built.checkpoint or ""},
        "latent_rank": built.latent_dim,
        "z_max": built.latent_dim,
    }
    wrapped = PixelRange(G, lo, hi, built.noise_dim)
    return RecoveryModel(name, seed, wrapped, D, built.latent_dim, built.noise_dim, built.prior, facts)


@torch.no_grad()
def draw(model: RecoveryModel, n: int, seed: int, tag: str = "quality"):
    """(z [n, d] from the model's prior, eps [n, k] or None, G(z, eps) [n, 1, 28, 28] on the CPU),
    from a CPU generator seeded by (seed, tag): the same draws on every device."""
    import regulators
    from bench.recovery.streams import derive_seed

    g = torch.Generator().manual_seed(derive_seed(int(seed), tag, model.name))
    z = regulators.get_prior(model.prior).sample((n, model.latent_dim), generator=g, device="cpu", dtype=torch.float32)
    eps = torch.randn(n, model.noise_dim, generator=g) if model.noise_dim else None
    dev = next(model.G.parameters()).device
    out = []
    for i in range(0, n, 1000):
        zi = z[i : i + 1000].to(dev)
        out.append((model.G(zi) if eps is None else model.G(zi, eps[i : i + 1000].to(dev))).cpu())
    return z, eps, torch.cat(out)


def quality(model: RecoveryModel, classifier, test_images: torch.Tensor, n: int, seed: int) -> dict:
    """The generator judged by the classifier on n draws: Frechet distance to the test images in
    its feature space, and the share of each digit."""

    from bench.classifier import digit_shares, features, frechet_distance, predict

    _, _, fake = draw(model, n, seed)
    shares = digit_shares(predict(classifier, fake))
    fd = frechet_distance(features(classifier, fake), features(classifier, test_images))
    low = int(np.argmin(shares))
    return {"frechet": fd, "shares": shares, "min_share": shares[low], "min_share_digit": low, "n": n}
