"""The statistics every report uses: intervals over evaluation items, over seeds, and paired.

- `bootstrap_ci`: percentile bootstrap of a statistic over items (scipy.stats.bootstrap).
- `paired_bootstrap_ci`: the same for the mean difference of two settings measured on the same
  items (scipy.stats.bootstrap with paired=True): the interval of a gap, not of two levels.
- `unpaired_bootstrap_ci`: the difference of two independent samples' means, each resampled on
  its own (scipy.stats.bootstrap with paired=False).
- `pair_mean_ci`: the mean of an [n, n] pairwise matrix over i != j, bootstrapped over the n
  points (resampling points, not pairs).
- `t_interval` / `seed_summary`: mean over seeds with a Student-t interval.
- `welch_interval`: the difference of two settings' means over their own seeds (different models,
  nothing paired), Welch's t with the Welch-Satterthwaite degrees of freedom.
- `mcnemar`: exact McNemar test of two classifiers' (or settings') right/wrong on the same items
  (statsmodels).
- the crossed model of a [seeds, items] table (its interval, TOST and coverage simulation) is in
  bench.crossed.
- `spearman_gap_ci`: rho(x, ref) - rho(y, ref) on the same items, with a paired bootstrap.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np


class CI(NamedTuple):
    value: Any  # the statistic on the full sample (float, or array for batched input)
    lo: Any
    hi: Any


def _check(x: np.ndarray, name: str, level: float, n_boot: int) -> None:
    if x.ndim == 0 or x.shape[-1] == 0:
        raise ValueError(f"{name}: needs at least one value along the last axis")
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: values contain NaN or inf")
    if not 0 < level < 1:
        raise ValueError(f"{name}: level must be in (0, 1), got {level}")
    if n_boot < 1:
        raise ValueError(f"{name}: n_boot must be positive, got {n_boot}")


def _scipy_ci(data: tuple, stat, n_boot: int, seed: int, level: float, paired: bool = False):
    from scipy.stats import bootstrap

    if data[0].shape[-1] < 2:  # one item: no spread to resample
        v = np.asarray(stat(*data, axis=-1), dtype=float)
        return v, v
    res = bootstrap(
        data,
        stat,
        n_resamples=n_boot,
        confidence_level=level,
        method="percentile",
        vectorized=True,
        paired=paired,
        axis=-1,
        random_state=np.random.default_rng(seed),
    )
    return res.confidence_interval.low, res.confidence_interval.high


def _out(value, lo, hi) -> CI:
    value, lo, hi = (np.asarray(v, dtype=float) for v in (value, lo, hi))
    if value.ndim == 0:
        return CI(float(value), float(lo), float(hi))
    return CI(value, lo, hi)


def bootstrap_ci(
    values: Any, stat: Callable[..., Any] = np.mean, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> CI:
    """Percentile bootstrap interval of `stat` over the last axis of `values` (items).

    `stat` must take `axis=` (numpy reductions do). Input [..., n] gives arrays of shape [...].
    A constant sample gives a zero-width interval.
    """
    x = np.asarray(values, dtype=float)
    _check(x, "bootstrap_ci", level, n_boot)
    value = stat(x, axis=-1)
    if np.all(x == x[..., :1]):  # scipy refuses a degenerate sample; its interval is the point
        return _out(value, value, value)
    lo, hi = _scipy_ci((x,), stat, n_boot, seed, level)
    return _out(value, lo, hi)


def paired_bootstrap_ci(a: Any, b: Any, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> CI:
    """Mean of a - b over the same items with a paired percentile bootstrap interval: items are
    resampled together, so what the two settings share (an image's difficulty) cancels."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"paired_bootstrap_ci: shapes differ ({x.shape} vs {y.shape})")
    _check(x - y, "paired_bootstrap_ci", level, n_boot)
    d = x - y
    value = d.mean(axis=-1)
    if np.all(d == d[..., :1]):
        return _out(value, value, value)
    lo, hi = _scipy_ci((x, y), lambda u, v, axis: np.mean(u - v, axis=axis), n_boot, seed, level, paired=True)
    return _out(value, lo, hi)


def unpaired_bootstrap_ci(a: Any, b: Any, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> CI:
    """mean(a) - mean(b) of two independent samples (items need not correspond), with a
    percentile bootstrap interval that resamples each sample on its own (scipy.stats.bootstrap,
    paired=False)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    _check(x, "unpaired_bootstrap_ci", level, n_boot)
    _check(y, "unpaired_bootstrap_ci", level, n_boot)
    value = float(x.mean() - y.mean())
    if np.all(x == x[..., :1]) and np.all(y == y[..., :1]):
        return CI(value, value, value)
    lo, hi = _scipy_ci((x, y), lambda u, v, axis: np.mean(u, axis=axis) - np.mean(v, axis=axis), n_boot, seed, level)
    return _out(value, lo, hi)


def pair_mean_ci(matrix: Any, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> CI:
    """Mean over ordered pairs i != j of an [n, n] matrix, with a percentile bootstrap over the
    n points: a resample draws n points with replacement and takes the mean over its n(n-1)
    position pairs p != q, which is (c^T A c - c . diag A) / (n (n - 1)) for the draw counts c.

    Hand-written because scipy's bootstrap, handed the point indices, would build each
    resample's n x n submatrix (1,000 resamples of 500 points: 250 M gathers); the counts turn
    every resample into one row of a matrix product.
    """
    a = np.asarray(matrix, dtype=float)
    n = a.shape[0]
    if n < 2 or a.shape != (n, n):
        raise ValueError(f"pair_mean_ci: need a square [n>=2, n] matrix, got {a.shape}")
    diag = np.diag(a)
    value = (a.sum() - diag.sum()) / (n * (n - 1))
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    c = np.bincount((np.arange(n_boot)[:, None] * n + idx).ravel(), minlength=n_boot * n)
    c = c.reshape(n_boot, n).astype(float)
    boots = (((c @ a) * c).sum(axis=1) - c @ diag) / (n * (n - 1))
    alpha = (1 - level) / 2
    lo, hi = np.percentile(boots, [100 * alpha, 100 * (1 - alpha)])
    return CI(float(value), float(lo), float(hi))


def t_interval(values: Sequence[float], level: float = 0.95) -> CI:
    """Mean over seeds with a Student-t interval; one seed gives NaN bounds (no spread known)."""
    from scipy import stats

    x = np.asarray(values, dtype=float)
    mean = float(x.mean())
    if x.size < 2:
        return CI(mean, math.nan, math.nan)
    sem = x.std(ddof=1) / math.sqrt(x.size)
    if sem == 0:
        return CI(mean, mean, mean)
    lo, hi = stats.t.interval(level, x.size - 1, loc=mean, scale=sem)
    return CI(mean, float(lo), float(hi))


def welch_interval(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> CI:
    """mean(b) - mean(a) over two independent sets of seeds, with Welch's t interval (unequal
    variances). Fewer than two values on a side: NaN bounds; no spread on either side: a point."""
    from scipy import stats

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = float(y.mean() - x.mean())
    if x.size < 2 or y.size < 2:
        return CI(diff, math.nan, math.nan)
    va, vb = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    se = math.sqrt(va + vb)
    if se == 0:
        return CI(diff, diff, diff)
    ra, rb = va / (va + vb), vb / (va + vb)  # Welch-Satterthwaite in shares: no underflow of tiny variances
    df = 1 / (ra**2 / (x.size - 1) + rb**2 / (y.size - 1))
    half = float(stats.t.ppf((1 + level) / 2, df)) * se
    return CI(diff, diff - half, diff + half)


def seed_summary(rows: Sequence[dict], by: Sequence[str], value: str) -> list[dict]:
    """Group rows by `by`; per group the mean of `value` over seeds with its t-interval, the
    standard deviation and the per-seed values, in first-seen order."""
    groups: dict[tuple, list[float]] = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in by), []).append(float(r[value]))
    out = []
    for key, vals in groups.items():
        ci = t_interval(vals)
        out.append(
            {
                **dict(zip(by, key)),
                "value": ci.value,
                "lo": ci.lo,
                "hi": ci.hi,
                "sd": float(np.std(vals, ddof=1)) if len(vals) > 1 else math.nan,
                "n_seeds": len(vals),
                "per_seed": vals,
            }
        )
    return out


def mcnemar(correct_a: Any, correct_b: Any) -> dict:
    """Exact McNemar test on paired right/wrong outcomes of two settings on the same items.

    Returns the discordant counts (a right where b is wrong, and the reverse) and the two-sided
    p-value of the binomial test on them (statsmodels' exact McNemar)."""
    from statsmodels.stats.contingency_tables import mcnemar as _mcnemar

    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"mcnemar: shapes differ ({a.shape} vs {b.shape})")
    table = [[int((a & b).sum()), int((a & ~b).sum())], [int((~a & b).sum()), int((~a & ~b).sum())]]
    res = _mcnemar(table, exact=True)
    return {"a_only": table[0][1], "b_only": table[1][0], "pvalue": float(res.pvalue)}


def spearman_gap_ci(x: Any, y: Any, ref: Any, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> CI:
    """Spearman rho(x, ref) - rho(y, ref) over the same items (two grids against one reference),
    with a percentile bootstrap over the items, resampled together for both.

    Hand-written because scipy's bootstrap calls spearmanr once per resample (2,000 x 2 calls);
    ranking every resample at once (scipy.stats.rankdata along an axis, ties averaged as spearmanr
    does) and taking row-wise Pearson correlations of the ranks is the same statistic in one pass
    (tests/test_stats_crossed.py checks it against a loop over spearmanr)."""
    from scipy.stats import rankdata

    x, y, r = (np.asarray(v, dtype=float) for v in (x, y, ref))
    n = x.size
    if not (x.shape == y.shape == r.shape) or x.ndim != 1 or n < 3:
        raise ValueError("spearman_gap_ci: need three 1-d arrays of the same length >= 3")
    idx = np.vstack([np.arange(n), np.random.default_rng(seed).integers(0, n, (n_boot, n))])

    def rho(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ra, rb = rankdata(a, axis=1), rankdata(b, axis=1)
        ra -= ra.mean(axis=1, keepdims=True)
        rb -= rb.mean(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (ra * rb).sum(axis=1) / np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))

    gaps = rho(x[idx], r[idx]) - rho(y[idx], r[idx])
    boots = gaps[1:][np.isfinite(gaps[1:])]  # a resample of tied values has no rank correlation
    alpha = (1 - level) / 2
    lo, hi = np.percentile(boots, [100 * alpha, 100 * (1 - alpha)])
    return CI(float(gaps[0]), float(lo), float(hi))
