"""The authors' published run (lwgan.published) against SPEC part B's table, typed in by hand, and
its loss against a double loop; a tiny run that does not collapse; the collapse rule on a constant
map; the stability metric on a hand-made loss curve."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from bench.experiments.lwgan_metrics import is_collapsed
from bench.experiments.toy.toy_base import batch_metrics, loss_spread
from lwgan.published import build_published, published_loss, train_published
from lwgan.registry import get_generator


def _layers(module) -> list[tuple[str, tuple]]:
    return [
        (type(m).__name__, (m.in_features, m.out_features) if isinstance(m, nn.Linear) else ())
        for m in module.modules()
        if isinstance(m, (nn.Linear, nn.ReLU, nn.Tanh))
    ]


def test_published_nets_and_training_settings_are_the_spec_table():
    # SPEC part B: Q 2 -> 64 -> 64 -> 3, ReLU; G 3 -> 64 -> 64 -> 2, ReLU; Adam 1e-3, batch 128,
    # 20 epochs (two Gaussians).
    toy = get_generator("published.toy", lambda_iso=1.0)
    assert (toy.config.lr, toy.config.batch_size, toy.config.epochs) == (1e-3, 128, 20)
    m = toy.build(seed=0)
    assert _layers(m.Q) == [("Linear", (2, 64)), ("ReLU", ()), ("Linear", (64, 64)), ("ReLU", ()), ("Linear", (64, 3))]
    assert _layers(m.G) == [("Linear", (3, 64)), ("ReLU", ()), ("Linear", (64, 64)), ("ReLU", ()), ("Linear", (64, 2))]
    # Three clusters: G takes [z ; sigma eps], eps ~ N(0, I_2).
    sto = get_generator("published.toy", noise_dim=2, sigma_noise=0.1).build()
    assert _layers(sto.G)[0] == ("Linear", (5, 64))
    # MNIST: Q 784 -> 256 ReLU -> 20; G (20 [+ 10 noise]) -> 256 ReLU -> 784 tanh; 5 epochs;
    # the Iso model: lambda 1, sigma 0.1.
    base, iso = get_generator("published.mnist"), get_generator("published-iso.mnist")
    assert (base.config.epochs, base.config.batch_size, base.config.lr) == (5, 128, 1e-3)
    assert (iso.config.lambda_iso, iso.config.sigma_noise, iso.config.noise_dim) == (1.0, 0.1, 10)
    assert _layers(base.build().Q) == [("Linear", (784, 256)), ("ReLU", ()), ("Linear", (256, 20))]
    assert _layers(iso.build().G) == [("Linear", (30, 256)), ("ReLU", ()), ("Linear", (256, 784)), ("Tanh", ())]
    assert base.data_kind == "mnist" and toy.data_kind == "synthetic"


def test_published_loss_includes_the_diagonal_by_double_loop():
    m = build_published(get_generator("published.toy").config, seed=1)
    x = torch.randn(6, 2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        total, recon, iso = published_loss(m, x, lambda_iso=0.5)
    with torch.no_grad():
        z, out = m.Q(x), m.G(m.Q(x))
        want_recon = np.mean([float((x[i] - out[i]).norm()) for i in range(6)])
        terms = [abs(float((z[i] - z[j]).norm() - (out[i] - out[j]).norm())) for i in range(6) for j in range(6)]
    assert float(recon) == pytest.approx(want_recon, rel=1e-6)
    assert float(iso) == pytest.approx(sum(terms) / 36, rel=1e-5)  # 36 entries: the diagonal counts
    assert float(total) == pytest.approx(want_recon + 0.5 * sum(terms) / 36, rel=1e-5)
    # lambda 0: the isometric term is not computed and adds nothing.
    t0, r0, i0 = (v.detach() for v in published_loss(m, x, lambda_iso=0.0))
    assert float(t0) == float(r0) and float(i0) == 0.0


def test_a_tiny_published_run_learns_and_does_not_collapse():
    from bench.data import make_synthetic

    data = make_synthetic("two_gaussians", seed=0, n_train=512, n_heldout=200)
    spec = get_generator("published.toy", lambda_iso=1.0)  # 20 epochs of 4 batches
    m = build_published(spec.config, seed=0)
    out = train_published(m, data.train, seed=0)
    steps = 20 * math.ceil(512 / 128)
    assert len(out["history"]["loss"]) == steps
    with torch.no_grad():
        recon = float((data.heldout - m.reconstruct(data.heldout)).norm(dim=1).mean())
    trivial = float((data.heldout - data.train.mean(0)).norm(dim=1).mean())
    assert not is_collapsed(recon, trivial) and recon < 0.5 * trivial
    again = build_published(spec.config, seed=0)
    assert train_published(again, data.train, seed=0)["history"] == out["history"]  # seeded


def test_the_collapse_rule_on_a_constant_map():
    from bench.data import make_synthetic

    data = make_synthetic("two_gaussians", seed=0)
    mean = data.train.mean(0)
    constant = float((data.heldout - mean).norm(dim=1).mean())  # the map x -> mean
    assert is_collapsed(constant, constant)  # recon = the trivial error: collapsed
    assert is_collapsed(0.95 * constant, constant) and not is_collapsed(0.5 * constant, constant)


def test_the_authors_batch_metrics_on_an_exact_isometry():
    """A model whose G is a rotation of its Q (distances kept exactly) has discrepancy 0 on any
    batch, and a deterministic G has diversity 0."""

    class Iso(nn.Module):
        def __init__(self):
            super().__init__()
            self.p = nn.Parameter(torch.zeros(1))

        def Q(self, x, rank=None):
            return torch.cat([x, torch.zeros(len(x), 1)], dim=1)

        def G(self, z, generator=None):
            c, s = math.cos(0.3), math.sin(0.3)
            return z[:, :2] @ torch.tensor([[c, -s], [s, c]]) + 5.0

    train = torch.randn(300, 2, generator=torch.Generator().manual_seed(0))
    disc, div = batch_metrics(Iso(), train, 3, 10, seed=0, gen=None)
    assert disc == pytest.approx(0.0, abs=1e-5) and div == 0.0


def test_the_stability_metric_on_a_hand_made_loss_curve():
    # 8 steps, the last quarter is [3, 5]: sample standard deviation sqrt(2).
    assert loss_spread([9, 9, 9, 9, 9, 9, 3, 5]) == pytest.approx(math.sqrt(2))
    flat = [1.0] * 100
    assert loss_spread(flat) == 0.0
    noisy = [1.0] * 75 + [1.0, 3.0] * 12 + [1.0]  # last 25 steps alternate
    assert loss_spread(noisy) == pytest.approx(np.std([1.0, 3.0] * 12 + [1.0], ddof=1))
    assert math.isnan(loss_spread([1.0]))
