"""`bench generators` and `bench rank` end to end on a tiny configuration."""

import pandas as pd
import pytest

from bench.cli import main
from bench.experiments.rank import RankSettings, run_rank

TINY = ["--iterations", "3", "--width", "2", "--batch-size", "32", "--reps", "2",
        "--eval-batch", "32", "--z-max", "2", "--workers", "1"]  # fmt: skip
TINY_OVERRIDES = {"iterations": 3, "width_q": 2, "width_g": 2, "width_d": 2, "batch_size": 32,
                  "critic_warmup": 1, "critic_burst": 2}  # fmt: skip


def test_generators_lists_the_registry(capsys):
    assert main(["generators"]) == 0
    out = capsys.readouterr().out
    for name in ("lsgan", "lwgan", "iso-lwgan", "iso-lwgan-stochastic", "autoencoder-iso"):
        assert name in out


def test_rank_end_to_end_with_mlflow(tmp_path, capsys):
    uri = f"sqlite:///{tmp_path / 'runs.db'}"
    args = ["rank", "--dataset", "swissroll,scurve", "--seeds", "0", "--device", "cpu",
            "--out", str(tmp_path / "out"), "--tracking-uri", uri, "--experiment", "t", *TINY]  # fmt: skip
    assert main(args) == 0
    out_dir = tmp_path / "out" / "rank"
    report = (out_dir / "rank.md").read_text()
    for text in ("## Verdict", "swissroll", "scurve", "MLE", "TwoNN", "Rule:", "## Run facts"):
        assert text in report
    assert (out_dir / "rank_scores.pdf").stat().st_size > 0
    assert (out_dir / "rank_scores.png").stat().st_size > 0
    df = pd.read_csv(out_dir / "rank.csv")
    assert list(df["dataset"]) == ["swissroll", "scurve"] and list(df["truth"]) == [1, 2]
    assert df["lwgan"].between(1, 2).all()

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("t")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 2
    child = children[0]
    assert {"estimate", "truth", "mle", "twonn", "lambda_hat"} <= set(child.data.metrics)
    assert child.data.params["cfg.iterations"] == "3"
    assert len(client.get_metric_history(child.info.run_id, "recon")) == 3  # per iteration
    assert any(a.path.endswith(".pdf") for a in client.list_artifacts(child.info.run_id))


def test_rank_bad_options_are_one_line_errors(capsys):
    assert main(["rank", "--dataset", "moebius", "--no-track"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--dataset" in err and "swissroll" in err
    assert main(["rank", "--generator", "autoencoder-iso", "--no-track"]) == 2
    assert "--generator" in capsys.readouterr().err
    assert main(["rank", "--reps", "1", "--no-track"]) == 2


def test_parallel_workers_give_the_same_cells_as_sequential():
    settings = RankSettings(datasets=("swissroll",), seeds=(0, 1), z_max=2, reps=2, eval_batch=32,
                            overrides=TINY_OVERRIDES)  # fmt: skip
    seq = run_rank(settings)
    par = run_rank(settings, workers=2, retrain=True)
    assert not any(c.loaded for c in par.cells)  # trained again in the workers, not loaded
    for a, b in zip(seq.cells, par.cells):
        assert (a.dataset, a.seed) == (b.dataset, b.seed)
        assert a.history == b.history and a.mean == pytest.approx(b.mean, rel=1e-6)
        assert a.estimate == b.estimate
