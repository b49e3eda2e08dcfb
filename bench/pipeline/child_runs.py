"""What a cell's MLflow child run carries: its fields and model config as params (each value
once), its numbers as metrics, its curves as step metrics, its tags, figures and datasets. The
driver calls it as each cell arrives; workers never write MLflow."""

from __future__ import annotations

import json
from pathlib import Path

from bench.pipeline.registry import Experiment


def flat(d: dict) -> dict:
    """Settings as MLflow params: lists joined by commas, dicts as JSON."""
    out = {}
    for k, v in d.items():
        if isinstance(v, (list, tuple)):
            v = ",".join(json.dumps(x) if isinstance(x, (dict, list)) else str(x) for x in v)
        elif isinstance(v, dict):
            v = json.dumps(v, sort_keys=True)
        out[k] = v
    return out


def once(params: dict, metrics: dict | None = None, prefix: str = "cfg.") -> tuple[dict, dict | None]:
    """Each value logged once: `<prefix>X` dropped where X is a param of the same text (the cell's
    lambda_iso and its model config's), and a metric dropped where it is a param already (a cell's
    seed or lambda_iso is a setting of the run, not a measurement)."""
    kept = {
        k: v
        for k, v in params.items()
        if not (k.startswith(prefix) and str(params.get(k[len(prefix) :], "\0")) == str(v))
    }
    if metrics is None:
        return kept, None
    names = set(params) | {k[len(prefix) :] for k in params if k.startswith(prefix)}
    return kept, {k: v for k, v in metrics.items() if k not in names}


def log_cell(
    exp: Experiment,
    cell: dict,
    key: str,
    record: dict | None,
    error: str | None,
    resumed: bool,
    sweep,
    folder: Path,
    facts: dict,
    common: dict,
) -> None:
    """Log one cell as a child run: the cell's fields and record['params'] as params, the
    record's top-level numbers as metrics, its histories as step metrics; as tags the run's
    `common` ones (git commit, device), the data fingerprint and the checkpoint digests (the
    record's, else the experiment's cell_tags from the prepare() facts); its datasets as inputs."""
    record = record or {}
    metrics = {k: float(v) for k, v in record.items() if isinstance(v, (int, float)) and k != "history_every"}
    every = int(record.get("history_every", 1))
    histories = {k: {i * every: v for i, v in enumerate(vals)} for k, vals in (record.get("histories") or {}).items()}
    figures = []
    if error is None and exp.cell_figures is not None and sweep.enabled:
        figures = exp.cell_figures(cell, record, folder)
    tags = {**common, **(exp.cell_tags(cell, facts) if exp.cell_tags else {}), **(record.get("tags") or {})}
    fingerprint = record.get("data_fingerprint") or facts.get("data_fingerprint")
    if fingerprint:
        tags["data_fingerprint"] = fingerprint
    params, metrics = once({**flat(cell), **flat(record.get("params") or {})}, metrics)
    sweep.log_child(
        key,
        params=params,
        metrics=None if error else metrics,
        histories=None if error else histories,
        tags={**tags, "resumed": str(resumed).lower()},
        artifacts=figures,
        error=error,
        datasets=record.get("datasets") or facts.get("datasets") or (),
    )
