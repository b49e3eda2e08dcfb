"""The penalised rank score: the selection rule by hand, the batched evaluation against a
rank-by-rank reference."""

import math

import numpy as np
import pytest
import torch

from lwgan import losses
from lwgan.model import LWGANConfig, build_lwgan
from lwgan.networks import rank_mask
from lwgan.rank import COMPONENTS, _score_batch, score_ranks, select_rank


def test_select_rank_by_hand():
    # Three evaluations of ranks 1..3. Means: 2.0, 1.0, 1.05; the unpenalised argmin is rank 2.
    scores = np.array([[2.0, 0.9, 1.0], [2.1, 1.0, 1.1], [1.9, 1.1, 1.05]])
    se_2 = np.std([0.9, 1.0, 1.1], ddof=1) / math.sqrt(3)  # 0.1 / sqrt(3)
    lam = se_2**0.8
    sel = select_rank(scores, [1, 2, 3])
    assert sel["argmin_unpenalised"] == 2
    assert sel["lambda_hat"] == pytest.approx(lam)
    assert sel["penalised"] == pytest.approx([2.0 + lam, 1.0 + 2 * lam, 1.05 + 3 * lam])
    assert sel["estimate"] == 2


def test_select_rank_penalty_breaks_a_near_tie_towards_the_smaller_rank():
    # Rank 3 is lower by 0.01 on average, but the evaluations scatter (sd 0.2, se 0.115): the
    # penalty (se^0.8 = 0.18 per rank) outweighs the difference, so rank 2 is chosen.
    scores = np.array([[1.0, 0.99], [1.2, 1.19], [0.8, 0.79]])
    sel = select_rank(scores, [2, 3])
    assert sel["argmin_unpenalised"] == 3
    assert sel["estimate"] == 2
    # With no scatter the penalty vanishes and the lower mean wins.
    assert select_rank(np.array([[1.0, 0.99], [1.0, 0.99]]), [2, 3])["estimate"] == 3


def _tiny_model(noise_dim=0):
    cfg = LWGANConfig(x_shape=(3,), z_max=4, width_q=4, width_g=4, width_d=4, noise_dim=noise_dim)
    return build_lwgan(cfg, seed=1)


def _score_one_rank(model, x, src, alpha, s, lambda_mmd):
    """Reference: one rank at a time with an int rank, written without the batched layout."""
    z = src.clone()
    z[:, s:] = 0
    zq = model.Q(x, s)
    post, fake = model.G(zq), model.G(z)
    gap = model.D(post, s).mean() - model.D(fake, s).mean()
    recon = (x - post).norm(dim=1).mean()
    gp = losses.gradient_penalty(lambda y: model.D(y, s), fake.detach(), post.detach(), alpha)
    mmd = lambda_mmd * losses.imq_mmd(zq, z)
    return [float(v.detach()) for v in (gap, recon, gp.mean(), mmd)]


def test_batched_rank_scores_match_one_rank_at_a_time():
    model = _tiny_model()
    g = torch.Generator().manual_seed(0)
    x, src, alpha = (
        torch.randn(16, 3, generator=g),
        torch.randn(16, 4, generator=g),
        torch.rand(16, generator=g),
    )
    batched = _score_batch(model, x, src, alpha, 0.7, None)
    assert batched.shape == (len(COMPONENTS), 4)
    for s in range(1, 5):
        ref = _score_one_rank(model, x, src, alpha, s, 0.7)
        assert batched[:, s - 1].tolist() == pytest.approx(ref, rel=1e-4, abs=1e-6)


def test_score_ranks_shapes_sums_and_determinism():
    model = _tiny_model(noise_dim=2)
    data = torch.randn(200, 3, generator=torch.Generator().manual_seed(2))
    a = score_ranks(model, data, reps=4, batch_size=32, seed=5)
    b = score_ranks(model, data, reps=4, batch_size=32, seed=5)
    assert a.ranks == [1, 2, 3, 4] and a.scores.shape == (4, 4)
    assert np.allclose(sum(a.components[k] for k in COMPONENTS), a.scores)
    assert np.array_equal(a.scores, b.scores) and a.estimate == b.estimate
    assert a.estimate in a.ranks
    sel = select_rank(a.scores, a.ranks)
    assert a.estimate == sel["estimate"] and a.lambda_hat == pytest.approx(sel["lambda_hat"])
    with pytest.raises(ValueError):
        score_ranks(model, data, reps=1)


