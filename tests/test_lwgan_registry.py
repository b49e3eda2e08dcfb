"""The generator-variant registry and its training recipes: every entry builds and runs; a name
may carry a recipe after a dot; overrides; errors; the cache keys of the recipes are those of
the dict merges they stand for."""

import pytest
import torch

from lwgan import recipes
from lwgan.errors import ConfigError
from lwgan.recipes import RECIPES, register_recipe
from lwgan.registry import generator_names, get_generator, register_generator

# The full-size MNIST variants are built at a small width: the test is about wiring, not size.
SMALL = {"lwgan": {"width_q": 2, "width_g": 2, "width_d": 2}, "lsgan": {}, "published": {"hidden": 4}}


def test_the_names_a_user_types_are_registered():
    for name in ("lsgan", "lwgan", "iso-lwgan", "iso-lwgan-stochastic", "autoencoder-iso"):
        assert name in generator_names()
        assert get_generator(name).data_kind == "mnist"
    assert set(generator_names(family="lsgan")) == {"lsgan"}


@pytest.mark.parametrize(
    "name", [f"{v}.{r}" for v in generator_names() for f, r in RECIPES if f == get_generator(v).family]
)
def test_every_variant_with_every_recipe_builds_and_generates_the_right_shape(name):
    family = get_generator(name.split(".")[0]).family
    small = SMALL[family] if "mnist" in name or family == "lsgan" else {}
    spec = get_generator(name, **small)
    assert spec.name == name.removesuffix(".mnist") and spec.description
    assert spec.cache_kind == name.split(".")[0]
    if family == "lsgan":
        model = spec.build(seed=0)
        model.G.eval()
        x = model.G(torch.randn(3, spec.config.latent_dim))
        assert x.shape == (3, 1, 28, 28) and model.D(x).shape[0] == 3
        return
    cfg = spec.config
    model = spec.build(seed=0)
    if family == "published":  # a plain autoencoder: Q and G, no critic, one latent size
        x_shape = (1, 28, 28) if cfg.data == "mnist" else (2,)
        z = model.Q(torch.randn(3, *x_shape))
        assert z.shape == (3, cfg.z_dim) and model.G(z).shape == (3, *x_shape)
        return
    x = model.sample(3, cfg.z_max)
    assert x.shape == (3, *cfg.x_shape)
    z = model.Q(x, 1)
    assert z.shape == (3, cfg.z_max) and (z[:, 1:] == 0).all()
    assert model.D(x, 1).shape == (3,)


def test_variant_knobs_recipes_and_overrides():
    iso = get_generator("iso-lwgan").config
    sto = get_generator("iso-lwgan-stochastic").config
    ae = get_generator("autoencoder-iso").config
    base = get_generator("lwgan").config
    assert (base.lambda_iso, base.sigma_noise, base.objective) == (0.0, 0.0, "lwgan")
    assert (iso.lambda_iso, iso.sigma_noise) == (1.0, 0.0)
    assert (sto.lambda_iso, sto.sigma_noise, sto.noise_dim) == (1.0, 0.1, 10)
    assert (ae.objective, ae.lambda_iso, ae.sigma_noise) == ("autoencoder", 1.0, 0.1)
    # The name alone is the `mnist` recipe; another recipe changes only training settings.
    assert get_generator("iso-lwgan") == get_generator("iso-lwgan.mnist")
    rank = get_generator("iso-lwgan.rank", x_shape=(2,), z_max=5).config
    assert rank.lambda_iso == 1.0 and len(rank.phases) == 4 and rank.width_q == 32
    assert get_generator("lwgan.mnist-public").config.iterations == 50000
    # None means "not given": the default stays; a value replaces it; the data kind follows x_shape.
    assert get_generator("iso-lwgan", lambda_iso=None).config.lambda_iso == 1.0
    toy = get_generator("iso-lwgan", lambda_iso=0.5, x_shape=(2,), z_max=3, arch="auto")
    assert toy.config.lambda_iso == 0.5 and toy.data_kind == "synthetic"
    assert toy.config.resolved_arch() == "mlp"


def test_a_spec_is_exactly_the_merge_of_recipe_knobs_and_overrides():
    """The oracle: the config written out by hand as LWGANConfig's defaults updated by the
    recipe's dict, the variant's knobs and the overrides, in that order."""
    from lwgan.model import LWGANConfig

    over = {"iterations": 300, "lr": 5e-4, "x_shape": (2,), "z_max": 3}
    want = LWGANConfig(**{**recipes.TOY, "lambda_iso": 1.0, "sigma_noise": 0.1, "noise_dim": 10, **over})
    assert get_generator("iso-lwgan-stochastic.toy", **over).config == want
    mnist = LWGANConfig(
        x_shape=(1, 28, 28),
        arch="mlp-image",
        z_max=20,
        width_q=256,
        width_g=256,
        width_d=256,
        batch_size=128,
        iterations=8000,
        lr=1e-3,
        iter_d=2,
        iter_gq=1,
        lambda_rank=0.0005,
        critic_warmup=20,
        critic_burst=20,
        critic_burst_every=200,
        adversarial_start=0.25,
        mmd_start=0.0,
        iso_start=0.25,
        lr_milestones=(0.6, 0.8, 0.9),
        lr_gamma=0.5,
    )
    assert get_generator("lwgan").config == mnist  # the MNIST default, typed in by hand


def test_errors():
    with pytest.raises(ConfigError, match="iso-lwgan"):  # lists the valid names
        get_generator("iso-lwgann")
    with pytest.raises(ConfigError, match="mnist-tiny"):  # an unknown recipe lists the family's
        get_generator("lwgan.nope")
    with pytest.raises(ConfigError, match="lambda_isoo"):
        get_generator("iso-lwgan", lambda_isoo=1.0)
    with pytest.raises(ConfigError, match="sigma_noise"):
        get_generator("iso-lwgan-stochastic", sigma_noise=-1.0)
    with pytest.raises(ValueError, match="twice"):
        register_generator("lwgan", family="lwgan", description="again")(lambda **kw: None)
    with pytest.raises(ValueError, match="dot"):
        register_generator("my.gan", family="lwgan", description="x")
    with pytest.raises(ValueError, match="twice"):
        register_recipe("rank", family="lwgan", description="again")
    assert ("lwgan", "rank") in RECIPES and ("lsgan", "test") in RECIPES


def test_load_or_train_goes_through_the_cache_with_one_return_type():
    from bench.data import make_synthetic
    from bench.models import Trained, load_or_train

    data = make_synthetic("swissroll", seed=0, n_train=256, n_heldout=16)
    spec = get_generator("lwgan.test", x_shape=(2,))
    t1 = load_or_train(spec, data, seed=0)
    t2 = load_or_train(spec, data, seed=0)
    assert isinstance(t2, Trained) and not t1.entry.loaded and t2.entry.loaded
    assert t1.entry.kind == "lwgan" and t1.train_seconds > 0
    g = torch.Generator().manual_seed(0)
    assert torch.equal(t1.model.sample(4, generator=g), t2.model.sample(4, generator=torch.Generator().manual_seed(0)))
