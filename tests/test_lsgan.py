"""LSGAN: architecture shapes, registry, trainer (weights move, D learns, seeded), batch-norm
recalibration, FLOP count by hand, cache round trip and `bench train lsgan`."""

from types import SimpleNamespace

import pytest
import torch

from bench.cli import main
from lwgan import lsgan
from lwgan.lsgan import (
    ARCHITECTURES,
    LSGANConfig,
    build_lsgan,
    generator_flops,
    recalibrate_batchnorm,
    train_lsgan,
)

TINY = {
    "latent_dim": 8,
    "hidden": [16],
    "d_width": 4,
    "batch_size": 32,
    "bn_calibration_batches": 2,
}


def toy_images(n=256, seed=0) -> torch.Tensor:
    """A blob whose position varies: pixels in [-1, 1], [n, 1, 28, 28]."""
    g = torch.Generator().manual_seed(seed)
    c = torch.randint(8, 20, (n, 2), generator=g).float()
    r = torch.arange(28).float()
    d2 = (r[None, :, None] - c[:, 0, None, None]) ** 2 + (r[None, None, :] - c[:, 1, None, None]) ** 2
    return (2 * torch.exp(-d2 / 8) - 1).unsqueeze(1)


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_every_architecture_has_the_contract_shapes(arch):
    g, d = build_lsgan(LSGANConfig(arch=arch))
    g.eval()
    d.eval()
    z = torch.randn(3, 256) * 3
    x = g(z)
    assert x.shape == (3, 1, 28, 28) and x.min() >= -1 and x.max() <= 1
    assert g.latent_dim == 256
    assert d(x).shape == (3,) and d(torch.rand(2, 1, 28, 28)).shape == (2,)


@pytest.mark.parametrize("d_arch", ["conv", "mlp"])
@pytest.mark.parametrize("mbstd", [True, False])
def test_discriminators_score_each_image_alone_in_eval_mode(d_arch, mbstd):
    _, d = build_lsgan(LSGANConfig(d_arch=d_arch, d_mbstd=mbstd, d_width=8))
    x = torch.rand(6, 1, 28, 28) * 2 - 1
    d.train()
    d(x)  # a training forward moves the minibatch-stddev running statistic
    d.eval()
    batch = d(x)
    alone = torch.cat([d(x[i : i + 1]) for i in range(6)])
    assert batch.shape == (6,) and torch.allclose(batch, alone, atol=1e-6)


def test_minibatch_std_feature_by_hand():
    layer = lsgan.MinibatchStd(momentum=0.5)
    x = torch.tensor([[1.0, 0.0], [3.0, 4.0]])  # per-feature population std: 1 and 2 -> mean 1.5
    out = layer(x)
    assert torch.allclose(out, torch.tensor([[1.0, 0.0, 1.5], [3.0, 4.0, 1.5]]))
    assert layer.running == pytest.approx(0.75)  # halfway from 0 to 1.5
    layer.eval()
    assert torch.allclose(layer(x[:1]), torch.tensor([[1.0, 0.0, 0.75]]))


def test_registry_rejects_unknown_and_duplicate_names():
    with pytest.raises(ValueError, match="mlp"):
        lsgan.get("nope")
    with pytest.raises(ValueError, match="twice"):
        lsgan.register("mlp")(lambda cfg: None)
    assert {"mlp", "cho"} <= set(ARCHITECTURES)


def test_mlp_generator_flops_by_hand():
    g, _ = build_lsgan(LSGANConfig())
    # three matmuls 256->256->512->784, 2 FLOPs per multiply-add; BN, ReLU, tanh not counted
    assert generator_flops(g) == 2 * (256 * 256 + 256 * 512 + 512 * 784)
    assert generator_flops(g) <= 1.5e6  # the recovery sweep's budget per image


def _d_loss_by_hand(d, g, real, z):
    with torch.no_grad():
        return float(((d(real) - 1) ** 2).mean() + (d(g(z)) ** 2).mean())


def test_training_moves_weights_and_lowers_d_loss():
    cfg = LSGANConfig(**TINY, epochs=3, ema=0.0, lr=2e-3)
    images = toy_images(128)
    with torch.random.fork_rng():
        torch.manual_seed(0)  # the trainer's init for seed 0
        g0, d0 = build_lsgan(cfg)
    g0.eval()
    d0.eval()
    z = torch.randn(128, cfg.latent_dim, generator=torch.Generator().manual_seed(9))
    before = _d_loss_by_hand(d0, g0, images, z)
    g, d, hist = train_lsgan(cfg, images, seed=0, device=torch.device("cpu"))
    assert len(hist["d_loss"]) == len(hist["g_loss"]) == 3
    for a, b in zip(g0.parameters(), g.parameters()):
        assert not torch.equal(a, b)
    for a, b in zip(d0.parameters(), d.parameters()):
        assert not torch.equal(a, b)
    assert _d_loss_by_hand(d, g, images, z) < before
    assert hist["d_loss"][-1] < before
    assert not g.training and not d.training
    assert not any(p.requires_grad for p in [*g.parameters(), *d.parameters()])