def _critic_objective(model, x, src, alpha, lambda_gp):
    """Mean over ranks of gap - lambda_gp * GP: what the critic maximises."""
    total = 0.0
    for s in range(1, model.cfg.z_max + 1):
        gap, _, gp, _ = _score_one_rank(model, x, src, alpha, s, 0.0)
        total += gap - lambda_gp * gp
    return total / model.cfg.z_max


def test_refit_critic_improves_its_objective_and_touches_nothing_else():
    from lwgan.rank import refit_critic

    model = _tiny_model()
    data = torch.randn(400, 3, generator=torch.Generator().manual_seed(3)) * 2
    before = {k: v.clone() for k, v in model.state_dict().items()}
    refit = refit_critic(model, data, steps=40, batch_size=64, seed=0)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert refit.Q is model.Q and refit.G is model.G and refit.D is not model.D
    g = torch.Generator().manual_seed(4)
    x, src, alpha = data[:128], torch.randn(128, 4, generator=g), torch.rand(128, generator=g)
    lam = model.cfg.lambda_gp
    assert _critic_objective(refit, x, src, alpha, lam) > _critic_objective(model, x, src, alpha, lam)


class _IdentityEncoder(torch.nn.Module):
    def forward(self, x, rank):
        return x * rank_mask(rank, x.shape[0], x.shape[1], x.device)


def test_refitted_critic_gap_is_the_wasserstein_distance_of_a_translation():
    """Oracle: with Q the identity (masked to rank s) and G the identity, G(Q(X)) and G(Z_s) differ
    by a translation, X ~ N(mu, I), Z ~ N(0, I): W1 = |mu_1| at rank 1 and ||mu|| at rank 2. The
    critic is optimal along mu: f = c u.x (u = mu / ||mu||), which makes the penalised objective
    c W1 - lambda_gp (c - 1)^2, maximal at c = 1 + W1 / (2 lambda_gp), where the gap is c W1.
    (A critic refitted too briefly is far from it: 200 steps once left Swiss-roll gaps negative.)"""
    from lwgan.model import LWGAN
    from lwgan.networks import Generator, MLPCritic
    from lwgan.rank import refit_critic

    cfg = LWGANConfig(x_shape=(2,), z_max=2, lr=1e-3, width_d=16)
    torch.manual_seed(0)
    model = LWGAN(cfg, _IdentityEncoder(), Generator(torch.nn.Identity(), 2), MLPCritic(2, 2, 16))
    mu = torch.tensor([1.0, 0.5])
    g = torch.Generator().manual_seed(1)
    train, held = (torch.randn(4000, 2, generator=g) + mu for _ in range(2))
    fitted = refit_critic(model, train, steps=600, batch_size=256, seed=0)
    gap = score_ranks(fitted, held, reps=10, batch_size=512, seed=2).components["critic_gap"]
    w1 = np.array([1.0, float(mu.norm())])
    optimum = w1 * (1 + w1 / (2 * cfg.lambda_gp))  # 1.1 and 1.243
    assert gap.mean(axis=0) == pytest.approx(optimum, rel=0.04)
    untrained = score_ranks(model, held, reps=10, batch_size=512, seed=2).components["critic_gap"]
    assert np.all(np.abs(untrained.mean(axis=0) - optimum) > 0.3)  # the oracle is not met for free


def test_training_protocol_with_a_vanishing_lr_is_the_frozen_score():
    """Oracle: when the training between evaluations cannot move the weights (lr 1e-30), the
    public code's protocol evaluates the very batches the frozen protocol does (one stream, the
    same draws), so the scores agree; the training has its own stream and consumes none of it."""
    from lwgan.rank import score_ranks_training

    cfg = LWGANConfig(x_shape=(3,), z_max=4, width_q=4, width_g=4, width_d=4, noise_dim=2, lr=1e-30)
    model = build_lwgan(cfg, seed=1)
    data = torch.randn(300, 3, generator=torch.Generator().manual_seed(2))
    frozen = score_ranks(model, data[:200], reps=3, batch_size=32, seed=5)
    trained = score_ranks_training(model, data[:200], train_data=data[200:], reps=3, every=2, batch_size=32, seed=5)
    assert np.allclose(trained.scores, frozen.scores, rtol=1e-5, atol=1e-7)
    assert trained.estimate == frozen.estimate


