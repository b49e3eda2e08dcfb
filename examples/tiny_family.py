"""A generator family in one file: `bench --plugin examples/tiny_family.py recover --generators tinydec`.

A tiny decoder, z [N, d] -> tanh(Linear) -> 28x28, trained a few steps towards training images:
its family says how to build, train and load it and how latent recovery sees it."""

from dataclasses import dataclass

import torch
from torch import nn

from lwgan.families import Family, RecoveryView, register_family
from lwgan.recipes import register_recipe
from lwgan.registry import register_generator, variant_spec


@dataclass
class TinyConfig:
    latent_dim: int = 6
    steps: int = 20


class TinyG(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.latent_dim = d
        self.net = nn.Linear(d, 784)

    def forward(self, z):
        return torch.tanh(self.net(z)).view(-1, 1, 28, 28)


def build(cfg, *, seed=0, device=None):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TinyG(cfg.latent_dim).to(device or "cpu")


def train(cfg, data, *, seed, device, progress=None, task=""):
    g = build(cfg, seed=seed, device=device)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(g.parameters(), lr=1e-2)
    for _ in range(cfg.steps):  # pull G(z) towards random training images: a crude decoder
        x = data[torch.randint(len(data), (32,), generator=gen)]
        z = torch.randn(32, cfg.latent_dim, generator=gen)
        loss = (g(z) - x).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {
        "state": {k: v.detach().clone() for k, v in g.state_dict().items()},
        "metrics": {"loss": float(loss)},
        "history": {},
    }


def load(cfg, state, *, device=None):
    g = build(cfg, device=device)
    g.load_state_dict(state)
    return g.eval().requires_grad_(False)


def recovery(model, cfg, *, rank=None, prior="normal"):
    return RecoveryView(model, None, cfg.latent_dim, 0, "normal", {"z_max": cfg.latent_dim})


register_family(
    Family(
        "tiny-decoder",
        TinyConfig,
        build=build,
        train=train,
        load=load,
        data_kind=lambda c: "mnist",
        key_text=lambda c: f"tiny, d {c.latent_dim}",
        recovery=recovery,
        description="a plugin's family",
    )
)
register_recipe("mnist", family="tiny-decoder", description="the plugin's only recipe")


@register_generator("tinydec", family="tiny-decoder", description="a plugin family's variant")
def tinydec(recipe="mnist", **overrides):
    return variant_spec("tinydec", recipe, {}, overrides)
