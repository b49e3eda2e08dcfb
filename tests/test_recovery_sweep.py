"""A recovery chunk, the sweep's unit of work: one plain record per grid cell, shared runs
recovered once, images packed losslessly; the fixed image subset."""

import numpy as np
import pytest
import torch
from torch import nn

from bench.recovery import sweep as sweep_mod
from bench.recovery.codec import unpack_correct, unpack_images
from bench.recovery.generators import RecoveryModel
from bench.recovery.grid import expand_grid
from bench.recovery.sweep import (
    RecoverSettings,
    pack_images,
    run_chunk,
    select_images,
)


class TinyG(nn.Module):
    latent_dim = 8

    def __init__(self):
        super().__init__()
        self.net = nn.Linear(8, 784)

    def forward(self, z):
        return torch.tanh(self.net(z)).view(-1, 1, 28, 28)


class TinyD(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Linear(784, 1)

    def forward(self, x):
        return self.net(x.flatten(1)).squeeze(-1)


class TinyClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Linear(784, 10)

    def forward(self, x):
        return self.net(x.flatten(1))


@pytest.fixture
def models():
    torch.manual_seed(0)
    return TinyG(), TinyD(), TinyClassifier()


@pytest.fixture
def data():
    g = torch.Generator().manual_seed(1)
    images = torch.rand(40, 1, 28, 28, generator=g) * 2 - 1
    labels = torch.randint(0, 10, (40,), generator=g)
    return images, labels


SETTINGS = RecoverSettings(
    regulators=("wasserstein", "log_normal_density", "logistic_cutoff"),
    grid="explicit",
    lrs=(0.1,),
    hps=(0.0, 1.0),
    images=6,
    steps=3,
    seeds=(0, 1),
)


def test_select_images_is_fixed_and_seeded():
    labels = torch.zeros(100, dtype=torch.long)
    a = select_images(labels, 10, 0)
    assert a == select_images(labels, 10, 0) and a == sorted(a) and len(set(a)) == 10
    assert a != select_images(labels, 10, 1)


def test_run_chunk_gives_one_plain_record_per_cell_and_recovers_shared_runs_once(models, data, monkeypatch):
    G, D, C = models
    images, labels = data
    cells = expand_grid(([0.1], [0.0, 1.0]), ["wasserstein", "log_normal_density"])
    # hp 0 of both is the shared `none` baseline: 3 distinct runs behind 4 cells.
    runs = []
    real = sweep_mod.recover_cells
    monkeypatch.setattr(
        sweep_mod,
        "recover_cells",
        lambda G, D, t, cells, **kw: (runs.append(len({c.run_id for c in cells})), real(G, D, t, cells, **kw))[1],
    )
    model = RecoveryModel("tiny", 0, G, D, G.latent_dim, 0, "normal")
    records = run_chunk(
        model, C, images[:6], labels[:6], list(range(6)), cells, 0, SETTINGS, device=torch.device("cpu")
    )
    assert len(records) == 4 and runs == [3]
    shared = [r for r, c in zip(records, cells) if c.shared]
    assert len(shared) == 2 and shared[0]["accuracy"] == shared[1]["accuracy"]
    assert shared[0]["histories"] == shared[1]["histories"] and shared[0]["run_id"] == "none|lr=0.1|hp=0"
    for r in records:
        assert 0 <= r["accuracy"] <= 100 and r["n_images"] == 6
        assert len(r["histories"]["loss"]) == SETTINGS.steps
        assert unpack_images(r["preview"]).shape == (6, 28, 28)
        # per-image correctness, packed: its mean is the accuracy
        assert unpack_correct(r["correct"], 6).mean() * 100 == pytest.approx(r["accuracy"])


def test_images_pack_and_unpack_exactly():
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    back = unpack_images(pack_images(x))
    want = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).reshape(3, 28, 28).numpy()
    np.testing.assert_array_equal(back, want)
