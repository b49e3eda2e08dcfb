"""Where the runs go, checked before any work: the tracking URI (a server that is not there fails
in seconds, not after MLflow's minutes of retries; an sqlite store whose folder cannot be written
fails before any model trains); and what the store accepts: values as MLflow's entities, logged in
batches within its per-request limits. bench.tracking logs the runs."""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bench.errors import BenchError
from bench.outputs import OutputError, probe_dir

_CONNECT_TIMEOUT_S = 5.0


class TrackingError(BenchError):
    """The tracking URI or server cannot be used; one line naming --tracking-uri."""


def _one_line(text, limit: int = 300) -> str:
    return " ".join(str(text).split())[:limit]


def scheme(uri: str | None) -> str:
    scheme = urlparse(uri or "").scheme.split("+")[0].lower()  # postgresql+psycopg2 -> postgresql
    return "" if len(scheme) <= 1 else scheme  # '' for paths, also Windows drive letters


def check_uri(uri: str | None) -> None:
    """Fail fast on a server that is not there: MLflow would retry it for minutes."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI")  # what MLflow itself would use
    if scheme(uri) not in ("http", "https"):
        return
    parsed = urlparse(uri)
    if not parsed.hostname:
        raise TrackingError(f"--tracking-uri {uri}: no host; expected http://host:port")
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
    except ValueError:
        raise TrackingError(f"--tracking-uri {uri}: bad port; expected http://host:port") from None
    try:
        with socket.create_connection((parsed.hostname, port), timeout=_CONNECT_TIMEOUT_S):
            pass
    except OSError as e:
        raise TrackingError(
            f"--tracking-uri {uri}: cannot connect to {parsed.hostname}:{port} "
            f"({_one_line(e.strerror or e)}); start the server or use sqlite:///mlflow.db"
        ) from None


def preflight(uri: str | None) -> None:
    """Before any work: an unreachable server or an sqlite store in a folder that cannot be
    written is a TrackingError now, not after the models have trained."""
    check_uri(uri)
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:///mlflow.db"
    if scheme(uri) == "sqlite":
        db = Path(uri.split(":///", 1)[-1]) if ":///" in uri else None
        if db is not None and str(db) not in ("", ":memory:"):
            try:
                probe_dir(db.parent if str(db.parent) else ".", "--tracking-uri")
            except OutputError as e:
                raise TrackingError(str(e)) from None


def artifacts_beside(tracking_uri: str, name: str) -> str | None:
    """For a sqlite store, the folder beside its database (not ./mlruns of wherever the command
    ran): `<db folder>/mlruns/<experiment>`."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    db = Path(tracking_uri[len("sqlite:///") :]).expanduser().resolve()
    return (db.parent / "mlruns" / re.sub(r"[^A-Za-z0-9._-]+", "_", name)).as_uri()


# MLflow's per-request limits (mlflow.utils.validation): a batch holds at most 1000 metrics and
# 100 params and 100 tags, 1000 entities in all; values are truncated to what the store accepts.
MAX_METRICS, MAX_PARAMS_TAGS, MAX_ENTITIES = 1000, 100, 1000
MAX_PARAM_LEN, MAX_TAG_LEN = 6000, 8000


def metric_value(key: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"metric {key!r}: {value!r} is not a number") from None


def history(key: str, values: Any) -> list[tuple[int, float]]:
    """A history as (step, value): a sequence (step = index) or a mapping step -> value."""
    if isinstance(values, Mapping):
        return [(int(s), metric_value(key, v)) for s, v in values.items()]
    if hasattr(values, "tolist"):  # numpy array or CPU tensor: one conversion, not one per item
        values = values.tolist()
    return [(i, metric_value(key, v)) for i, v in enumerate(values)]


def log_in_batches(client: Any, run_id: str, params: dict, metrics: list, tags: dict) -> None:
    """log_batch in chunks within MLflow's per-request limits."""
    from mlflow.entities import Param, RunTag

    ps = [Param(str(k), str(v)[:MAX_PARAM_LEN]) for k, v in params.items()]
    ts = [RunTag(str(k), str(v)[:MAX_TAG_LEN]) for k, v in tags.items()]
    ms = list(metrics)
    while ps or ts or ms:
        p, ps = ps[:MAX_PARAMS_TAGS], ps[MAX_PARAMS_TAGS:]
        t, ts = ts[:MAX_PARAMS_TAGS], ts[MAX_PARAMS_TAGS:]
        room = min(MAX_METRICS, MAX_ENTITIES - len(p) - len(t))
        m, ms = ms[:room], ms[room:]
        client.log_batch(run_id, metrics=m, params=p, tags=t)


def log_inputs(client: Any, run_id: str, datasets: Sequence[Mapping]) -> None:
    """Log datasets (bench.data.inputs dicts) as the run's inputs, with their context."""
    from mlflow.entities import Dataset, DatasetInput, InputTag

    inputs = [
        DatasetInput(
            Dataset(d["name"], d["digest"], d.get("source_type", "local"), d["source"], profile=d.get("profile")),
            tags=[InputTag("mlflow.data.context", d.get("context", "training"))],
        )
        for d in datasets
    ]
    if inputs:
        client.log_inputs(run_id, datasets=inputs)


def metric_entities(metrics: Mapping | None, histories: Mapping | None, step: int | None) -> list:
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    out = [
        Metric(str(k), metric_value(k, v), now, 0 if step is None else int(step)) for k, v in (metrics or {}).items()
    ]
    for k, values in (histories or {}).items():
        out += [Metric(str(k), v, now, s) for s, v in history(k, values)]
    return out
