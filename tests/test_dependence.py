"""`bench dependence` at tiny size: the study's recipes train, its plan and sweep run end to end
(LSGANs of two recipes, one with fewer seeds, the readings of the cutoffs), and its report has
the claims per generator, the lift figure and the readings; each new recipe trains at tiny size."""

import dataclasses

import pandas as pd
import pytest

import bench.classifier
import bench.data
from bench.cli import main
from lwgan.registry import get_generator


@dataclasses.dataclass
class TinyClassifierConfig(bench.classifier.ClassifierConfig):
    width: int = 4
    epochs: int = 1


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
    monkeypatch.setattr(bench.classifier, "ClassifierConfig", TinyClassifierConfig)
    return small


@pytest.mark.parametrize("recipe", ["e1", "e3", "e8", "dz64", "author-adam", "cho32"])
def test_each_study_recipe_trains_at_tiny_size(recipe, small_mnist):
    """The recipe's own settings (what it changes) on a tiny net, one epoch on 1,200 images."""
    import torch

    from bench.data import to_pixels
    from lwgan.lsgan import generator_flops, train_lsgan

    spec = get_generator(f"lsgan.{recipe}")
    tiny = {"epochs": 1, "hidden": [16], "d_width": 4, "latent_dim": min(spec.config.latent_dim, 16)}
    if spec.config.arch == "cho":
        tiny.update(cho_width=8, cho_d_width=4)
    cfg = dataclasses.replace(spec.config, **tiny)
    g, _d, hist = train_lsgan(cfg, to_pixels(small_mnist.train_images[:256]), seed=0, device="cpu")
    out = g(torch.randn(4, cfg.latent_dim))
    assert out.shape == (4, 1, 28, 28) and torch.isfinite(out).all() and out.abs().max() <= 1
    assert len(hist["d_loss"]) == 1
    if recipe == "cho32":  # the study's width: 1/16 of the author's channels, 8.0 MFLOP a pass
        from lwgan.lsgan import build_lsgan

        full_g, _ = build_lsgan(spec.config)
        assert 7.5e6 < generator_flops(full_g, 256) < 8.5e6


def test_the_study_end_to_end_at_tiny_size(small_mnist, mnist_dir, tmp_path, capsys, monkeypatch):
    from bench.pipeline import load

    monkeypatch.setenv("COLUMNS", "200")
    out = tmp_path / "dep"
    argv = [
        "dependence",
        "--generator",
        "lsgan.test,lsgan.cho-test",
        "--generator-seeds",
        "0,1",
        "--grid",
        "quick",
        "--images",
        "12",
        "--images-for",
        '{"lsgan.cho-test": 6}',
        "--steps",
        "3",
        "--readings",
        "before,accept,after/2",
        "--device",
        "cpu",
        "--data-dir",
        mnist_dir,
        "--out",
        str(out),
        "--no-track",
        "--quality-samples",
        "200",
    ]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "readings of the resampling cutoffs" in err and "will train it now" in err  # the plan, up front
    results = load(out / "dependence.json")
    assert set(results.context["models"]) == {
        "lsgan.test s0",
        "lsgan.test s1",
        "lsgan.cho-test s0",
        "lsgan.cho-test s1",
    }
    csv = pd.read_csv(out / "dependence.csv")
    assert set(csv["status"]) == {"finished"}
    # The costly generator on 6 of the 12 images: its cells say so, and its own halves judge it.
    sizes = {(c["cell"]["generator"], c["record"]["n_images"]) for c in results.cells}
    assert sizes == {("lsgan.test", 12), ("lsgan.cho-test", 6)}
    assert all(c["key"].endswith("|images=6") == (c["cell"]["generator"] == "lsgan.cho-test") for c in results.cells)
    # The readings: the cutoff cells of the first generator's first seed, once per reading.
    other = csv[csv["reading"] != "after"]
    assert set(other["reading"]) == {"before", "accept", "after/2"}
    assert set(other["generator"]) == {"lsgan.test"} and set(other["generator_seed"]) == {0}
    assert set(other["regulator"]) == {"logistic_cutoff", "truncated_normal_cutoff"}
    report = (out / "dependence.md").read_text()
    for needle in (
        "## Finding",
        "## Claims per generator",
        "## Lift over the baseline",
        "## Agreement with the paper",
        "## Readings of the resampling cutoffs",
        "Credible generators",
        "# Details",
        "`lsgan.cho-test` on 6 of them (3 and 3 in the two halves)",
    ):
        assert needle in report, needle
    for fig in ("dependence_lift", "dependence_readings"):
        assert (out / f"{fig}.pdf").stat().st_size > 0 and (out / f"{fig}.png").stat().st_size > 0
    # Five claims per generator, judged (or withheld) per generator.
    keys = [(v.key, v.claim.split(": (")[0]) for v in results.verdict_objs()]
    assert len([k for k in keys if k[1] == "lsgan.cho-test"]) == 5
    # The report rebuilds byte for byte from its JSON.
    from bench.pipeline import rebuild

    rebuilt = rebuild(out / "dependence.json", tmp_path / "again")
    assert rebuilt["report"].read_text() == report


def test_fewer_seeds_for_a_generator_and_bad_readings(small_mnist, mnist_dir, tmp_path, capsys):
    from bench.experiments.recover.dependence import DependenceSettings, cells
    from bench.settings import SettingError

    s = DependenceSettings(
        generators=("lsgan.test", "lsgan.cho-test"),
        generator_seeds=(0, 1, 2),
        seeds_for={"lsgan.cho-test": (0,)},
        grid="quick",
        readings=(),
    )
    seeds = {(c["generator"], c["generator_seed"]) for c in cells(s)}
    assert seeds == {("lsgan.test", 0), ("lsgan.test", 1), ("lsgan.test", 2), ("lsgan.cho-test", 0)}
    # the study's fewer images apply to the generators it sweeps; a count outside 2..images is refused
    assert DependenceSettings(generators=("lsgan.test",)).images_for == {}
    assert DependenceSettings().images_of("lsgan.cho32") == 50 and DependenceSettings().images_of("lsgan") == 500
    with pytest.raises(SettingError, match="--images-for: lsgan.cho32: expected a number of images from 2"):
        DependenceSettings(images_for={"lsgan.cho32": 501})
    from bench.recovery.recover_settings import RecoverSettings

    with pytest.raises(SettingError, match="not one of the sweep's generators"):
        RecoverSettings(generators=("lsgan",), images_for={"lsgan.cho32": 50})
    with pytest.raises(SettingError, match="reading 'during'"):
        DependenceSettings(readings=("during",))
    assert main(["dependence", "--readings", "after/0", "--out", str(tmp_path / "never")]) == 2
    assert "--readings: reading 'after/0'" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()


def test_the_plan_scales_an_lsgans_training_time_by_its_epochs():
    """The 20-epoch MLP's measured 4 min, scaled: an under-trained recipe is not said to take as long."""
    from bench.recovery.generators import spec_for
    from lwgan.families import get_family

    def said(name):
        return get_family("lsgan").train_estimate(spec_for(name).config)

    assert said("lsgan") == "about 4.0 min on 2 CPU cores"
    assert said("lsgan.e1") == "about 0.2 min on 2 CPU cores"
    assert said("lsgan.e8") == "about 1.6 min on 2 CPU cores"
    assert "conv net" in said("lsgan.cho32")
