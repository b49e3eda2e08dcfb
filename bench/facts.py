"""Provenance of a run: command line, commit, versions, device, seeds, data and checkpoints.

`collect_facts` gathers them when a run ends; `RunFacts` round-trips through the results JSON so
a report rebuilt later states exactly what the run stated; `facts_markdown` is its section.
"""

from __future__ import annotations

import datetime as _dt
import math
import platform
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from bench.report import MISSING, markdown_table

_PACKAGES = ("lwgan-bench", "torch", "mlflow", "numpy", "scipy", "pandas")


def versions(packages: Sequence[str] = _PACKAGES) -> dict[str, str]:
    """Installed versions by distribution name (no imports: asking costs milliseconds)."""

    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


LOCK = Path(__file__).resolve().parents[1] / "constraints.txt"  # the checkout's pinned versions


def lock_state(lock: Path = LOCK) -> str:
    """Whether the installed packages are the versions the lock (pip constraints) pins: "matches
    the lock (N of its M packages installed)", "differs from the lock: name installed (lock
    pinned), ...", or "no lock found" (an install outside the checkout). Packages the install left
    out (an extra) do not count; a local version label (2.13.0+cpu) matches 2.13.0."""

    if not lock.is_file():
        return "no lock found"
    pins = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        name, sep, version = line.strip().partition("==")
        if sep and not name.startswith("#"):
            pins[name] = version
    off, installed = [], 0
    for name, want in pins.items():
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # an extra this install left out (ray, submitit, ...): not a mismatch
        installed += 1
        if have.split("+")[0] != want.split("+")[0]:
            off.append(f"{name} {have} (lock {want})")
    if not off:
        return f"matches the lock ({installed} of its {len(pins)} packages installed)"
    return f"differs from the lock: {', '.join(off[:4])}" + (f" and {len(off) - 4} more" if len(off) > 4 else "")


def git_state(repo: str | Path | None = None, *, exclude: str | Path | None = None) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the repository holding this package; (None, None) when not in git.

    `exclude`: a folder whose changes do not count, the run's own output folder: a run that
    rewrites committed reports would otherwise call its own checkout dirty.
    """
    repo = Path(repo) if repo is not None else Path(__file__).resolve().parents[1]

    def git(*args: str) -> str | None:
        try:
            r = subprocess.run(
                ["git", "-C", str(repo), *args],
                check=False,
                capture_output=True,
                text=True,
                timeout=10,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return r.stdout.strip() if r.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return None, None
    spec = []
    if exclude is not None:
        try:
            rel = Path(exclude).resolve().relative_to(repo.resolve())
            spec = ["--", ".", f":(exclude){rel.as_posix()}"] if rel.parts else []
        except ValueError:  # outside the repository: nothing of it is tracked
            pass
    status = git("status", "--porcelain", "--untracked-files=no", *spec)
    return commit, (None if status is None else bool(status))


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command as the user typed it: `bench recover --lrs 0.1`, not the script's full path."""
    argv = list(sys.argv if argv is None else argv)
    if not argv:
        return ""
    prog = Path(argv[0]).name
    return shlex.join([prog if prog == "bench" else argv[0], *argv[1:]])


def with_out(command: str, folder: str | Path, repo: str | Path | None = None) -> str:
    """The command with its `--out` naming `folder` relative to the checkout when it lies inside it
    (a report committed in reports/x says `--out reports/x`, not a scratch path of the machine
    that ran it); outside the checkout, the folder as it is. A command without --out gets one."""
    repo = Path(repo) if repo is not None else Path(__file__).resolve().parents[1]
    where = Path(folder).resolve()
    try:
        text = where.relative_to(repo.resolve()).as_posix() or "."
    except ValueError:
        text = str(folder)
    args = shlex.split(command)
    if not args or Path(args[0]).name != "bench":  # the Python API's or a script's argv: as it is
        return command
    for i, a in enumerate(args):
        if a == "--out" and i + 1 < len(args):
            args[i + 1] = text
            return shlex.join(args)
        if a.startswith("--out="):
            args[i] = f"--out={text}"
            return shlex.join(args)
    return shlex.join([*args, "--out", text])


def device_name(device: Any) -> str:
    """'cpu', or 'cuda:0 (NVIDIA H100 80GB HBM3)' when torch is loaded and the device is CUDA."""
    name = str(device)
    torch = sys.modules.get("torch")
    if name.startswith("cuda") and torch is not None and torch.cuda.is_available():
        index = torch.device(name).index or 0
        return f"{name} ({torch.cuda.get_device_name(index)})"
    return name


