"""Results that describe themselves: settings, run facts, every cell's record, the verdicts.

A run saves them as `<report>.json` beside its markdown and CSV, and renders the markdown from
that saved form, so `bench report <report>.json` rebuilds the same markdown byte for byte (and
the CSV and figures) without rerunning anything.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.pipeline import store
from bench.pipeline.registry import get
from bench.settings import trusted
from bench.verdict import Verdict

FORMAT = 1


def as_tuples(v: Any) -> Any:
    """JSON lists back to the tuples a settings dataclass holds (settings are immutable)."""
    if isinstance(v, list):
        return tuple(as_tuples(x) for x in v)
    if isinstance(v, dict):
        return {k: as_tuples(x) for k, x in v.items()}
    return v


def settings_from_dict(cls: type, d: dict):
    """Rebuild a settings dataclass from its saved dict (without the input checks: saved
    results are facts); unknown keys are an error."""

    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown setting(s) {', '.join(unknown)}")
    with trusted():
        return cls(**{k: as_tuples(v) for k, v in d.items()})


@dataclass
class Results:
    experiment: str
    settings: dict  # dataclasses.asdict of the experiment's settings
    cells: list[dict]  # per cell, in grid order: key, cell, status, record, error, resumed
    facts: dict = field(default_factory=dict)  # bench.facts.RunFacts.to_dict()
    context: dict = field(default_factory=dict)  # what the experiment's prepare() returned
    verdicts: list[dict] = field(default_factory=list)
    format: int = FORMAT

    def settings_obj(self):
        """The settings as the experiment's own dataclass."""

        return settings_from_dict(get(self.experiment).settings, self.settings)

    def records(self) -> list[dict]:
        """The records of the finished cells, in grid order."""
        return [c["record"] for c in self.cells if c["status"] == "finished"]

    def failed(self) -> list[dict]:
        return [c for c in self.cells if c["status"] == "failed"]

    def verdict_objs(self) -> list[Verdict]:
        return [Verdict.from_dict(v) for v in self.verdicts]

    def to_json(self) -> str:
        """JSON a person can read and diff: the small parts indented, the context and each
        cell on one line of its own (a cell's plot data would otherwise take thousands)."""
        d = dataclasses.asdict(self)
        context, cells = d.pop("context"), d.pop("cells")
        head = store.dumps(d, indent=1).rstrip()[:-1].rstrip()
        body = ",\n".join(store.dumps(c) for c in cells)
        return f'{head},\n "context": {store.dumps(context)},\n "cells": [\n{body}\n ]\n}}\n'

    @classmethod
    def from_json(cls, text: str) -> Results:
        d = store.loads(text)
        if not isinstance(d, dict) or "experiment" not in d or "cells" not in d:
            raise ValueError("not a lwgan-bench results file (no experiment/cells)")
        if d.get("format") != FORMAT:
            raise ValueError(f"results format {d.get('format')!r}; this version reads {FORMAT}")
        return cls(**d)


def load(path: str | Path) -> Results:
    """A results file, or a BenchError naming it and saying what is wrong."""

    path = Path(path)
    try:
        return Results.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BenchError(f"{path}: no such results file") from None
    except (OSError, ValueError, TypeError) as e:
        raise BenchError(f"{path}: cannot read results ({' '.join(str(e).split())})") from None
