"""Where the runs go, checked before any work: the tracking URI (a server that is not there fails
in seconds, not after MLflow's minutes of retries; an sqlite store whose folder cannot be written
fails before any model trains). bench.tracking logs the runs."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
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
