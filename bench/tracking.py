"""MLflow tracking: one parent run per command invocation, one nested child run per grid cell.

    with start_sweep("recover", experiment=None, tracking_uri=uri, params={...}, tags=run_tags(
            device, seeds)) as sweep:
        for cell in cells:
            sweep.log_child(cell.name, params=..., metrics=..., histories={"loss": curve})
        sweep.set_tags({"best_child": best})

The parent ends FINISHED, FAILED on an exception, KILLED on Ctrl-C. Children are logged after the
fact with MlflowClient.log_batch: about three sqlite transactions, tens of milliseconds, per cell.
`enabled=False` gives the same API doing nothing (--no-track, tests). mlflow is imported only when
tracking is on: `bench ... --no-track` does not pay its import time.
"""

from __future__ import annotations

import getpass
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.facts import command_line, device_name, git_state, versions
from bench.tracking_store import (
    MAX_TAG_LEN,
    TrackingError,
    artifacts_beside,
    check_uri,
    log_in_batches,
    log_inputs,
    metric_entities,
    preflight,
    scheme,
)

_SCHEMES = ("sqlite", "http", "https", "file", "postgresql", "mysql", "mssql", "databricks", "uc")


EXPERIMENT_KIND, TRAINING = "mlflow.experimentKind", "custom_model_development"


def _one_line(text: Any, limit: int = 300) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


LOCAL_UI = "http://127.0.0.1:5000"  # where `mlflow ui` serves a local store by default
ML_VIEW = "workflowType=machine_learning"  # the UI's model-training view, not its GenAI one
SOURCE_TAGS = ("mlflow.source.name", "mlflow.source.type", "mlflow.source.git.commit", "mlflow.user")


def base_tags(command: str | None = None) -> dict[str, str]:
    """What every parent run records whatever the command: git commit, versions, command line."""
    commit, dirty = git_state()
    tags = {f"version.{k}": v for k, v in versions().items()}
    tags["command_line"] = command if command is not None else command_line()
    tags["mlflow.source.type"] = "LOCAL"
    try:
        tags["mlflow.user"] = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        pass
    if commit is not None:
        tags["git_commit"] = commit
        tags["mlflow.source.git.commit"] = commit  # shown by the MLflow UI
        if dirty is not None:
            tags["git_dirty"] = str(dirty).lower()
    return tags


def run_tags(device: Any, seeds: Sequence[int] | int, *, command: str | None = None) -> dict:
    """Tags for a parent run: git commit, package versions, device, seeds, command line."""
    seeds = [seeds] if isinstance(seeds, int) else list(seeds)
    return {**base_tags(command), "device": device_name(device), "seeds": ",".join(str(int(s)) for s in seeds)}


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence MLflow's own chatter (db migration logs, 'View run at' lines, warnings) while it
    runs, restoring the caller's settings afterwards so nothing outside a sweep changes."""
    import mlflow  # noqa: F401 - its import configures its loggers; adjust them after that

    loggers = [logging.getLogger(n) for n in ("mlflow", "alembic", "sqlalchemy", "urllib3")]
    levels = [lg.level for lg in loggers]
    old_env = os.environ.get("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT")
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"mlflow(\.|$)")
            warnings.filterwarnings("ignore", module=r"(alembic|sqlalchemy|pydantic)(\.|$)")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
        if old_env is None:
            os.environ.pop("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", None)
        else:
            os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = old_env


