"""The generator-variant registry: every entry builds and runs; overrides; errors."""

import pytest
import torch

from bench.errors import BenchError
from lwgan import registry
from lwgan.registry import generator_names, get_generator, register_generator

# The full-size MNIST variants are built at a small width: the test is about wiring, not size.
SMALL = {"lwgan": {"width_q": 2, "width_g": 2, "width_d": 2}, "lsgan": {}}


def test_the_names_a_user_types_are_registered():
    for name in ("lsgan", "lwgan", "iso-lwgan", "iso-lwgan-stochastic", "autoencoder-iso"):
        assert name in generator_names()
        assert get_generator(name).data_kind == "mnist"


@pytest.mark.parametrize("name", generator_names())
def test_every_variant_builds_and_generates_the_right_shape(name):
    spec = get_generator(name)
    spec = get_generator(name, **SMALL[spec.family])
    assert spec.name == name and spec.description
    if spec.family == "lsgan":
        G, D = spec.build(seed=0)
        G.eval()
        x = G(torch.randn(3, spec.config.latent_dim))
        assert x.shape == (3, 1, 28, 28)
        assert D(x).shape[0] == 3
        return
    cfg = spec.config
    model = spec.build(seed=0)
    x_shape = (1, 28, 28) if spec.data_kind == "mnist" else cfg.x_shape
    assert tuple(cfg.x_shape) == x_shape
    x = model.sample(3, cfg.z_max)
    assert x.shape == (3, *x_shape)
    z = model.Q(x, 1)
    assert z.shape == (3, cfg.z_max) and (z[:, 1:] == 0).all()
    assert model.D(x, 1).shape == (3,)


def test_variant_defaults_and_overrides():
    iso = get_generator("iso-lwgan").config
    sto = get_generator("iso-lwgan-stochastic").config
    ae = get_generator("autoencoder-iso").config
    base = get_generator("lwgan").config
    assert (base.lambda_iso, base.sigma_noise, base.objective) == (0.0, 0.0, "lwgan")
    assert (iso.lambda_iso, iso.sigma_noise) == (1.0, 0.0)
    assert (sto.lambda_iso, sto.sigma_noise, sto.noise_dim) == (1.0, 0.1, 10)
    assert (ae.objective, ae.lambda_iso, ae.sigma_noise) == ("autoencoder", 1.0, 0.1)
    # None means "not given": the default stays; a value replaces it; the data kind follows x_shape.
    assert get_generator("iso-lwgan", lambda_iso=None).config.lambda_iso == 1.0
    toy = get_generator("iso-lwgan", lambda_iso=0.5, x_shape=(2,), z_max=3)
    assert toy.config.lambda_iso == 0.5 and toy.data_kind == "synthetic"
    assert toy.config.resolved_arch() == "mlp"


def test_errors():
    with pytest.raises(ValueError, match="iso-lwgan"):  # lists the valid names
        get_generator("iso-lwgann")
    with pytest.raises(BenchError, match="lambda_isoo"):
        get_generator("iso-lwgan", lambda_isoo=1.0)
    with pytest.raises(BenchError, match="sigma_noise"):
        get_generator("iso-lwgan-stochastic", sigma_noise=-1.0)
    with pytest.raises(ValueError, match="twice"):
        register_generator("lwgan", data_kind="mnist", description="again")(lambda **kw: None)
    assert registry._REGISTRY["lwgan"].description.startswith("LWGAN")  # unchanged


def test_spec_load_or_train_goes_through_the_cache():
    from bench.data import make_synthetic

    data = make_synthetic("swissroll", seed=0, n_train=256, n_heldout=16)
    spec = get_generator("test-lwgan", x_shape=(2,))
    m1, _, e1 = spec.load_or_train(data, seed=0)
    m2, _, e2 = spec.load_or_train(data, seed=0)
    assert not e1.loaded and e2.loaded and e1.kind == "test-lwgan"
    assert torch.equal(m1.sample(4, generator=torch.Generator().manual_seed(0)),
                       m2.sample(4, generator=torch.Generator().manual_seed(0)))  # fmt: skip
