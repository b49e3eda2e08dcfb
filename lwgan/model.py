"""The LWGAN configuration and the (Q, G, f) triple it builds; checkpoint state in and out."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import torch
from torch import nn

from lwgan import networks
from lwgan.errors import ConfigError

OBJECTIVES = ("lwgan", "autoencoder")
ARCHS = ("auto", "mlp", "conv", "mlp-image")
RANK_SAMPLING = ("iteration", "all")


@dataclass
class LWGANConfig:
    """Architecture and training configuration of one LWGAN / Iso-LWGAN / autoencoder run.

    Defaults are the public LWGAN code's toy settings (SPEC part B); the primal-dual extras it uses
    (a long critic phase at the start and every 100th iteration, MMD switched on half way, a
    multi-step learning-rate decay over the last 20%) are options here so they can be scaled.
    """

    x_shape: tuple[int, ...] = (2,)  # (D,) -> MLPs; (1, 28, 28) -> convnets
    z_max: int = 5
    arch: str = "auto"
    width_q: int = 64  # "structural" widths: hidden layers are 1x..8x these
    width_g: int = 64
    width_d: int = 64
    noise_dim: int = 0  # k noise channels of the partially stochastic generator
    sigma_noise: float = 0.0
    objective: str = "lwgan"  # "autoencoder": reconstruction + isometric only (as published)
    iterations: int = 10000
    batch_size: int = 512
    lr: float = 2e-4
    lr_d: float | None = None  # the critic's learning rate; None: the same as lr
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 0.0
    lambda_gp: float = 5.0
    lambda_mmd: float = 1.0
    lambda_rank: float = 0.01
    lambda_iso: float = 0.0
    iter_d: int = 20
    iter_gq: int = 1
    critic_warmup: int = 100  # the first iterations train the critic for critic_burst steps
    critic_burst: int = 100  # ... and so does every critic_burst_every-th iteration
    critic_burst_every: int = 100
    mmd_start: float = 0.5  # fraction of the iterations trained without the MMD term
    # Fraction of the iterations trained without the isometric term (a reconstruction warm start:
    # from a near-constant initial map the isometric term's gradient shrinks Q faster than G can
    # grow, and the pair settles on the constant map; see bench isometry's report).
    iso_start: float = 0.0
    # Fraction of the iterations trained without the critic (reconstruction + MMD only, a WAE
    # warm start; the critic's warm-up burst starts when it is switched on). Public code: 0.
    adversarial_start: float = 0.0
    # "iteration": one rank r uniform on 1..z_max per iteration (SPEC, the public code); "all":
    # every step averages the objective over all ranks, batch_size rows each (the same expected
    # objective without the variance of switching ranks; z_max times the rows per step).
    rank_sampling: str = "iteration"
    max_rank: int | None = None  # ranks drawn on 1..max_rank (None: z_max)
    # A schedule of several phases: each is a dict of overrides of the training fields below
    # (PHASE_FIELDS), run in order, each with fresh optimisers and its own learning-rate decay
    # (e.g. a rank-1 warm start, a WAE phase, then the adversarial phase). Empty: one phase, this
    # config as it is.
    phases: tuple[dict, ...] = ()
    critic_reuse: bool = False  # one batch of G(Q(X)), G(Z) per iteration for all critic steps
    lr_milestones: tuple[float, ...] = field(default=(0.8, 0.85, 0.9, 0.95))
    lr_gamma: float = 0.9

    def __post_init__(self):
        self.x_shape = tuple(int(s) for s in self.x_shape)
        self.phases = tuple(dict(p) for p in self.phases)
        self.betas = tuple(float(b) for b in self.betas)
        self.lr_milestones = tuple(float(m) for m in self.lr_milestones)
        check_config(self)

    def resolved_arch(self) -> str:
        if self.arch != "auto":
            return self.arch
        return "conv" if len(self.x_shape) == 3 else "mlp"

    def to_dict(self) -> dict:
        """The fields as a dict (the cache key of a trained model is made from it). Fields added
        after the first checkpoints are left out at their neutral value, so a config that does not
        use them keeps the key, and the cached checkpoint, it had before they existed."""
        d = dataclasses.asdict(self)
        for name, neutral in LATER_FIELDS.items():
            if d[name] == neutral:
                del d[name]
        return d

    def phase_configs(self) -> list[LWGANConfig]:
        """The phases to train, each a complete config (this one alone when `phases` is empty)."""
        if not self.phases:
            return [self]
        return [dataclasses.replace(self, phases=(), **p) for p in self.phases]

    @property
    def total_iterations(self) -> int:
        return sum(p.iterations for p in self.phase_configs())


# name: the value that leaves training as before (so older configs keep their cache keys)
LATER_FIELDS = {"max_rank": None, "phases": (), "iso_start": 0.0}

# What a phase may override: training settings, never the architecture or the objective.
PHASE_FIELDS = frozenset(
    {
        "iterations",
        "batch_size",
        "lr",
        "lr_d",
        "betas",
        "weight_decay",
        "iter_d",
        "iter_gq",
        "critic_warmup",
        "critic_burst",
        "critic_burst_every",
        "mmd_start",
        "adversarial_start",
        "iso_start",
        "rank_sampling",
        "max_rank",
        "critic_reuse",
        "lr_milestones",
        "lr_gamma",
    }
)


def check_config(cfg: LWGANConfig) -> None:
    """Reject values the trainer cannot run, naming the field (a user can set most of them)."""

    def bad(name, accepted):
        raise ConfigError(f"lwgan config {name}={getattr(cfg, name)!r}: expected {accepted}")

    if cfg.objective not in OBJECTIVES:
        bad("objective", " or ".join(OBJECTIVES))
    if cfg.rank_sampling not in RANK_SAMPLING:
        bad("rank_sampling", " or ".join(RANK_SAMPLING))
    if cfg.arch not in ARCHS:
        bad("arch", ", ".join(ARCHS))
    if cfg.resolved_arch() in ("conv", "mlp-image") and cfg.x_shape != (1, 28, 28):
        bad("x_shape", f"(1, 28, 28) for the {cfg.resolved_arch()} architecture")
    if cfg.resolved_arch() == "mlp" and len(cfg.x_shape) != 1:
        bad("x_shape", "(D,) for the MLP architecture")
    for name in ("z_max", "width_q", "width_g", "width_d", "iterations", "iter_d", "iter_gq"):
        if getattr(cfg, name) < 1:
            bad(name, "an integer >= 1")
    if cfg.batch_size < 2:
        bad("batch_size", "an integer >= 2 (pairwise losses)")
    for name in ("noise_dim", "critic_warmup", "critic_burst", "critic_burst_every"):
        if getattr(cfg, name) < 0:
            bad(name, "an integer >= 0")
    for name in (
        "sigma_noise",
        "lambda_gp",
        "lambda_mmd",
        "lambda_rank",
        "lambda_iso",
        "weight_decay",
    ):
        value = getattr(cfg, name)
        if not (math.isfinite(value) and value >= 0):
            bad(name, "a finite number >= 0")
    if not (cfg.lr > 0 and math.isfinite(cfg.lr)):
        bad("lr", "a positive number")
    if cfg.lr_d is not None and not (cfg.lr_d > 0 and math.isfinite(cfg.lr_d)):
        bad("lr_d", "a positive number or None (same as lr)")
    if cfg.max_rank is not None and not 1 <= cfg.max_rank <= cfg.z_max:
        bad("max_rank", f"None or an integer in 1..z_max ({cfg.z_max})")
    for i, phase in enumerate(cfg.phases):
        unknown = sorted(set(phase) - PHASE_FIELDS)
        if unknown:
            raise ConfigError(
                f"lwgan config phases[{i}]: cannot override {', '.join(unknown)}; "
                f"a phase sets only {', '.join(sorted(PHASE_FIELDS))}"
            )
        try:  # the phase's whole config: replace() runs __post_init__, which checks it
            dataclasses.replace(cfg, phases=(), **phase)
        except ConfigError as e:
            raise ConfigError(f"phases[{i}]: {e}") from None
    for name in ("mmd_start", "adversarial_start", "iso_start"):
        if not 0 <= getattr(cfg, name) <= 1:
            bad(name, "a fraction in [0, 1]")
    if not 0 < cfg.lr_gamma <= 1:
        bad("lr_gamma", "a number in (0, 1]")
    if any(not 0 <= m <= 1 for m in cfg.lr_milestones):
        bad("lr_milestones", "fractions in [0, 1]")


class LWGAN(nn.Module):
    """Q (encoder), G (generator) and D (critic f) together; one state dict per part."""

    def __init__(self, cfg: LWGANConfig, Q: nn.Module, G: nn.Module, D: nn.Module):
        super().__init__()
        self.cfg, self.Q, self.G, self.D = cfg, Q, G, D

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def sample(self, n: int, rank: int | None = None, *, generator=None) -> torch.Tensor:
        """G(Z_r): n draws from the model at rank r (default z_max)."""
        rank = self.cfg.z_max if rank is None else rank
        z = networks.prior_sample(n, self.cfg.z_max, rank, generator=generator, device=self.device)
        return self.G(z, generator=generator)

    def reconstruct(self, x: torch.Tensor, rank: int | None = None, *, generator=None) -> torch.Tensor:
        rank = self.cfg.z_max if rank is None else rank
        return self.G(self.Q(x, rank), generator=generator)


def build_lwgan(cfg: LWGANConfig, *, seed: int = 0, device=None) -> LWGAN:
    """Fresh networks for `cfg`, initialised from `seed` without touching the global RNG state."""
    device = torch.device("cpu") if device is None else torch.device(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if cfg.resolved_arch() == "mlp-image":
            Q = networks.ImageMLPEncoder(cfg.z_max, cfg.width_q)
            G = networks.image_mlp_generator(cfg.z_max, cfg.width_g, cfg.noise_dim, cfg.sigma_noise)
            D = networks.ImageMLPCritic(cfg.z_max, cfg.width_d)
        elif cfg.resolved_arch() == "conv":
            Q = networks.ConvEncoder(cfg.z_max, cfg.width_q)
            G = networks.conv_generator(cfg.z_max, cfg.width_g, cfg.noise_dim, cfg.sigma_noise)
            D = networks.ConvCritic(cfg.z_max, cfg.width_d)
        else:
            (x_dim,) = cfg.x_shape
            Q = networks.MLPEncoder(x_dim, cfg.z_max, cfg.width_q)
            G = networks.mlp_generator(cfg.z_max, x_dim, cfg.width_g, cfg.noise_dim, cfg.sigma_noise)
            D = networks.MLPCritic(x_dim, cfg.z_max, cfg.width_d)
    return LWGAN(cfg, Q, G, D).to(device)


def model_state(model: LWGAN) -> dict[str, dict[str, torch.Tensor]]:
    """{"Q": ..., "G": ..., "D": ...} on the CPU: a checkpoint loads on any device."""
    return {
        name: {k: v.detach().cpu() for k, v in getattr(model, name).state_dict().items()} for name in ("Q", "G", "D")
    }


def load_lwgan(cfg: LWGANConfig, state: dict, *, device=None) -> LWGAN:
    model = build_lwgan(cfg, device=device)
    for name in ("Q", "G", "D"):
        getattr(model, name).load_state_dict(state[name])
    return model.eval()


class RankedGenerator(nn.Module):
    """An LWGAN generator seen through its rank-r prior: z [N, r] -> G([z, 0], eps)."""

    def __init__(self, G: nn.Module, z_max: int, rank: int):
        super().__init__()
        self.G, self.z_max, self.latent_dim = G, int(z_max), int(rank)
        self.noise_dim = int(G.noise_dim) if G.sigma_noise > 0 else 0

    def chain_view(self) -> tuple[nn.Module, int, float]:
        """How forward fills its network's input row, for a compiled chain: (the network, z_max,
        sigma_noise): z in the first `latent_dim` columns, zeros up to z_max, then
        sigma_noise * eps."""
        return self.G.body, self.z_max, float(self.G.sigma_noise)

    def forward(self, z: torch.Tensor, eps: torch.Tensor | None = None) -> torch.Tensor:
        z = nn.functional.pad(z, (0, self.z_max - self.latent_dim))
        if self.G.noise_dim > 0 and eps is None:  # no noise asked for: the noise switched off
            eps = z.new_zeros(z.shape[0], self.G.noise_dim)
        return self.G(z, eps) if self.G.noise_dim > 0 else self.G(z)
