"""The primal-dual trainer: it learns, it is deterministic, its checkpoints round-trip."""

import dataclasses

import pytest
import torch

from bench.atomic import atomic_torch_save
from lwgan.errors import ConfigError
from lwgan.model import LWGANConfig, build_lwgan, load_lwgan, model_state
from lwgan.trainer import HISTORY_KEYS, train_lwgan

TINY = {
    "x_shape": (2,), "z_max": 3, "width_q": 4, "width_g": 4, "width_d": 4, "batch_size": 64,
    "iterations": 6, "iter_d": 2, "critic_warmup": 1, "critic_burst": 3, "critic_burst_every": 0,
    "lr": 1e-2,
}  # fmt: skip


def _segment(n=512, seed=0):
    """Points on a segment in the plane: intrinsic dimension 1."""
    t = torch.rand(n, 1, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    return torch.cat([t, 0.5 * t], dim=1)


def _recon(model, x, rank):
    with torch.no_grad():
        return float((x - model.G(model.Q(x, rank))).norm(dim=1).mean())


def test_a_few_steps_lower_the_reconstruction_loss():
    cfg = LWGANConfig(**{**TINY, "iterations": 60, "width_q": 8, "width_g": 8})
    x = _segment()
    model = build_lwgan(cfg, seed=0)
    before = _recon(model, x, 3)
    result = train_lwgan(model, x, cfg, seed=0)
    assert _recon(model, x, 3) < 0.5 * before
    recon = result.history["recon"]
    assert sum(recon[-10:]) / 10 < sum(recon[:10]) / 10


def test_history_per_iteration_and_progress_reports():
    cfg = LWGANConfig(**{**TINY, "mmd_start": 0.5})
    calls = []
    model = build_lwgan(cfg, seed=0)
    res = train_lwgan(model, _segment(), cfg, seed=0, progress_every=2, progress=lambda *a, **k: calls.append(a))
    assert set(res.history) == set(HISTORY_KEYS)
    assert all(len(v) == cfg.iterations for v in res.history.values())
    assert set(res.history["rank"]) <= {1.0, 2.0, 3.0}
    # MMD is off for the first half (the public code's schedule), on afterwards.
    assert res.history["mmd"][:3] == [0.0, 0.0, 0.0] and all(v != 0 for v in res.history["mmd"][3:])
    assert all(v == 0 for v in res.history["iso"])  # lambda_iso = 0: the term is not computed
    assert calls == [("train lwgan", 2, 6), ("train lwgan", 4, 6), ("train lwgan", 6, 6)]


def _params(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_deterministic_under_a_seed():
    cfg = LWGANConfig(**{**TINY, "noise_dim": 2, "sigma_noise": 0.1, "lambda_iso": 1.0})
    runs = []
    for seed in (0, 0, 1):
        model = build_lwgan(cfg, seed=seed)
        runs.append((train_lwgan(model, _segment(), cfg, seed=seed).history, _params(model)))
    assert runs[0][0] == runs[1][0] and torch.equal(runs[0][1], runs[1][1])
    assert not torch.equal(runs[0][1], runs[2][1])
    assert any(v > 0 for v in runs[0][0]["iso"])


def test_autoencoder_objective_leaves_the_critic_alone_and_uses_the_full_rank():
    cfg = LWGANConfig(**{**TINY, "objective": "autoencoder", "lambda_iso": 1.0})
    model = build_lwgan(cfg, seed=0)
    d_before = [p.clone() for p in model.D.parameters()]
    q_before = [p.clone() for p in model.Q.parameters()]
    res = train_lwgan(model, _segment(), cfg, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(d_before, model.D.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(q_before, model.Q.parameters()))
    assert set(res.history["rank"]) == {3.0}
    assert all(v == 0 for v in res.history["critic_gap"] + res.history["mmd"])
    # Its loss is reconstruction + lambda_iso * isometric, nothing else.
    for rec, iso, tot in zip(res.history["recon"], res.history["iso"], res.history["loss_gq"]):
        assert tot == pytest.approx(rec + iso, rel=1e-5)


def test_checkpoint_round_trip_gives_the_same_outputs(tmp_path):
    cfg = LWGANConfig(**{**TINY, "noise_dim": 2, "sigma_noise": 0.1})
    model = build_lwgan(cfg, seed=3)
    train_lwgan(model, _segment(), cfg, seed=3)
    atomic_torch_save(tmp_path / "m.pt", model_state(model))
    again = load_lwgan(cfg, torch.load(tmp_path / "m.pt", weights_only=True))
    x, eps = _segment(16, seed=9), torch.randn(16, 2)
    for r in (1, 3):
        assert torch.equal(model.Q(x, r), again.Q(x, r))
        assert torch.equal(model.D(x, r), again.D(x, r))
    z = model.Q(x, 2)
    assert torch.equal(model.G(z, eps), again.G(z, eps))


def test_model_cache_trains_once_then_loads():
    from bench.models import load_or_train
    from lwgan.registry import get_generator

    spec = get_generator("lwgan.test", **TINY)
    x = _segment()
    t1 = load_or_train(spec, x, data_fingerprint="seg", seed=0)
    t2 = load_or_train(spec, x, data_fingerprint="seg", seed=0)
    assert not t1.entry.loaded and t2.entry.loaded and t1.entry.digest == t2.entry.digest
    assert t2.history["recon"] == t1.history["recon"]
    assert t2.metrics["recon"] == pytest.approx(t1.metrics["recon"])
    xs = _segment(8, seed=5)
    assert torch.equal(t1.model.reconstruct(xs, 2), t2.model.reconstruct(xs, 2))
    # A different config is a different checkpoint.
    t3 = load_or_train(get_generator("lwgan.test", **TINY, lambda_gp=1.0), x, data_fingerprint="seg")
    assert not t3.entry.loaded and t3.entry.key != t1.entry.key


@pytest.mark.parametrize(
    "field, value",
    [("objective", "vae"), ("iter_d", 0), ("lambda_iso", -1.0), ("x_shape", (1, 28, 28, 1))],
)
def test_bad_config_names_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        LWGANConfig(**{**TINY, field: value})


def test_conv_model_trains_a_step_on_images():
    cfg = LWGANConfig(
        **{
            **TINY,
            "x_shape": (1, 28, 28),
            "width_q": 2,
            "width_g": 2,
            "width_d": 2,
            "iterations": 2,
        }
    )
    x = torch.rand(32, 1, 28, 28) * 2 - 1
    model = build_lwgan(cfg, seed=0)
    res = train_lwgan(model, x, cfg, seed=0)
    assert len(res.history["recon"]) == 2
    assert model.sample(5, 2).shape == (5, 1, 28, 28)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_trains_on_cuda(precision):
    cfg = LWGANConfig(**{**TINY, "noise_dim": 2, "sigma_noise": 0.1, "lambda_iso": 1.0})
    model = build_lwgan(cfg, seed=0, device="cuda")
    res = train_lwgan(model, _segment(), cfg, seed=0, precision=precision)
    assert len(res.history["recon"]) == cfg.iterations
    assert model.device.type == "cuda"


def test_adversarial_start_trains_without_the_critic_first():
    cfg = LWGANConfig(**{**TINY, "iterations": 6, "adversarial_start": 0.5, "mmd_start": 0.0})
    model = build_lwgan(cfg, seed=0)
    d0 = _params(model.D)
    res = train_lwgan(model, _segment(), cfg, seed=0)
    gaps = res.history["critic_gap"]
    assert gaps[:3] == [0.0, 0.0, 0.0] and all(g != 0 for g in gaps[3:])
    assert all(v != 0 for v in res.history["mmd"])  # MMD from the first iteration
    assert not torch.equal(d0, _params(model.D))
    # Never adversarial: the critic is never stepped.
    cfg1 = dataclasses.replace(cfg, adversarial_start=1.0)
    model1 = build_lwgan(cfg1, seed=0)
    train_lwgan(model1, _segment(), cfg1, seed=0)
    assert torch.equal(d0, _params(model1.D))


def test_rank_sampling_all_averages_the_per_rank_objective():
    # "all" trains on the mean over ranks of the single-rank losses; checked on the first step's
    # loss with the reconstruction term alone (no critic, no MMD).
    base = {**TINY, "iterations": 1, "adversarial_start": 1.0, "lambda_mmd": 0.0, "batch_size": 8}
    cfg = LWGANConfig(**{**base, "rank_sampling": "all"})
    model = build_lwgan(cfg, seed=0)
    x = _segment(8, seed=4)
    res = train_lwgan(model, x, cfg, seed=0)
    assert res.history["rank"] == [0.0]
    # The recorded loss is the mean over ranks of each rank's reconstruction (+ the rank price).
    fresh = build_lwgan(cfg, seed=0)
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(8, (24,), generator=g)  # the trainer's first batch: 3 ranks x 8 rows
    xb = x[idx].view(3, 8, 2)
    per_rank = [float((xb[r] - fresh.G(fresh.Q(xb[r], r + 1))).norm(dim=1).mean().detach()) for r in range(3)]
    expect = sum(per_rank) / 3 + cfg.lambda_rank * 2
    assert res.history["loss_gq"][0] == pytest.approx(expect, rel=1e-5)


def test_learning_rate_decays_at_the_milestones():
    from lwgan.trainer import _optimisers, _set_lr

    cfg = LWGANConfig(**{**TINY, "iterations": 10, "lr_milestones": (0.5, 0.8), "lr_gamma": 0.1})
    opts = _optimisers(build_lwgan(cfg), cfg)
    seen = []
    for done in (1, 4, 5, 7, 8, 10):
        _set_lr(opts, [1.0, 1.0, 2.0], cfg, done)
        seen.append([o.param_groups[0]["lr"] for o in opts])
    expect = [[1, 1, 2], [1, 1, 2], [0.1, 0.1, 0.2], [0.1, 0.1, 0.2], [0.01, 0.01, 0.02],
              [0.01, 0.01, 0.02]]  # fmt: skip
    assert [v for row in seen for v in row] == pytest.approx([v for row in expect for v in row])


@pytest.mark.parametrize("reuse, calls", [(False, 3 + 1), (True, 1 + 1)])
def test_critic_reuse_encodes_one_batch_per_iteration(reuse, calls):
    # iter_d 3 critic steps + 1 primal step per iteration; with reuse the critic phase encodes once.
    cfg = LWGANConfig(**{**TINY, "iterations": 2, "critic_warmup": 0, "iter_d": 3, "critic_reuse": reuse})
    model = build_lwgan(cfg, seed=0)
    seen = []
    model.Q.register_forward_hook(lambda *a: seen.append(1))
    train_lwgan(model, _segment(), cfg, seed=0)
    assert len(seen) == 2 * calls


def test_one_phase_equal_to_the_config_trains_exactly_as_no_phases():
    cfg = LWGANConfig(**{**TINY, "mmd_start": 0.5})
    phased = dataclasses.replace(cfg, phases=({"iterations": cfg.iterations},))
    a, b = build_lwgan(cfg, seed=3), build_lwgan(phased, seed=3)
    ha = train_lwgan(a, _segment(), cfg, seed=3).history
    hb = train_lwgan(b, _segment(), phased, seed=3).history
    assert ha == hb
    assert torch.equal(_params(a), _params(b))


def test_phases_run_in_order_with_their_own_settings():
    # Phase 1: rank 1 only, no critic, MMD on; phase 2: every rank, critic from its 3rd iteration.
    cfg = LWGANConfig(
        **{
            **TINY,
            "z_max": 3,
            "phases": (
                {"iterations": 5, "max_rank": 1, "adversarial_start": 1.0, "mmd_start": 0.0},
                {"iterations": 6, "adversarial_start": 0.5, "mmd_start": 0.0, "lr": 1e-3},
            ),
        }
    )
    assert cfg.total_iterations == 11
    calls = []
    model = build_lwgan(cfg, seed=0)
    d0 = _params(model.D)
    res = train_lwgan(model, _segment(), cfg, seed=0, progress_every=5, progress=lambda *a, **k: calls.append(a))
    h = res.history
    assert all(len(v) == 11 for v in h.values())
    assert h["rank"][:5] == [1.0] * 5 and set(h["rank"][5:]) > {1.0}  # 6 draws on 1..3
    assert h["critic_gap"][:8] == [0.0] * 8 and all(g != 0 for g in h["critic_gap"][8:])
    assert all(v != 0 for v in h["mmd"])
    assert not torch.equal(d0, _params(model.D))
    assert calls == [("train lwgan", 5, 11), ("train lwgan", 10, 11), ("train lwgan", 11, 11)]


def test_a_rank_one_phase_leaves_the_other_latent_coordinates_untrained():
    # Q's outputs 2..z_max are masked at rank 1, so only rank-1 codes reach G: G's weights on
    # latent inputs 2..z_max get no gradient and stay as initialised.
    cfg = LWGANConfig(**{**TINY, "max_rank": 1, "adversarial_start": 1.0, "mmd_start": 0.0})
    model = build_lwgan(cfg, seed=0)
    w0 = model.G.body[0].weight.detach().clone()  # [width, z_max]
    train_lwgan(model, _segment(), cfg, seed=0)
    w1 = model.G.body[0].weight.detach()
    assert torch.equal(w0[:, 1:], w1[:, 1:]) and not torch.equal(w0[:, 0], w1[:, 0])


@pytest.mark.parametrize(
    "phases, message",
    [
        (({"iterations": 3, "width_g": 8},), "cannot override width_g"),
        (({"iterations": 3}, {"lr": -1.0}), "phases[1]: lwgan config lr=-1.0"),
        (({"max_rank": 4},), "max_rank=4"),
    ],
)
def test_bad_phases_are_refused_naming_the_phase(phases, message):
    with pytest.raises(ConfigError) as e:
        LWGANConfig(**{**TINY, "phases": phases})
    assert message in str(e.value)


def test_fields_added_later_leave_old_configs_dict_and_cache_key_unchanged():
    cfg = LWGANConfig(**TINY)
    full = dataclasses.asdict(cfg)
    assert cfg.to_dict() == {k: v for k, v in full.items() if k not in ("max_rank", "phases", "iso_start")}
    used = LWGANConfig(**{**TINY, "max_rank": 2, "phases": ({"iterations": 2},)})
    assert used.to_dict()["max_rank"] == 2 and used.to_dict()["phases"] == ({"iterations": 2},)


def test_iso_start_trains_the_first_share_without_the_isometric_term():
    cfg = LWGANConfig(**{**TINY, "iterations": 10, "lambda_iso": 1.0, "iso_start": 0.4})
    res = train_lwgan(build_lwgan(cfg, seed=0), _segment(), cfg, seed=0)
    assert res.history["iso"][:4] == [0.0] * 4 and all(v > 0 for v in res.history["iso"][4:])
    # Left at 0 it is not part of the config's dict: older checkpoints keep their cache keys.
    assert "iso_start" not in LWGANConfig(**TINY).to_dict() and cfg.to_dict()["iso_start"] == 0.4
