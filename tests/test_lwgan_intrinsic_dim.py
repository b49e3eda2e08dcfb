"""MLE (Levina-Bickel) and TwoNN against hand-computed cases and samples of known dimension."""

import math

import numpy as np
import pytest

from lwgan import intrinsic_dim as idim

# Four points on a line at 0, 1, 3, 7 (embedded in the plane).
LINE = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [7.0, 0.0]])


def test_twonn_ratios_by_hand():
    # Nearest / second-nearest: 0 -> (1, 3); 1 -> (1, 2); 3 -> (2, 3); 7 -> (4, 6).
    assert sorted(idim.twonn_mu(LINE).tolist()) == pytest.approx([1.5, 1.5, 2.0, 3.0])


def test_twonn_estimators_by_hand():
    mle = 4 / (math.log(3) + math.log(2) + 2 * math.log(1.5))
    assert idim.twonn_dimension(LINE, method="mle") == pytest.approx(mle)
    # Fit through the origin on the 3 smallest mu (F = 1/4, 2/4, 3/4; the largest has F = 1).
    x = np.log([1.5, 1.5, 2.0])
    y = -np.log(1 - np.array([0.25, 0.5, 0.75]))
    fit = (x * y).sum() / (x * x).sum()
    assert idim.twonn_dimension(LINE, discard=0.25) == pytest.approx(fit)
    assert idim.twonn_dimension(LINE, discard=0.0) == pytest.approx(fit)


def test_mle_by_hand():
    # k = 3 neighbours: T(0) = 1,3,7; T(1) = 1,2,6; T(3) = 2,3,4; T(7) = 4,6,7.
    inv = np.array(
        [
            (math.log(7 / 1) + math.log(7 / 3)) / 2,
            (math.log(6 / 1) + math.log(6 / 2)) / 2,
            (math.log(4 / 2) + math.log(4 / 3)) / 2,
            (math.log(7 / 4) + math.log(7 / 6)) / 2,
        ]
    )
    assert idim.mle_dimension(LINE, k1=3, k2=3) == pytest.approx(np.mean(1 / inv))
    assert idim.mle_dimension(LINE, k1=3, k2=3, aggregate="harmonic") == pytest.approx(1 / np.mean(inv))


def _embedded_cube(n, d, ambient, seed):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(ambient, ambient)))
    return rng.uniform(size=(n, d)) @ q[:d]  # a rotated unit cube of dimension d in R^ambient


@pytest.mark.parametrize("d", [1, 3])
def test_uniform_cube_recovers_its_dimension(d):
    x = _embedded_cube(2000, d, 6, seed=d)
    assert idim.mle_dimension(x) == pytest.approx(d, rel=0.15)
    assert idim.twonn_dimension(x) == pytest.approx(d, rel=0.15)
    assert idim.twonn_dimension(x, method="mle") == pytest.approx(d, rel=0.15)


def test_duplicates_are_dropped_and_bad_arguments_refused():
    x = np.vstack([_embedded_cube(300, 2, 3, seed=0), np.zeros((2, 3))])  # two identical points
    assert np.isfinite(idim.twonn_dimension(x)) and np.isfinite(idim.mle_dimension(x))
    assert idim.twonn_mu(x).size == 300
    with pytest.raises(ValueError):
        idim.mle_dimension(LINE, k1=3, k2=5)  # 5 neighbours of 4 points
    with pytest.raises(ValueError):
        idim.twonn_dimension(LINE, method="nope")


@pytest.mark.parametrize("name", ["swissroll", "scurve", "hyperplane"])
def test_mle_and_twonn_equal_scikit_dimension(name):
    """The reference implementations (scikit-dimension) as the oracle: Levina-Bickel's pointwise
    MLE averaged over points ('mean') and over k, its harmonic form ('mle'), and TwoNN's fit."""
    import warnings

    skdim = pytest.importorskip("skdim")
    from bench.data import make_synthetic

    x = make_synthetic(name, seed=0, n_train=600).train.numpy().astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_mean = np.mean([skdim.id.MLE().fit(x, n_neighbors=k, comb="mean").dimension_ for k in range(10, 21)])
        ref_harmonic = np.mean([skdim.id.MLE().fit(x, n_neighbors=k, comb="mle").dimension_ for k in range(10, 21)])
        ref_twonn = skdim.id.TwoNN(discard_fraction=0.1).fit(x).dimension_
    assert idim.mle_dimension(x, 10, 20) == pytest.approx(ref_mean, rel=1e-10)
    assert idim.mle_dimension(x, 10, 20, aggregate="harmonic") == pytest.approx(ref_harmonic, rel=1e-10)
    assert idim.twonn_dimension(x) == pytest.approx(ref_twonn, rel=1e-10)
