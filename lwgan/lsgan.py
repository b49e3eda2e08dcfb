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

from lwgan import numerics
from lwgan.losses import lsgan_discriminator_loss, lsgan_generator_loss
from lwgan.lsgan_nets import (  # noqa: F401 - the architectures, importable from here as before
    ARCHITECTURES,
    IMAGE_SHAPE,
    ChoDiscriminator,
    ChoGenerator,
    ConvDiscriminator,
    MinibatchStd,
    MLPDiscriminator,
    MLPGenerator,
    get,
    register,
)
from lwgan.progress import ProgressFn, null_progress


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


# --------------------------------------------------------------------------------- training
@torch.no_grad()
def recalibrate_batchnorm(
    generator: nn.Module, latent_dim: int, batches: int, batch_size: int, zgen: torch.Generator, device: torch.device
) -> None:
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


def _build(cfg: LSGANConfig, seed: int, device: torch.device, total: int, precision: str = "fp32"):
    """G, D, G's EMA copy, their Adam optimisers and the schedulers of a training of `total` steps
    (flat, then linear decay to 0 from cfg.lr_decay_start)."""
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)  # the inits use the global RNG; forked, so the caller's is kept
        g, d = build_lsgan(cfg)
    g, d = g.to(device), d.to(device)
    g_ema = copy.deepcopy(g).requires_grad_(False) if cfg.ema > 0 else g
    opt_g = numerics.adam(g.parameters(), precision, lr=cfg.lr, betas=tuple(cfg.betas))
    opt_d = numerics.adam(d.parameters(), precision, lr=cfg.d_lr or cfg.lr, betas=tuple(cfg.betas))
    decay_from = int(cfg.lr_decay_start * total)

    def lr_at(step: int) -> float:
        if step < decay_from:
            return 1.0
        return max(0.0, 1.0 - (step - decay_from) / max(total - decay_from, 1))

    scheds = [torch.optim.lr_scheduler.LambdaLR(o, lr_at) for o in (opt_g, opt_d)]
    return g, d, g_ema, opt_g, opt_d, scheds


def _step(g, d, opt_g, opt_d, real, zgen, cfg: LSGANConfig, device, precision: str):
    """One LSGAN step: D on real and fake, then G on the same fake; the two losses (tensors)."""
    with numerics.autocast(device, precision):
        fake = g(torch.randn(real.shape[0], cfg.latent_dim, generator=zgen, device=device))
        d_loss = lsgan_discriminator_loss(d(real), d(fake.detach()))
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    with numerics.autocast(device, precision):
        g_loss = lsgan_generator_loss(d(fake))
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    return d_loss, g_loss


def train_lsgan(
    cfg: LSGANConfig,
    images: torch.Tensor,
    *,
    seed: int,
    device: torch.device,
    progress: ProgressFn = null_progress,
    on_epoch: Callable[[int, nn.Module, nn.Module], None] | None = None,
    precision: str = "fp32",
) -> tuple[nn.Module, nn.Module, dict[str, list[float]]]:
    """Train G and D on float images [N, 1, 28, 28] in [-1, 1] with the LSGAN losses.

    Returns (generator, discriminator, history) with both models in eval mode and frozen; the
    generator is the EMA of G's weights when cfg.ema > 0. history: mean "d_loss" and "g_loss"
    per epoch and "seconds" per epoch. Deterministic for a seed on a given device.
    `on_epoch(epoch, g_ema, d)` is called after each epoch (models in train mode; for monitoring:
    copy before changing them). `precision` "bf16": forward passes under bfloat16 autocast, the
    weights, EMA and Adam state float32 (lwgan.numerics)."""
    numerics.check(precision, "train_lsgan: precision")
    if images.dim() != 4 or tuple(images.shape[1:]) != IMAGE_SHAPE or not images.is_floating_point():
        raise ValueError(f"train_lsgan: expected float images [N, 1, 28, 28], got {tuple(images.shape)} {images.dtype}")
    device = torch.device(device)
    n, bs = images.shape[0], cfg.batch_size
    steps_per_epoch = n // bs  # full batches only: batch norm on a tiny last batch is noise
    if steps_per_epoch == 0:
        raise ValueError(f"train_lsgan: {n} images is less than one batch of {bs}")
    total = cfg.epochs * steps_per_epoch
    cpu_gen = torch.Generator().manual_seed(seed)
    zgen = torch.Generator(device=device).manual_seed(seed + 1)
    g, d, g_ema, opt_g, opt_d, scheds = _build(cfg, seed, device, total, precision)
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
            d_loss, g_loss = _step(g, d, opt_g, opt_d, data[perm[i]], zgen, cfg, device, precision)
            for sch in scheds:
                sch.step()
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
    recalibrate_batchnorm(g_ema, cfg.latent_dim, cfg.bn_calibration_batches, max(bs, 256), zgen, device)
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
    return {
        name: {k: v.detach().cpu().clone() for k, v in m.state_dict().items()}
        for name, m in (("generator", g), ("discriminator", d))
    }


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


# ---------------------------------------------------------------------------------- family
def _train_family(
    cfg: LSGANConfig,
    data: torch.Tensor,
    *,
    seed: int,
    device,
    progress=null_progress,
    task: str = "",
    precision: str = "fp32",
) -> dict:
    t0 = time.perf_counter()
    device = torch.device(device)
    g, d, history = train_lsgan(cfg, data, seed=seed, device=device, progress=progress, precision=precision)
    metrics = {
        "train_seconds": time.perf_counter() - t0,
        "d_loss": history["d_loss"][-1],
        "g_loss": history["g_loss"][-1],
        "device": device.type,
    }
    return {"state": lsgan_state(g, d), "history": history, "metrics": metrics}


def _recovery_view(model: LSGAN, cfg: LSGANConfig, *, rank=None, prior: str = "normal"):
    from lwgan.families import RecoveryView

    return RecoveryView(
        model.G,
        model.D,
        model.latent_dim,
        0,
        prior,
        {"z_max": model.latent_dim, "g_mflops": generator_flops(model.G, model.latent_dim) / 1e6},
    )


def train_estimate(cfg: LSGANConfig) -> str:
    """The default MLP's measured training time (20 epochs in about 4 min on 2 CPU cores) scaled
    by the config's epochs; the conv architecture has no CPU measurement to scale from."""
    if cfg.arch != "mlp":
        return f"a conv net, {cfg.epochs} epochs: longer than the MLP, not measured on CPU"
    minutes = 4 * cfg.epochs / 20
    return f"about {minutes:.1f} min on 2 CPU cores" if minutes < 10 else f"about {minutes:.0f} min on 2 CPU cores"


def _register_family() -> None:
    from lwgan.families import Family, register_family

    register_family(
        Family(
            "lsgan",
            LSGANConfig,
            build=build_lsgan_model,
            train=_train_family,
            load=lambda cfg, state, *, device=None: load_lsgan(cfg, state, device or "cpu"),
            data_kind=lambda cfg: "mnist",
            key_text=lambda c: f"{c.arch}, d_z {c.latent_dim}, {c.epochs} epochs",
            cache_config=config_dict,
            recovery=_recovery_view,
            discriminator=True,
            overrides=("latent_dim", "arch"),
            description="LSGAN (G and D): z ~ N(0, I_d); its discriminator serves trick_discriminator",
            train_estimate=train_estimate,
            precisions=numerics.TRAIN_PRECISIONS,
            bf16_pays=lambda cfg: True,
        )
    )


_register_family()
