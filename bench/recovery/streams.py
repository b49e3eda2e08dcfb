"""Counter-based random streams: each random number of the engine is a pure function of where it
is used, (seed, cell, purpose, step, image, restart, column), computed for a whole block in one
vectorised call.

Why: a cell must give the same result alone or in any chunk (so chunks can be split any way and
run anywhere). Sequential generators can only promise that with one generator per cell, which
meant a Python loop over the cells at every step. A counter-based stream needs no state: a
block's draws are a hash of their coordinates, so all cells of a block are drawn at once, the
same on every device and for any chunking, and an image's draws do not even depend on which
other images are recovered with it.

The hash is SplitMix64's output function (Steele, Lea and Flood 2014) on int64 tensors, with
logical shifts written as arithmetic shifts plus a mask; int64 products wrap modulo 2^64 on the
CPU and on CUDA (tests/test_recovery_streams.py checks it against Python's integers). Keys nest:
a 64-bit key per (seed, cell) from blake2b, mixed with (purpose, step) once per call and with
each row's key (image, restart), then a Weyl sequence over column pairs, SplitMix64's own
construction. Each 64-bit output gives two 24-bit uniforms; a normal prior turns a pair into two
normals by Box-Muller (24-bit uniforms reach 5.9 sigma), other priors map each uniform through
their inverse CDF. Distinct coordinates collide with probability about 2^-64 per pair.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import torch

from regulators import get_prior

_M1 = 0xBF58476D1CE4E5B9 - 2**64  # SplitMix64's multipliers as signed int64
_M2 = 0x94D049BB133111EB - 2**64
_GOLDEN = 0x9E3779B97F4A7C15 - 2**64  # its Weyl increment
PURPOSES = {"z0": 1, "noise": 2, "prior": 3, "fire": 4, "fresh": 5, "step-noise": 6}


def _signed(v: int) -> int:
    v &= 2**64 - 1
    return v - 2**64 if v >= 2**63 else v


def mix64(x: torch.Tensor) -> torch.Tensor:
    """SplitMix64's finaliser of an int64 tensor (bits read as unsigned), a new tensor."""
    x = x ^ ((x >> 30) & ((1 << 34) - 1))
    x.mul_(_M1)
    x.bitwise_xor_((x >> 27) & ((1 << 37) - 1))
    x.mul_(_M2)
    x.bitwise_xor_((x >> 31) & ((1 << 33) - 1))
    return x


def mix64_int(v: int) -> int:
    """The same on a Python int (the reference the tensor version is tested against)."""
    v &= 2**64 - 1
    v ^= v >> 30
    v = (v * 0xBF58476D1CE4E5B9) & (2**64 - 1)
    v ^= v >> 27
    v = (v * 0x94D049BB133111EB) & (2**64 - 1)
    return v ^ (v >> 31)


def row_keys(image_ids: Sequence[int], restarts: int, device=None) -> torch.Tensor:
    """int64 [len(image_ids) * restarts] (row = image * restarts + restart): one key per row."""
    ids = torch.as_tensor([int(i) for i in image_ids], dtype=torch.int64).repeat_interleave(restarts)
    rep = torch.arange(restarts, dtype=torch.int64).repeat(len(image_ids))
    return mix64(mix64(ids * _GOLDEN + 1) ^ rep).to(device)


def cell_keys(seeds: Sequence[int], device=None) -> torch.Tensor:
    """int64 [C] from 63-bit seeds (engine.derive_seed of (seed, "draws", run id))."""
    return torch.tensor([_signed(int(s)) for s in seeds], dtype=torch.int64, device=device)


def block_keys(cells: torch.Tensor, purpose: str, step: int, rows: torch.Tensor) -> torch.Tensor:
    """int64 [C, R]: the key of every (cell, row) for one purpose at one step."""
    tag = _signed(mix64_int(PURPOSES[purpose] * 0x100000001B3 + step))
    return mix64(mix64(cells ^ tag).unsqueeze(-1) ^ rows)


def _bits(keys: torch.Tensor, pairs: int) -> torch.Tensor:
    weyl = torch.arange(1, pairs + 1, dtype=torch.int64, device=keys.device) * _GOLDEN
    return mix64(keys.unsqueeze(-1) + weyl)  # [..., pairs]


