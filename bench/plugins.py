"""Registries open to users: plugin modules that register regulators, generators or experiments.

A plugin is a Python module that, when imported, calls `regulators.register`,
`lwgan.registry.register_generator` / `lwgan.recipes.register_recipe` or
`bench.pipeline.register`. The harness imports, once each, in this order:
- every `--plugin` given to `bench` (a dotted module name, or the path of a .py file);
- every entry of the environment variable BENCH_PLUGINS (comma-separated, same forms);
- every installed entry point of the group `lwgan_bench.plugins` (a module, or a function that
  is called with no arguments to register).
A module that fails to import, or registers a name that exists, is a one-line PluginError.
Worker processes load the same plugins (`loaded()`), so their entries exist there too.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from importlib.metadata import entry_points as eps
from pathlib import Path

from bench.errors import BenchError

ENV = "BENCH_PLUGINS"
GROUP = "lwgan_bench.plugins"
_LOADED: list[str] = []  # in load order; what workers must load again


class PluginError(BenchError):
    """A plugin that cannot be loaded; the message names it and says why, on one line."""


def import_module_or_file(spec: str, prefix: str = "bench_plugin_"):
    """A module by name, or a .py file as module `<prefix><stem>` (FileNotFoundError if absent).
    The file's module goes into sys.modules, so pickled references to its functions resolve."""
    path = Path(spec)
    if not spec.endswith(".py"):
        return importlib.import_module(spec)
    if not path.is_file():
        raise FileNotFoundError(spec)
    name = f"{prefix}{path.stem}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _import(spec: str) -> None:
    try:
        import_module_or_file(spec)
    except FileNotFoundError:
        raise PluginError(f"plugin {spec}: no such file") from None


def load(spec: str) -> None:
    """Import one plugin (a module name or a .py path) unless it is loaded already."""
    spec = spec.strip()
    key = str(Path(spec).resolve()) if spec.endswith(".py") else spec
    if not spec or key in _LOADED:
        return
    try:
        _import(spec)
    except PluginError:
        raise
    except Exception as e:  # noqa: BLE001 - any failure of a user's module is reported in one line
        raise PluginError(f"plugin {spec}: {type(e).__name__}: {' '.join(str(e).split())}") from None
    _LOADED.append(key)


def load_all(specs=(), *, env: bool = True, entry_points: bool = True) -> list[str]:
    """Load `specs`, then BENCH_PLUGINS, then the installed entry points; returns loaded()."""
    for spec in specs:
        for part in str(spec).split(","):
            load(part)
    if env:
        for part in os.environ.get(ENV, "").split(","):
            load(part)
    if entry_points:
        for ep in eps(group=GROUP):
            key = f"entry point {ep.name}"
            if key in _LOADED:
                continue
            try:
                obj = ep.load()
                if callable(obj):
                    obj()
            except Exception as e:  # noqa: BLE001
                raise PluginError(
                    f"plugin {ep.name} ({ep.value}): {type(e).__name__}: {' '.join(str(e).split())}"
                ) from None
            _LOADED.append(key)
    return loaded()


def loaded() -> list[str]:
    """The plugins loaded in this process (module names and .py paths; entry points excluded,
    since a worker finds those itself)."""
    return [p for p in _LOADED if not p.startswith("entry point ")]


def _file_of(spec: str) -> Path | None:
    if spec.endswith(".py"):
        return Path(spec)
    module = sys.modules.get(spec)
    return Path(module.__file__) if module is not None and getattr(module, "__file__", None) else None


def digest(path: Path) -> str:

    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def described() -> list[dict]:
    """The loaded plugins as results record them: the spec given (a module name or a .py path),
    its file and a digest of that file (so a report says which version made it)."""
    out = []
    for spec in loaded():
        path = _file_of(spec)
        out.append(
            {
                "spec": spec,
                "file": str(path) if path else None,
                "digest": digest(path) if path and path.is_file() else None,
            }
        )
    return out
