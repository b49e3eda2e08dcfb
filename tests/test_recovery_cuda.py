"""The engine on CUDA (run only where a GPU is present): no host sync in the step loop, and the
same results as on the CPU up to float rounding."""

import pytest
import torch

from bench.recovery.engine import recover_cells
from bench.recovery.grid import Cell
from lwgan.lsgan import MLPDiscriminator, MLPGenerator

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
CELLS = [Cell(name, 0.05, hp) for name in ("none", "wasserstein", "energy", "trick_discriminator",
                                           "log_normal_density", "logistic_cutoff", "truncated_normal_cutoff")
         for hp in (0.5, 2.0)]  # fmt: skip


def _models():
    torch.manual_seed(0)
    G, D = MLPGenerator(32, [64, 48]).eval(), MLPDiscriminator(width=4).eval()
    targets = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1
    return G, D, targets


@pytest.mark.parametrize("fused", [True, False])
def test_step_loop_never_syncs(fused):
    G, D, targets = _models()
    out = recover_cells(G.cuda(), D.cuda(), targets, CELLS, steps=5, device="cuda", fused=fused, check_sync=True)
    assert all(o.n_nonfinite == 0 for o in out)


def test_cuda_matches_cpu():
    G, D, targets = _models()
    cpu = recover_cells(G, D, targets, CELLS, steps=5)
    gpu = recover_cells(G.cuda(), D.cuda(), targets, CELLS, steps=5, device="cuda")
    for a, b in zip(cpu, gpu):
        torch.testing.assert_close(b.z_final, a.z_final, atol=1e-3, rtol=0)
