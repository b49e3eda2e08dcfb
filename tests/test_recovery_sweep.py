"""The sweep: resume after an interruption loses nothing and redoes nothing; failures are recorded."""

import math

import pytest
import torch
from torch import nn

from bench.recovery import sweep as sweep_mod
from bench.recovery.sweep import CellStore, RecoverSettings, run_sweep, select_images


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
    grid="explicit", lrs=(0.1,), hps=(0.0, 1.0), images=6, steps=3, seeds=(0, 1),
)


def _run(models, data, store, **kw):
    G, D, C = models
    images, labels = data
    return run_sweep(SETTINGS, generator=G, discriminator=D, classifier=C, test_images=images,
                     test_labels=labels, store=store, **kw)


def test_select_images_is_fixed_and_seeded():
    labels = torch.zeros(100, dtype=torch.long)
    a = select_images(labels, 10, 0)
    assert a == select_images(labels, 10, 0) and a == sorted(a) and len(set(a)) == 10
    assert a != select_images(labels, 10, 1)


def test_resume_after_interrupt_loses_nothing_and_redoes_nothing(models, data, tmp_path, monkeypatch):
    full = _run(models, data, CellStore(tmp_path / "full"))
    # 3 regulators x hp {0, 1} at one lr: wasserstein/log_normal hp 0 -> one shared `none` run;
    # logistic_cutoff hp 0 and 1 are its own runs: 5 distinct runs x 2 seeds.
    assert len(full.results) == 10 and all(r.ok for r in full.results.values())

    recovered = []
    real = sweep_mod.recover_cells

    def counting(G, D, targets, runs, **kw):
        if len(recovered) >= 3:  # the 4th chunk is interrupted mid-way
            raise KeyboardInterrupt
        recovered.append((kw["seed"], [r.id for r in runs]))
        return real(G, D, targets, runs, **kw)

    monkeypatch.setattr(sweep_mod, "recover_cells", counting)
    store = CellStore(tmp_path / "resumed")
    part = _run(models, data, store)
    assert part.interrupted
    first = {(rid, seed) for seed, ids in recovered for rid in ids}
    assert set(part.results) == first

    recovered.clear()
    monkeypatch.setattr(sweep_mod, "recover_cells", lambda *a, **kw: (recovered.append((kw["seed"], [r.id for r in a[3]])), real(*a, **kw))[1])
    rest = _run(models, data, store, resume=True)
    redone = {(rid, seed) for seed, ids in recovered for rid in ids}
    assert not (redone & first), "resume recomputed finished cells"
    assert redone | first == set(full.results)
    assert not rest.interrupted
    for key, r in full.results.items():
        assert rest.results[key].metrics["accuracy"] == r.metrics["accuracy"]
        assert rest.results[key].metrics["l1"] == pytest.approx(r.metrics["l1"], rel=1e-6)
    assert sum(r.resumed for r in rest.results.values()) == len(first)


def test_failed_chunk_is_recorded_and_sweep_goes_on(models, data, tmp_path, monkeypatch):
    real = sweep_mod.recover_cells

    def flaky(G, D, targets, runs, **kw):
        if runs[0].regulator == "logistic_cutoff":
            raise RuntimeError("boom")
        return real(G, D, targets, runs, **kw)

    monkeypatch.setattr(sweep_mod, "recover_cells", flaky)
    store = CellStore(tmp_path / "s")
    res = _run(models, data, store)
    failed = [r for r in res.results.values() if not r.ok]
    assert failed and all(r.regulator == "logistic_cutoff" and "boom" in r.error for r in failed)
    assert any(r.ok for r in res.results.values())
    # Failed cells are not stored, so a resume retries them.
    assert store.load(failed[0].run_id, failed[0].seed) is None


def test_store_round_trips_nonfinite_metrics(tmp_path):
    store = CellStore(tmp_path)
    r = sweep_mod.RunResult("x|lr=1|hp=0", "x", 1.0, 0.0, 0, metrics={"l1": math.nan, "l2": math.inf, "accuracy": 10.0})
    store.save(r)
    back = store.load(r.run_id, 0)
    assert math.isnan(back.metrics["l1"]) and back.metrics["l2"] == math.inf and back.resumed
