"""The LSGAN of the latent-recovery study: architectures, config, trainer, cached loader.

The recovery sweep back-propagates to z through G for 124 cells x 1,000 images x 200 steps, so
the default generator is a small MLP (256-256-512-784, 1.2 MFLOP per image) that a CPU runs fast.
What keeps it covering all ten digits is the training, not the size: a minibatch-stddev feature
in D (the largest single gain: without it a conv-D run made 26% ones and 0.1% zeros), batch norm
in G (recalibrated after training so eval mode matches), an EMA of G's weights and a linear lr
decay over the second half. An MLP D with it beat a conv D on digit coverage at half the cost
(measurements in the docstring of LSGANConfig). "cho" is the author's conv architecture
(github.com/jeongik-jo/LatentRegulation), for GPUs.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from lwgan.losses import lsgan_discriminator_loss, lsgan_generator_loss
from lwgan.progress import ProgressFn, null_progress

IMAGE_SHAPE = (1, 28, 28)


@dataclass
class LSGANConfig:
    """Defaults chosen on MNIST, seed 0, judged by the classifier on 5,000 samples (CPU, 1 thread):
    conv D (spectral norm), 12 epochs, no mbstd: min digit share 0.1% (zeros), FD 329;
    conv D + mbstd, 8 epochs: min share 2.2%, FD 208, 65 CPU-s per epoch;
    mlp D + mbstd, 8 epochs: min share 5.2%, FD 207, 34 CPU-s per epoch;
    mlp D + mbstd, 20 epochs (the default): min share 8.2%, FD 85, 671 CPU-s in all.
    `bench train lsgan` with the default (10,000 samples): every digit 8.1-11.9%, FD 85.3
    (real training images score 1.7), 350 CPU-s of training on one thread."""

    arch: str = "mlp"  # key of ARCHITECTURES
    latent_dim: int = 256  # d_z of the author's code
    hidden: list[int] = field(default_factory=lambda: [256, 512])  # G's hidden widths (mlp)
    d_width: int = 32  # mlp D: hidden widths 16x and 8x this (512, 256); conv D: first channels
    d_arch: str = "mlp"  # the mlp architecture's discriminator: mlp | conv
    d_mbstd: bool = True  # minibatch-stddev feature in D (see MinibatchStd)
    d_lr: float | None = None  # D's learning rate when it differs from G's
    epochs: int = 20
    batch_size: int = 64
    lr: float = 2e-4  # both players, Adam
    betas: tuple[float, float] = (0.5, 0.999)  # the DCGAN setting; default betas oscillate more
    lr_decay_start: float = 0.5  # fraction of training after which both lrs decay linearly to 0
    ema: float = 0.999  # decay of the exponential moving average of G's weights (0: off)
    bn_calibration_batches: int = 50  # batches used to re-estimate G's batch-norm statistics
    # "cho": G's dense channels (the author's 512; the convs halve it twice) and D's first
    # channels (the author's 128); a narrower net scales a forward's FLOPs by (width / 512)^2.
    cho_width: int = 512
    cho_d_width: int = 128


# Fields added after the first checkpoints: left out of the cache key at these values, so the
# models cached before they existed keep their keys.
LATER_FIELDS = {"cho_width": 512, "cho_d_width": 128}


# ---------------------------------------------------------------------------------- registry
Builder = Callable[[LSGANConfig], tuple[nn.Module, nn.Module]]
ARCHITECTURES: dict[str, Builder] = {}


def register(name: str) -> Callable[[Builder], Builder]:
    def deco(fn: Builder) -> Builder:
        if name in ARCHITECTURES:
            raise ValueError(f"LSGAN architecture {name!r} registered twice")
        ARCHITECTURES[name] = fn
        return fn

    return deco


def get(name: str) -> Builder:
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown LSGAN architecture {name!r}; valid: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]


def build_lsgan(cfg: LSGANConfig) -> tuple[nn.Module, nn.Module]:
    """(generator [N, latent_dim] -> [N, 1, 28, 28] in [-1, 1], discriminator images -> [N])."""
    return get(cfg.arch)(cfg)


class LSGAN(nn.Module):
    """G and D of one trained LSGAN together (the trick-discriminator regulator needs D), so every
    generator family loads as one module with a `.G`."""

    def __init__(self, cfg: LSGANConfig, G: nn.Module, D: nn.Module):
        super().__init__()
        self.cfg, self.G, self.D = cfg, G, D

    @property
    def latent_dim(self) -> int:
        return self.cfg.latent_dim


def build_lsgan_model(cfg: LSGANConfig, *, seed: int = 0, device=None) -> LSGAN:
    """Fresh G and D initialised from `seed` without touching the global RNG state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        G, D = build_lsgan(cfg)
    return LSGAN(cfg, G, D).to(device or "cpu")