def _u24(x: torch.Tensor, shift: int, dtype) -> torch.Tensor:
    """The 24 bits of x above bit `shift`, as floats k + 0.5 in (0, 2^24)."""
    return ((x >> shift) & 0xFFFFFF).to(dtype).add_(0.5)


def uniforms(keys: torch.Tensor, n: int, dtype=torch.float32) -> torch.Tensor:
    """[..., n] i.i.d. U(0, 1) (open interval, 24-bit) for each key [...]."""
    x = _bits(keys, (n + 1) // 2)
    return torch.cat([_u24(x, 40, dtype), _u24(x, 16, dtype)], -1)[..., :n].mul_(2.0**-24)


def sample(prior, keys: torch.Tensor, n: int, dtype=torch.float32) -> torch.Tensor:
    """[..., n] i.i.d. draws from `prior` (a regulators.Prior) for each key [...]."""
    if prior.name != "normal":
        return prior.icdf(uniforms(keys, n, dtype))
    x = _bits(keys, (n + 1) // 2)  # Box-Muller: one 64-bit hash makes two normals
    r = _u24(x, 40, dtype).mul_(2.0**-24).log_().mul_(-2).sqrt_()
    theta = ((x >> 16) & 0xFFFFFF).to(dtype).mul_(2 * math.pi * 2.0**-24)  # in [0, 2 pi)
    return torch.cat([r * theta.cos(), r.mul_(theta.sin_())], -1)[..., :n]


def draw(cells: torch.Tensor, purpose: str, step: int, rows: torch.Tensor, n: int, prior=None) -> torch.Tensor:
    """[C, R, n]: every (cell, row)'s n draws for one purpose at one step, in one call: uniforms
    (prior None) or draws from `prior`."""
    keys = block_keys(cells, purpose, step, rows)
    return uniforms(keys, n) if prior is None else sample(prior, keys, n)


# ---------------------------------------------------------------------------------------------
# the engine's draws: which stream each random number of a recovery comes from


def derive_seed(*parts) -> int:
    """A 63-bit seed from any tuple of ints and strings, stable across processes and platforms."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def _shared_rows(
    seed: int, purpose: str, image_ids: Sequence[int], restarts: int, n: int, prior, device=None
) -> torch.Tensor:
    """[len(image_ids) * restarts, n] (row = image * restarts + restart) from the counter-based
    stream of (seed, purpose, image id, restart): a row never depends on the other images, on the
    number of restarts, on the cell or on the device."""
    cell = cell_keys([derive_seed(int(seed), purpose)], device)
    return draw(cell, purpose, 0, row_keys(image_ids, restarts, device), n, prior)[0]


def initial_latents(seed: int, image_ids: Sequence[int], restarts: int, d_z: int, prior, device=None) -> torch.Tensor:
    """z0 [len(image_ids) * restarts, d_z] drawn from the prior, the same for every cell."""
    return _shared_rows(seed, "z0", image_ids, restarts, d_z, prior, device)


def initial_noise(seed: int, image_ids: Sequence[int], restarts: int, k: int, device=None) -> torch.Tensor:
    """Fixed generator noise eps [len(image_ids) * restarts, k] ~ N(0, I), drawn as z0 is."""
    return _shared_rows(seed, "noise", image_ids, restarts, k, get_prior("normal"), device)


def cell_draws(
    seed: int,
    run_id: str,
    purpose: str,
    step: int,
    image_ids: Sequence[int],
    restarts: int,
    width: int,
    prior=None,
    device=None,
) -> torch.Tensor:
    """One cell's draws [len(image_ids) * restarts, width] for one purpose at one step: the prior
    sample ("prior", prior given; step `steps` is the final loss's), the resampling trial uniforms
    ("fire", prior None) and fresh values ("fresh"), the resampled generator noise ("step-noise").
    The engine draws a block of cells at once; each cell's slice equals this."""
    cell = cell_keys([derive_seed(int(seed), "draws", run_id)], device)
    return draw(cell, purpose, step, row_keys(image_ids, restarts, device), width, prior)[0]
