"""Importing this module registers the built-in experiments (the registry imports it on first
use; `bench experiments` lists them)."""

import bench.experiments.mnist.mnist_run
import bench.experiments.rank.rank_run
import bench.experiments.recover.dependence
import bench.experiments.recover.recover_run
import bench.experiments.toy.isometry
import bench.experiments.toy.stochastic  # noqa: F401
