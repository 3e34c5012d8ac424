"""The terminal every command prints through: untrusted text escaped, tables never cut.

Below every package (like :mod:`gridhash.errors`), so that the CLI, the ledger's
commands and the service's start-up all print the same way.
"""

from __future__ import annotations

import sys
from typing import Any


def console(stderr: bool = False) -> Any:
    """A rich console that shows control characters in printed text as escapes.

    Every string rich renders (table cells included) passes through
    ``render_str``; scenario text (event reasons, names, descriptions) comes
    from parties who need not be trusted, so none of it reaches the terminal raw.
    """
    from rich.console import Console

    from gridhash.errors import printable

    class SafeConsole(Console):
        def render_str(self, text: str, **kwargs: Any) -> Any:
            return super().render_str(printable(text), **kwargs)

        def print(self, *objects: Any, **kwargs: Any) -> None:
            super().print(*(fit_table(self, o) for o in objects), **kwargs)

    import os

    stream = sys.stderr if stderr else sys.stdout
    # Piped output (files, CI logs) gets wide tables, unless COLUMNS says otherwise.
    width = None if stream.isatty() or os.environ.get("COLUMNS") else 160
    return SafeConsole(stderr=stderr, highlight=False, width=width)


def fit_table(console: Any, obj: Any) -> Any:
    """A table as it is where it fits, else one block per row (label: value lines).

    Rich squeezes a table wider than the terminal by cutting cells with an
    ellipsis, numbers and identifiers included.  A table fits when every column
    can be as wide as its longest word (text then wraps between words); one that
    does not is laid out vertically, where nothing needs cutting.
    """
    from rich.measure import Measurement
    from rich.table import Table

    if not isinstance(obj, Table) or not obj.columns:
        return obj
    headers = [c.header if isinstance(c.header, str) else "" for c in obj.columns]
    columns = [list(c.cells) for c in obj.columns]
    wide = console.options.update_width(10_000)

    def least(cell: Any, whole: bool) -> int:  # the longest word, or all if no_wrap
        shown = console.render_str(cell) if isinstance(cell, str) else cell
        got = Measurement.get(console, wide, shown)
        return got.maximum if whole else got.minimum

    shown_headers = headers if obj.show_header else [""] * len(headers)
    lows = [max(least(c, col.no_wrap) for c in [h, *cells])
            for h, cells, col in zip(shown_headers, columns, obj.columns, strict=True)]
    highs = [max(least(c, True) for c in [h, *cells])
             for h, cells in zip(shown_headers, columns, strict=True)]
    frame = 2 * len(columns) + (len(columns) + 1 if obj.box is not None else 0)
    if sum(highs) + frame <= console.width:
        return obj
    if sum(lows) + frame <= console.width:
        # Rich would squeeze the widest columns below their longest word (cutting a
        # header or a number); fix each column's width instead: its longest word, and
        # the room left to the columns in order, up to their full width.
        room = console.width - frame - sum(lows)
        for col, lo, hi in zip(obj.columns, lows, highs, strict=True):
            give = min(room, hi - lo)
            col.width, room = lo + give, room - give
        return obj
    from rich.console import Group
    from rich.text import Text

    blocks: list[Any] = []
    if obj.title:
        blocks.append(Text(str(obj.title), style="bold"))
    for r in range(obj.row_count):
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        first = columns[0][r]
        blocks.append(Text(f"{headers[0]}: " if headers[0] else "", style="bold")
                      + (first if isinstance(first, Text) else console.render_str(str(first))))
        for name, cells in zip(headers[1:], columns[1:], strict=True):
            grid.add_row(f"  {name}" if name else " ", cells[r])
        blocks.append(grid)
    return Group(*blocks)