@dataclass
class Sweep:
    """A parent run. With `enabled=False` every method is a no-op and ids are None."""

    enabled: bool = False
    client: Any = None
    tracking_uri: str | None = None
    experiment: str | None = None
    experiment_id: str | None = None
    run_id: str | None = None
    children: list[str] = field(default_factory=list)  # child run ids, in logging order
    failed_children: int = 0
    source: dict[str, str] = field(default_factory=dict)  # the parent's Source, user and commit tags

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            with _quiet():
                return fn(*args, **kwargs)
        except (BenchError, ValueError, TypeError):
            raise
        except Exception as e:  # noqa: BLE001 - MLflow/sqlalchemy/requests errors: one line
            if getattr(e, "error_code", None) == "INVALID_PARAMETER_VALUE":
                # A bad key or a changed param value: the caller's bug, not the store's.
                raise ValueError(f"MLflow rejected {what}: {_one_line(e)}") from None
            raise TrackingError(
                f"--tracking-uri {self.tracking_uri}: {what} failed ({type(e).__name__}: {_one_line(e)})"
            ) from None

    @property
    def url(self) -> str | None:
        """The run's page: on the MLflow server the tracking URI names, or on `mlflow ui`'s local
        address for a local store. MLflow 3's UI opens every experiment in its GenAI view unless
        the address says otherwise (the experiment kind tag does not decide it), hence
        `?workflowType=machine_learning`: the runs table, metrics and the compare view."""
        if not self.enabled or self.run_id is None:
            return None
        uri = self.tracking_uri or ""
        base = uri.rstrip("/") if uri.startswith("http") else LOCAL_UI
        return f"{base}/#/experiments/{self.experiment_id}/runs/{self.run_id}?{ML_VIEW}"

    def ui_command(self) -> str | None:
        """How to open a local store's runs in a browser (None for a server: `url` is its page)."""
        uri = self.tracking_uri or ""
        if not self.enabled or uri.startswith("http"):
            return None
        return "mlflow ui" + (f" --backend-store-uri {uri}" if uri else "")

    def log_child(
        self,
        name: str,
        *,
        params: Mapping | None = None,
        metrics: Mapping | None = None,
        tags: Mapping | None = None,
        status: str = "FINISHED",
        artifacts: Sequence[str | Path] = (),
        histories: Mapping[str, Any] | None = None,
        error: str | None = None,
        datasets: Sequence[Mapping] = (),
    ) -> str | None:
        """Log one finished (or failed) cell as a child run; returns its run id.

        `histories={"loss": [...]}` logs each value at step = index. `datasets` (bench.data.inputs
        dicts) become the run's dataset inputs. `error=` marks the child FAILED with an `error`
        tag (one line); the sweep goes on.
        """
        if error is not None:
            status = "FAILED"
        if status not in ("FINISHED", "FAILED", "KILLED"):
            raise ValueError(f"log_child: status must be FINISHED, FAILED or KILLED, got {status!r}")
        if status == "FAILED":
            self.failed_children += 1
        if not self.enabled:
            return None
        ms = metric_entities(metrics, histories, None)  # convert before creating the run: fail early
        all_tags = {**self.source, **{str(k): v for k, v in (tags or {}).items()}}
        all_tags["mlflow.parentRunId"] = self.run_id
        if error is not None:
            all_tags["error"] = _one_line(error, 1000)
        paths = [Path(a) for a in artifacts]
        for p in paths:
            if not p.is_file():
                raise ValueError(f"log_child: artifact {p} is not a file")
        # Tags go in with the run: one sqlite transaction fewer per child (each costs an fsync).
        run = self._call(
            "creating a child run",
            self.client.create_run,
            self.experiment_id,
            run_name=name,
            tags={k: str(v)[:MAX_TAG_LEN] for k, v in all_tags.items()},
        )
        rid = run.info.run_id
        self.children.append(rid)
        try:
            self._call("logging a child run", log_in_batches, self.client, rid, dict(params or {}), ms, {})
            if datasets:
                self._call("logging a child's datasets", log_inputs, self.client, rid, datasets)
            self._fixed_names(rid, paths)
        except BaseException as e:
            # Ctrl-C or an error half way: do not leave the child RUNNING forever.
            interrupted = isinstance(e, KeyboardInterrupt)
            why = "logging interrupted" if interrupted else f"logging failed: {type(e).__name__}: {e}"
            _finish_quietly(lambda st, msg: self._end(rid, st, msg), "KILLED" if interrupted else "FAILED", why)
            raise
        self._call("ending a child run", self.client.set_terminated, rid, status)
        return rid

    def _fixed_names(self, rid: str, paths: list[Path]) -> None:
        """A child's figures under the same names in every child (`cell.png`, or `cell-1.png`...),
        so MLflow's compare view shows two cells' figures side by side."""
        with tempfile.TemporaryDirectory() as tmp:
            for i, p in enumerate(paths):
                fixed = Path(tmp) / (f"cell{'' if len(paths) == 1 else f'-{i}'}{p.suffix}")
                shutil.copyfile(p, fixed)
                self._call(f"logging artifact {p.name}", self.client.log_artifact, rid, str(fixed))

    def _end(self, run_id: str, status: str, error: str | None = None) -> None:
        with _quiet():
            if error is not None:
                log_in_batches(self.client, run_id, {}, [], {"error": _one_line(error, 1000)})
            self.client.set_terminated(run_id, status)

    def log_metrics(self, metrics: Mapping, step: int | None = None) -> None:
        if self.enabled:
            ms = metric_entities(metrics, None, step)
            self._call("logging metrics", log_in_batches, self.client, self.run_id, {}, ms, {})

    def log_inputs(self, datasets: Sequence[Mapping]) -> None:
        """The parent's dataset inputs (bench.data.inputs dicts)."""
        if self.enabled and datasets:
            self._call("logging datasets", log_inputs, self.client, self.run_id, datasets)

    def set_tags(self, tags: Mapping) -> None:
        if self.enabled:
            self._call("setting tags", log_in_batches, self.client, self.run_id, {}, [], dict(tags))

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        if self.enabled:
            if not Path(path).is_file():
                raise ValueError(f"log_artifact: {path} is not a file")
            self._call(
                f"logging artifact {Path(path).name}", self.client.log_artifact, self.run_id, str(path), artifact_path
            )


