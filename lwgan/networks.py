"""Encoder Q(x, r), generator G(z[, eps]) and critic f(x, r): MLPs for vector data, convnets for MNIST.

The rank r is an int (one rank for the whole batch, as in training) or a LongTensor [n] (one rank
per row), so the rank score can evaluate every s = 1..z_max in a single batched pass.
Conditioning follows the public LWGAN code: the encoder sees r as a one-hot code, the critic as a
thermometer code (the first r-1 entries are 1), both concatenated to the input of every layer.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn


def rank_vector(rank, n: int, device) -> torch.Tensor:
    """An int or a [n] tensor of ranks -> LongTensor [n] on `device` (no host sync)."""
    if isinstance(rank, torch.Tensor):
        return rank.to(device=device, dtype=torch.long).expand(n)
    return torch.full((n,), int(rank), dtype=torch.long, device=device)


def rank_mask(rank, n: int, z_max: int, device) -> torch.Tensor:
    """[n, z_max] float mask: 1 on coordinates 1..r, 0 on r+1..z_max."""
    r = rank_vector(rank, n, device)
    return (torch.arange(z_max, device=device) < r[:, None]).float()


def rank_onehot(rank, n: int, z_max: int, device) -> torch.Tensor:
    return F.one_hot(rank_vector(rank, n, device) - 1, z_max).float()


def rank_thermometer(rank, n: int, z_max: int, device) -> torch.Tensor:
    """First r-1 entries 1: rank 1 is the all-zero code (the public code's critic conditioning)."""
    r = rank_vector(rank, n, device)
    return (torch.arange(z_max, device=device) < (r[:, None] - 1)).float()


def prior_sample(n: int, z_max: int, rank, *, generator=None, device=None) -> torch.Tensor:
    """Z ~ N(0, A), A = diag(1 x r, 0 x (z_max - r))."""
    device = torch.device("cpu") if device is None else torch.device(device)
    z = torch.randn(n, z_max, generator=generator, device=device)
    return z * rank_mask(rank, n, z_max, device)


class CondMLP(nn.Module):
    """MLP whose every layer also sees a conditioning vector (concatenated to its input)."""

    def __init__(self, in_dim: int, hidden: list[int], out_dim: int, cond_dim: int, act: nn.Module):
        super().__init__()
        dims = [in_dim, *hidden]
        self.layers = nn.ModuleList(nn.Linear(a + cond_dim, b) for a, b in itertools.pairwise(dims))
        self.out = nn.Linear(dims[-1] + cond_dim, out_dim)
        self.act = act

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = self.act(layer(torch.cat((x, cond), dim=-1)))
        return self.out(torch.cat((x, cond), dim=-1))


def mlp(in_dim: int, hidden: list[int], out_dim: int, act: nn.Module) -> nn.Sequential:
    dims = [in_dim, *hidden]
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(dims):
        layers += [nn.Linear(a, b), act]
    return nn.Sequential(*layers, nn.Linear(dims[-1], out_dim))


class Generator(nn.Module):
    """G(z, eps) = net([z ; sigma_noise * eps]), eps ~ N(0, I_k) drawn anew at every call.

    With k = 0 or sigma_noise = 0 the generator is deterministic. `eps` may be passed to fix the
    noise (e.g. to measure diversity over chosen draws); `generator` seeds fresh draws.
    """

    def __init__(self, body: nn.Module, z_max: int, noise_dim: int = 0, sigma_noise: float = 0.0):
        super().__init__()
        self.body, self.z_max, self.noise_dim, self.sigma_noise = (
            body,
            z_max,
            noise_dim,
            sigma_noise,
        )

    def forward(self, z: torch.Tensor, eps: torch.Tensor | None = None, *, generator=None):
        if self.noise_dim > 0:
            if eps is None:
                eps = torch.randn(z.shape[0], self.noise_dim, generator=generator, device=z.device)
            z = torch.cat((z, self.sigma_noise * eps), dim=-1)
        return self.body(z)


class MLPEncoder(nn.Module):
    def __init__(self, x_dim: int, z_max: int, width: int = 64):
        super().__init__()
        self.z_max = z_max
        self.net = CondMLP(x_dim, [8 * width, 4 * width, 2 * width, width], z_max, z_max, nn.ReLU())

    def forward(self, x: torch.Tensor, rank) -> torch.Tensor:
        n, dev = x.shape[0], x.device
        z = self.net(x, rank_onehot(rank, n, self.z_max, dev))
        # Multiplying by the mask (not writing zeros in place) also zeroes those outputs' gradients.
        return z * rank_mask(rank, n, self.z_max, dev)


class MLPCritic(nn.Module):
    def __init__(self, x_dim: int, z_max: int, width: int = 64):
        super().__init__()
        self.z_max = z_max
        self.net = CondMLP(x_dim, [4 * width, 2 * width, width], 1, z_max, nn.ReLU())

    def forward(self, x: torch.Tensor, rank) -> torch.Tensor:
        return self.net(x, rank_thermometer(rank, x.shape[0], self.z_max, x.device)).view(-1)


def mlp_generator(z_max: int, x_dim: int, width: int = 64, noise_dim: int = 0, sigma_noise: float = 0.0):
    body = mlp(z_max + noise_dim, [width, 2 * width, 4 * width, 8 * width], x_dim, nn.SiLU())
    return Generator(body, z_max, noise_dim, sigma_noise)


# --- MNIST (1 x 28 x 28, pixels in [-1, 1]) ---------------------------------------------------


class ImageMLPEncoder(nn.Module):
    """Arch "mlp-image", CPU-cheap MNIST nets shaped as the published run's: one hidden layer of
    `width` units (ReLU) on the flattened image, the rank one-hot beside every layer's input."""

    def __init__(self, z_max: int, width: int = 256):
        super().__init__()
        self.z_max = z_max
        self.net = CondMLP(784, [width], z_max, z_max, nn.ReLU())

    def forward(self, x: torch.Tensor, rank) -> torch.Tensor:
        n, dev = x.shape[0], x.device
        return self.net(x.flatten(1), rank_onehot(rank, n, self.z_max, dev)) * rank_mask(rank, n, self.z_max, dev)


class ImageMLPCritic(nn.Module):
    def __init__(self, z_max: int, width: int = 256):
        super().__init__()
        self.z_max = z_max
        self.net = CondMLP(784, [width], 1, z_max, nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor, rank) -> torch.Tensor:
        return self.net(x.flatten(1), rank_thermometer(rank, x.shape[0], self.z_max, x.device)).view(-1)


def image_mlp_generator(z_max: int, width: int = 256, noise_dim: int = 0, sigma_noise: float = 0.0):
    """(z [+ noise]) -> width ReLU -> 784 tanh, reshaped to 1 x 28 x 28 (pixels in [-1, 1])."""
    body = nn.Sequential(mlp(z_max + noise_dim, [width], 784, nn.ReLU()), nn.Tanh(), nn.Unflatten(1, (1, 28, 28)))
    return Generator(body, z_max, noise_dim, sigma_noise)


# --- MNIST conv nets (1 x 28 x 28, pixels in [-1, 1]) -----------------------------------------


def _conv_features(width: int) -> nn.Sequential:
    act = nn.LeakyReLU(0.1)
    return nn.Sequential(  # 28 -> 14 -> 7 -> 4
        nn.Conv2d(1, width, 5, stride=2, padding=2),
        act,
        nn.Conv2d(width, 2 * width, 5, stride=2, padding=2),
        act,
        nn.Conv2d(2 * width, 4 * width, 5, stride=2, padding=2),
        act,
    )


class ConvEncoder(nn.Module):
    def __init__(self, z_max: int, width: int = 64):
        super().__init__()
        self.z_max = z_max
        self.features = _conv_features(width)
        self.head = CondMLP(4 * 4 * 4 * width, [2 * z_max], z_max, z_max, nn.LeakyReLU(0.1))

    def forward(self, x: torch.Tensor, rank) -> torch.Tensor:
        n, dev = x.shape[0], x.device
        z = self.head(self.features(x).flatten(1), rank_onehot(rank, n, self.z_max, dev))
        return z * rank_mask(rank, n, self.z_max, dev)


class ConvCritic(nn.Module):
    def __init__(self, z_max: int, width: int = 64):
        super().__init__()
        self.z_max = z_max
        self.features = _conv_features(width)
        self.head = CondMLP(4 * 4 * 4 * width, [2 * z_max], 1, z_max, nn.LeakyReLU(0.1))

    def forward(self, x: torch.Tensor, rank) -> torch.Tensor:
        cond = rank_thermometer(rank, x.shape[0], self.z_max, x.device)
        return self.head(self.features(x).flatten(1), cond).view(-1)


class ConvDecoder(nn.Module):
    """[z ; noise] -> 1 x 28 x 28 in [-1, 1] (tanh: the harness scales pixels to [-1, 1])."""

    def __init__(self, in_dim: int, width: int = 64):
        super().__init__()
        act = nn.LeakyReLU(0.1)
        self.width = width
        self.pre = nn.Sequential(nn.Linear(in_dim, 4 * in_dim), act, nn.Linear(4 * in_dim, 64 * width), act)
        self.block1 = nn.Sequential(nn.ConvTranspose2d(4 * width, 2 * width, 5), act)  # 4 -> 8, crop 7
        self.block2 = nn.Sequential(nn.ConvTranspose2d(2 * width, width, 5), act)  # 7 -> 11
        self.out = nn.ConvTranspose2d(width, 1, 8, stride=2)  # 11 -> 28

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.pre(z).view(-1, 4 * self.width, 4, 4)
        h = self.block1(h)[:, :, :7, :7]
        return torch.tanh(self.out(self.block2(h)))


def conv_generator(z_max: int, width: int = 64, noise_dim: int = 0, sigma_noise: float = 0.0):
    return Generator(ConvDecoder(z_max + noise_dim, width), z_max, noise_dim, sigma_noise)