def test_training_is_seeded_and_leaves_global_rng_alone():
    cfg = LSGANConfig(**TINY, epochs=1)
    images = toy_images(64)
    torch.manual_seed(1)
    expected = torch.rand(1)
    torch.manual_seed(1)
    a, _, ha = train_lsgan(cfg, images, seed=3, device=torch.device("cpu"))
    assert torch.rand(1) == expected
    b, _, hb = train_lsgan(cfg, images, seed=3, device=torch.device("cpu"))
    c, _, _ = train_lsgan(cfg, images, seed=4, device=torch.device("cpu"))
    z = torch.randn(5, 8)
    assert torch.equal(a(z), b(z)) and ha["d_loss"] == hb["d_loss"]
    assert not torch.equal(a(z), c(z))


def test_rejects_bad_images():
    with pytest.raises(ValueError, match="28"):
        train_lsgan(LSGANConfig(**TINY), torch.zeros(64, 784), seed=0, device=torch.device("cpu"))
    with pytest.raises(ValueError, match="batch"):
        train_lsgan(LSGANConfig(**TINY), toy_images(8), seed=0, device=torch.device("cpu"))


def test_batchnorm_recalibration_uses_exact_statistics():
    g, _ = build_lsgan(LSGANConfig(**TINY))
    lin, bn = g.net[0], g.net[1]
    bn.running_mean.fill_(5.0)  # stale statistics that recalibration must replace
    recalibrate_batchnorm(
        g, 8, batches=3, batch_size=50, zgen=torch.Generator().manual_seed(2), device=torch.device("cpu")
    )
    z = torch.randn(150, 8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        h = lin(z).view(3, 50, -1)
    # momentum=None: the plain average of the three batches' means and unbiased variances
    assert torch.allclose(bn.running_mean, h.mean(1).mean(0), atol=1e-6)
    assert torch.allclose(bn.running_var, h.var(1, unbiased=True).mean(0), atol=1e-5)
    assert not g.training and bn.momentum == 0.1


def fake_mnist(n=128):
    x = ((toy_images(n) + 1) * 127.5).round().to(torch.uint8).squeeze(1)
    y = torch.arange(n) % 10
    return SimpleNamespace(train_images=x, train_labels=y, test_images=x[:64], test_labels=y[:64], fingerprint="toy")


def test_cache_round_trip_gives_identical_outputs():
    from bench.models import load_or_train
    from lwgan.registry import get_generator

    spec = get_generator("lsgan", **TINY, epochs=1)
    m = fake_mnist()
    t1 = load_or_train(spec, m, seed=0, device="cpu")
    t2 = load_or_train(spec, m, seed=0, device="cpu")
    assert not t1.entry.loaded and t2.entry.loaded and t1.entry.key == t2.entry.key
    assert t1.entry.digest == t2.entry.digest  # the content digest of what was saved and loaded
    assert {"train_seconds", "d_loss", "g_loss"} <= set(t2.entry.metrics)
    z = torch.randn(10, 8)
    x = torch.rand(10, 1, 28, 28) * 2 - 1
    (g1, d1), (g2, d2) = (t1.model.G, t1.model.D), (t2.model.G, t2.model.D)
    assert torch.equal(g1(z), g2(z)) and torch.equal(d1(x), d2(x))
    assert not g2.training and not any(p.requires_grad for p in d2.parameters())
    t3 = load_or_train(get_generator("lsgan", **TINY, epochs=2), m, seed=0, device="cpu")
    assert not t3.entry.loaded and t3.entry.key != t1.entry.key


def test_cli_trains_scores_and_saves_a_grid(monkeypatch, capsys, tmp_path):
    import bench.classifier
    import bench.data

    monkeypatch.setattr(bench.data, "load_mnist", lambda data_dir=None, **kw: fake_mnist())
    small = bench.classifier.ClassifierConfig(width=4, epochs=1)
    monkeypatch.setattr(bench.classifier, "ClassifierConfig", lambda **kw: small)
    monkeypatch.setattr(lsgan.LSGANConfig, "__init__", _tiny_init(lsgan.LSGANConfig.__init__))
    code = main(
        ["train", "lsgan", "--device", "cpu", "--epochs", "1", "--samples", "200", "--out", str(tmp_path / "out")]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Frechet distance" in out and "digit shares" in out and "MFLOP" in out
    assert (tmp_path / "out" / "lsgan-samples.png").stat().st_size > 0
    assert (tmp_path / "out" / "lsgan-samples.pdf").stat().st_size > 0


def _tiny_init(init):
    def wrapped(self, *args, **kw):
        init(self, *args, **{**TINY, **kw})

    return wrapped


def test_cli_rejects_unknown_arch(capsys):
    assert main(["train", "lsgan", "--arch", "nope"]) == 2
    err = capsys.readouterr().err
    assert "--arch" in err and "mlp" in err and err.strip().count("\n") == 0
