"""`bench generators` and `bench rank` end to end on a tiny configuration."""

import pandas as pd
import pytest

from bench.cli import main
from bench.experiments.rank.rank_run import RankSettings

TINY = ["--iterations", "4", "--width", "2", "--batch-size", "32", "--reps", "2",
        "--eval-batch", "32", "--z-max", "2", "--workers", "1", "--critic-steps", "5"]  # fmt: skip
TINY_OVERRIDES = {"iterations": 4, "width_q": 2, "width_g": 2, "width_d": 2, "batch_size": 32,
                  "critic_warmup": 1, "critic_burst": 2}  # fmt: skip


def test_generators_lists_the_registry(capsys):
    assert main(["generators"]) == 0
    out = capsys.readouterr().out
    for name in ("lsgan", "lwgan", "iso-lwgan", "iso-lwgan-stochastic", "autoencoder-iso"):
        assert name in out


def test_rank_end_to_end_with_mlflow(tmp_path, capsys):
    uri = f"sqlite:///{tmp_path / 'runs.db'}"
    args = [
        "rank",
        "--dataset",
        "swissroll,scurve",
        "--seeds",
        "0",
        "--device",
        "cpu",
        "--out",
        str(tmp_path / "out"),
        "--tracking-uri",
        uri,
        "--experiment",
        "t",
        *TINY,
    ]
    assert main(args) == 0
    out_dir = tmp_path / "out"
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
    assert child.data.params["cfg.iterations"] == "4"  # one per phase
    assert len(client.get_metric_history(child.info.run_id, "train/recon")) == 4  # per iteration
    assert any(a.path.endswith(".png") for a in client.list_artifacts(child.info.run_id))


