"""Markdown reports: run facts, tables, measured-vs-paper columns, bootstrap intervals, verdicts.

Everything here is a pure function of results already computed: a report can be rebuilt from a
saved results file without rerunning anything. Writers are atomic and return the path written.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import platform
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from bench.atomic import atomic_write_text

MISSING = "n/a"

# --- provenance --------------------------------------------------------------------------------

_PACKAGES = ("lwgan-bench", "torch", "mlflow", "numpy", "scipy", "pandas")


def versions(packages: Sequence[str] = _PACKAGES) -> dict[str, str]:
    """Installed versions by distribution name (no imports: asking costs milliseconds)."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_state(
    repo: str | Path | None = None, *, exclude: str | Path | None = None
) -> tuple[str | None, bool | None]:
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
    """The command as the user typed it: `bench recover --lr 0.1`, not the script's full path."""
    argv = list(sys.argv if argv is None else argv)
    if not argv:
        return ""
    prog = Path(argv[0]).name
    return shlex.join([prog if prog == "bench" else argv[0], *argv[1:]])


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
    checkpoints: dict[str, str] = field(default_factory=dict)  # model name -> sha256
    dirty: bool | None = None  # uncommitted changes to tracked files outside the run's output

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
) -> RunFacts:
    """Gather what a report must state to be reproducible; every field can be given explicitly.
    `out`: the run's output folder, whose changes do not make the checkout dirty (git_state)."""
    commit, dirty = git_state(exclude=out)
    seeds = [int(seeds)] if isinstance(seeds, (int, np.integer)) else [int(s) for s in seeds]
    return RunFacts(
        command=command if command is not None else command_line(),
        commit=commit,
        seeds=seeds,
        data_fingerprint=data_fingerprint,
        wall_time_s=None if wall_time_s is None else float(wall_time_s),
        date=date or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        device=device_name(device),
        versions=versions(),
        checkpoints=dict(checkpoints or {}),
        dirty=dirty,
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
        ("wall time", _duration(facts.wall_time_s)),
        ("date (UTC)", facts.date),
        ("versions", ", ".join(f"{k} {v}" for k, v in sorted(facts.versions.items())) or MISSING),
    ]
    parts = [f"## {title}", "", markdown_table(rows, headers=["fact", "value"])]
    if facts.checkpoints:
        ck = [(name, f"`{sha}`") for name, sha in facts.checkpoints.items()]
        parts += [
            "",
            "Model checkpoints (sha256 of the cached file):",
            "",
            markdown_table(ck, headers=["model", "sha256"]),
        ]
    return "\n".join(parts) + "\n"


# --- tables --------------------------------------------------------------------------------------


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
        v, (bool, np.bool_)
    )


def _is_missing(v: Any) -> bool:
    if v is None or type(v).__name__ in ("NAType", "NaTType"):  # pandas' missing markers
        return True
    return isinstance(v, (float, np.floating)) and math.isnan(v)


def markdown_table(
    data: Any,
    headers: Sequence[str] | str = "keys",
    floatfmt: str | Mapping[str, str] = ".4g",
    *,
    missingval: str = MISSING,
    showindex: bool = False,
) -> str:
    """A pipe table (GitHub markdown) from a DataFrame, a list of dicts or a list of rows.

    Floats are formatted here with `floatfmt` (one format, or one per column name) and nothing
    else is parsed as a number, so a hex key like '123e4567' stays text. Numeric columns are
    right-aligned; NaN and None print as `missingval`.
    """
    from tabulate import tabulate

    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(data, pd.DataFrame):
        df = data.reset_index() if showindex else data
        cols = [str(c) for c in df.columns]
        rows = [list(r) for r in df.itertuples(index=False, name=None)]
    elif data and isinstance(data[0], Mapping):
        cols = list(dict.fromkeys(k for row in data for k in row))
        rows = [[row.get(c) for c in cols] for row in data]
    else:
        rows = [list(r) for r in data]
        cols = None
    if headers == "keys":
        if cols is None:
            raise ValueError("markdown_table: headers='keys' needs a DataFrame or a list of dicts")
        headers = cols
    headers = [str(h) for h in headers]
    width = max([len(headers)] + [len(r) for r in rows])

    def fmt_for(j: int) -> str:
        if isinstance(floatfmt, str):
            return floatfmt
        return floatfmt.get(headers[j], ".4g") if j < len(headers) else ".4g"

    def cell(v: Any, j: int) -> str:
        if _is_missing(v):
            return missingval
        if _is_number(v):
            return format(v, fmt_for(j)) if isinstance(v, (float, np.floating)) else str(int(v))
        return str(v).replace("|", "\\|").replace("\n", " ")

    numeric = [
        all(_is_number(r[j]) or _is_missing(r[j]) for r in rows if j < len(r))
        and any(j < len(r) and _is_number(r[j]) and not _is_missing(r[j]) for r in rows)
        for j in range(width)
    ]
    text = [[cell(v, j) for j, v in enumerate(r)] + [""] * (width - len(r)) for r in rows]
    return tabulate(
        text,
        headers=headers,
        tablefmt="pipe",
        disable_numparse=True,
        colalign=["right" if n else "left" for n in numeric],
    )


