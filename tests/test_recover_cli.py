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


def test_recover_end_to_end(small_mnist, mnist_dir, tmp_path, capsys):
    out = tmp_path / "rep"
    argv = ["recover", "--regulator", "wasserstein,log_normal_density,truncated_normal_cutoff", "--grid", "quick",
            "--images", "12", "--steps", "4", "--seeds", "0,1", "--generator", "test-lsgan", "--device", "cpu",
            "--data-dir", mnist_dir, "--out", str(out), "--quality-samples", "500"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "not cached, will train it now" in captured.err  # says what it does before it starts
    assert "verdict on the paper's conclusion" in captured.out

    csv = pd.read_csv(out / "recover-quick.csv")
    assert len(csv) == 6 * 2  # two quick cells per regulator x two seeds
    assert set(csv["status"]) == {"finished"}
    assert csv["accuracy"].between(0, 100).all()
    assert (csv["accuracy_lo"] <= csv["accuracy"]).all() and (csv["accuracy"] <= csv["accuracy_hi"]).all()
    assert csv["paper_accuracy"].notna().all()  # quick cells are paper cells

    report = (out / "recover-quick.md").read_text()
    for needle in ("Table 1: Wasserstein distance", "Table 4: log-normal density", "Table 6: truncated normal",
                   "Spearman", "## Verdict", "Rule:", "Classifier (scorer): test accuracy", "Checkpoints (sha256)",
                   "Run facts", "94.7"):
        assert needle in report, needle
    assert (out / "recover-quick-best.png").stat().st_size > 0
    assert (out / "recover-quick-best.pdf").stat().st_size > 0

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
        assert {"regulator", "learning_rate", "hyperparameter", "generator", "seed"} <= set(c.data.params)
        assert "accuracy" in c.data.metrics
    assert "best_regulator" in parents[0].data.tags
    assert {a.path for a in client.list_artifacts(parents[0].info.run_id)} >= {"recover-quick.md", "recover-quick.csv"}

    # A second run with --resume recovers nothing again: every cell comes from the store.
    assert main(argv + ["--resume", "--no-track"]) == 0
    again = pd.read_csv(out / "recover-quick.csv")
    pd.testing.assert_series_equal(again["accuracy"], csv["accuracy"])


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--regulator", "nope"], "--regulator: unknown value 'nope'"),
        (["--grid", "huge"], "--grid: unknown grid 'huge'"),
        (["--steps", "-3"], "--steps: expected a positive number"),
        (["--images", "20000"], "--images: expected 1..10000"),
        (["--lr", "0.1"], "--lr/--hp"),
        (["--data-dir", "/nonexistent-mnist"], "/nonexistent-mnist"),
    ],
)
def test_recover_bad_input_exits_2_with_one_line(args, needle, capsys):
    assert main(["recover", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err and "Traceback" not in err


def test_the_scorer_does_not_depend_on_seed():
    # --seed picks the generator (and the image subset), never the classifier that judges them.
    from types import SimpleNamespace

    from bench.recovery.run import model_plan

    mnist = SimpleNamespace(fingerprint="x")
    plans = [{p["kind"]: p["path"] for p in model_plan("lsgan", mnist, seed=s)} for s in (0, 3)]
    assert plans[0]["classifier"] == plans[1]["classifier"]
    assert plans[0]["lsgan"] != plans[1]["lsgan"]
