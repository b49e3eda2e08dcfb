"""Experiments as a registry on one pipeline.

    from bench.pipeline import Experiment, register, run_experiment, RunOptions
    register(Experiment("tiny", "a tiny experiment", TinySettings, cells, render, run_cell=run_cell))
    output = run_experiment("tiny", TinySettings(), RunOptions(out=Path("reports")))

See registry.py for what an experiment provides, run.py for what the pipeline does with it.
"""

from bench.pipeline.context import Context
from bench.pipeline.registry import Experiment, get, names, register, unregister
from bench.pipeline.results import Results, load
from bench.pipeline.run import RunOptions, RunOutput, run_experiment
from bench.pipeline.saved import rebuild

__all__ = ["Context", "Experiment", "Results", "RunOptions", "RunOutput", "get", "load", "names",
           "rebuild", "register", "run_experiment", "unregister"]  # fmt: skip
