"""Tables as text: ``rich`` on a terminal, aligned plain text when piped or without rich.

One renderer for the ledger's text report and the command line. ``rich`` is optional (extra
``holysheep[cli]``); with it and a terminal, tables are coloured and fit the terminal's width.
"""

from __future__ import annotations

import importlib.util
import io
import shutil
import sys
from collections.abc import Sequence

__all__ = ["render_table", "use_rich"]


def use_rich() -> bool:
    """Rich output: rich is installed and stdout is a terminal."""
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty()) and importlib.util.find_spec("rich") is not None


def render_table(
    title: str | None,
    head: Sequence[str],
    body: Sequence[Sequence[str]],
    footer: Sequence[str] | None = None,
    left: int = 1,
    *,
    rich: bool | None = None,
) -> str:
    """A table: the first ``left`` columns left-aligned, the rest right-aligned."""
    if rich if rich is not None else use_rich():
        return _rich_table(title, head, body, footer, left)
    rows = [list(head), *map(list, body), *([list(footer)] if footer else [])]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]

    def line(cells: Sequence[str]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        out = [c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in pairs]
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    lines = ([title] if title else []) + [line(head), rule, *(line(r) for r in body)]
    if footer:
        lines += [rule, line(footer)]
    return "\n".join(lines)


def _rich_table(
    title: str | None,
    head: Sequence[str],
    body: Sequence[Sequence[str]],
    footer: Sequence[str] | None,
    left: int,
) -> str:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(  # no vertical rules, shared padding: more room for the numbers
        title=title,
        title_justify="left",
        header_style="bold cyan",
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
        pad_edge=False,
    )
    for i, name in enumerate(head):
        if i < left:  # labels may fold; numbers never wrap
            table.add_column(name, justify="left", overflow="fold", style="green")
        else:
            table.add_column(name, justify="right", no_wrap=True)
    for i, row in enumerate(body):
        table.add_row(*row, end_section=footer is not None and i == len(body) - 1)
    if footer:
        table.add_row(*footer, style="bold")
    width = shutil.get_terminal_size().columns
    console = Console(file=io.StringIO(), force_terminal=True, width=width)
    console.print(table)
    return console.file.getvalue().rstrip()  # type: ignore[attr-defined]
