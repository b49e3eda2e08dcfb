"""Exact 1-D distances between two empirical samples, batched over leading dims, differentiable in z.

z [..., d] and u [..., m] (leading dims broadcastable, m may differ from d) are each one 1-D sample
per leading index. Every distance here is an integral over the two empirical CDFs F_z, F_u:
    W1       = int |F_z - F_u| dx
    energy   = sqrt(2 int (F_z - F_u)^2 dx)                   (scipy.stats.energy_distance)
    E|U - Z| = int F_z (1 - F_u) + F_u (1 - F_z) dx            (mean |u_i - z_j| over all pairs)
The CDFs are step functions, so each integral is a finite sum over the gaps of the merged sorted
sample (scipy's `_cdf_distance` does the same with two searchsorted calls). Memory is O(d + m) per
row, never O(d * m). With ties the merged order inside a run of equal values is arbitrary, but
every gap inside such a run is 0, so the sum is still exact.

Two routes compute the same sums (route="auto" picks numpy on the CPU, torch elsewhere):
- "torch": sort cat(z, u) with torch.sort; a running count of which side each merged value came
  from is the CDF there. Plain autograd. The route for CUDA (no host copy), and on the CPU the
  reference the numpy route is tested and benchmarked against (the implementation it replaced).
- "numpy": for float32/float64 on the CPU, where torch.sort and torch's elementwise kernels are
  slow (see benchmarks/regulator_speed.py). z and u are sorted separately (numpy SIMD sorts, see
  fastsort.py); the merge is recovered as counts: c_i = how many u precede the i-th smallest z,
  e_j = how many z precede the j-th smallest u (a z first among equal values). Then every merged
  gap starts at exactly one element: the gap after z_(i) runs to min(z_(i+1), u_(c_i)) with the
  CDFs at (i+1)/d, c_i/m; the gap after u_(j) to min(z_(e_j), u_(j+1)) at e_j/d, (j+1)/m. The
  derivative in z_(i) is h(before) - h(after) (the gap it closes minus the gap it opens), exact
  rationals from the counts, scattered back through the sort permutation; backward is one
  multiply. The distance W1 of two equal-size samples is mean |z_(i) - u_(i)|: no merge at all.
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from regulators.fastsort import float32_keys, for_row_blocks, sort_rows

ROUTES = ("auto", "numpy", "torch")


# ---------------------------------------------------------------------------------------------
# torch route


def _merged_cdfs(z: torch.Tensor, u: torch.Tensor):
    """Gaps of the merged sorted sample and the two CDFs at the left end of each gap.

    Returns (gaps, F_z, F_u), each [..., d + m - 1], in z's dtype.
    """
    d, m = z.shape[-1], u.shape[-1]
    both = torch.cat([z, u], dim=-1)
    values, order = torch.sort(both, dim=-1)
    from_z = order < d
    count_z = from_z.cumsum(-1, dtype=torch.int32)[..., :-1]
    count_u = (~from_z).cumsum(-1, dtype=torch.int32)[..., :-1]
    gaps = values[..., 1:] - values[..., :-1]
    return gaps, count_z.to(z.dtype) / d, count_u.to(z.dtype) / m


def _torch_route(kind: str, z: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    gaps, fz, fu = _merged_cdfs(z, u)
    if kind == "wasserstein":
        return ((fz - fu).abs() * gaps).sum(-1)
    if kind == "pairs":
        return ((fz * (1 - fu) + fu * (1 - fz)) * gaps).sum(-1)
    s = 2 * ((fz - fu).square() * gaps).sum(-1)
    # At identical samples the square root has no derivative: take 0 (a subgradient), not NaN.
    # s * 0 there rather than a constant 0, so that a NaN row stays NaN.
    positive = s > 0
    return torch.where(positive, torch.where(positive, s, torch.ones_like(s)).sqrt(), s * 0)


# ---------------------------------------------------------------------------------------------
# numpy route


def _exact_from_u(zs: np.ndarray, us: np.ndarray) -> np.ndarray:
    """Merged order's sources (True: from u) by a stable argsort of the concatenation."""
    return np.argsort(np.concatenate([zs, us], axis=-1), axis=-1, kind="stable") >= zs.shape[1]