def format_ci(
    value: float, lo: float | None = None, hi: float | None = None, digits: int = 1
) -> str:
    """'94.1 [92.6, 95.5]'; just '94.1' without an interval; 'n/a' for a missing value."""
    if _is_missing(value):
        return MISSING
    out = f"{value:.{digits}f}"
    if not (_is_missing(lo) or _is_missing(hi)):
        out += f" [{lo:.{digits}f}, {hi:.{digits}f}]"
    return out


def format_mean_sd(values: Sequence[float], digits: int = 1, unit: str = "seeds") -> str:
    """Mean and sample standard deviation over seeds: '94.1 ± 0.8 (3 seeds)'."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return MISSING
    if x.size == 1:
        return f"{x[0]:.{digits}f} (1 {unit.rstrip('s')})"
    return f"{x.mean():.{digits}f} ± {x.std(ddof=1):.{digits}f} ({x.size} {unit})"


_RANGE = re.compile(
    r"^\s*([-+]?\d*\.?\d+(?:[eE][-+]?\d+)?)\s*(?:-|–|to)\s*([-+]?\d*\.?\d+(?:[eE][-+]?\d+)?)\s*$"
)


def parse_reference(value: Any) -> tuple[float, float] | None:
    """A paper's figure as an interval: 1.2 -> (1.2, 1.2); '0.02-0.03' -> (0.02, 0.03)."""
    if _is_number(value):
        return (float(value), float(value)) if not _is_missing(value) else None
    if isinstance(value, str):
        s = value.strip()
        m = _RANGE.match(s)
        if m:
            a, b = float(m.group(1)), float(m.group(2))
            return (min(a, b), max(a, b))
        try:
            v = float(s)
        except ValueError:
            return None
        return (v, v) if math.isfinite(v) else None
    return None


def measured_vs_reference(
    measured: Any,
    reference: Any,
    *,
    on: Sequence[str],
    value: str = "value",
    lo: str | None = "lo",
    hi: str | None = "hi",
    ref_value: str = "reference",
    digits: int = 1,
    how: str = "left",
    measured_label: str = "measured",
    reference_label: str = "paper",
):
    """A DataFrame with the key columns `on`, the measured value with its interval as text
    ('94.1 [92.6, 95.5]'), the paper's figure beside it, and `delta` = measured - paper (numeric
    when the paper gives one number, NaN for a range or no figure).

    Rows are matched on exact key values: round float keys (learning rates) the same way on both
    sides first. how='left' keeps every measured row; 'outer' also lists paper cells not run.
    """
    import pandas as pd

    m = pd.DataFrame(measured)
    r = pd.DataFrame(reference)
    missing = [c for c in [*on, value] if c not in m.columns] + [
        c for c in [*on, ref_value] if c not in r.columns
    ]
    if missing:
        raise KeyError(f"measured_vs_reference: missing columns {missing}")
    keep = [*on, value] + [c for c in (lo, hi) if c is not None and c in m.columns]
    merged = m[keep].merge(
        r[[*on, ref_value]].rename(columns={ref_value: "__ref"}), on=list(on), how=how, sort=False
    )

    def measured_text(row) -> str:
        a = row[lo] if lo in merged.columns else None
        b = row[hi] if hi in merged.columns else None
        return format_ci(row[value], a, b, digits)

    def ref_text(v) -> str:
        if _is_missing(v):
            return MISSING
        return f"{v:.{digits}f}" if _is_number(v) else str(v)

    def delta(row) -> float:
        ref = parse_reference(row["__ref"])
        if ref is None or ref[0] != ref[1] or _is_missing(row[value]):
            return float("nan")
        return float(row[value]) - ref[0]

    out = merged[list(on)].copy()
    out[measured_label] = merged.apply(measured_text, axis=1) if len(merged) else []
    out[reference_label] = merged["__ref"].map(ref_text) if len(merged) else []
    out["delta"] = merged.apply(delta, axis=1).astype(float) if len(merged) else []
    return out.reset_index(drop=True)


# --- statistics ----------------------------------------------------------------------------------


class CI(NamedTuple):
    value: Any  # the statistic on the full sample (float, or array for batched input)
    lo: Any
    hi: Any


_BOOT_BUDGET = 4_000_000  # elements of one resampled block: bounds memory (32 MB of float64)


