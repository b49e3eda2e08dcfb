"""LWGAN / Iso-LWGAN losses against brute-force loops and hand-computed values."""

import pytest
import torch

from lwgan import losses


def _double(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_reconstruction_l2_is_per_sample_norm_not_squared():
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    xr = torch.tensor([[3.0, 4.0], [1.0, 1.0]])
    assert losses.reconstruction_l2(x, xr).tolist() == [5.0, 0.0]
    # Image-shaped inputs: the norm runs over every pixel of a sample.
    img = torch.zeros(2, 1, 2, 2)
    img_r = torch.ones(2, 1, 2, 2)
    assert torch.allclose(losses.reconstruction_l2(img, img_r), torch.tensor([2.0, 2.0]))


def _iso_loop(z, gz):
    n, total = z.shape[0], 0.0
    for i in range(n):
        for j in range(n):
            if i != j:
                total += abs(float((z[i] - z[j]).norm()) - float((gz[i] - gz[j]).norm()))
    return total / (n * (n - 1))


def test_isometric_loss_matches_double_loop():
    z, gz = _double(7, 3, seed=1), _double(7, 5, seed=2)
    assert float(losses.isometric_loss(z, gz)) == pytest.approx(_iso_loop(z, gz), rel=1e-10)


def test_isometric_loss_zero_for_rotation_embedding_and_positive_for_scaling():
    z = _double(20, 3, seed=3)
    # An isometric G: rotate in R^3, embed in R^6, translate. Pairwise distances are preserved.
    q, _ = torch.linalg.qr(_double(6, 6, seed=4))
    gz = z @ q[:3] + 2.5
    assert float(losses.isometric_loss(z, gz)) == pytest.approx(0.0, abs=1e-10)
    # Scaling by 2 doubles every distance: the loss is the mean pairwise distance.
    mean_dist = torch.cdist(z, z).sum() / (20 * 19)
    assert float(losses.isometric_loss(z, 2 * z)) == pytest.approx(float(mean_dist), rel=1e-10)


def test_isometric_loss_gradient_is_finite_with_duplicate_points():
    z = torch.tensor([[0.0, 1.0], [0.0, 1.0], [2.0, 0.0]], requires_grad=True)
    losses.isometric_loss(z, 3 * z).backward()
    assert torch.isfinite(z.grad).all()


def test_gradient_penalty_of_linear_critic():
    w = torch.tensor([3.0, 4.0])  # ||w|| = 5: the gradient everywhere, so GP = (5 - 1)^2 = 16

    def critic(x):
        return x @ w

    a, b = _double(9, 2, seed=5).float(), _double(9, 2, seed=6).float()
    gp = losses.gradient_penalty(critic, a, b, torch.rand(9))
    assert gp.shape == (9,)
    assert torch.allclose(gp, torch.full((9,), 16.0))


def test_gradient_penalty_evaluates_at_the_interpolates():
    # f(x) = 0.5 ||x||^2 has gradient x, so GP = (||x_hat|| - 1)^2 at x_hat = a + alpha (b - a).
    def critic(x):
        return 0.5 * x.pow(2).sum(1)

    a, b = _double(5, 3, seed=7), _double(5, 3, seed=8)
    alpha = torch.tensor([0.0, 0.25, 0.5, 1.0, 0.9], dtype=torch.float64)
    x_hat = a + alpha[:, None] * (b - a)
    expect = (x_hat.norm(dim=1) - 1) ** 2
    assert torch.allclose(losses.gradient_penalty(critic, a, b, alpha), expect)


def test_gradient_penalty_trains_the_critic():
    lin = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[3.0, 4.0]]))
    gp = losses.gradient_penalty(lambda x: lin(x).view(-1), torch.zeros(4, 2), torch.ones(4, 2), torch.rand(4))
    gp.mean().backward()
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w|| = 2 * 4 * w / 5
    assert torch.allclose(lin.weight.grad, torch.tensor([[4.8, 6.4]]))


def _mmd_loop(zh, z, scales=losses.IMQ_SCALES):
    n, d = z.shape
    total = 0.0
    for s in scales:
        c = 2.0 * d * s

        def k(a, b, c=c):
            return c / (c + float(((a - b) ** 2).sum()))

        within = sum(k(z[i], z[j]) + k(zh[i], zh[j]) for i in range(n) for j in range(n) if i != j)
        cross = sum(k(zh[i], z[j]) for i in range(n) for j in range(n))
        total += within / (n * (n - 1)) - 2.0 * cross / (n * n)
    return total


def test_imq_mmd_matches_double_loop_and_batches():
    zh, z = _double(6, 3, seed=9), _double(6, 3, seed=10) + 0.5
    assert float(losses.imq_mmd(zh, z)) == pytest.approx(_mmd_loop(zh, z), rel=1e-10)
    # Leading dims are independent problems.
    zh2, z2 = _double(6, 3, seed=11), _double(6, 3, seed=12)
    batched = losses.imq_mmd(torch.stack([zh, zh2]), torch.stack([z, z2]))
    assert batched.shape == (2,)
    assert float(batched[1]) == pytest.approx(_mmd_loop(zh2, z2), rel=1e-10)


def test_imq_mmd_small_for_one_distribution_clearly_positive_when_shifted():
    same = [float(losses.imq_mmd(_double(400, 2, seed=s), _double(400, 2, seed=100 + s))) for s in range(3)]
    shifted = float(losses.imq_mmd(_double(400, 2, seed=20) + 1.0, _double(400, 2, seed=21)))
    assert max(abs(v) for v in same) < 0.02
    assert shifted > 0.2
    assert shifted > 20 * max(abs(v) for v in same)


def test_critic_gap():
    assert float(losses.critic_gap(torch.tensor([1.0, 3.0]), torch.tensor([0.5, 0.5]))) == 1.5


def test_lsgan_losses_by_hand():
    d_real, d_fake = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    # real: (0 + 1)/2 ; fake: (0 + 1)/2 -> mean of sums = (0+0 + 1+1)/2 = 1
    assert float(losses.lsgan_discriminator_loss(d_real, d_fake)) == pytest.approx(1.0)
    assert float(losses.lsgan_generator_loss(d_fake)) == pytest.approx(0.5)


def test_isometric_loss_groups_count_only_pairs_within_a_group():
    z, gz = _double(8, 2, seed=13), _double(8, 3, seed=14)
    grouped = float(losses.isometric_loss(z, gz, groups=2))
    expect = (_iso_loop(z[:4], gz[:4]) + _iso_loop(z[4:], gz[4:])) / 2
    assert grouped == pytest.approx(expect, rel=1e-10)
