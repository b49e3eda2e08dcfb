"""--precision: bfloat16 for G's and D's passes, float32 for what accumulates. Oracles: the float32
module itself (values and input gradients), the float32 engine (final losses), and the resume
keys (a float32 cell is never resumed into a bfloat16 run; float32 keeps the older keys)."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from test_recover_cli import small_mnist  # noqa: F401 (the fixture: real MNIST cut small)
from test_recovery_fused import _randomised, _value_and_grad

from bench.cli import main
from bench.precision import dtype, native_bf16, resolve
from bench.recovery.engine import recover_cells
from bench.recovery.fused import compile_chain
from bench.recovery.grid import Cell
from lwgan.lsgan import MLPDiscriminator, MLPGenerator


def test_auto_is_bf16_only_where_the_device_has_it():
    assert resolve("auto", "cpu", flags={"avx512f", "avx512_bf16"}) == "bf16"
    assert resolve("auto", "cpu", flags={"amx_bf16"}) == "bf16"
    assert resolve("auto", "cpu", flags={"avx512f", "avx2"}) == "fp32"  # emulated bf16 is slower: stay
    assert resolve("auto", "cpu", flags=set()) == "fp32"
    assert resolve("fp32", "cpu", flags={"avx512_bf16"}) == "fp32" and resolve("bf16", "cpu", flags=set()) == "bf16"
    if not torch.cuda.is_available():
        assert not native_bf16("cuda")
    assert dtype("bf16") == torch.bfloat16 and dtype("fp32") == torch.float32
    with pytest.raises(ValueError, match="precision: expected one of fp32, bf16, auto"):
        resolve("fp16", "cpu")


def test_a_bf16_chain_computes_in_bf16_and_hands_back_float32():
    module = _randomised(MLPGenerator(16, [64, 48])).float()
    chain = compile_chain(module, 16)
    low = chain.to(dtype=torch.bfloat16)
    assert low.dtype == torch.bfloat16 and chain.dtype == torch.float32
    g = torch.Generator().manual_seed(1)
    x = torch.randn(257, 16, generator=g)
    w = torch.randn(module(x).shape, generator=g)
    want, want_grad = _value_and_grad(module, x, w)
    got, got_grad = _value_and_grad(low, x, w)
    assert got.dtype == torch.float32 and got_grad.dtype == torch.float32
    # bfloat16 keeps 8 bits of mantissa: about 2-3 significant digits through three layers, so the
    # error is judged over the whole tensor (a unit near a ReLU's kink may flip, element by element)
    assert (got - want).norm() / want.norm() < 0.01
    assert (got_grad - want_grad).norm() / want_grad.norm() < 0.06  # measured 0.04: the backward rounds twice
    assert not torch.equal(got, want)  # it did run in bfloat16


@pytest.mark.parametrize("epilogue", [True, False])
@pytest.mark.parametrize("make", ["generator", "discriminator"])
def test_bf16_chain_with_and_without_onednn_epilogues_matches_float32(make, epilogue, monkeypatch):
    """The oneDNN post-op route (relu, leaky relu, tanh fused into the GEMM) and the two-pass route
    both against the float32 module; the profiler shows which route ran."""
    from bench.recovery import fused

    if epilogue and not fused._onednn_bf16():
        pytest.skip("no oneDNN bfloat16 on this CPU")
    monkeypatch.setattr(fused, "ONEDNN_EPILOGUE", epilogue)
    if make == "generator":  # relu and tanh
        module, width = _randomised(MLPGenerator(16, [64, 48])).float(), 16
    else:  # leaky relu (the minibatch-std feature folded into a bias)
        module, width = _randomised(MLPDiscriminator(width=4)).float(), 784
    low = compile_chain(module, width).to(dtype=torch.bfloat16)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(257, width, generator=g)
    w = torch.randn(module(x).shape, generator=g)
    want, want_grad = _value_and_grad(module, x, w)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        got, got_grad = _value_and_grad(low, x, w)
    ops = {e.key for e in prof.key_averages()}
    assert ("mkldnn::_linear_pointwise" in ops) == epilogue, sorted(ops)
    assert (got - want).norm() / want.norm() < 0.01
    assert (got_grad - want_grad).norm() / want_grad.norm() < 0.06


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize(
    "regulator, tolerance",
    [
        ("none", 0.01),
        ("wasserstein", 0.01),
        ("truncated_normal_cutoff", 0.01),
        ("trick_discriminator", 0.06),  # D's logit, weighted, carries bfloat16's rounding into the loss
    ],
)
def test_a_bf16_recovery_matches_float32_within_tolerance(regulator, tolerance, fused):
    """Both routes: compiled chains cast to bfloat16, and modules under autocast (fused=False)."""
    G, D = _randomised(MLPGenerator(32, [64, 48])).float(), _randomised(MLPDiscriminator(width=4)).float()
    targets = torch.sign(torch.randn(16, 1, 28, 28, generator=torch.Generator().manual_seed(3))) * 1.5
    cells = [Cell(regulator, 0.05, 0.5), Cell(regulator, 0.01, 2.0)] if regulator != "none" else [Cell("none", 0.05, 0)]
    full = recover_cells(G, D, targets, cells, steps=30, seed=2, fused=fused)
    half = recover_cells(G, D, targets, cells, steps=30, seed=2, fused=fused, precision="bf16")
    for a, b in zip(full, half):
        assert b.z_final.dtype == torch.float32 and b.final_loss.dtype == torch.float32
        rel = ((a.final_loss - b.final_loss).abs() / a.final_loss.abs()).max().item()
        assert rel <= tolerance, (regulator, rel)
        assert not torch.equal(a.images_rec, b.images_rec)
    with pytest.raises(ValueError, match="resolved"):
        recover_cells(G, D, targets, cells, steps=1, precision="auto")


@pytest.mark.usefixtures("small_mnist")  # real MNIST cut small, a tiny scorer
def test_precision_keys_the_cell_store_and_reaches_the_report(mnist_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    out = tmp_path / "rep"
    argv = [
        "recover",
        "--regulator",
        "wasserstein,none",
        "--lr",
        "0.1",
        "--hp",
        "0.5",
        "--images",
        "8",
        "--steps",
        "3",
        "--generator",
        "lsgan.test",
        "--device",
        "cpu",
        "--data-dir",
        mnist_dir,
        "--out",
        str(out),
        "--no-track",
        "--quality-samples",
        "200",
    ]
    assert main(argv) == 0
    assert main([*argv, "--precision", "bf16", "--resume"]) == 0  # the float32 cells are not resumed
    stores = sorted(p.name for p in (out / "runs").iterdir())
    assert len(stores) == 2
    assert main([*argv, "--precision", "bf16", "--resume"]) == 0  # the bfloat16 store resumes itself
    assert len(list((out / "runs").iterdir())) == 2
    from bench.recovery import fused

    if fused._onednn_bf16():  # cells of the two-pass bf16 route are kept apart from the fused route's
        monkeypatch.setattr(fused, "ONEDNN_EPILOGUE", False)
        assert main([*argv, "--precision", "bf16", "--resume"]) == 0
        assert len(list((out / "runs").iterdir())) == 3
        monkeypatch.setattr(fused, "ONEDNN_EPILOGUE", True)
    frame = pd.read_csv(out / "recover-explicit.csv")
    assert (frame["status"] == "finished").all()
    report = (out / "recover-explicit.md").read_text()
    assert "G's and D's passes in bfloat16" in report
    assert main([*argv, "--precision", "auto", "--print-config"]) == 0
