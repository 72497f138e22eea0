"""Tables for the command line: ``rich`` on a terminal, aligned plain text when piped.

``rich`` is optional (extra ``holysheep[cli]``). With it and a terminal, tables are coloured and
fit the terminal's width; without it, or when stdout is a pipe or file, they are plain text that
scripts can read. Money keeps enough digits to stay non-zero (calls cost fractions of a cent).
"""

from __future__ import annotations

import importlib.util
import io
import shutil
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._money_text import money_text

if TYPE_CHECKING:
    from .ledger import CostLedger
    from .ledger._model import TotalsRow

__all__ = ["render_table", "report_text", "use_rich"]

_HEAD = ["calls", "prompt tok", "completion tok", "cached tok", "USD", "relay CNY", "direct CNY"]


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


def _money_cells(row: TotalsRow) -> list[str]:
    pct = f"{row.savings_ratio * 100:.1f}%" if row.direct_cny else ""
    money = (row.total_usd, row.relay_cny, row.direct_cny, row.savings_cny)
    counts = (row.calls, row.prompt_tokens, row.completion_tokens, row.cached_tokens)
    return [f"{n:,}" for n in counts] + [money_text(m) for m in money] + [pct]


def report_text(ledger: CostLedger, tables: list[str], **window: Any) -> str | None:
    """The ledger's totals as tables, or None when it holds no call in the window."""
    [total] = ledger.totals((), **window) or [None]
    if total is None or not total.calls:
        return None
    parts = []
    for table in tables:
        keys = [k for k in table.split("+") if k]
        rows = ledger.totals(keys, **window)
        if not any(k in ("day", "month") for k in keys):
            rows = sorted(rows, key=lambda r: -r.total_usd)
        body = [[r.group[k] or "-" for k in keys] + _money_cells(r) for r in rows]
        footer = ["TOTAL"] + [""] * (len(keys) - 1) + _money_cells(total)
        head = [*keys, *_HEAD, "savings CNY", "saved"]
        parts.append(render_table(f"by {table}", head, body, footer, len(keys)))
    if total.unpriced_calls:
        parts.append(
            f"{total.unpriced_calls} call(s) had no price: counted in calls and tokens, not in "
            "money"
        )
    if total.estimated_calls:
        parts.append(
            f"{total.estimated_calls} call(s) are estimated (the relay reported no usage, e.g. a "
            f"stream cut short): {money_text(total.estimated_usd)} USD of the total is an estimate"
        )
    budgets = ledger.budget_status()
    if budgets:
        head = ["budget", "window", "limit", "spent", "held", "left"]
        body = [
            [s.budget.describe().removeprefix("the "), s.window]
            + [money_text(v) for v in (s.budget.limit_usd, s.spent_usd, s.reserved_usd)]
            + [money_text(s.remaining_usd)]
            for s in budgets
        ]
        parts.append(render_table("budgets (USD)", head, body, None, 2))
    return "\n\n".join(parts)


def how_to_record(url: str) -> str:
    """What to tell a user whose ledger is empty: how calls get recorded into it."""
    return (
        f"no calls recorded yet in {url}.\n"
        "Record some:\n"
        '  holysheep chat "hello"            records into this ledger (the command line\'s own)\n'
        f"  HOLYSHEEP_LEDGER={url} python app.py\n"
        "                                    records every HolySheepClient, ChatHolySheep and\n"
        "                                    HolySheep call of your app into it\n"
        f'  HolySheepClient(ledger=CostLedger("{url}")) does the same in code'
    )