def bootstrap_ci(
    values: Any,
    stat: Callable[..., Any] = np.mean,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> CI:
    """Percentile bootstrap interval of `stat` over the last axis of `values`.

    `stat` must take `axis=` (numpy reductions do). Input [..., n] gives arrays of shape [...]:
    rows share the resample indices, so each row's interval equals what it gets alone with the
    same seed.
    """
    x = np.asarray(values, dtype=float)
    if x.ndim == 0 or x.shape[-1] == 0:
        raise ValueError("bootstrap_ci: needs at least one value along the last axis")
    if not np.isfinite(x).all():
        raise ValueError("bootstrap_ci: values contain NaN or inf")
    if not 0 < level < 1:
        raise ValueError(f"bootstrap_ci: level must be in (0, 1), got {level}")
    if n_boot < 1:
        raise ValueError(f"bootstrap_ci: n_boot must be positive, got {n_boot}")
    lead, n = x.shape[:-1], x.shape[-1]
    flat = x.reshape(-1, n)
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_boot, _BOOT_BUDGET // n))  # depends on n only: same draws for any rows
    rows_per_block = max(1, _BOOT_BUDGET // (chunk * n))
    boots = np.empty((flat.shape[0], n_boot))
    for start in range(0, n_boot, chunk):
        m = min(chunk, n_boot - start)
        idx = rng.integers(0, n, size=(m, n))
        if stat is np.mean:
            # The mean of a resample is (how often each item was drawn) . values / n: one
            # matrix product for all rows instead of gathering m x n values per row.
            flat_idx = (np.arange(m)[:, None] * n + idx).ravel()
            counts = np.bincount(flat_idx, minlength=m * n).reshape(m, n).astype(float)
            boots[:, start : start + m] = (flat @ counts.T) / n
            continue
        for r0 in range(0, flat.shape[0], rows_per_block):
            block = flat[r0 : r0 + rows_per_block]
            boots[r0 : r0 + rows_per_block, start : start + m] = stat(block[:, idx], axis=-1)
    alpha = (1 - level) / 2
    lo, hi = np.percentile(boots, [100 * alpha, 100 * (1 - alpha)], axis=-1)
    est = np.asarray(stat(flat, axis=-1), dtype=float)
    if not lead:
        return CI(float(est[0]), float(lo[0]), float(hi[0]))
    return CI(est.reshape(lead), lo.reshape(lead), hi.reshape(lead))


class Verdict(NamedTuple):
    label: str  # "reproduced" | "not reproduced" | "inconclusive"
    rule: str


def verdict(
    reference: Any,
    lo: float,
    hi: float,
    *,
    tolerance: float = 0.0,
    max_width: float | None = None,
) -> Verdict:
    """Compare a paper's figure (a number or a range like '0.02-0.03') with a measured interval.

    reproduced: the paper's figure (or range) meets the measured interval widened by
    `tolerance` on each side; not reproduced: it does not; inconclusive: no usable paper figure,
    no interval, or an interval wider than `max_width` (too noisy to decide).
    """
    rule = f"reproduced if the paper's figure lies within the measured 95% interval ± {tolerance:g}"
    if max_width is not None:
        rule += f"; inconclusive if the interval is wider than {max_width:g}"
    ref = parse_reference(reference)
    if ref is None or _is_missing(lo) or _is_missing(hi):
        return Verdict("inconclusive", rule)
    if max_width is not None and hi - lo > max_width:
        return Verdict("inconclusive", rule)
    if ref[1] >= lo - tolerance and ref[0] <= hi + tolerance:
        return Verdict("reproduced", rule)
    return Verdict("not reproduced", rule)


# --- writers ------------------------------------------------------------------------------------


def write_report(out_dir: str | Path, name: str, markdown: str) -> Path:
    """Write `<out_dir>/<name>.md` atomically; returns its path."""
    name = name.removesuffix(".md")
    path = Path(out_dir) / f"{name}.md"
    return atomic_write_text(path, markdown if markdown.endswith("\n") else markdown + "\n")


def write_csv(df: Any, path: str | Path) -> Path:
    """Write a DataFrame (or list of dicts) as CSV without the index, atomically."""
    import pandas as pd

    df = df if isinstance(df, pd.DataFrame) else pd.DataFrame(df)
    return atomic_write_text(path, df.to_csv(index=False))


def _json_default(o: Any) -> Any:
    if type(o).__name__ == "DataFrame":
        return o.to_dict(orient="records")
    if hasattr(o, "to_dict"):
        return o.to_dict()
    if hasattr(o, "__dataclass_fields__"):
        return asdict(o)
    if isinstance(o, (np.integer, np.floating, np.bool_)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"write_json: cannot store {type(o).__name__}")


def write_json(obj: Any, path: str | Path) -> Path:
    """Results (dicts, dataclasses, numpy values) as JSON, atomically: a report rebuilds from it."""
    text = json.dumps(obj, indent=2, sort_keys=True, default=_json_default)
    return atomic_write_text(path, text + "\n")
