"""Cell metrics against scipy/numpy oracles and hand-made cases."""

import math

import numpy as np
import pytest
import scipy.stats
import torch
from torch import nn

from bench.recovery.engine import CellRecovery
from bench.recovery.grid import Cell
from bench.recovery.metrics import latent_stats, pixel_errors, predict, score_cell
from bench.stats import bootstrap_ci


@pytest.mark.parametrize("kind", ["binary", "continuous"])
def test_bootstrap_matches_scipy_percentile(kind):
    rng = np.random.default_rng(0)
    x = (rng.random(300) < 0.7).astype(float) * 100 if kind == "binary" else rng.exponential(2.0, 300)
    _, lo, hi = bootstrap_ci(x, n_boot=20_000, seed=1)
    ref = scipy.stats.bootstrap(
        (x,), np.mean, n_resamples=20_000, method="percentile", confidence_level=0.95, random_state=2
    ).confidence_interval
    se = x.std() / math.sqrt(x.size)  # Monte Carlo error of either endpoint is a small part of se
    lattice = 100 / x.size if kind == "binary" else 0.0  # a binary mean moves in steps of 100/n
    tol = 0.1 * se + lattice + 1e-9
    assert abs(lo - ref.low) <= tol and abs(hi - ref.high) <= tol
    assert lo < x.mean() < hi


def test_bootstrap_of_accuracy_is_binomial():
    # resampling n items with k correct: the correct count is Binomial(n, k/n)
    correct = np.r_[np.ones(160), np.zeros(40)] * 100
    _, lo, hi = bootstrap_ci(correct, n_boot=20_000, seed=0)
    b = scipy.stats.binom(200, 0.8)
    assert abs(lo - b.ppf(0.025) / 2) <= 0.51 and abs(hi - b.ppf(0.975) / 2) <= 0.51
    assert tuple(bootstrap_ci(np.full(50, 100.0))) == (100.0, 100.0, 100.0)


def test_pixel_errors_by_hand():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (4, 1, 28, 28))
    y = rng.uniform(-1, 1, (4, 1, 28, 28))
    got = pixel_errors(torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32))
    d = (y.astype(np.float32) - x.astype(np.float32)).reshape(4, -1).astype(np.float64)
    assert got["l1"] == pytest.approx(np.mean([np.linalg.norm(r, 1) for r in d]), rel=1e-9)
    assert got["l2"] == pytest.approx(np.mean([np.linalg.norm(r, 2) for r in d]), rel=1e-9)
    assert got["mae"] == pytest.approx(np.abs(d).mean(), rel=1e-9)
    assert pixel_errors(torch.ones(2, 1, 28, 28), -torch.ones(2, 1, 28, 28))["l1"] == 2 * 784


def test_latent_stats_against_scipy():
    rng = np.random.default_rng(2)
    z = rng.normal(0.1, 1.2, (50, 8)).astype(np.float32)
    got = latent_stats(torch.tensor(z))
    pooled = z.ravel().astype(np.float64)
    assert got["z_mean"] == pytest.approx(pooled.mean(), rel=1e-12)
    assert got["z_var"] == pytest.approx(np.var(pooled), rel=1e-12)
    assert got["ks_pvalue"] == pytest.approx(scipy.stats.kstest(pooled, "norm").pvalue, rel=1e-6)
    u = rng.uniform(-1, 1, (40, 8)).astype(np.float32)
    ks_u = scipy.stats.kstest(u.ravel().astype(np.float64), "uniform", args=(-1, 2)).pvalue
    assert latent_stats(torch.tensor(u), "uniform")["ks_pvalue"] == pytest.approx(ks_u, rel=1e-6)
    assert math.isnan(latent_stats(torch.tensor([[0.0, float("nan")]]))["ks_pvalue"])


class FirstTen(nn.Module):
    """Logits = the first ten pixels: an image whose first ten pixels are one-hot(k) is a k."""

    def forward(self, x):
        return x.flatten(1)[:, :10]


def _digits(labels):
    x = -torch.ones(len(labels), 1, 28, 28)
    x.view(len(labels), -1)[torch.arange(len(labels)), torch.as_tensor(labels)] = 1.0
    return x


def test_score_cell_by_hand_with_nonfinite():
    labels = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7])
    targets = _digits(labels)
    rec_images = _digits([0, 1, 2, 3, 4, 5, 0, 0])  # 6 right, 2 wrong
    rec_images[5, 0, 0, 5] = float("nan")  # right digit, but a NaN pixel: counted wrong
    z = torch.randn(8, 4, generator=torch.Generator().manual_seed(0))
    z[5, 1] = float("nan")
    rec = CellRecovery(
        Cell("none", 0.1, 0.0),
        z,
        torch.ones(8),
        rec_images,
        n_nonfinite=1,
        wall_s=1.5,
        restart=torch.zeros(8, dtype=torch.long),
        loss_history=[],
    )
    assert predict(FirstTen(), rec_images).tolist() == [0, 1, 2, 3, 4, -1, 0, 0]
    s = score_cell(rec, targets, labels, FirstTen(), n_boot=2000)
    assert s["accuracy"] == pytest.approx(5 / 8 * 100)
    assert s["accuracy_lo"] <= s["accuracy"] <= s["accuracy_hi"]
    assert s["n_nonfinite"] == 1 and s["n_images"] == 8 and s["wall_s"] == 1.5
    assert set(s["nonfinite_metrics"]) == {"l1", "l2", "mae", "z_mean", "z_var", "ks_pvalue"}
    clean = CellRecovery(
        Cell("none", 0.1, 0.0),
        z.nan_to_num(),
        torch.ones(8),
        targets.clone(),
        0,
        0.0,
        torch.zeros(8, dtype=torch.long),
        [],
    )
    s = score_cell(clean, targets, labels, FirstTen(), n_boot=2000)
    assert s["accuracy"] == 100.0 and s["l1"] == 0.0 and s["nonfinite_metrics"] == []