# ----------------------------------------------------------------------------- default: mlp
class MLPGenerator(nn.Module):
    """z -> (Linear, BatchNorm, ReLU) per hidden width -> Linear -> tanh -> 28x28."""

    def __init__(self, latent_dim: int, hidden: list[int]):
        super().__init__()
        self.latent_dim = latent_dim
        layers: list[nn.Module] = []
        width = latent_dim
        for h in hidden:
            layers += [nn.Linear(width, h, bias=False), nn.BatchNorm1d(h), nn.ReLU()]
            width = h
        layers += [nn.Linear(width, 28 * 28), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, *IMAGE_SHAPE)


class MinibatchStd(nn.Module):
    """Append the batch's mean per-feature standard deviation as one extra channel (ProGAN), so
    D sees how varied a batch is and a collapsing G is penalised. In eval mode it appends the
    running average of that statistic instead, so D(x) of one image never depends on the rest
    of its batch (the recovery scores images independently)."""

    def __init__(self, momentum: float = 0.01):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running", torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.shape[0] > 1:
            s = x.std(dim=0, unbiased=False).mean()
            with torch.no_grad():
                self.running.lerp_(s.detach(), self.momentum)
        else:
            s = self.running
        return torch.cat([x, s.expand(x.shape[0], 1, *x.shape[2:])], dim=1)


