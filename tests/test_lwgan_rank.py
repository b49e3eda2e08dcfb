"""The penalised rank score: the selection rule by hand, the batched evaluation against a
rank-by-rank reference."""

import math

import numpy as np
import pytest
import torch

from lwgan import losses
from lwgan.model import LWGANConfig, build_lwgan
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
    assert _critic_objective(refit, x, src, alpha, lam) > _critic_objective(
        model, x, src, alpha, lam
    )