def test_rank_bad_options_are_one_line_errors(capsys):
    assert main(["rank", "--dataset", "moebius", "--no-track"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--dataset" in err and "swissroll" in err
    assert main(["rank", "--generator", "autoencoder-iso", "--no-track"]) == 2
    assert "--generator" in capsys.readouterr().err
    assert main(["rank", "--reps", "1", "--no-track"]) == 2


def test_parallel_workers_give_the_same_cells_as_sequential(tmp_path):
    from bench.pipeline import RunOptions, run_experiment

    settings = RankSettings(
        datasets=("swissroll",), seeds=(0, 1), z_max=2, reps=2, eval_batch=32, critic_steps=5, overrides=TINY_OVERRIDES
    )
    seq = run_experiment("rank", settings, RunOptions(out=tmp_path / "a", workers=1, track=False))
    par = run_experiment("rank", settings, RunOptions(out=tmp_path / "b", workers=2, track=False, retrain=True))
    assert par.workers == 2
    assert not any(r["loaded"] for r in par.results.records())  # trained again in the workers
    for a, b in zip(seq.results.records(), par.results.records()):
        assert (a["dataset"], a["seed"]) == (b["dataset"], b["seed"])
        assert a["histories"] == b["histories"] and a["mean"] == pytest.approx(b["mean"], rel=1e-6)
        assert a["estimate"] == b["estimate"] and a["checkpoint"] == b["checkpoint"]


def test_public_schedule_is_the_public_codes_run_toy_settings():
    # Oracle: run_toy.sh of github.com/yixuan/LWGAN, typed in by hand (SPEC part B).
    swiss = RankSettings(schedule="public").spec("swissroll", 2).config
    assert (swiss.iterations, swiss.iter_gq, swiss.iter_d) == (5000, 5, 20)
    assert (swiss.width_q, swiss.width_g, swiss.width_d, swiss.batch_size) == (64, 64, 64, 512)
    assert (swiss.lr, swiss.lambda_mmd, swiss.lambda_rank, swiss.lambda_gp) == (2e-4, 1.0, 0.01, 5.0)
    assert swiss.lr_milestones == (0.8, 0.85, 0.9, 0.95) and swiss.lr_gamma == 0.9
    assert (swiss.critic_warmup, swiss.critic_burst, swiss.critic_burst_every) == (100, 100, 100)
    assert swiss.adversarial_start == 0.0 and not swiss.critic_reuse and swiss.z_max == 5
    for name, ambient, z_max in (("scurve", 3, 5), ("hyperplane", 5, 7)):
        cfg = RankSettings(schedule="public").spec(name, ambient).config
        assert (cfg.iterations, cfg.iter_gq, cfg.iter_d, cfg.z_max) == (10000, 1, 20, z_max)
    # Options still override the schedule, and the default schedule is a different one.
    assert RankSettings(schedule="public", overrides={"iterations": 7}).spec("scurve", 3).config.iterations == 7
    assert RankSettings().spec("swissroll", 2).config.iterations != 5000


def test_rank_public_schedule_from_the_cli(tmp_path, capsys):
    args = [
        "rank",
        "--schedule",
        "public",
        "--dataset",
        "swissroll",
        "--seeds",
        "0",
        "--device",
        "cpu",
        "--out",
        str(tmp_path),
        "--no-track",
        "--every",
        "2",
        *TINY,
    ]
    assert main(args) == 0
    report = (tmp_path / "rank.md").read_text()
    # The public schedule scores as the public code does unless told otherwise.
    assert "Schedule `public`" in report and "protocol `training`" in report
    assert main([*args[: -len(TINY) - 2], *TINY, "--protocol", "refit"]) == 0
    assert "protocol `refit`" in (tmp_path / "rank.md").read_text()
    capsys.readouterr()
    assert main(["rank", "--schedule", "fast", "--no-track"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--schedule" in err and "public" in err
    for bad in (["--protocol", "bootstrap"], ["--every", "0"]):
        assert main(["rank", "--no-track", *bad]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and bad[0] in err


def test_parent_run_params_carry_the_schedules_settings():
    from bench.experiments.rank.rank_run import params
    from lwgan.recipes import PUBLIC_TOY

    public = params(RankSettings(schedule="public", overrides={"lr": 1e-3}))
    # The public code's settings, not only the overrides (they were all a parent run showed).
    assert public["train.iter_d"] == 20 and public["train.batch_size"] == 512
    assert public["train.lr"] == 1e-3
    assert set(public) == {f"train.{k}" for k in PUBLIC_TOY} and "5000" in public["train.iterations"]
    default = params(RankSettings(overrides={"iter_d": 3}))
    assert default["train.iter_d"] == 3 and len(default["train.phases"]) == 4


def test_overrides_of_a_phased_schedule():
    from lwgan.recipes import with_overrides

    cfg = {"lr": 1.0, "width_g": 8, "iterations": 40, "phases": (
        {"iterations": 10, "max_rank": 1, "lr": 5.0}, {"iterations": 30, "lr": 2.0})}  # fmt: skip
    # The total is shared out 1:3; a training field goes to every phase; others to the base.
    out = with_overrides(cfg, {"iterations": 8, "lr": 0.5, "iter_d": 2, "width_g": 4})
    assert out["phases"] == (
        {"iterations": 2, "max_rank": 1, "lr": 0.5, "iter_d": 2},
        {"iterations": 6, "lr": 0.5, "iter_d": 2},
    )
    assert (out["iterations"], out["width_g"], out["lr"]) == (8, 4, 0.5)
    assert with_overrides(cfg, {})["phases"] == cfg["phases"]
    # Every phase keeps at least one iteration; unphased configs are plain dict updates.
    assert [p["iterations"] for p in with_overrides(cfg, {"iterations": 1})["phases"]] == [1, 1]
    assert with_overrides({"lr": 1.0, "iterations": 5}, {"iterations": 7}) == {"lr": 1.0, "iterations": 7, "phases": ()}
    # A schedule of its own replaces the phases, and the overrides apply to it.
    one = with_overrides(cfg, {"phases": ({"iterations": 5},), "lr": 0.1})
    assert one["phases"] == ({"iterations": 5, "lr": 0.1},) and one["iterations"] == 5


def test_default_schedule_phases_and_their_report_table():
    from bench.experiments.rank.rank_report import phase_rows

    cfg = RankSettings().spec("swissroll", 2).config
    phases = cfg.phase_configs()
    assert [p.max_rank for p in phases] == [1, None, None, None]  # a rank-1 warm start first
    # The critic only in phase 3; phase 4 fits the reconstructions again before scoring.
    assert [p.adversarial_start for p in phases] == [1.0, 1.0, 0.0, 1.0]
    assert phases[3].lr == phases[2].lr and phases[3].lambda_mmd > 0
    assert cfg.total_iterations == cfg.iterations == sum(p.iterations for p in phases)
    rows = phase_rows(
        {
            **cfg.to_dict(),
            "phases": (
                {"iterations": 10, "max_rank": 1, "adversarial_start": 1.0, "mmd_start": 0.0},
                {"iterations": 10, "adversarial_start": 0.5, "mmd_start": 0.0},
            ),
        }
    )
    assert [(r["ranks"], r["critic"], r["MMD"]) for r in rows] == [
        ("1", "off", "on"),
        ("1..5", "from iteration 6", "on"),
    ]