def merge_counts(zs: np.ndarray, us: np.ndarray, kz=None, ku=None) -> tuple[np.ndarray, np.ndarray]:
    """For sorted rows zs [r, d], us [r, m]: c [r, d], how many u precede each zs_i, and e [r, m],
    how many z precede each us_j (int64), in the merged order that puts a z before an equal u.
    kz, ku: the rows' float32 keys if already at hand.

    float32: one int32 sort of the concatenated keys, whose lowest bit is replaced by the source
    (z 0, u 1). That is numpy's fast 32-bit sort (a 64-bit sort of 512 columns is 8x slower), and
    it is exact except where a z and a u share a key up to that bit: such rows show two adjacent
    keys that differ by 1, and are redone exactly (a stable argsort of the values).
    """
    r, d = zs.shape
    m = us.shape[1]
    if zs.dtype == np.float32 and sys.byteorder == "little":
        merged = np.empty((r, d + m), dtype=np.int32)
        if kz is None:
            float32_keys(zs, out=merged[:, :d])
        else:
            merged[:, :d] = kz
        merged[:, :d] &= np.int32(-2)
        float32_keys(us, out=merged[:, d:])
        merged[:, d:] |= np.int32(1)
        merged.sort(axis=-1)
        from_u = (merged.view(np.uint8)[:, ::4] & 1).view(bool)  # the lowest byte of each key
        # A difference of 1 between neighbours: maybe a z and a u one ulp apart, maybe a u then a z
        # in the next bin (harmless, also redone). Across row ends it only redoes one more row.
        flat = merged.reshape(-1)
        unsure = np.flatnonzero(flat[1:] - flat[:-1] == 1) // (d + m)
        if unsure.size:
            unsure = np.unique(unsure)
            from_u[unsure] = _exact_from_u(zs[unsure], us[unsure])
    else:
        from_u = _exact_from_u(zs, us)
    # Each row holds exactly d z's and m u's, so the flat positions reshape row by row; a flat
    # position is row * (d + m) + (elements before it), so subtract row * (d + m) + own rank.
    c = np.flatnonzero(~from_u).reshape(r, d)
    c -= _ramp(r, d, d + m)
    e = np.flatnonzero(from_u).reshape(r, m)
    e -= _ramp(r, m, d + m)
    return c, e


def _ramp(r: int, n: int, row_step: int) -> np.ndarray:
    """[r, n] int64: row * row_step + column."""
    return np.arange(r)[:, None] * row_step + np.arange(n)


