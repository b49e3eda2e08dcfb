"""One small registry for every named thing users pick by name: regulators, priors, generator
families and variants, recipes, LSGAN architectures, synthetic datasets, experiments, claims,
executors.

    REGULATORS = Registry("regulator", group="lwgan_bench.regulators")

    @REGULATORS.register("l1_to_origin")
    def l1(z): ...

A Registry is a read-only mapping from name to entry, filled by `add` (or the `register`
decorator) when a module is imported. A name registered twice is an error at import time, so two
plugins cannot silently shadow each other. An unknown name is one error that suggests the nearest
registered names. Entries the package ships in other modules (`builtins`) and those of installed
distributions (the entry-point `group`: a module, or a function called once to register) are
loaded on first read, so a registry never imports what it holds until someone asks for it.

It sits below `regulators/`, `lwgan/` and `bench/` and imports none of them (as
lm-evaluation-harness's task registry does for tasks, in a few dozen lines).
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator, Mapping
from importlib.metadata import entry_points
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Mapping, Generic[T]):
    def __init__(
        self,
        kind: str,
        *,
        builtins: tuple[str, ...] = (),
        group: str | None = None,
        error: type[Exception] = ValueError,
    ):
        self.kind = kind  # what an entry is, for messages: "regulator", "experiment"
        self.builtins = builtins  # modules that register the package's own entries
        self.group = group  # entry-point group of installed plugins
        self.error = error  # raised for an unknown name (a one-line message)
        self._entries: dict[str, T] = {}
        self._loaded = not builtins and group is None

    # ----------------------------------------------------------------------------- filling
    def add(self, name: str, entry: T) -> T:
        """Register `entry` under `name`; a name registered twice is a ValueError."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = entry
        return entry

    def register(self, name: str, wrap: Callable[[Callable], T] | None = None):
        """Decorator: `fn` (or `wrap(fn)`, an entry built from it) registered as `name`; the
        decorated function itself is returned unchanged."""

        def deco(fn):
            self.add(name, wrap(fn) if wrap is not None else fn)
            return fn

        return deco

    def remove(self, name: str) -> None:
        """Drop `name` if present (tests register throwaway entries)."""
        self._entries.pop(name, None)

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True  # before importing: a builtin module registers into this registry
        for module in self.builtins:
            importlib.import_module(module)
        for ep in entry_points(group=self.group) if self.group else ():
            try:
                obj = ep.load()
                if callable(obj) and ep.name not in self._entries:
                    obj()
            except Exception as e:  # noqa: BLE001 - a broken plugin is named on one line
                raise self.error(f"{self.kind} plugin {ep.name} ({ep.value}): {type(e).__name__}: {e}") from None

    # ----------------------------------------------------------------------------- reading
    def get(self, name: str) -> T:
        """The entry `name`; an unknown name raises `error`, naming the nearest ones (strict,
        unlike a dict's get: a misspelt name is a mistake to report, not a default to use)."""
        self._load()
        if name in self._entries:
            return self._entries[name]
        raise self.error(self.unknown(name))

    def unknown(self, name: str) -> str:
        """The one-line message for a name that is not registered."""
        self._load()
        near = difflib.get_close_matches(str(name), list(self._entries), n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(near)}?" if near else ""
        return f"unknown {self.kind} {name!r}{hint} (registered: {', '.join(self._entries) or 'none'})"

    def names(self) -> list[str]:
        self._load()
        return list(self._entries)

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        self._load()
        return iter(list(self._entries))

    def __len__(self) -> int:
        self._load()
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._entries)} entries)"
