"""The built-in experiments, each one module registered with the pipeline (bench.pipeline).

Importing this package registers them: `bench experiments` lists them, and every `bench`
command runs one of them through `bench.pipeline.run_experiment`.
"""

from bench.experiments import dependence, isometry, mnist, rank, recover, stochastic  # noqa: F401
