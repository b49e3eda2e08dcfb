"""`bench recover` end to end on a few real test images, with tiny models trained in the test."""

import dataclasses

import pandas as pd
import pytest

import bench.classifier
import bench.data
from bench.cli import main


@dataclasses.dataclass
class TinyClassifierConfig(bench.classifier.ClassifierConfig):
    width: int = 4
    epochs: int = 1


@pytest.fixture
def small_mnist(mnist_dir, monkeypatch):
    """The real MNIST cut to 1,200 training and 200 test images, so tiny models train in seconds."""
    full = bench.data.load_mnist(mnist_dir)
    small = dataclasses.replace(
        full,
        train_images=full.train_images[:1200],
        train_labels=full.train_labels[:1200],
        test_images=full.test_images[:200],
        test_labels=full.test_labels[:200],
        fingerprint="test-subset-1200",
    )
    monkeypatch.setattr(bench.data, "load_mnist", lambda *a, **k: small)
    # A tiny scorer: this test checks the pipeline, not the classifier (tests/test_classifier.py does).
    monkeypatch.setattr(bench.classifier, "ClassifierConfig", TinyClassifierConfig)
    return small


def test_recover_end_to_end(small_mnist, mnist_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    out = tmp_path / "rep"
    argv = [
        "recover",
        "--regulator",
        "wasserstein,log_normal_density,truncated_normal_cutoff",
        "--grid",
        "quick",
        "--images",
        "12",
        "--steps",
        "4",
        "--seeds",
        "0,1",
        "--generator",
        "lsgan.test",
        "--device",
        "cpu",
        "--data-dir",
        mnist_dir,
        "--out",
        str(out),
        "--quality-samples",
        "500",
    ]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "not cached, will train it now" in captured.err  # says what it does before it starts
    assert "recover: verdicts" in captured.out and "(1) the Wasserstein regulator is the best" in captured.out

    csv = pd.read_csv(out / "recover-quick.csv")
    assert len(csv) == 6 * 2  # two quick cells per regulator x two seeds
    assert set(csv["status"]) == {"finished"}
    assert csv["accuracy"].between(0, 100).all()
    assert (csv["accuracy_lo"] <= csv["accuracy"]).all() and (csv["accuracy"] <= csv["accuracy_hi"]).all()
    assert csv["paper_accuracy"].notna().all()  # quick cells are paper cells

    report = (out / "recover-quick.md").read_text()
    for needle in (
        "Table 1: Wasserstein distance",
        "Table 4: log-normal density",
        "Table 6: truncated normal",
        "Spearman",
        "## Verdict",
        "Rules (bench.claims",
        "## Departures from the paper",
        "### Credibility bars",
        "Cross-fitted best cells",
        "## How stable is each verdict",
        "Classifier (scorer): test accuracy",
        "## Regulators x generators",
        "Run facts",
        "94.7",
        "Paired against wasserstein's cross-fitted best cell",
        "McNemar p",
    ):
        assert needle in report, needle
    for stem in ("recover-quick-best", "recover-quick-tables", "recover-quick-generators"):
        assert (out / f"{stem}.png").stat().st_size > 0 and (out / f"{stem}.pdf").stat().st_size > 0
        assert f"]({stem}.png)" in report  # embedded in the report

    # MLflow: one parent, one child per (grid cell, seed) with the params the UI charts need.
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    exp = client.get_experiment_by_name("recover")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 12
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    for c in children:
        assert {
            "regulator",
            "learning_rate",
            "log10_lr",
            "hyperparameter",
            "generator",
            "generator_seed",
            "latent_rank",
            "seed",
        } <= set(c.data.params)
        assert "accuracy" in c.data.metrics
    assert "best_regulator" in parents[0].data.tags

    # What users filter runs by: every child names its generator's checkpoint (the digest the
    # saved results record), the scorer's, the data fingerprint, the device; every run has the
    # MNIST test set as its dataset input.
    from bench.pipeline import load

    saved = load(out / "recover-quick.json")
    for c in children:
        seed = c.data.params["generator_seed"]
        assert c.data.tags["checkpoint"] == saved.context["checkpoints"][f"lsgan.test s{seed}"]
        assert c.data.tags["classifier_checkpoint"] == saved.context["checkpoints"]["classifier"]
        assert c.data.tags["data_fingerprint"] == "test-subset-1200" and c.data.tags["device"]
        assert c.data.tags.get("git_commit") == parents[0].data.tags.get("git_commit")
    for r in (parents[0], children[0]):
        (inp,) = client.get_run(r.info.run_id).inputs.dataset_inputs
        assert (inp.dataset.name, inp.dataset.digest) == ("mnist", "test-subset-1200")
        assert inp.dataset.source == small_mnist.source.as_posix()
        assert {(t.key, t.value) for t in inp.tags} == {("mlflow.data.context", "evaluation")}
    # One metric per regulator (its best cell on every image: the CSV's best mean over seeds) and
    # one tag per claim.
    metrics = parents[0].data.metrics
    for reg, rows in csv[~csv["shared_baseline"]].groupby("regulator"):
        best = rows.groupby(["learning_rate", "hyperparameter"])["accuracy"].mean().max()
        assert metrics[f"best/lsgan.test/{reg}"] == pytest.approx(best)
        assert 0 <= metrics[f"heldout/lsgan.test/{reg}"] <= 100
    verdicts = {k: v for k, v in parents[0].data.tags.items() if k.startswith("verdict.")}
    assert set(verdicts) == {f"verdict.{v.key}" for v in saved.verdict_objs()}
    assert set(verdicts.values()) <= {"reproduced", "not reproduced", "inconclusive", "withheld"}
    assert {a.path for a in client.list_artifacts(parents[0].info.run_id)} >= {
        "recover-quick.md",
        "recover-quick.csv",
        "recover-quick.json",
        "recover-quick-tables.png",
        "recover-quick-generators.pdf",
    }

    # A second run with --resume recovers nothing again: every cell comes from the store.
    assert main(argv + ["--resume", "--no-track"]) == 0
    again = pd.read_csv(out / "recover-quick.csv")
    pd.testing.assert_series_equal(again["accuracy"], csv["accuracy"])
    assert "12 already finished" in capsys.readouterr().err

    # The report rebuilds from its saved results byte for byte.
    assert main(["report", str(out / "recover-quick.json"), "--out", str(tmp_path / "rebuilt")]) == 0
    assert (tmp_path / "rebuilt" / "recover-quick.md").read_bytes() == (out / "recover-quick.md").read_bytes()

    # --seed picks the image subset; --generator-seeds the generators' training seeds; neither
    # the classifier that judges them.
    assert (
        main(
            [
                *argv[:-2],
                "--quality-samples",
                "200",
                "--seed",
                "1",
                "--generator-seeds",
                "1",
                "--no-track",
                "--out",
                str(tmp_path / "seed1"),
            ]
        )
        == 0
    )
    a = load(out / "recover-quick.json").context
    b = load(tmp_path / "seed1" / "recover-quick.json").context
    assert a["checkpoints"]["classifier"] == b["checkpoints"]["classifier"]
    assert a["checkpoints"]["lsgan.test s0"] != b["checkpoints"]["lsgan.test s1"]
    assert a["image_ids"] != b["image_ids"]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--regulator", "nope"], "--regulator: unknown value 'nope'"),
        (["--grid", "huge"], "--grid: unknown value 'huge'"),
        (["--steps", "-3"], "--steps: -3 is below the minimum 1"),
        (["--images", "20000"], "--images: 20000 is above the maximum 10000"),
        (["--lr", "0.1"], "--lrs/--hps"),
        (["--data-dir", "/nonexistent-mnist"], "/nonexistent-mnist"),
    ],
)
def test_recover_bad_input_exits_2_with_one_line(args, needle, capsys):
    assert main(["recover", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err and "Traceback" not in err


PLUGIN = """
import regulators


@regulators.register("plugin_l1", kind="loss", hyperparameter="weight",
                     description="mean |z| (a plugin's regulator, for the tests)")
def plugin_l1(z):
    return z.abs().mean(-1)
"""


def test_a_plugin_regulator_is_listed_and_used_by_recover(small_mnist, mnist_dir, tmp_path, capsys, monkeypatch):
    from bench import plugins

    path = tmp_path / "my_regulator.py"
    path.write_text(PLUGIN)
    monkeypatch.setenv("COLUMNS", "200")
    try:
        assert main(["--plugin", str(path), "regulators"]) == 0
        assert "plugin_l1" in capsys.readouterr().out
        out = tmp_path / "rep"
        assert (
            main(
                [
                    "recover",
                    "--regulator",
                    "plugin_l1,none",
                    "--lr",
                    "0.1",
                    "--hp",
                    "0.5",
                    "--images",
                    "8",
                    "--steps",
                    "3",
                    "--generator",
                    "lsgan.test",
                    "--device",
                    "cpu",
                    "--data-dir",
                    mnist_dir,
                    "--out",
                    str(out),
                    "--no-track",
                    "--quality-samples",
                    "200",
                ]
            )
            == 0
        )
        csv = pd.read_csv(out / "recover-explicit.csv")
        row = csv[csv["regulator"] == "plugin_l1"]
        assert len(row) == 1 and row["status"].iloc[0] == "finished"
        assert 0 <= row["accuracy"].iloc[0] <= 100
        capsys.readouterr()
        # A second registration of the name is a one-line error naming the plugin.
        dup = tmp_path / "dup.py"
        dup.write_text(PLUGIN)
        assert main(["--plugin", str(dup), "regulators"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "dup.py" in err and "registered twice" in err
    finally:
        import regulators

        regulators.registry.REGISTRY.remove("plugin_l1")
        plugins._LOADED[:] = [p for p in plugins._LOADED if not p.endswith((".py",))]


def test_plugins_from_the_environment_and_failing_imports(tmp_path, capsys, monkeypatch):
    from bench import plugins

    broken = tmp_path / "broken.py"
    broken.write_text("import not_a_module_anywhere\n")
    assert main(["--plugin", str(broken), "regulators"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "broken.py" in err and "not_a_module_anywhere" in err
    assert main(["--plugin", "no.such.module", "experiments"]) == 2
    assert "no.such.module" in capsys.readouterr().err
    good = tmp_path / "env_plugin.py"
    good.write_text(PLUGIN.replace("plugin_l1", "env_l1"))
    monkeypatch.setenv("BENCH_PLUGINS", str(good))
    try:
        assert main(["regulators"]) == 0
        assert "env_l1" in capsys.readouterr().out
    finally:
        import regulators

        regulators.registry.REGISTRY.remove("env_l1")
        plugins._LOADED[:] = [p for p in plugins._LOADED if not p.endswith(".py")]


def test_plugins_from_an_installed_entry_point(tmp_path, capsys, monkeypatch):
    """A package that declares the entry point group `lwgan_bench.plugins` (here a .dist-info
    folder on sys.path, as pip would install it) is loaded without any option."""
    import sys

    from bench import plugins

    (tmp_path / "ep_plugin.py").write_text(PLUGIN.replace("plugin_l1", "ep_l1"))
    dist = tmp_path / "ep_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[lwgan_bench.plugins]\nmine = ep_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    try:
        assert main(["regulators"]) == 0
        assert "ep_l1" in capsys.readouterr().out
    finally:
        import regulators

        regulators.registry.REGISTRY.remove("ep_l1")
        plugins._LOADED[:] = [p for p in plugins._LOADED if p != "entry point mine"]
        sys.modules.pop("ep_plugin", None)


USER_GENERATOR = """
import torch
from torch import nn

from bench.recovery.generators import UserGenerator


def build():
    # Zero weights until the checkpoint is loaded: an unloaded generator draws one grey image.
    net = nn.Sequential(nn.Linear(5, 784), nn.Sigmoid())
    nn.init.zeros_(net[0].weight)
    nn.init.zeros_(net[0].bias)
    return UserGenerator(generator=net, latent_dim=5, pixel_range=(0.0, 1.0), checkpoint=CHECKPOINT)
"""


def test_a_user_generator_module_end_to_end(small_mnist, mnist_dir, tmp_path, capsys):
    import numpy as np
    import torch

    from bench.pipeline import load
    from bench.recovery.codec import unpack_images

    ckpt = tmp_path / "weights.pt"
    torch.manual_seed(0)
    torch.save(torch.nn.Sequential(torch.nn.Linear(5, 784), torch.nn.Sigmoid()).state_dict(), ckpt)
    module = tmp_path / "my_gen.py"
    module.write_text(USER_GENERATOR.replace("CHECKPOINT", repr(str(ckpt))))
    out = tmp_path / "rep"
    assert (
        main(
            [
                "recover",
                "--generator",
                f"{module}:build",
                "--grid",
                "quick",
                "--regulator",
                "wasserstein,none,trick_discriminator",
                "--images",
                "12",
                "--steps",
                "3",
                "--device",
                "cpu",
                "--data-dir",
                mnist_dir,
                "--out",
                str(out),
                "--no-track",
                "--quality-samples",
                "200",
                "--gate-frechet-ratio",
                "0",
            ]
        )
        == 0
    )
    csv = pd.read_csv(out / "recover-quick.csv")
    # No discriminator in the module: trick_discriminator's cells are left out, said up front.
    assert set(csv["regulator"]) == {"wasserstein", "none"} and set(csv["status"]) == {"finished"}
    assert "no LSGAN discriminator" in capsys.readouterr().err
    results = load(out / "recover-quick.json")
    (model,) = results.context["models"].values()
    assert model["family"] == "user" and model["latent_rank"] == 5
    for r in results.records():  # the checkpoint's weights were loaded: the recoveries differ
        assert np.ptp(unpack_images(r["preview"]).astype(float)) > 10
    assert "| user " in (out / "recover-quick.md").read_text()


def test_recovery_through_the_lwgan_family_at_tiny_size(small_mnist, mnist_dir, tmp_path, capsys, monkeypatch):
    from mlflow.tracking import MlflowClient

    from bench.pipeline import load

    monkeypatch.setenv("COLUMNS", "200")
    out = tmp_path / "rep"
    gens = "lwgan.mnist-tiny,iso-lwgan.mnist-tiny,iso-lwgan-stochastic.mnist-tiny"
    assert (
        main(
            [
                "recover",
                "--generator",
                gens,
                "--generator-seeds",
                "0,1",
                "--grid",
                "quick",
                "--regulator",
                "wasserstein,log_normal_density,none",
                "--images",
                "10",
                "--steps",
                "3",
                "--device",
                "cpu",
                "--data-dir",
                mnist_dir,
                "--out",
                str(out),
                "--quality-samples",
                "200",
                "--gate-reference",
                "lsgan.test",
            ]
        )
        == 0
    )
    results = load(out / "recover-quick.json")
    models = results.context["models"]
    assert len(models) == 6
    for m in models.values():  # recovery at the estimated rank by default
        assert m["latent_rank"] == m["rank_estimate"] and 1 <= m["latent_rank"] <= m["z_max"]
    assert models["iso-lwgan-stochastic.mnist-tiny s0"]["noise_dim"] > 0
    report = (out / "recover-quick.md").read_text()
    assert "## Does the isometric regulariser make recovery easier?" in report
    assert "`iso-lwgan.mnist-tiny` against `lwgan.mnist-tiny`" in report
    for g in gens.split(","):  # each generator's best cell per regulator, paired on the same images
        section = report.split(f"## Best cell per regulator: `{g}`", 1)[1].split("\n## ", 1)[0]
        assert "Paired against wasserstein's cross-fitted best cell" in section and "| log_normal_density " in section
    ref = results.context["reference"]  # the Frechet yardstick, loaded since the sweep has no LSGAN
    assert ref["name"] == "lsgan.test" and ref["seed"] == 0 and not ref["in_sweep"] and ref["frechet"] > 0
    assert "Reference LSGAN: `lsgan.test` seed 0" in report
    claims = [v.claim for v in results.verdict_objs()]
    assert sum(c.startswith("iso-lwgan.mnist-tiny: (") for c in claims) == 5
    assert any("isometric regulariser" in c for c in claims)
    client = MlflowClient()
    runs = client.search_runs([client.get_experiment_by_name("recover").experiment_id])
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(children) == 3 * 2 * 6  # 3 generators x 2 seeds x the quick grid's 6 cells
    for c in children:
        key = f"{c.data.params['generator']} s{c.data.params['generator_seed']}"
        assert c.data.params["latent_rank"] == str(models[key]["latent_rank"])


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--generator", "lsgan,,lwgan"], "--generator: empty element"),
        (["--generator", "nope"], "--generator: unknown generator 'nope'"),
        (["--generator", "published"], "has no latent prior to recover from"),
        (["--generator", "autoencoder-iso"], "has no latent prior to recover from"),
        (["--generator", "lwgan.rank"], "is not an MNIST generator"),
        (["--generator", "no_such_module_xyz:build"], "cannot import 'no_such_module_xyz'"),
        (["--generator", "/nonexistent/gen.py:build"], "no such file"),
        (["--generator", "json:nothing_here"], "has no function 'nothing_here'"),
        (["--generator-seeds", "1,,2"], "--generator-seeds"),
        (["--latent-rank", "0"], "--latent-rank: expected estimate, max or a positive integer"),
        (["--noise", "sometimes"], "--noise: unknown value 'sometimes'"),
        (["--targets", "train"], "--targets: unknown value 'train'"),
        (["--split-seed", "-1"], "--split-seed: -1 is below the minimum 0"),
        (["--gate-min-share", "0.5"], "--gate-min-share: 0.5 is above the maximum 0.1"),
        (["--gate-frechet-ratio", "-1"], "--gate-frechet-ratio: -1.0 is below the minimum 0"),
        (["--gate-scorer", "101"], "--gate-scorer: 101.0 is above the maximum 100"),
        (["--gate-reference", "nope"], "--gate-reference: unknown generator 'nope'"),
    ],
)
def test_bad_generator_options_exit_2_before_any_work(args, needle, capsys, tmp_path):
    assert main(["recover", *args, "--out", str(tmp_path / "never")]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize(
    "body, needle",
    [
        ("def build():\n    return 42\n", "build() returned int; expected a bench.recovery.generators.UserGenerator"),
        ("def build():\n    raise RuntimeError('no weights here')\n", "build() raised RuntimeError: no weights here"),
        (
            (
                "from bench.recovery.generators import UserGenerator\n"
                "def build():\n    return UserGenerator(generator=3, latent_dim=4)\n"
            ),
            "generator must be a torch.nn.Module",
        ),
    ],
)
def test_a_user_generator_of_the_wrong_kind_is_one_line(body, needle, tmp_path, capsys):
    module = tmp_path / "bad_gen.py"
    module.write_text(body)
    assert main(["recover", "--generator", f"{module}:build", "--out", str(tmp_path / "never")]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "never").exists()
