"""Markdown building blocks: tables, numbers with intervals, the paper's figures; atomic writers.

Everything here is a pure function of results already computed: a report can be rebuilt from a
saved results file without rerunning anything. Writers are atomic and return the path written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tabulate import tabulate

from bench.atomic import atomic_write_text

MISSING = "n/a"

# --- tables --------------------------------------------------------------------------------------


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


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


def format_ci(value: float, lo: float | None = None, hi: float | None = None, digits: int = 1) -> str:
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


_RANGE = re.compile(r"^\s*([-+]?\d*\.?\d+(?:[eE][-+]?\d+)?)\s*(?:-|–|to)\s*([-+]?\d*\.?\d+(?:[eE][-+]?\d+)?)\s*$")


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


def format_seeds(row: dict, digits: int = 3) -> str:
    """'0.512 [0.40, 0.62] (3 seeds)' or '0.512 (1 seed)' from a bench.stats.seed_summary row."""
    n = row["n_seeds"]
    text = format_ci(row["value"], row["lo"], row["hi"], digits)
    return f"{text} ({n} seed{'s' if n != 1 else ''})"
