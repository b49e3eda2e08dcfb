"""Training in bfloat16: every trainer's forward passes run in bfloat16 under --train-precision /
--precision bf16 (seen by a forward hook, the oracle), its weights and optimiser state stay
float32, it still learns the toy tasks its float32 tests set, and the precision keys the model
cache and the cell store so a bfloat16 model is never loaded for a float32 run."""

from __future__ import annotations

import contextlib
import math
import re

import pytest
import torch
from test_classifier import TINY as TINY_CLASSIFIER
from test_classifier import fake_mnist, pixels
from test_lsgan import TINY as TINY_LSGAN
from test_lsgan import toy_images
from test_lwgan_trainer import TINY as TINY_LWGAN
from test_lwgan_trainer import _recon, _segment

from bench import cache
from bench.classifier import accuracy, classifier_key, train_classifier
from bench.cli import main
from bench.models import cache_config, load_or_train
from lwgan import numerics
from lwgan.errors import ConfigError
from lwgan.families import Family, get_family, register_family
from lwgan.lsgan import LSGANConfig, train_lsgan
from lwgan.model import LWGANConfig, build_lwgan
from lwgan.published import build_published, train_published
from lwgan.registry import get_generator

CPU = torch.device("cpu")


@contextlib.contextmanager
def output_dtypes():
    """The dtypes of every Linear and Conv2d output computed while the block runs (a global
    forward hook: the trainers build their own modules)."""
    seen: set[torch.dtype] = set()

    def hook(module, args, out):
        if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)) and isinstance(out, torch.Tensor):
            seen.add(out.dtype)

    handle = torch.nn.modules.module.register_module_forward_hook(hook)
    try:
        yield seen
    finally:
        handle.remove()


def test_the_autocast_helper_takes_only_resolved_precisions():
    with numerics.autocast(CPU, "fp32"):
        assert torch.nn.functional.linear(torch.ones(2, 3), torch.ones(4, 3)).dtype == torch.float32
    with numerics.autocast(CPU, "bf16"):
        assert torch.nn.functional.linear(torch.ones(2, 3), torch.ones(4, 3)).dtype == torch.bfloat16
        with numerics.exact(CPU, "bf16"):
            assert torch.nn.functional.linear(torch.ones(2, 3), torch.ones(4, 3)).dtype == torch.float32
    with pytest.raises(ValueError, match="resolved precision"):
        numerics.check("auto")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_lsgan_trains_in_the_asked_format_and_learns(precision):
    cfg = LSGANConfig(**TINY_LSGAN, epochs=3, ema=0.0, lr=2e-3)
    with output_dtypes() as seen:
        g, d, hist = train_lsgan(cfg, toy_images(128), seed=0, device=CPU, precision=precision)
    assert seen == {numerics_dtype(precision)} | ({torch.float32} if precision == "bf16" else set())
    assert all(p.dtype == torch.float32 for p in [*g.parameters(), *d.parameters()])
    assert all(math.isfinite(v) for v in hist["d_loss"] + hist["g_loss"])
    assert hist["d_loss"][-1] < hist["d_loss"][0]


def numerics_dtype(precision: str) -> torch.dtype:
    return torch.bfloat16 if precision == "bf16" else torch.float32


