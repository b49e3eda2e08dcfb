"""Importing this module registers the built-in experiments (the registry imports it on first
use; `bench experiments` lists them)."""

from bench.experiments import dependence, isometry, mnist, rank, recover, stochastic  # noqa: F401
