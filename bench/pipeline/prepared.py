"""What an experiment's `prepare(ctx)` computed in the driver, typed.

The pipeline reads the named fields (what the resume key hashes, the data and checkpoints the run
cites, the number format its compute ran in); the report reads `facts` (accuracies, model
qualities, previews). Workers get the same object with their Context, so a chunk reads the
resolved number format from `ctx.prepared.precision`, never from a dict.

Its saved form (`Results.context`) is one flat dict, as it always was, so results written before
the type existed load as they are; a plugin's `prepare` may still return such a dict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_TYPED = ("identity", "datasets", "checkpoints", "data_fingerprint", "precision")


@dataclass
class Prepared:
    # what the resume key hashes besides the settings: data, checkpoints, number formats; a run
    # whose models or data changed starts a new cell store
    identity: dict = field(default_factory=dict)
    datasets: list = field(default_factory=list)  # bench.data.inputs dicts, for MLflow's inputs
    checkpoints: dict = field(default_factory=dict)  # name -> weights digest, cited by the report
    data_fingerprint: str | None = None
    precision: str | None = None  # the resolved number format of the experiment's compute (fp32, bf16)
    facts: dict = field(default_factory=dict)  # everything else the report reads

    @classmethod
    def of(cls, value: Prepared | dict | None) -> Prepared:
        """A Prepared from what prepare() returned (or a saved context dict)."""
        if isinstance(value, Prepared):
            return value
        d = dict(value or {})
        typed = {k: d.pop(k) for k in _TYPED if k in d}
        return cls(**typed, facts=d)

    def as_dict(self) -> dict[str, Any]:
        """The saved form: the report's facts with the typed fields beside them (unset ones left out)."""
        out = dict(self.facts)
        for k in _TYPED:
            v = getattr(self, k)
            if v not in (None, {}, []):
                out[k] = v
        return out