def test_bf16_lsgan_stays_near_the_float32_one():
    """Same seed, same batches: only the products' rounding differs, so after one epoch the two
    generators' samples differ by far less than the samples themselves vary."""
    cfg = LSGANConfig(**TINY_LSGAN, epochs=1, ema=0.0)
    g32, _, _ = train_lsgan(cfg, toy_images(128), seed=0, device=CPU)
    g16, _, _ = train_lsgan(cfg, toy_images(128), seed=0, device=CPU, precision="bf16")
    z = torch.randn(64, cfg.latent_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b = g32(z), g16(z)
    assert not torch.equal(a, b)
    assert float((a - b).abs().mean()) < 0.1 * float((a - a.mean(0)).abs().mean())


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_lwgan_trains_in_the_asked_format_and_learns(precision):
    cfg = LWGANConfig(**{**TINY_LWGAN, "iterations": 60, "width_q": 8, "width_g": 8})
    x = _segment()
    model = build_lwgan(cfg, seed=0)
    before = _recon(model, x, 3)
    from lwgan.trainer import train_lwgan

    with output_dtypes() as seen:
        result = train_lwgan(model, x, cfg, seed=0, precision=precision)
    assert numerics_dtype(precision) in seen
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(math.isfinite(v) for k, vs in result.history.items() for v in vs)
    assert _recon(model, x, 3) < 0.5 * before
    # the isometric term (pairwise distances, taken in float32) trains as well
    iso = LWGANConfig(**{**TINY_LWGAN, "lambda_iso": 1.0})
    history = train_lwgan(build_lwgan(iso, seed=0), x, iso, seed=0, precision=precision).history["iso"]
    assert all(math.isfinite(v) for v in history) and max(history) > 0


def test_published_autoencoder_learns_in_bf16():
    from bench.data import make_synthetic

    data = make_synthetic("two_gaussians", seed=0, n_train=512, n_heldout=200)
    spec = get_generator("published.toy", lambda_iso=1.0)
    m = build_published(spec.config, seed=0)
    with output_dtypes() as seen:
        out = train_published(m, data.train, seed=0, precision="bf16")
    assert torch.bfloat16 in seen
    with torch.no_grad():
        recon = float((data.heldout - m.reconstruct(data.heldout)).norm(dim=1).mean())
    trivial = float((data.heldout - data.train.mean(0)).norm(dim=1).mean())
    assert recon < 0.5 * trivial and all(math.isfinite(v) for v in out["history"]["loss"])


def test_classifier_learns_in_bf16_and_comes_back_float32_nchw():
    m = fake_mnist()
    with output_dtypes() as seen:
        model, hist = train_classifier(
            pixels(m.train_images), m.train_labels, seed=0, device=CPU, cfg=TINY_CLASSIFIER, precision="bf16"
        )
    assert torch.bfloat16 in seen
    assert all(p.dtype == torch.float32 for p in model.parameters())
    conv = next(p for p in model.parameters() if p.dim() == 4)
    assert conv.is_contiguous()  # channels-last only while training
    assert accuracy(model, pixels(m.test_images), m.test_labels) >= 95.0
    assert hist["loss"][-1] < hist["loss"][0]


def test_precision_keys_the_model_cache_and_fp32_keeps_the_older_key(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    spec = get_generator("lsgan", **{k: v for k, v in TINY_LSGAN.items()}, epochs=1)
    assert cache_config(spec) == get_family("lsgan").cache_config(spec.config)  # unchanged by this feature
    assert cache_config(spec, "bf16") == {**cache_config(spec), "precision": "bf16", "adam": "fused"}
    assert classifier_key(TINY_CLASSIFIER) != classifier_key(TINY_CLASSIFIER, "bf16")
    images = toy_images(64)
    a = load_or_train(spec, images, seed=0, data_fingerprint="toy", precision="bf16")
    b = load_or_train(spec, images, seed=0, data_fingerprint="toy", precision="bf16")
    c = load_or_train(spec, images, seed=0, data_fingerprint="toy")
    assert not a.entry.loaded and b.entry.loaded and not c.entry.loaded  # fp32 is not the bf16 file
    assert a.entry.path != c.entry.path and a.entry.digest == b.entry.digest != c.entry.digest
    assert a.metrics["precision"] == "bf16" and c.metrics["precision"] == "fp32"
    assert cache.status(spec.cache_kind, cache_config(spec, "bf16"), "toy", 0) == "cached"


def test_a_family_without_bf16_is_refused_and_called_as_before():
    calls = []

    def train(cfg, data, *, seed, device, progress, task):  # a plugin's signature before precisions
        calls.append(seed)
        return {"state": {}, "metrics": {}}

    lsgan = get_family("lsgan")
    fam = Family(
        "fp32-only",
        LSGANConfig,
        build=lsgan.build,
        train=train,
        load=lambda cfg, state, *, device=None: None,
        data_kind=lambda c: "mnist",
        key_text=lambda c: "",
    )
    register_family(fam)  # forgotten after the test (conftest)
    spec = get_generator("lsgan")
    spec = type(spec)(**{**spec.__dict__, "family": "fp32-only", "name": "fp32-only"})
    with pytest.raises(ConfigError, match="trains in fp32 only, not bf16"):
        load_or_train(spec, toy_images(8), data_fingerprint="toy", precision="bf16")
    assert calls == []
    trained = load_or_train(spec, toy_images(8), seed=3, data_fingerprint="toy")  # no precision= keyword
    assert calls == [3] and trained.metrics["precision"] == "fp32"


def test_train_precision_keys_the_cell_store_and_is_in_the_run_facts(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COLUMNS", "200")
    out = tmp_path / "rep"
    from test_experiments_iso_cli import TINY

    argv = ["isometry", "--lambda", "0", "--objective", "published", "--out", str(out), *TINY]
    assert main(argv) == 0
    assert re.search(r"\| number formats +\| training fp32 +\|", (out / "isometry.md").read_text())
    assert main([*argv, "--train-precision", "bf16", "--resume"]) == 0
    assert len(list((out / "runs").iterdir())) == 2  # the float32 cells were not resumed
    assert re.search(r"\| number formats +\| training bf16 +\|", (out / "isometry.md").read_text())
    assert main([*argv, "--train-precision", "half"]) == 2


def test_bench_train_precision_caches_apart_and_refuses_a_bad_name(monkeypatch, capsys):
    import bench.data

    monkeypatch.setattr(bench.data, "load_mnist", lambda data_dir=None, **kw: fake_mnist())
    argv = ["train", "classifier", "--device", "cpu", "--epochs", "1"]
    assert main(argv) == 0
    assert "trained" in capsys.readouterr().out
    assert main([*argv, "--train-precision", "bf16"]) == 0  # not the float32 checkpoint
    out = capsys.readouterr().out
    assert "trained" in out and "loaded from cache" not in out and "bf16" in out
    assert main([*argv, "--precision", "bf16"]) == 0  # the older name, still accepted
    assert "loaded from cache" in capsys.readouterr().out
    assert main([*argv, "--train-precision", "half"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--train-precision" in err and "fp32, bf16, auto" in err and err.count("\n") == 0
    assert main([*argv, "--precision", "bf16", "--train-precision", "bf16"]) == 2
    assert "given twice" in capsys.readouterr().err


def test_auto_trains_in_bf16_only_where_native_and_measured_faster():
    from bench.precision import for_model, run_label

    native, none = {"avx512_bf16"}, {"avx512f"}
    assert for_model("auto", CPU, pays=True, flags=native) == "bf16"
    assert for_model("auto", CPU, pays=False, flags=native) == "fp32"  # a toy net: autocast costs more
    assert for_model("auto", CPU, pays=True, flags=none) == "fp32"  # emulated bfloat16 is slower
    assert for_model("bf16", CPU, pays=False, flags=none) == "bf16"  # asked for explicitly
    assert run_label("auto", CPU, flags=native) == "auto" and run_label("auto", CPU, flags=none) == "fp32"
    lsgan, lwgan = get_family("lsgan"), get_family("lwgan")
    assert lsgan.bf16_pays(get_generator("lsgan").config)
    assert not lwgan.bf16_pays(get_generator("lwgan.rank").config)  # toy MLPs stay fp32 under auto
    assert lwgan.bf16_pays(get_generator("iso-lwgan.mnist").config)
    published = get_family("published")
    assert published.bf16_pays(get_generator("published-iso.mnist").config)
    assert not published.bf16_pays(get_generator("published.toy").config)


def test_bf16_trainings_take_the_fused_adam_and_fp32_keeps_the_default():
    """numerics.adam: fused in bf16 (Adam and AdamW), torch's default in fp32 (so float32
    checkpoints stay bit for bit); the fused kernel follows the per-tensor one to float32 rounding
    over 20 steps of a small regression (the oracle: torch's own single-tensor Adam)."""
    from lwgan import numerics

    def trained(precision, decoupled):
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 1))
        opt = numerics.adam(net.parameters(), precision, decoupled=decoupled, lr=0.01, weight_decay=0.01)
        x, y = torch.randn(32, 5), torch.randn(32, 1)
        for _ in range(20):
            opt.zero_grad()
            ((net(x) - y) ** 2).mean().backward()
            opt.step()
        return opt, torch.cat([p.detach().flatten() for p in net.parameters()])

    for decoupled in (False, True):
        fused, w_fused = trained("bf16", decoupled)
        plain, w_plain = trained("fp32", decoupled)
        assert isinstance(fused, torch.optim.AdamW if decoupled else torch.optim.Adam)
        assert fused.defaults["fused"] is True and not plain.defaults["fused"]
        torch.testing.assert_close(w_fused, w_plain, rtol=1e-5, atol=1e-6)
        assert not torch.equal(w_fused, trained("fp32", not decoupled)[1])  # weight decay's reading matters
