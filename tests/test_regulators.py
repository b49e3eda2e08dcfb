"""The regulator registry and the loss entries: API contract, hand/numpy oracles, gradcheck, batching."""

import math

import numpy as np
import pytest
import scipy.stats
import torch

import regulators
from regulators.registry import REGISTRY, register

PAPER = [
    "none",
    "wasserstein",
    "energy",
    "trick_discriminator",
    "log_normal_density",
    "logistic_cutoff",
    "truncated_normal_cutoff",
]
EXTRAS = ["lukaszyk_karmowski", "z_abs", "bhattacharyya"]
LOSSES = regulators.names(kind="loss")


def tiny_gan(dtype=torch.float64, d=6):
    """A hand-made G (linear d -> 5, then tanh) and D (a fixed linear score), seeded."""
    g = torch.Generator().manual_seed(11)
    w_g = torch.randn(d, 5, generator=g, dtype=dtype) * 0.5
    w_d = torch.randn(5, generator=g, dtype=dtype)

    def generator(z):
        return torch.tanh(z @ w_g)

    def discriminator(x):
        return (x @ w_d)[:, None] + 0.25  # [N, 1], as an nn.Linear would give

    return generator, discriminator, w_g.numpy(), w_d.numpy()


def context_for(z, seed=0, m=None):
    g = torch.Generator().manual_seed(seed)
    generator, discriminator, _, _ = tiny_gan(z.dtype, z.shape[-1])
    u = torch.randn(*z.shape[:-1], m or z.shape[-1], generator=g, dtype=z.dtype)
    return {"prior_sample": u, "generator": generator, "discriminator": discriminator}


def test_names_and_kinds():
    assert regulators.names() == PAPER + EXTRAS
    assert regulators.names(include_extras=False) == PAPER
    assert set(regulators.names(kind="resample")) == {"logistic_cutoff", "truncated_normal_cutoff"}
    for name in regulators.names():
        reg = regulators.get(name)
        assert reg.name == name and reg.extra == (name in EXTRAS)
        assert reg.kind in regulators.KINDS
        expected = {"logistic_cutoff": "slope a", "truncated_normal_cutoff": "cutoff c"}.get(name, "weight")
        assert reg.hyperparameter == expected
        assert reg.description and "\n" not in reg.description
        # Each cites its source: the recovery paper (Cho) and, where it has one, the reference.
        assert "Cho" in reg.description
    for name, ref in [
        ("trick_discriminator", "Yeh"),
        ("log_normal_density", "Creswell"),
        ("logistic_cutoff", "Egan"),
        ("truncated_normal_cutoff", "Egan"),
    ]:
        assert ref in regulators.get(name).description


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as e:
        regulators.get("wassersteinn")
    assert "wassersteinn" in str(e.value) and all(n in str(e.value) for n in regulators.names())


def test_duplicate_registration_fails():
    name = "_test_duplicate"
    try:
        register(name, kind="loss", hyperparameter="weight", description="test")(lambda z, **_: z)
        with pytest.raises(ValueError, match="twice"):
            register(name, kind="loss", hyperparameter="weight", description="test")(lambda z, **_: z)
    finally:
        REGISTRY.remove(name)
    with pytest.raises(ValueError, match="kind"):
        register("_bad", kind="lossy", hyperparameter="weight", description="x")
    assert "_bad" not in REGISTRY


def test_options():
    assert regulators.get("logistic_cutoff").options == {"b": 2.0, "prior": "normal"}
    reg = regulators.get("logistic_cutoff", b=3)
    assert reg.options["b"] == 3.0 and regulators.get("logistic_cutoff").options["b"] == 2.0
    assert regulators.get("truncated_normal_cutoff", prior="uniform").prior == "uniform"
    with pytest.raises(ValueError, match="valid: b, prior"):
        regulators.get("logistic_cutoff", c=1)
    with pytest.raises(ValueError, match="valid: none"):
        regulators.get("wasserstein", m=3)
    with pytest.raises(ValueError, match="prior"):
        regulators.get("logistic_cutoff", prior="cauchy")


@pytest.mark.parametrize("name", regulators.names())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_every_entry_shape_dtype_finite(name, dtype):
    reg = regulators.get(name)
    z = torch.randn(2, 3, 8, generator=torch.Generator().manual_seed(0), dtype=dtype) * 2
    if reg.kind == "loss":
        z.requires_grad_()
        out = reg.penalty(z, **context_for(z.detach()))
        assert out.shape == (2, 3) and out.dtype == dtype and torch.all(torch.isfinite(out))
        out.sum().backward()  # also for `none` on its own
        assert z.grad.shape == z.shape and torch.all(torch.isfinite(z.grad))
    else:
        hp = torch.tensor([[1.0], [2.0]], dtype=dtype)
        out = reg.resample(z, hp, generator=torch.Generator().manual_seed(1))
        assert out.shape == z.shape and out.dtype == dtype and torch.all(torch.isfinite(out))


