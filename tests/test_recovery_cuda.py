"""The engine and the trainers on CUDA (run only where a GPU is present), in both precisions: no
host sync in the step loop, the same results as on the CPU up to float rounding, bfloat16 within
the CPU tests' tolerance of float32, and training that stays finite."""

import pytest
import torch

from bench.recovery.engine import recover_cells
from bench.recovery.grid import Cell
from lwgan.lsgan import MLPDiscriminator, MLPGenerator

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
CELLS = [
    Cell(name, 0.05, hp)
    for name in (
        "none",
        "wasserstein",
        "energy",
        "trick_discriminator",
        "log_normal_density",
        "logistic_cutoff",
        "truncated_normal_cutoff",
    )
    for hp in (0.5, 2.0)
]


def _models():
    torch.manual_seed(0)
    G, D = MLPGenerator(32, [64, 48]).eval(), MLPDiscriminator(width=4).eval()
    targets = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1
    return G, D, targets


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("fused", [True, False])
def test_step_loop_never_syncs(fused, precision):
    G, D, targets = _models()
    out = recover_cells(
        G.cuda(), D.cuda(), targets, CELLS, steps=5, device="cuda", fused=fused, check_sync=True, precision=precision
    )
    assert all(o.n_nonfinite == 0 for o in out)


def test_cuda_matches_cpu():
    G, D, targets = _models()
    cpu = recover_cells(G, D, targets, CELLS, steps=5)
    gpu = recover_cells(G.cuda(), D.cuda(), targets, CELLS, steps=5, device="cuda")
    for a, b in zip(cpu, gpu):
        torch.testing.assert_close(b.z_final, a.z_final, atol=1e-3, rtol=0)


def test_bf16_on_cuda_matches_float32_within_the_cpu_tolerance():
    if not torch.cuda.is_bf16_supported(including_emulation=False):
        pytest.skip("this GPU has no native bfloat16")
    from bench.precision import resolve

    assert resolve("auto", "cuda") == "bf16"
    G, D, targets = _models()
    G, D = G.cuda(), D.cuda()
    cells = [c for c in CELLS if c.regulator != "trick_discriminator"]  # its tolerance is 6%, below
    full = recover_cells(G, D, targets, cells, steps=30, seed=2, device="cuda")
    half = recover_cells(G, D, targets, cells, steps=30, seed=2, device="cuda", precision="bf16")
    for a, b in zip(full, half):
        rel = ((a.final_loss - b.final_loss).abs() / a.final_loss.abs()).max().item()
        assert rel <= 0.01, (a.cell, rel)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_trainers_run_on_cuda(precision):
    from test_lsgan import TINY, toy_images

    from lwgan.lsgan import LSGANConfig, train_lsgan

    g, _d, hist = train_lsgan(
        LSGANConfig(**TINY, epochs=1), toy_images(64), seed=0, device=torch.device("cuda"), precision=precision
    )
    assert next(g.parameters()).device.type == "cuda" and next(g.parameters()).dtype == torch.float32
    assert all(torch.isfinite(torch.tensor(hist["d_loss"] + hist["g_loss"])))
