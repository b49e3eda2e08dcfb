"""The recipes of ARCHITECTURE.md are files in examples/, shown there as they are, and each runs:
an experiment with its claim, a regulator with its grid rows, a generator family (swept in
tests/test_families.py) and a sweep file."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").iterdir())


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_architecture_shows_each_example_as_it_is(path):
    assert path.read_text().rstrip() in (ROOT / "ARCHITECTURE.md").read_text()


@pytest.fixture
def unregister_means():
    yield
    import sys

    from bench.claims import rules as claims
    from bench.pipeline import unregister

    unregister("means")
    claims.CLAIMS.remove("mean-is-zero")
    sys.modules.pop("bench_plugin_means_experiment", None)
    from bench import plugins

    key = str((ROOT / "examples" / "means_experiment.py").resolve())
    if key in plugins._LOADED:
        plugins._LOADED.remove(key)


def test_the_experiment_example_runs_and_its_claim_reaches_each_outcome(unregister_means, tmp_path, capsys):
    from bench.claims import Estimate, get
    from bench.pipeline import load

    plugin = str(ROOT / "examples" / "means_experiment.py")
    assert (
        main(
            [
                "--plugin",
                plugin,
                "run",
                "means",
                "--seeds",
                "0,1",
                "--set",
                "n=200",
                "--no-track",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    (v,) = load(tmp_path / "means.json").verdict_objs()
    assert v.key == "mean-is-zero" and v.label == "reproduced"
    claim = get("mean-is-zero")
    for value, label in ((1.0, "reproduced"), (5.0, "inconclusive"), (7.0, "not reproduced")):
        assert claim.judge("x", Estimate("e", value, value, value), "").label == label
    assert main(["--plugin", plugin, "run", "means", "--set", "n=1", "--out", str(tmp_path / "never")]) == 2
    assert "--n: 1 is below the minimum 2" in capsys.readouterr().err


def test_the_regulator_example_has_cells_on_both_grids():
    import regulators
    from bench.plugins import load
    from bench.recovery.grid import expand_grid

    load(str(ROOT / "examples" / "my_regulator.py"))
    try:
        assert [c.id for c in expand_grid("quick", ["l1_norm"])] == ["l1_norm|lr=0.1|hp=0.1", "l1_norm|lr=0.1|hp=1"]
        assert len(expand_grid("paper", ["l1_norm"])) == 6
        import torch

        z = torch.randn(4000, 64, generator=torch.Generator().manual_seed(0))
        assert abs(float(regulators.get("l1_norm").penalty(z).mean())) < 0.01  # 0 on average under N(0, I)
    finally:
        regulators.registry.REGISTRY.remove("l1_norm")


def test_the_sweep_file_example(tmp_path, capsys):
    sweep = str(ROOT / "examples" / "sweep.toml")
    assert main(["isometry", "--config", sweep, "--print-config"]) == 0
    text = capsys.readouterr().out
    assert 'objectives = ["lwgan"]' in text and "lambdas = [0.0, 1.0]" in text and "iterations = 300" in text
    argv = [
        "isometry",
        "--config",
        sweep,
        "--iterations",
        "20",
        "--width",
        "4",
        "--rank-reps",
        "2",
        "--critic-steps",
        "2",
        "--device",
        "cpu",
        "--no-track",
        "--out",
        str(tmp_path),
    ]
    assert main(argv) == 0
    from bench.pipeline import load

    s = load(tmp_path / "isometry.json").settings_obj()
    assert s.lambdas == (0.0, 1.0) and s.objectives == ("lwgan",) and s.iterations == 20  # the option won


def test_the_cluster_sweep_file_holds_run_and_executor_settings_and_round_trips(tmp_path, capsys):
    """`--print-config` shows the device, the executor and the executor's own settings; what it
    prints reads back to the same configuration; a table of another executor is refused."""
    sweep = ROOT / "examples" / "cluster.toml"
    assert main(["recover", "--config", str(sweep), "--print-config"]) == 0
    text = capsys.readouterr().out
    for line in ('device = "cuda"', 'executor = "slurm"', 'train_precision = "bf16"', "[slurm]", 'partition = "gpu"'):
        assert line in text
    assert "generator_seeds = [0, 1, 2, 3, 4]" in text and "cpus_per_task = 8" in text
    printed = tmp_path / "printed.toml"
    printed.write_text(text, encoding="utf-8")
    assert main(["recover", "--config", str(printed), "--print-config"]) == 0
    assert capsys.readouterr().out == text
    # an option on the command line wins over the file
    assert main(["recover", "--config", str(printed), "--slurm-partition", "cpu", "--print-config"]) == 0
    assert 'partition = "cpu"' in capsys.readouterr().out
    # the file's [slurm] table does not apply to another executor
    assert main(["recover", "--config", str(printed), "--executor", "ray", "--print-config"]) == 2
    err = capsys.readouterr().err.strip()
    assert "a [slurm] table, but the executor is ray" in err and "\n" not in err