def _rows(kind, z, u, value, grad_z, grad_u):
    """One chunk of rows: value [r] and, where given, the derivatives grad_z [r, d], grad_u [r, m].
    NaN and inf make their rows NaN or inf by design, without numpy's warnings."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        _rows_unchecked(kind, z, u, value, grad_z, grad_u)


def _rows_unchecked(kind, z, u, value, grad_z, grad_u):
    r, d = z.shape
    m = u.shape[1]
    dt = z.dtype
    zs, z_order, kz = sort_rows(z, grad_z is not None)
    us, u_order, ku = sort_rows(u, grad_u is not None)
    if kind == "wasserstein" and d == m:
        diff = zs - us
        value[...] = np.abs(diff).mean(axis=-1)
        sign = np.sign(diff)
        coef_z, coef_u = sign * dt.type(1 / d), sign * dt.type(-1 / m)
    else:
        c, e = merge_counts(zs, us, kz, ku)
        # The element after zs_i: min(zs_(i+1), us_(c_i)); after us_j: min(zs_(e_j), us_(j+1)).
        # Gathered from the rows padded with +inf, by flat index row * (width + 1) + count.
        rows = np.arange(r)[:, None]
        zpad = np.concatenate([zs, np.full((r, 1), np.inf, dtype=dt)], axis=-1)
        upad = np.concatenate([us, np.full((r, 1), np.inf, dtype=dt)], axis=-1)
        gap_z = np.minimum(zpad[:, 1:], upad.reshape(-1).take(c + rows * (m + 1)))
        gap_z -= zs
        gap_u = np.minimum(zpad.reshape(-1).take(e + rows * (d + 1)), upad[:, 1:])
        gap_u -= us
        # The last merged element opens no gap (h is 0 after it, but inf - x could give NaN).
        gap_z[:, -1] = np.where(c[:, -1] == m, 0, gap_z[:, -1])
        gap_u[:, -1] = np.where(e[:, -1] == d, 0, gap_u[:, -1])
        # Counts are small integers: exact in int32 unless d * m is huge. h and its jump dh at
        # each element are integers times `scale`, turned into floats before meeting the gaps
        # (int32 * float32 would promote to float64).
        it = np.int32 if 4 * (d + 1) * (m + 1) < 2**31 else np.int64
        c, e = c.astype(it), e.astype(it)
        i, j = np.arange(d, dtype=it), np.arange(m, dtype=it)
        if kind == "pairs":  # h = F_z (1 - F_u) + F_u (1 - F_z) = (P m + Q d - 2 P Q) / (d m)
            scale = 1.0 / (d * m)
            h_z = ((i + 1) * m + c * (d - 2 * (i + 1))).astype(dt)
            h_u = ((j + 1) * d + e * (m - 2 * (j + 1))).astype(dt)
            dh_z, dh_u = (2 * c - m).astype(dt), (2 * e - d).astype(dt)
        else:
            # (F_z - F_u) * d * m just before zs_i and just before us_j.
            a = (i * m - c * d).astype(dt)
            b = (e * m - j * d).astype(dt)
            if kind == "wasserstein":  # h = |F_z - F_u|
                scale = 1.0 / (d * m)
                h_z, h_u = np.abs(a + m), np.abs(b - d)
                dh_z, dh_u = np.abs(a) - h_z, np.abs(b) - h_u
            else:  # energy: h = (F_z - F_u)^2, in floats (the squares may overflow integers)
                scale = 1.0 / (d * m) ** 2
                h_z, h_u = np.square(a + m), np.square(b - d)
                dh_z, dh_u = (2 * a + m) * dt.type(-m), (2 * b - d) * dt.type(d)
        gap_z *= h_z
        gap_u *= h_u
        s = (gap_z.sum(axis=-1) + gap_u.sum(axis=-1)) * dt.type(scale)
        if kind == "energy":
            # dE/dS = 1 / E; at E = 0 (identical samples) a subgradient 0, not a division by 0.
            value[...] = np.sqrt(2 * s)
            factor = np.divide(scale, value, out=np.zeros_like(value), where=value > 0)[:, None]
        else:
            value[...] = s
            factor = dt.type(scale)
        coef_z, coef_u = dh_z * factor, dh_u * factor
    if grad_z is not None:
        grad_z.reshape(-1)[z_order + np.arange(r)[:, None] * d] = coef_z
    if grad_u is not None:
        grad_u.reshape(-1)[u_order + np.arange(r)[:, None] * m] = coef_u


class _RowDistance(torch.autograd.Function):
    """z [R, d], u [R, m] on the CPU -> [R]. The forward computes the derivatives it will need
    (they fall out of the counts); the backward only scales them by the incoming gradient."""

    @staticmethod
    def forward(ctx, z, u, kind, grad_enabled):
        # needs_input_grad ignores torch.no_grad(), hence the caller's grad mode as an argument.
        want_z, want_u = grad_enabled and ctx.needs_input_grad[0], grad_enabled and ctx.needs_input_grad[1]
        zn, un = z.detach().contiguous().numpy(), u.detach().contiguous().numpy()
        rows, d, m = zn.shape[0], zn.shape[1], un.shape[1]
        value = np.empty(rows, dtype=zn.dtype)
        grad_z = np.empty((rows, d), dtype=zn.dtype) if want_z else None
        grad_u = np.empty((rows, m), dtype=un.dtype) if want_u else None
        arrays = [zn, un, value] + [g for g in (grad_z, grad_u) if g is not None]

        def block(zb, ub, vb, *grads):
            grads = list(grads)
            gz = grads.pop(0) if want_z else None
            gu = grads.pop(0) if want_u else None
            _rows(kind, zb, ub, vb, gz, gu)

        # Chunks are row slices of these C-contiguous arrays, so _rows may write through reshape(-1).
        for_row_blocks(block, arrays, d + m)
        ctx.save_for_backward(
            None if grad_z is None else torch.from_numpy(grad_z),
            None if grad_u is None else torch.from_numpy(grad_u),
        )
        return torch.from_numpy(value)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        grad_z, grad_u = ctx.saved_tensors
        g = grad_out.unsqueeze(-1)
        return (None if grad_z is None else g * grad_z, None if grad_u is None else g * grad_u, None, None)


# ---------------------------------------------------------------------------------------------
# public


def _distance(kind: str, z: torch.Tensor, u: torch.Tensor, route: str) -> torch.Tensor:
    if z.dim() < 1 or u.dim() < 1 or z.shape[-1] < 1 or u.shape[-1] < 1:
        raise ValueError(f"need non-empty samples on the last dim, got z {tuple(z.shape)}, u {tuple(u.shape)}")
    if route not in ROUTES:
        raise ValueError(f"unknown route {route!r}; valid: {', '.join(ROUTES)}")
    cpu_float = z.device.type == "cpu" and z.dtype in (torch.float32, torch.float64)
    if route == "numpy" and not cpu_float:
        raise ValueError(f"route 'numpy' needs float32/float64 on the CPU, got {z.dtype} on {z.device}")
    d, m = z.shape[-1], u.shape[-1]
    lead = torch.broadcast_shapes(z.shape[:-1], u.shape[:-1])
    z = z.expand(*lead, d)
    u = u.to(dtype=z.dtype, device=z.device).expand(*lead, m)
    if route == "torch" or not cpu_float:
        return _torch_route(kind, z, u)
    rows = _RowDistance.apply(z.reshape(-1, d), u.reshape(-1, m), kind, torch.is_grad_enabled())
    return rows.reshape(lead)


def wasserstein_1d(z: torch.Tensor, u: torch.Tensor, *, route: str = "auto") -> torch.Tensor:
    """W1 between the elements of z [..., d] and of u [..., m]; shape = broadcast leading dims."""
    return _distance("wasserstein", z, u, route)


def energy_1d(z: torch.Tensor, u: torch.Tensor, *, route: str = "auto") -> torch.Tensor:
    """Energy distance sqrt(2 int (F_z - F_u)^2) between the elements of z and of u.

    At identical samples the value is 0 and the square root has no derivative; the gradient
    there is taken as 0 (a subgradient) instead of NaN.
    """
    return _distance("energy", z, u, route)


def mean_abs_pair_difference(z: torch.Tensor, u: torch.Tensor, *, route: str = "auto") -> torch.Tensor:
    """mean over all pairs (i, j) of |u_i - z_j| (the Lukaszyk-Karmowski distance of two samples)."""
    return _distance("pairs", z, u, route)
