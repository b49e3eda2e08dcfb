"""The one registry behind every named component (registries.Registry): filled at import, strict
on unknown names with the nearest suggestions, lazy about its built-in modules and entry points."""

from __future__ import annotations

import sys

import pytest

from registries import Registry


def test_add_register_and_read_in_registration_order():
    reg = Registry("widget")
    reg.add("b", 2)

    @reg.register("a", wrap=lambda fn: ("wrapped", fn()))
    def make():
        return 1

    assert make() == 1  # the decorator hands the function back unchanged
    assert reg.names() == ["b", "a"] and list(reg) == ["b", "a"] and len(reg) == 2
    assert reg["a"] == ("wrapped", 1) and reg.get("b") == 2 and "a" in reg and "c" not in reg
    assert dict(reg.items()) == {"b": 2, "a": ("wrapped", 1)}
    with pytest.raises(ValueError, match="widget 'b' is registered twice"):
        reg.add("b", 3)
    assert reg["b"] == 2  # the first entry stands
    reg.remove("b")
    reg.remove("never-there")
    assert reg.names() == ["a"]


def test_an_unknown_name_is_one_line_with_the_nearest_names():
    class Unknown(Exception):
        pass

    reg = Registry("regulator", error=Unknown)
    for name in ("wasserstein", "energy", "log_normal_density"):
        reg.add(name, name)
    with pytest.raises(Unknown) as e:
        reg.get("wasserstien")
    assert str(e.value) == (
        "unknown regulator 'wasserstien'; did you mean wasserstein? "
        "(registered: wasserstein, energy, log_normal_density)"
    )
    with pytest.raises(Unknown) as e:
        reg["zzz"]
    assert "did you mean" not in str(e.value) and "\n" not in str(e.value)


def test_builtin_modules_load_on_first_read_only(tmp_path, monkeypatch):
    (tmp_path / "widgets_builtin_mod.py").write_text(
        "from tests_registry_holder import REG\nREG.add('built', 42)\n", encoding="utf-8"
    )
    (tmp_path / "tests_registry_holder.py").write_text(
        "from registries import Registry\nREG = Registry('widget', builtins=('widgets_builtin_mod',))\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        from tests_registry_holder import REG

        REG.add("early", 1)  # registering does not load the built-ins
        assert "widgets_builtin_mod" not in sys.modules
        assert REG.names() == ["early", "built"]  # reading does, once
        assert "widgets_builtin_mod" in sys.modules
    finally:
        sys.modules.pop("tests_registry_holder", None)
        sys.modules.pop("widgets_builtin_mod", None)


@pytest.mark.parametrize(
    "module, table",
    [
        ("regulators.registry", "REGISTRY"),
        ("regulators.priors", "PRIORS"),
        ("lwgan.families", "FAMILIES"),
        ("lwgan.registry", "VARIANTS"),
        ("lwgan.recipes", "RECIPES"),
        ("lwgan.lsgan_nets", "ARCHITECTURES"),
        ("bench.data.synthetic", "SYNTHETIC"),
        ("bench.pipeline.registry", "EXPERIMENTS"),
        ("bench.claims.rules", "CLAIMS"),
        ("bench.pipeline.executors", "EXECUTORS"),
    ],
)
def test_every_named_component_table_is_a_registry(module, table):
    import importlib

    reg = getattr(importlib.import_module(module), table)
    assert isinstance(reg, Registry)
    if module == "bench.claims.rules":
        import bench.claims  # noqa: F401 - the catalogue registers the claims
    assert len(reg) > 0
