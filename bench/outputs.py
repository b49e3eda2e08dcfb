"""Where a run will write, checked before it starts: a typo in --out costs no training time.

`probe_dir` creates the folder, writes and removes a probe file, and removes what it created;
`probe_files` checks that no file the run will write is a folder. Both raise a one-line
BenchError naming the option.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from bench.errors import BenchError


class OutputError(BenchError):
    """An output folder or file that cannot be written."""


def _why(e: OSError) -> str:
    return e.strerror or type(e).__name__


def probe_dir(path: str | os.PathLike, option: str = "--out") -> Path:
    """Check a file can be written in `path`: the folders it needs are created, a probe file is
    written and removed, and the folders it created are removed again (a run that stops later
    on bad input leaves no empty output folder behind)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{option} {path}: exists and is not a folder")
    missing = []
    for parent in (path, *path.parents):
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"{option} {path}: {parent} is not a folder")
            break
        missing.append(parent)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise OutputError(f"{option} {path}: cannot write there ({_why(e)})") from None
    finally:
        for folder in missing:  # deepest first
            try:
                folder.rmdir()
            except OSError:
                break
    return path


def probe_files(paths: Iterable[str | os.PathLike], option: str = "--out") -> None:
    """Each file the run will write: its folder writable, and the path itself not a folder."""
    for p in map(Path, paths):
        if p.is_dir():
            raise OutputError(f"{option}: {p} is a folder; the run writes a file there")
        probe_dir(p.parent, option)
