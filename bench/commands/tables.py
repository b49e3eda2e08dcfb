"""Tables that fit the terminal: a bordered table where it reads well, else one line per row.

Rich wraps a table that is too wide into columns a word or two wide, a wall of text nobody can
follow at 80 columns. `show` prints the full table where every column can be at least 24
characters wide and no row wraps past a few lines; where not, the same rows without borders, each
cell on one line and cut with an ellipsis, leaving out the columns marked `wide_only` (long
numbers or rules the report holds in full).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text


def _readable_width(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> int:
    """The width at which the bordered table reads well: every column at least 24 characters wide
    (or its longest cell, if shorter), so a wrapped cell keeps several words a line."""
    total = 1
    for i, c in enumerate(columns):
        longest = max([len(c), *(Text.from_markup(str(r[i])).cell_len for r in rows)])
        total += min(24, longest) + 3
    return total


def _height(console: Console, table: Table) -> int:
    """Lines the bordered table takes at this console's width."""
    return len(console.render_lines(table, console.options, pad=False))


def show(
    console: Console,
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    wide_only: Sequence[str] = (),
    note: str = "",
) -> None:
    """Print `rows` under `columns`; `note` says where the full text is when rows are cut."""
    full = Table(title=title, title_justify="left", show_lines=True)
    for c in columns:
        full.add_column(c, overflow="fold")
    for r in rows:
        full.add_row(*r)
    if _readable_width(columns, rows) <= console.width and _height(console, full) <= 4 * len(rows) + 6:
        console.print(full)
        return
    keep = [i for i, c in enumerate(columns) if c not in wide_only]
    compact = Table(title=title, title_justify="left", box=None, pad_edge=False, padding=(0, 2, 0, 0))
    cells = [[" ".join(str(r[i]).split()) for i in keep] for r in rows]
    widths = [
        min(30, max([len(columns[i]), *(Text.from_markup(c[j]).cell_len for c in cells)])) for j, i in enumerate(keep)
    ]
    # the last column takes what is left (two spaces between columns), cut with an ellipsis; where
    # the others leave it under 12, the widest of them gives way first
    room = console.width - 2 * (len(keep) - 1) - 1
    while len(widths) > 1 and room - sum(widths[:-1]) < 12 and max(widths[:-1]) > 8:
        widest = widths.index(max(widths[:-1]))
        widths[widest] -= 1
    widths[-1] = max(8, room - sum(widths[:-1]))
    for i, w in zip(keep, widths):
        compact.add_column(columns[i], no_wrap=True, overflow="ellipsis", width=w)
    for c in cells:
        compact.add_row(*c)
    console.print(compact)
    if note:
        console.print(note, highlight=False, style="dim")
