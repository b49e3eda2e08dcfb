"""Two standard intrinsic-dimension estimators, the baselines `bench rank` puts beside LWGAN.

- MLE (Levina and Bickel 2005): with T_j(x) the distance from x to its j-th nearest neighbour,
  m_k(x) = [ (1/(k-1)) sum_{j<k} log(T_k(x) / T_j(x)) ]^-1, averaged over points and over
  k = k1..k2 (the paper's recommended 10..20).
- TwoNN (Facco et al. 2017): mu = r2 / r1 (second over first neighbour distance) is Pareto with
  index d; d is the slope through the origin of -log(1 - F(mu)) against log(mu), fitted on the
  smallest (1 - discard) fraction of the mu's ("fit", the paper's method), or the closed-form
  maximum-likelihood N / sum log mu ("mle").
Points with a zero neighbour distance (duplicates) are dropped: their ratios are undefined.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree


def _as_array(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected points as an [n, D] array, got shape {x.shape}")
    return x


def neighbour_distances(x, k: int) -> np.ndarray:
    """[n, k] distances to the k nearest other points, ascending."""
    x = _as_array(x)
    if k >= x.shape[0]:
        raise ValueError(f"k={k} neighbours need more than {k} points, got {x.shape[0]}")
    dist, _ = cKDTree(x).query(x, k=k + 1)
    return dist[:, 1:]  # column 0 is the point itself


def mle_dimension(x, k1: int = 10, k2: int = 20, *, aggregate: str = "mean") -> float:
    """Levina-Bickel MLE averaged over k = k1..k2.

    aggregate="mean" averages the per-point estimates (the original paper); "harmonic" averages
    their inverses first (MacKay and Ghahramani's correction, less biased upward on small n).
    """
    if not 2 <= k1 <= k2:
        raise ValueError(f"need 2 <= k1 <= k2, got k1={k1}, k2={k2}")
    if aggregate not in ("mean", "harmonic"):
        raise ValueError(f"aggregate must be 'mean' or 'harmonic', got {aggregate!r}")
    T = neighbour_distances(x, k2)
    T = T[T[:, 0] > 0]
    logT = np.log(T)
    estimates = []
    for k in range(k1, k2 + 1):  # at most ~10 values of k, each vectorised over points
        inv = (logT[:, k - 1 : k] - logT[:, : k - 1]).sum(axis=1) / (k - 1)  # 1 / m_k(x)
        estimates.append(1.0 / inv.mean() if aggregate == "harmonic" else (1.0 / inv).mean())
    return float(np.mean(estimates))


def twonn_mu(x) -> np.ndarray:
    """The ratios r2 / r1 of every point with a non-zero first-neighbour distance."""
    T = neighbour_distances(x, 2)
    T = T[T[:, 0] > 0]
    return T[:, 1] / T[:, 0]


def twonn_from_mu(mu, *, discard: float = 0.1, method: str = "fit") -> float:
    mu = np.sort(np.asarray(mu, dtype=np.float64))
    n = mu.size
    if method == "mle":
        return float(n / np.log(mu).sum())
    if method != "fit":
        raise ValueError(f"method must be 'fit' or 'mle', got {method!r}")
    if not 0 <= discard < 1:
        raise ValueError(f"discard must be in [0, 1), got {discard}")
    keep = min(int(np.floor(n * (1 - discard))), n - 1)  # F = 1 at the largest mu: log(0)
    F = np.arange(1, n + 1) / n
    xs, ys = np.log(mu[:keep]), -np.log(1.0 - F[:keep])
    return float((xs * ys).sum() / (xs * xs).sum())


def twonn_dimension(x, *, discard: float = 0.1, method: str = "fit") -> float:
    return twonn_from_mu(twonn_mu(x), discard=discard, method=method)
