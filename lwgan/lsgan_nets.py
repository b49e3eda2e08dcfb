"""The LSGAN architectures by name (`LSGANConfig.arch`): the default MLP generator with an MLP or
conv discriminator (with a minibatch-stddev feature), and "cho", the author's conv architecture
(github.com/jeongik-jo/LatentRegulation) at any width. lwgan.lsgan trains them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from registries import Registry

IMAGE_SHAPE = (1, 28, 28)

# ---------------------------------------------------------------------------------- registry
Builder = Callable[[Any], tuple[nn.Module, nn.Module]]  # an LSGANConfig -> (G, D)
ARCHITECTURES: Registry[Builder] = Registry("LSGAN architecture")
register = ARCHITECTURES.register  # @register("mlp") def build(cfg) -> (G, D)
get = ARCHITECTURES.get


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
                self.running.lerp_(s.detach().to(self.running.dtype), self.momentum)
        else:
            s = self.running
        # one dtype for the cat: under bfloat16 autocast x is bfloat16, the buffer float32
        return torch.cat([x, s.to(x.dtype).expand(x.shape[0], 1, *x.shape[2:])], dim=1)


class MLPDiscriminator(nn.Module):
    """784 -> width*16 -> width*8 -> 1 with leaky ReLU (width 32: 512, 256)."""

    def __init__(self, width: int = 32, mbstd: bool = True):
        super().__init__()
        h1, h2 = 16 * width, 8 * width
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, h1),
            nn.LeakyReLU(0.2),
            nn.Linear(h1, h2),
            nn.LeakyReLU(0.2),
            *([MinibatchStd()] if mbstd else []),
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
            sn(nn.Conv2d(1, width, 4, 2, 1)),
            nn.LeakyReLU(0.2),
            sn(nn.Conv2d(width, 2 * width, 4, 2, 1)),
            nn.LeakyReLU(0.2),
            *([MinibatchStd()] if mbstd else []),
            nn.Flatten(),
            sn(nn.Linear((2 * width + int(mbstd)) * 49, 1)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


@register("mlp")
def _mlp(cfg) -> tuple[nn.Module, nn.Module]:
    disc = {"mlp": MLPDiscriminator, "conv": ConvDiscriminator}
    if cfg.d_arch not in disc:
        raise ValueError(f"d_arch {cfg.d_arch!r}: valid: {', '.join(disc)}")
    return MLPGenerator(cfg.latent_dim, list(cfg.hidden)), disc[cfg.d_arch](cfg.d_width, cfg.d_mbstd)


# ------------------------------------------------------------------------------- cho (GPU)
def _conv_in(cin: int, cout: int) -> list[nn.Module]:
    # Keras order of the author's code: conv with leaky-ReLU activation, then instance norm.
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.LeakyReLU(0.2), nn.InstanceNorm2d(cout, affine=True)]


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
def _cho(cfg) -> tuple[nn.Module, nn.Module]:
    return ChoGenerator(cfg.latent_dim, cfg.cho_width), ChoDiscriminator(cfg.cho_d_width)
