"""Latent regulators for latent vector recovery (SPEC part A), behind one registry.

import regulators
regulators.names()                         # every name get() accepts (extras included)
reg = regulators.get("wasserstein")
reg.penalty(z, prior_sample=u)             # z [..., d], u [..., m] -> [...]
reg = regulators.get("logistic_cutoff", b=2.0)
z = reg.resample(z, hp, generator=g)       # hp broadcasts to z.shape[:-1]
"""

from regulators import losses, resampling  # noqa: F401  (importing registers the entries)
from regulators.distances import energy_1d, mean_abs_pair_difference, wasserstein_1d
from regulators.priors import DEFAULT_PRIOR, Prior, get_prior, prior_names
from regulators.registry import (
    KINDS,
    LossRegulator,
    Regulator,
    ResampleRegulator,
    get,
    names,
    register,
)
from regulators.resampling import logistic_cutoff_probability, truncated_normal_cutoff_probability

__all__ = [
    "DEFAULT_PRIOR",
    "KINDS",
    "LossRegulator",
    "Prior",
    "Regulator",
    "ResampleRegulator",
    "energy_1d",
    "get",
    "get_prior",
    "logistic_cutoff_probability",
    "mean_abs_pair_difference",
    "names",
    "prior_names",
    "register",
    "truncated_normal_cutoff_probability",
    "wasserstein_1d",
]