def test_training_protocol_trains_a_copy_between_evaluations():
    from lwgan.rank import score_ranks_training

    model = _tiny_model(noise_dim=2)
    data = torch.randn(300, 3, generator=torch.Generator().manual_seed(2))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    seen = []
    a = score_ranks_training(
        model,
        data[:200],
        train_data=data[200:],
        reps=4,
        every=3,
        batch_size=32,
        seed=5,
        progress=lambda task, done, total, **_: seen.append((done, total)),
    )
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)] and a.scores.shape == (4, 4)
    assert np.allclose(sum(a.components[k] for k in COMPONENTS), a.scores)
    # The model moved between evaluations: the same batches score differently than frozen.
    frozen = score_ranks(model, data[:200], reps=4, batch_size=32, seed=5)
    assert not np.allclose(a.scores[1:], frozen.scores[1:])
    b = score_ranks_training(model, data[:200], train_data=data[200:], reps=4, every=3, batch_size=32, seed=5)
    assert np.array_equal(a.scores, b.scores)
    with pytest.raises(ValueError):
        score_ranks_training(model, data, train_data=data, reps=1)


def test_scoring_config_by_hand():
    """The public code's schedulers end on lr * gamma^(milestones); scoring trains from there with
    max(20, iter_d) critic steps, no bursts, the MMD and critic on, every rank."""
    from lwgan.rank import scoring_config

    cfg = LWGANConfig(
        iterations=100,
        lr=1e-3,
        lr_milestones=(0.5, 0.75),
        lr_gamma=0.5,
        iter_d=5,
        phases=(
            {"iterations": 10, "max_rank": 1, "lr": 9.0},
            {"iterations": 40, "lr": 2e-3, "lr_d": 4e-3, "mmd_start": 0.5},
        ),
    )
    s = scoring_config(cfg, 60)
    assert s.iterations == 60 and s.phases == () and s.lr_milestones == ()
    assert s.lr == pytest.approx(2e-3 * 0.25) and s.lr_d == pytest.approx(4e-3 * 0.25)
    assert s.iter_d == 20 and s.critic_warmup == 0 and s.critic_burst_every == 0
    assert s.mmd_start == 0 and s.adversarial_start == 0 and s.max_rank is None
    assert scoring_config(LWGANConfig(iter_d=30, lr_milestones=()), 5).iter_d == 30
    assert scoring_config(LWGANConfig(iter_d=30, lr_milestones=()), 5).lr == 2e-4


def test_refit_uses_the_learning_rate_the_critic_last_trained_at():
    """In a phased config the top-level lr trains nothing; the refit must take the last phase's
    (a refit at the top-level 1e-4 instead of the last phase's 2e-4 once changed every score)."""
    from lwgan.rank import refit_critic

    data = torch.randn(400, 3, generator=torch.Generator().manual_seed(3))
    base = {"x_shape": (3,), "z_max": 2, "width_q": 8, "width_g": 8, "width_d": 8}
    plain = build_lwgan(LWGANConfig(**base, lr=3e-3, lr_d=None), seed=1)
    phased = build_lwgan(LWGANConfig(**base, lr=1e-4, phases=({"iterations": 5, "lr": 9.0}, {"lr": 3e-3})), seed=1)
    a = refit_critic(plain, data, steps=5, batch_size=32, seed=0).D.state_dict()
    b = refit_critic(phased, data, steps=5, batch_size=32, seed=0).D.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    other = build_lwgan(LWGANConfig(**base, lr=1e-4), seed=1)
    c = refit_critic(other, data, steps=5, batch_size=32, seed=0).D.state_dict()
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_rank_margin_by_hand_against_scipys_paired_t_statistic():
    from scipy import stats

    from lwgan.rank import rank_margin

    # Three evaluations of ranks 1, 2, 3; rank 2 best. Unpenalised: lambda 0.
    scores = np.array([[1.0, 0.50, 0.70], [1.2, 0.40, 0.75], [0.9, 0.45, 0.62]])
    m = rank_margin(scores, [1, 2, 3], estimate=2, lambda_hat=0.0)
    assert m["rival"] == 3  # the runner-up: mean 0.69 against rank 1's 1.03
    d = scores[:, 2] - scores[:, 1]
    assert m["gap"] == pytest.approx(d.mean()) and m["se"] == pytest.approx(stats.sem(d))
    assert m["margin"] == pytest.approx(stats.ttest_rel(scores[:, 2], scores[:, 1]).statistic)
    # The penalty shifts the gap, not its error: lambda 0.1 adds 0.1 x (3 - 2).
    p = rank_margin(scores, [1, 2, 3], estimate=2, lambda_hat=0.1)
    assert p["gap"] == pytest.approx(d.mean() + 0.1) and p["se"] == pytest.approx(m["se"])
    # A wrong estimate: the rival is the truth, and the margin says how surely it loses.
    w = rank_margin(scores, [1, 2, 3], estimate=2, lambda_hat=0.0, truth=1)
    assert w["rival"] == 1 and w["gap"] == pytest.approx((scores[:, 0] - scores[:, 1]).mean())