@dataclass
class RunFacts:
    command: str
    commit: str | None
    seeds: list[int]
    data_fingerprint: str | None
    wall_time_s: float | None
    date: str  # ISO 8601, UTC, when the run finished
    device: str
    versions: dict[str, str]
    checkpoints: dict[str, str] = field(default_factory=dict)  # model name -> content digest
    dirty: bool | None = None  # uncommitted changes to tracked files outside the run's output
    # cells taken from an earlier invocation by --resume: the wall time is this invocation's only
    resumed_cells: int = 0
    total_cells: int | None = None
    plugins: list[dict] = field(default_factory=list)  # loaded plugins: spec, file, digest
    lock: str = ""  # whether the installed versions are the lock's (lock_state); "" before it was recorded
    numerics: str = ""  # number formats of training and recovery (bench.precision.describe); "" before
    judged: str = ""  # when the verdicts were judged again after the run (bench report --rejudge); "" if not

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping) -> RunFacts:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def collect_facts(
    *,
    seeds: Sequence[int] | int = (),
    data_fingerprint: str | None = None,
    device: Any = "cpu",
    checkpoints: Mapping[str, str] | None = None,
    wall_time_s: float | None = None,
    command: str | None = None,
    date: str | None = None,
    out: str | Path | None = None,
    resumed_cells: int = 0,
    total_cells: int | None = None,
    plugins: Sequence[dict] = (),
    numerics: str = "",
) -> RunFacts:
    """Gather what a report must state to be reproducible; every field can be given explicitly.
    `out`: the run's output folder, whose changes do not make the checkout dirty (git_state)."""
    commit, dirty = git_state(exclude=out)
    seeds = [int(seeds)] if isinstance(seeds, (int, np.integer)) else [int(s) for s in seeds]
    return RunFacts(
        command=with_out(command if command is not None else command_line(), out)
        if out
        else (command if command is not None else command_line()),
        commit=commit,
        seeds=seeds,
        data_fingerprint=data_fingerprint,
        wall_time_s=None if wall_time_s is None else float(wall_time_s),
        date=date or _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        device=device_name(device),
        versions=versions(),
        checkpoints=dict(checkpoints or {}),
        dirty=dirty,
        resumed_cells=int(resumed_cells),
        total_cells=None if total_cells is None else int(total_cells),
        plugins=[dict(p) for p in plugins],
        lock=lock_state(),
        numerics=numerics,
    )


def _duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return MISSING
    if seconds < 60:
        return f"{seconds:.1f} s"
    h, rem = divmod(round(seconds), 3600)
    m, s = divmod(rem, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else f"{m}m {s:02d}s"


def facts_markdown(facts: RunFacts, *, title: str = "Run facts") -> str:
    """A '## Run facts' section: command, commit, seeds, data, device, time, versions, hashes."""
    commit = MISSING if facts.commit is None else f"`{facts.commit}`"
    if facts.commit is not None and facts.dirty:
        commit += " (with uncommitted changes)"
    rows = [
        ("command", f"`{facts.command}`" if facts.command else MISSING),
        ("commit", commit),
        ("seeds", ", ".join(str(s) for s in facts.seeds) or MISSING),
        ("data fingerprint", f"`{facts.data_fingerprint}`" if facts.data_fingerprint else MISSING),
        ("device", facts.device),
        (
            "wall time",
            _duration(facts.wall_time_s)
            + (
                f" (this invocation; {facts.resumed_cells} of {facts.total_cells} cells were finished by an "
                "earlier one and resumed)"
                if facts.resumed_cells
                else ""
            ),
        ),
        ("date (UTC)", facts.date),
        ("versions", ", ".join(f"{k} {v}" for k, v in sorted(facts.versions.items())) or MISSING),
    ]
    if facts.lock:  # recorded since the lock exists: older reports rebuild unchanged
        rows.append(("installed versions", facts.lock))
    if facts.numerics:  # recorded since precisions exist: older reports rebuild unchanged
        rows.append(("number formats", facts.numerics))
    if facts.judged:  # verdicts re-judged from the saved cells by later rules
        rows.append(("verdicts judged", facts.judged))
    if facts.plugins:  # only runs with plugins show the row, so older reports rebuild unchanged
        rows.append(("plugins", "; ".join(f"`{p['spec']}` (digest {p.get('digest') or 'n/a'})" for p in facts.plugins)))
    parts = [f"## {title}", "", markdown_table(rows, headers=["fact", "value"])]
    if facts.checkpoints:
        ck = [(name, f"`{digest}`") for name, digest in facts.checkpoints.items()]
        parts += [
            "",
            ("Model checkpoints (digest: sha256 of the weights, the same for two identical trainings):"),
            "",
            markdown_table(ck, headers=["model", "digest"]),
        ]
    return "\n".join(parts) + "\n"