@pytest.mark.parametrize("name", LOSSES)
def test_gradcheck_every_loss(name):
    # Distinct, well-separated values: the sample distances have no derivative at ties.
    g = torch.Generator().manual_seed(2)
    both = torch.linspace(-2.5, 2.5, 2 * 3 * 14, dtype=torch.float64)[torch.randperm(84, generator=g)]
    both = both.reshape(2, 3, 14)
    z = both[..., :6].clone().requires_grad_()
    ctx = context_for(z.detach())
    ctx["prior_sample"] = both[..., 6:].clone()  # m = 8 != d = 6
    assert torch.autograd.gradcheck(lambda x: regulators.get(name).penalty(x, **ctx), (z,), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", LOSSES)
def test_batched_equals_slice_wise(name):
    reg = regulators.get(name)
    z = torch.randn(3, 5, 16, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    ctx = context_for(z, m=20)
    whole = reg.penalty(z, **ctx)
    for c in range(3):
        part = reg.penalty(z[c], **{**ctx, "prior_sample": ctx["prior_sample"][c]})
        torch.testing.assert_close(whole[c], part, rtol=1e-14, atol=1e-14)
        for i in range(5):
            one = reg.penalty(z[c, i], **{**ctx, "prior_sample": ctx["prior_sample"][c, i]})
            torch.testing.assert_close(whole[c, i], one, rtol=1e-14, atol=1e-14)


def test_loss_values_against_numpy():
    z = torch.randn(4, 5, 10, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    zn = z.numpy()
    u = torch.randn(4, 5, 12, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    get = regulators.get
    assert torch.equal(get("none").penalty(z), torch.zeros(4, 5, dtype=torch.float64))
    np.testing.assert_allclose(get("log_normal_density").penalty(z).numpy(), (zn**2).mean(-1), rtol=1e-14)
    np.testing.assert_allclose(get("z_abs").penalty(z).numpy(), np.abs(zn).mean(-1), rtol=1e-14)
    np.testing.assert_allclose(
        get("bhattacharyya").penalty(z).numpy(), -np.log(np.exp(-0.25 * zn**2).sum(-1)), rtol=1e-12
    )
    w = get("wasserstein").penalty(z, prior_sample=u)
    assert w[1, 2].item() == pytest.approx(scipy.stats.wasserstein_distance(zn[1, 2], u[1, 2].numpy()), abs=1e-12)
    e = get("energy").penalty(z, prior_sample=u)
    assert e[3, 0].item() == pytest.approx(scipy.stats.energy_distance(zn[3, 0], u[3, 0].numpy()), abs=1e-12)
    lk = get("lukaszyk_karmowski").penalty(z, prior_sample=u)
    pairs = np.abs(u[2, 4].numpy()[:, None] - zn[2, 4][None, :]).mean()
    assert lk[2, 4].item() == pytest.approx(pairs, abs=1e-12)


def test_bhattacharyya_large_z_is_finite():
    # -log(4 exp(-40^2 / 4)) = 400 - log 4, where the plain sum would underflow.
    z = torch.full((4,), 40.0, dtype=torch.float64)
    assert regulators.get("bhattacharyya").penalty(z).item() == pytest.approx(400 - math.log(4), rel=1e-14)


@pytest.mark.parametrize("d_shape", ["column", "flat"])
def test_trick_discriminator_against_hand_computation(d_shape):
    generator, discriminator, w_g, w_d = tiny_gan()
    if d_shape == "flat":
        column = discriminator

        def discriminator(x):
            return column(x)[:, 0]  # D returning [N]

    z = torch.randn(2, 3, 6, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    got = regulators.get("trick_discriminator").penalty(z, generator=generator, discriminator=discriminator)
    assert got.shape == (2, 3)
    for idx in np.ndindex(2, 3):
        x = np.tanh(z[idx].numpy() @ w_g)
        score = x @ w_d + 0.25
        assert got[idx].item() == pytest.approx((score - 1) ** 2, rel=1e-13)


def test_trick_discriminator_rejects_multi_output_d():
    generator, _, _, _ = tiny_gan()
    z = torch.randn(2, 6, dtype=torch.float64)
    with pytest.raises(ValueError, match="one score"):
        regulators.get("trick_discriminator").penalty(z, generator=generator, discriminator=lambda x: x)


def test_missing_context_names_it():
    z = torch.randn(2, 6)
    with pytest.raises(TypeError, match="prior_sample="):
        regulators.get("wasserstein").penalty(z)
    with pytest.raises(TypeError, match="generator=, discriminator="):
        regulators.get("trick_discriminator").penalty(z)
    # Context a regulator does not use is ignored, so one context dict serves every entry.
    assert regulators.get("log_normal_density").penalty(z, prior_sample=z).shape == (2,)


def test_none_backpropagates_alone():
    z = torch.randn(3, 4, requires_grad=True)
    regulators.get("none").penalty(z).sum().backward()
    assert torch.equal(z.grad, torch.zeros(3, 4))
