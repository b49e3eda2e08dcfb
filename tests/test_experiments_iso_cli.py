"""`bench isometry`, `bench stochastic`, `bench mnist` end to end at tiny budgets (tiny nets, 20
iterations, one seed), checking the reports, CSVs, figures and MLflow runs; bad values exit 2."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import bench.data
from bench.cli import main

TINY = ["--seeds", "0", "--iterations", "20", "--width", "4", "--rank-reps", "2",
        "--critic-steps", "2", "--device", "cpu"]  # fmt: skip


def _runs(experiment: str):
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    return client, parents[0], children


def test_isometry_both_objectives_end_to_end(tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["isometry", "--lambda", "0,1", "--objective", "both", "--out", str(out), *TINY]) == 0
    assert "isometry: verdicts" in capsys.readouterr().out

    report = (out / "isometry.md").read_text()
    for needle in (
        "## Verdict",
        "Rules (bench.claims",
        "| lwgan ",
        "| published ",
        "1.20",
        "0.02-0.03",
        "1.2024",
        "95% Student-t",
        "bootstrap",
        "n/a (no critic)",
        "energy distance",
        "one training batch, as the authors measured",
        "collapsed models",
        "isometry_interpolations.png",
        "isometry_interpolations.pdf",
        "## Run facts",
        "Model checkpoints",
    ):
        assert needle in report, needle
    csv = pd.read_csv(out / "isometry.csv")
    assert len(csv) == 4  # 2 objectives x 2 lambdas x 1 seed
    assert set(csv["objective"]) == {"lwgan", "published"}
    assert (csv["discrepancy_lo"] <= csv["discrepancy"]).all()
    assert (csv["discrepancy"] <= csv["discrepancy_hi"]).all()
    assert (csv["discrepancy"] >= 0).all() and (csv["energy"] >= 0).all()
    assert csv.loc[csv["objective"] == "lwgan", "rank_estimate"].between(1, 3).all()
    assert csv.loc[csv["objective"] == "published", "rank_estimate"].isna().all()
    # The authors' measurement, one batch of 128 over all 128 x 128 entries, and ours agree in size.
    assert (csv["batch_discrepancy"] >= 0).all()
    pub = csv[csv["objective"] == "published"].set_index("lambda_iso")
    assert pub.loc[1.0, "discrepancy"] < pub.loc[0.0, "discrepancy"]  # the term does its job
    # The collapse baseline: the best constant map's error, E‖x - mean of the training points‖.
    data = bench.data.make_synthetic("two_gaussians", seed=0)
    trivial = np.linalg.norm(data.heldout.numpy() - data.train.numpy().mean(0), axis=1).mean()
    assert csv["trivial_recon"].to_numpy() == pytest.approx(trivial, rel=1e-5)
    assert (csv["collapsed"] == (csv["recon"] >= 0.9 * trivial)).all()
    for stem in ("isometry_interpolations", "isometry_samples", "isometry_discrepancy", "isometry_losses"):
        assert (out / f"{stem}.pdf").stat().st_size > 0 and (out / f"{stem}.png").stat().st_size > 0

    client, parent, children = _runs("isometry")
    assert len(children) == 4
    for c in children:
        assert {"objective", "lambda_iso", "seed"} <= set(c.data.params)
        assert "discrepancy" in c.data.metrics and "batch_discrepancy" in c.data.metrics
        # LWGAN: one point per iteration (20); published: 20 epochs of 16 batches in 250 bins of 2
        steps = 20 if c.data.params["objective"] == "lwgan" else 160
        assert len(client.get_metric_history(c.info.run_id, "train/recon")) == steps
        assert ("cfg.width_q" if c.data.params["objective"] == "lwgan" else "cfg.hidden") in c.data.params
        assert any(a.path.endswith(".png") for a in client.list_artifacts(c.info.run_id))
        # The synthetic data as the run's input, named by its seed, and the checkpoint's digest.
        (inp,) = client.get_run(c.info.run_id).inputs.dataset_inputs
        assert (inp.dataset.name, inp.dataset.digest) == ("two_gaussians-s0", data.fingerprint)
        assert inp.dataset.source == "bench.data.synthetic:two_gaussians?seed=0"
        assert c.data.tags["data_fingerprint"] == data.fingerprint and len(c.data.tags["checkpoint"]) == 64
    assert {"isometry.md", "isometry.csv"} <= {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert [i.dataset.digest for i in client.get_run(parent.info.run_id).inputs.dataset_inputs] == [data.fingerprint]
    assert "reproduced_lwgan" in parent.data.metrics

    # A second run loads its models from the cache and measures the same numbers.
    again_out = tmp_path / "again"
    argv = ["isometry", "--lambda", "0,1", "--objective", "autoencoder", "--out", str(again_out), "--no-track"]
    assert main([*argv, *TINY]) == 0
    again = pd.read_csv(again_out / "isometry.csv")
    assert again["loaded"].all()
    first = csv[csv["objective"] == "published"].reset_index(drop=True)
    pd.testing.assert_series_equal(again["discrepancy"], first["discrepancy"])


def test_stochastic_end_to_end(tmp_path):
    out = tmp_path / "rep"
    assert main(["stochastic", "--sigma", "0,0.5", "--out", str(out), *TINY]) == 0
    report = (out / "stochastic.md").read_text()
    for needle in (
        "## Verdict",
        "Rules (bench.claims",
        "0.0057",
        "0.0195",
        "mode shares",
        "stochastic_diversity.png",
        "energy distance",
        "## Run facts",
    ):
        assert needle in report, needle
    csv = pd.read_csv(out / "stochastic.csv")
    assert list(csv["objective"]) == ["lwgan", "lwgan", "published", "published"]
    assert list(csv["sigma_noise"]) == [0.0, 0.5, 0.0, 0.5]
    # A deterministic generator gives identical draws: diversity exactly 0, both ways of measuring.
    for i in (0, 2):
        assert csv.loc[i, "diversity"] == pytest.approx(0.0, abs=1e-9)
        assert csv.loc[i, "batch_diversity"] == pytest.approx(0.0, abs=1e-9)
    assert (csv.loc[[1, 3], "diversity"] > 0).all() and (csv.loc[[1, 3], "batch_diversity"] > 0).all()
    assert (csv["loss_spread"] >= 0).all()
    shares = csv[["mode_share_0", "mode_share_1", "mode_share_2"]].sum(axis=1)
    assert shares.to_numpy() == pytest.approx([1.0] * 4)
    client, parent, children = _runs("stochastic")
    assert "stochastic.md" in {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert len(children) == 4 and all("cfg.noise_dim" in c.data.params for c in children)
    assert {c.data.params["cfg.noise_dim"] for c in children} == {"2"}


@pytest.fixture
def small_mnist(mnist_dir, monkeypatch):
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
    return small


def test_mnist_tiny_budget_end_to_end(small_mnist, mnist_dir, tmp_path, capsys):
    out = tmp_path / "rep"
    argv = [
        "mnist",
        "--budget",
        "tiny",
        "--seeds",
        "0",
        "--workers",
        "1",
        "--data-dir",
        mnist_dir,
        "--device",
        "cpu",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    assert "mnist: verdicts" in capsys.readouterr().out
    report = (out / "mnist.md").read_text()
    for needle in (
        "brief training budget",
        "## Verdict",
        "Rules (bench.claims",
        "5.62",
        "5.76",
        "+ isometric",
        "+ noise",
        "Frechet floor",
        "Classifier (scorer): test accuracy",
        "mnist_interp_lwgan_iso_lwgan.png",
        "mnist_interp_published_iso_lwgan.png",
        "mnist_losses.pdf",
        "## Run facts",
        "one training batch, as the authors measured",
        "## Is the LWGAN credible",
        "The reference GAN (`lsgan.test`",
        "mnist_samples_lwgan_base_lwgan.png",
        "lowest digit share",
    ):
        assert needle in report, needle
    from bench.pipeline.results import load
    from bench.recovery.codec import unpack_images

    results = load(out / "mnist.json")
    for r in results.records():  # 200 draws: shares are counts / 200 summing to 1; 64 kept
        shares = np.asarray(r["digit_shares"])
        assert len(shares) == 10 and shares.sum() == pytest.approx(1)
        assert np.allclose(shares * 200, np.round(shares * 200))
        assert unpack_images(r["samples"]).shape == (64, 28, 28)
    ref = results.context["reference_gan"]
    assert ref["name"] == "lsgan.test" and ref["frechet"] > 0 and sum(ref["digit_shares"]) == pytest.approx(1)
    csv = pd.read_csv(out / "mnist.csv")
    assert list(csv["name"]) == ["base LWGAN", "+ isometric", "+ noise", "Iso-LWGAN"] * 2
    assert list(csv["objective"]) == ["lwgan"] * 4 + ["published"] * 4
    assert list(csv["lambda_iso"]) == [0, 1, 0, 1] * 2 and list(csv["sigma_noise"]) == [0, 0, 0.1, 0.1] * 2
    # Pixels in [-1, 1], 784 of them: a per-image l2 error lies in [0, 2 * 28].
    assert csv["recon"].between(0, 56).all() and (csv["frechet"] >= 0).all()
    assert csv["batch_recon"].between(0, 56).all()
    assert csv["rank_estimate"][:4].between(1, 16).all() and csv["rank_estimate"][4:].isna().all()
    for stem in (
        "mnist_interp_lwgan_base_lwgan",
        "mnist_interp_lwgan_isometric",
        "mnist_interp_lwgan_noise",
        "mnist_interp_published_iso_lwgan",
        "mnist_losses",
        "mnist_recon",
        "mnist_samples_lwgan_iso_lwgan",
        "mnist_samples_published_base_lwgan",
    ):
        assert (out / f"{stem}.pdf").stat().st_size > 0
    client, parent, children = _runs("mnist")
    assert len(children) == 8
    lw = [c for c in children if c.data.params["objective"] == "lwgan"]
    assert all(len(client.get_metric_history(c.info.run_id, "train/loss_gq")) == 20 for c in lw)
    assert "reproduced_lwgan" in parent.data.metrics and "reproduced_published" in parent.data.metrics


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["isometry", "--lambda", "0,-1"], "--lambda: -1.0 is below the minimum 0"),
        (["isometry", "--objective", "gan"], "--objective: unknown value 'gan'; accepted: lwgan, published"),
        (["isometry", "--seeds", "0,x"], "--seeds: 'x' is not valid"),
        (["isometry", "--eval-rank", "7"], "--eval-rank: expected max, estimate or an integer in 1..3"),
        (["isometry", "--iterations", "0"], "--iterations: 0 is below the minimum 1"),
        (["stochastic", "--sigma", "-0.1"], "--sigma: -0.1 is below the minimum 0"),
        (["stochastic", "--lambda-iso", "-2"], "--lambda-iso: -2.0 is below the minimum 0"),
        (["stochastic", "--objective", "vae"], "--objective: unknown value 'vae'"),
        (["mnist", "--budget", "huge"], "--budget: unknown value 'huge'; accepted: default, public, tiny, public-tiny"),
        (["mnist", "--sigma", "-1"], "--sigma: -1.0 is below the minimum 0"),
        (["isometry", "--seeds", "1,,2"], "--seeds: empty element in '1,,2'"),
        (["stochastic", "--sigma", "0,0.1,"], "--sigma: empty element"),
        (["isometry", "--workers", "0"], "--workers: 0 is below the minimum 1"),
    ],
)
def test_bad_values_exit_2_with_one_line(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err


def test_bad_output_paths_exit_2_before_any_training(tmp_path, capsys):
    blocker = tmp_path / "a-regular-file"
    blocker.write_text("x")
    cache = tmp_path / "cache"  # the per-test BENCH_CACHE_DIR (conftest)
    assert main(["stochastic", "--out", str(blocker / "out"), *TINY]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--out" in err and "Traceback" not in err
    assert not cache.exists() or not any(cache.rglob("*.pt"))  # nothing was trained
    assert main(["data", "--out", "/proc/forbidden/out"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "/proc/forbidden/out" in err and "Traceback" not in err
    # A report path that is a folder is refused before the run too.
    (tmp_path / "rep" / "isometry.md").mkdir(parents=True)
    assert main(["isometry", "--out", str(tmp_path / "rep"), *TINY]) == 2
    assert "isometry.md is a folder" in capsys.readouterr().err


def test_mnist_public_schedule_is_the_public_codes_and_runs_at_tiny_size(small_mnist, mnist_dir, tmp_path):
    """--budget public: the public LWGAN code's MNIST schedule (SPEC part B, typed in by hand),
    run here at test size (--budget public-tiny: the same schedule, tiny nets and counts)."""
    from bench.experiments.mnist.mnist_run import MnistSettings

    cfg = MnistSettings(budget="public").spec("base LWGAN").config
    assert (cfg.resolved_arch(), cfg.width_q, cfg.width_d, cfg.z_max, cfg.batch_size) == ("conv", 64, 64, 20, 256)
    assert (cfg.lr, cfg.betas, cfg.iterations, cfg.iter_d, cfg.iter_gq) == (1e-4, (0.9, 0.999), 50000, 10, 3)
    assert (cfg.lambda_mmd, cfg.lambda_gp, cfg.lambda_rank) == (1.0, 5.0, 0.0005)
    assert (cfg.critic_warmup, cfg.critic_burst, cfg.critic_burst_every) == (25, 100, 100)
    out = tmp_path / "pub"
    argv = [
        "mnist",
        "--budget",
        "public-tiny",
        "--seeds",
        "0",
        "--workers",
        "1",
        "--objective",
        "lwgan",
        "--data-dir",
        mnist_dir,
        "--device",
        "cpu",
        "--out",
        str(out),
        "--no-track",
    ]
    assert main(argv) == 0
    csv = pd.read_csv(out / "mnist.csv")
    assert len(csv) == 4 and set(csv["objective"]) == {"lwgan"} and csv["recon"].between(0, 56).all()
    assert "public-tiny" in (out / "mnist.md").read_text()


def test_mlflow_logs_each_value_once_and_only_what_applies(tmp_path):
    """A published-only sweep logs no LWGAN training recipe on its parent; no child logs a value
    twice (the cell's lambda_iso and its config's; a setting again as a metric)."""
    out = tmp_path / "rep"
    assert main(["isometry", "--lambdas", "0,1", "--objectives", "published", "--out", str(out), *TINY]) == 0
    _client, parent, children = _runs("isometry")
    assert not [k for k in parent.data.params if k.startswith("train.")]
    assert parent.data.params["objectives"] == "published"
    assert len(children) == 2
    for c in children:
        params, metrics = c.data.params, c.data.metrics
        assert params["lambda_iso"] in ("0.0", "1.0") and "cfg.lambda_iso" not in params
        assert "cfg.z_dim" in params  # the config's own fields stay
        assert not set(metrics) & set(params), set(metrics) & set(params)
        assert "recon" in metrics and "lambda_iso" not in metrics and "seed" not in metrics