def _experiment_id(client: Any, name: str, artifact_location: str | None) -> str:
    from mlflow.exceptions import MlflowException

    exp = client.get_experiment_by_name(name)
    if exp is None:
        try:
            # a model-training experiment: the UI opens on its runs table, not the GenAI views
            return client.create_experiment(name, artifact_location=artifact_location, tags={EXPERIMENT_KIND: TRAINING})
        except MlflowException:  # created meanwhile by a concurrent command
            exp = client.get_experiment_by_name(name)
            if exp is None:
                raise
    if exp.lifecycle_stage == "deleted":
        raise TrackingError(
            f"--experiment {name}: this experiment is deleted in the tracking store; restore it "
            "(mlflow experiments restore) or choose another --experiment name"
        )
    if EXPERIMENT_KIND not in exp.tags:  # made before the tag was set, or by another tool
        client.set_experiment_tag(exp.experiment_id, EXPERIMENT_KIND, TRAINING)
    return exp.experiment_id


@contextmanager
def start_sweep(
    command: str,
    *,
    experiment: str | None = None,
    tracking_uri: str | None = None,
    params: Mapping | None = None,
    tags: Mapping | None = None,
    enabled: bool = True,
    run_name: str | None = None,
    artifact_location: str | None = None,
) -> Iterator[Sweep]:
    """Open the parent run for one command invocation; see the module docstring.

    tracking_uri None uses MLflow's own default (MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in
    the working directory). The experiment defaults to the command name. `artifact_location` only
    applies when the experiment is created.
    """
    if not enabled:
        yield Sweep(enabled=False, tracking_uri=tracking_uri, experiment=experiment or command)
        return
    check_uri(tracking_uri)
    name = experiment or command
    sweep = Sweep(enabled=True, tracking_uri=tracking_uri, experiment=name)

    def setup() -> None:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=tracking_uri)
        sweep.client = client
        sweep.tracking_uri = client.tracking_uri
        where = artifact_location or artifacts_beside(client.tracking_uri, name)
        sweep.experiment_id = _experiment_id(client, name, where)
        all_tags = {
            **base_tags(),
            "command": command,
            "mlflow.source.name": f"bench {command}",  # the runs table's Source column
            **{str(k): v for k, v in (tags or {}).items()},
        }
        run = client.create_run(sweep.experiment_id, run_name=run_name or command)
        sweep.run_id = run.info.run_id
        sweep.source = {k: str(all_tags[k]) for k in SOURCE_TAGS if k in all_tags}  # children's too
        log_in_batches(client, sweep.run_id, dict(params or {}), [], all_tags)

    try:
        with _quiet():
            setup()
    except BenchError:
        raise
    except Exception as e:  # noqa: BLE001 - any failure here means the URI/store is unusable
        kind = scheme(tracking_uri)
        if kind and kind not in _SCHEMES:
            raise TrackingError(
                f"--tracking-uri {tracking_uri}: unknown scheme {kind!r}; accepted: "
                "sqlite:///path.db, http(s)://host:port, file:/path, postgresql://, mysql://"
            ) from None
        raise TrackingError(
            f"--tracking-uri {tracking_uri or 'default'}: cannot use the tracking store "
            f"({type(e).__name__}: {_one_line(e)})"
        ) from None

    def finish(status: str, error: str | None = None) -> None:
        sweep._end(sweep.run_id, status, error)

    try:
        yield sweep
    except KeyboardInterrupt:
        _finish_quietly(finish, "KILLED", "interrupted (KeyboardInterrupt)")
        raise
    except BaseException as e:
        _finish_quietly(finish, "FAILED", f"{type(e).__name__}: {e}")
        raise
    else:
        sweep._call("ending the parent run", finish, "FINISHED")


def _finish_quietly(finish, status: str, error: str) -> None:
    """End the parent run while an exception is on its way out: never mask that exception."""
    try:
        finish(status, error)
    except Exception:  # noqa: BLE001, S110 - the original error matters more than this one
        pass


__all__ = ["Sweep", "TrackingError", "base_tags", "preflight", "run_tags", "start_sweep"]
