"""Tables for the command line: ``rich`` on a terminal, aligned plain text when piped.

``rich`` is optional (extra ``holysheep[cli]``). With it and a terminal, tables are coloured and
fit the terminal's width; without it, or when stdout is a pipe or file, they are plain text that
scripts can read. Money keeps enough digits to stay non-zero (calls cost fractions of a cent).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._money_text import money_text
from ._tables import render_table, use_rich

if TYPE_CHECKING:
    from .ledger import CostLedger
    from .ledger._model import TotalsRow

__all__ = ["render_table", "report_text", "use_rich"]

_HEAD = ["calls", "prompt tok", "completion tok", "cached tok", "USD", "relay CNY", "direct CNY"]


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