class MLPDiscriminator(nn.Module):
    """784 -> width*16 -> width*8 -> 1 with leaky ReLU (width 32: 512, 256)."""

    def __init__(self, width: int = 32, mbstd: bool = True):
        super().__init__()
        h1, h2 = 16 * width, 8 * width
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(784, h1), nn.LeakyReLU(0.2), nn.Linear(h1, h2),
            nn.LeakyReLU(0.2), *([MinibatchStd()] if mbstd else []),
            nn.Linear(h2 + int(mbstd), 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


class ConvDiscriminator(nn.Module):
    """Two strided 4x4 convs (28 -> 14 -> 7) with spectral norm and leaky ReLU, then a linear
    score. No batch norm, so D(x) of one image never depends on the rest of its batch."""

    def __init__(self, width: int = 32, mbstd: bool = True):
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        self.net = nn.Sequential(
            sn(nn.Conv2d(1, width, 4, 2, 1)), nn.LeakyReLU(0.2),
            sn(nn.Conv2d(width, 2 * width, 4, 2, 1)), nn.LeakyReLU(0.2),
            *([MinibatchStd()] if mbstd else []),
            nn.Flatten(), sn(nn.Linear((2 * width + int(mbstd)) * 49, 1)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


@register("mlp")
def _mlp(cfg: LSGANConfig) -> tuple[nn.Module, nn.Module]:
    disc = {"mlp": MLPDiscriminator, "conv": ConvDiscriminator}
    if cfg.d_arch not in disc:
        raise ValueError(f"d_arch {cfg.d_arch!r}: valid: {', '.join(disc)}")
    return MLPGenerator(cfg.latent_dim, list(cfg.hidden)), disc[cfg.d_arch](cfg.d_width, cfg.d_mbstd)


# ------------------------------------------------------------------------------- cho (GPU)
def _conv_in(cin: int, cout: int) -> list[nn.Module]:
    # Keras order of the author's code: conv with leaky-ReLU activation, then instance norm.
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.LeakyReLU(0.2),
            nn.InstanceNorm2d(cout, affine=True)]


class ChoGenerator(nn.Module):
    """Dense to 7x7x512, then twice (upsample x2, three 3x3 convs halving the channels, each
    with instance norm), then a 1x1 conv and tanh."""

    def __init__(self, latent_dim: int = 256, channels: int = 512, depth: int = 3):
        super().__init__()
        self.latent_dim = latent_dim
        self.channels = channels
        self.dense = nn.Sequential(nn.Linear(latent_dim, channels * 49), nn.LeakyReLU(0.2))
        layers: list[nn.Module] = [nn.InstanceNorm2d(channels, affine=True)]
        c = channels
        for _ in range(2):
            layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
            for i in range(depth):
                layers += _conv_in(c if i == 0 else c // 2, c // 2)
            c //= 2
        layers += [nn.Conv2d(c, 1, 1), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.dense(z).view(-1, self.channels, 7, 7))


class ChoDiscriminator(nn.Module):
    """3x3 conv to 128 channels, then twice (average-pool /2, three 3x3 convs doubling the
    channels, instance norm), then a linear score (no sigmoid)."""

    def __init__(self, channels: int = 128, depth: int = 3):
        super().__init__()
        layers: list[nn.Module] = _conv_in(1, channels)
        c = channels
        for _ in range(2):
            layers.append(nn.AvgPool2d(2))
            for i in range(depth):
                layers += _conv_in(c if i == 0 else 2 * c, 2 * c)
            c *= 2
        layers += [nn.Flatten(), nn.Linear(c * 49, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


@register("cho")
def _cho(cfg: LSGANConfig) -> tuple[nn.Module, nn.Module]:
    return ChoGenerator(cfg.latent_dim, cfg.cho_width), ChoDiscriminator(cfg.cho_d_width)


# --------------------------------------------------------------------------------- training
@torch.no_grad()
def recalibrate_batchnorm(generator: nn.Module, latent_dim: int, batches: int, batch_size: int,
                          zgen: torch.Generator, device: torch.device) -> None:
    """Replace G's running batch-norm statistics by their exact average over `batches` prior
    batches, so eval mode (used at recovery) matches what the trained weights produce."""
    bns = [m for m in generator.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns or batches <= 0:
        return
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    generator.train()
    for _ in range(batches):
        generator(torch.randn(batch_size, latent_dim, generator=zgen, device=device))
    for m, mom in zip(bns, saved):
        m.momentum = mom
    generator.eval()


def _freeze(*modules: nn.Module) -> None:
    for m in modules:
        m.eval()
        m.requires_grad_(False)


def train_lsgan(
    cfg: LSGANConfig,
    images: torch.Tensor,
    *,
    seed: int,
    device: torch.device,
    progress: ProgressFn = null_progress,
    on_epoch: Callable[[int, nn.Module, nn.Module], None] | None = None,
) -> tuple[nn.Module, nn.Module, dict[str, list[float]]]:
    """Train G and D on float images [N, 1, 28, 28] in [-1, 1] with the LSGAN losses.

    Returns (generator, discriminator, history) with both models in eval mode and frozen; the
    generator is the EMA of G's weights when cfg.ema > 0. history: mean "d_loss" and "g_loss"
    per epoch and "seconds" per epoch. Deterministic for a seed on a given device.
    `on_epoch(epoch, g_ema, d)` is called after each epoch (models in train mode; for monitoring:
    copy before changing them)."""
    if images.dim() != 4 or tuple(images.shape[1:]) != IMAGE_SHAPE or not images.is_floating_point():
        raise ValueError(f"train_lsgan: expected float images [N, 1, 28, 28], got "
                         f"{tuple(images.shape)} {images.dtype}")
    device = torch.device(device)
    n, bs = images.shape[0], cfg.batch_size
    steps_per_epoch = n // bs  # full batches only: batch norm on a tiny last batch is noise
    if steps_per_epoch == 0:
        raise ValueError(f"train_lsgan: {n} images is less than one batch of {bs}")
    total = cfg.epochs * steps_per_epoch
    decay_from = int(cfg.lr_decay_start * total)
    cpu_gen = torch.Generator().manual_seed(seed)
    zgen = torch.Generator(device=device).manual_seed(seed + 1)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)  # the inits use the global RNG; forked, so the caller's is kept
        g, d = build_lsgan(cfg)
    g, d = g.to(device), d.to(device)
    g_ema = copy.deepcopy(g).requires_grad_(False) if cfg.ema > 0 else g
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.d_lr or cfg.lr, betas=tuple(cfg.betas))

    def lr_at(step: int) -> float:
        if step < decay_from:
            return 1.0
        return max(0.0, 1.0 - (step - decay_from) / max(total - decay_from, 1))

    scheds = [torch.optim.lr_scheduler.LambdaLR(o, lr_at) for o in (opt_g, opt_d)]
    data = images.to(device)
    history: dict[str, list[float]] = {"d_loss": [], "g_loss": [], "seconds": []}
    g_params, e_params = list(g.parameters()), list(g_ema.parameters())
    g.train()
    d.train()
    step = 0
    for epoch in range(cfg.epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=cpu_gen)[: steps_per_epoch * bs].view(-1, bs).to(device)
        sums = torch.zeros(2, device=device)
        for i in range(steps_per_epoch):
            real = data[perm[i]]
            fake = g(torch.randn(bs, cfg.latent_dim, generator=zgen, device=device))
            d_loss = lsgan_discriminator_loss(d(real), d(fake.detach()))
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            g_loss = lsgan_generator_loss(d(fake))
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            for s in scheds:
                s.step()
            if cfg.ema > 0:
                with torch.no_grad():
                    torch._foreach_lerp_(e_params, g_params, 1.0 - cfg.ema)
            sums += torch.stack([d_loss.detach(), g_loss.detach()])
            step += 1
            if step % 50 == 0 or i == steps_per_epoch - 1:  # one host sync per 50 steps
                m = (sums / (i + 1)).tolist()
                progress("train lsgan", step, total, epoch=epoch + 1, d_loss=m[0], g_loss=m[1])
        m = (sums / steps_per_epoch).tolist()
        history["d_loss"].append(m[0])
        history["g_loss"].append(m[1])
        history["seconds"].append(time.perf_counter() - t0)
        if on_epoch is not None:
            on_epoch(epoch + 1, g_ema, d)
    if g_ema is not g:  # the EMA copy has the live model's buffers only as of the copy
        g_ema.load_state_dict({**g_ema.state_dict(), **dict(g.named_buffers())})
    recalibrate_batchnorm(g_ema, cfg.latent_dim, cfg.bn_calibration_batches, max(bs, 256), zgen,
                          device)
    _freeze(g_ema, d)
    return g_ema, d, history


def config_dict(cfg: LSGANConfig) -> dict:
    """The cache's config: JSON-able (tuples as lists), the later fields left out at their
    neutral values (LATER_FIELDS)."""
    out = asdict(cfg)
    out["betas"] = list(out["betas"])
    for name, neutral in LATER_FIELDS.items():
        if out[name] == neutral:
            del out[name]
    return out


def load_lsgan(cfg: LSGANConfig, state: dict, device: torch.device | str = "cpu") -> LSGAN:
    """Rebuild the LSGAN from a checkpoint's {"generator": ..., "discriminator": ...} state
    dicts, in eval mode and frozen, on `device`."""
    g, d = build_lsgan(cfg)
    g.load_state_dict(state["generator"])
    d.load_state_dict(state["discriminator"])
    g, d = g.to(device), d.to(device)
    _freeze(g, d)
    return LSGAN(cfg, g, d)


def lsgan_state(g: nn.Module, d: nn.Module) -> dict:
    """The checkpoint's state: both state dicts on the CPU."""
    return {name: {k: v.detach().cpu().clone() for k, v in m.state_dict().items()}
            for name, m in (("generator", g), ("discriminator", d))}  # fmt: skip


def generator_flops(generator: nn.Module, latent_dim: int | None = None) -> int:
    """Forward FLOPs per image of G (multiply-adds count 2), as torch's flop counter sees them;
    the recovery sweep's cost is about 3x this per sample-step (forward + backward to z)."""
    from torch.utils.flop_counter import FlopCounterMode

    latent_dim = latent_dim or generator.latent_dim
    device = next(generator.parameters()).device
    was_training = generator.training
    generator.eval()  # as at recovery; batch norm in train mode refuses a batch of one
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            generator(torch.zeros(1, latent_dim, device=device))
    finally:
        generator.train(was_training)
    return int(counter.get_total_flops())
