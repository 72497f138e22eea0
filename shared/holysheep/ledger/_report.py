"""Ledger reports: per-group tokens, USD, relay CNY against direct CNY, and savings.

One function, :func:`report`, renders text (aligned columns, or a ``rich`` table when rich is
installed and stdout is a terminal), JSON or CSV; ``holysheep report`` prints it. JSON and CSV
carry exact decimal strings; text rounds money half-up to 4 places (calls cost fractions of a cent).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from holysheep._tables import render_table as _render_table

from ._ledger import redact_url
from ._model import TotalsRow

if TYPE_CHECKING:
    from ._ledger import CostLedger

__all__ = ["fmt_money", "render_table", "report"]

_MONEY_PLACES = Decimal("0.0001")
_SUM_COLUMNS = (
    "calls",
    "unpriced_calls",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "total_tokens",
    "total_usd",
    "relay_cny",
    "direct_cny",
    "savings_cny",
    "estimated_calls",
    "estimated_usd",
)
_HEAD = ["calls", "prompt tok", "completion tok", "cached tok", "USD", "relay CNY", "direct CNY"]


def render_table(
    title: str | None,
    head: Sequence[str],
    body: Sequence[Sequence[str]],
    footer: Sequence[str] | None,
    left: int,
    use_rich: bool | None = None,
) -> str:
    """A table as text (``holysheep._tables``): rich on a terminal when installed, else plain."""
    return _render_table(title, head, body, footer, left, rich=use_rich)


def report(
    ledger: CostLedger | None,
    tables: list[str],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    form: str = "text",
    use_rich: bool | None = None,
) -> str:
    """The report of ``ledger`` (``None``: empty) as ``text``, ``json`` or ``csv``.

    Each table is a comma-free group spec (``model`` or ``model+user``); money in JSON and CSV is
    exact, in text rounded half-up to 4 places.
    """
    groups = {t: [k for k in t.split("+") if k] for t in tables}
    data: dict[str, list[TotalsRow]] = {}
    total: list[TotalsRow] = []
    budgets: list[Any] = []
    if ledger is not None:
        data = {t: ledger.totals(keys, since=since, until=until) for t, keys in groups.items()}
        total = ledger.totals((), since=since, until=until)
        budgets = ledger.budget_status()
    if form == "json":
        return json.dumps(
            {
                "ledger": "" if ledger is None else redact_url(ledger.url),
                "since": since.isoformat() if since else None,
                "until": until.isoformat() if until else None,
                "tables": {t: [r.as_dict() for r in rows] for t, rows in data.items()},
                "total": total[0].as_dict() if total else None,
                "budgets": [_status_dict(s) for s in budgets],
            },
            indent=2,
        )
    if form == "csv":
        return _csv(groups, data, total)
    return _text(groups, data, total, budgets, use_rich)


def _status_dict(status: Any) -> dict[str, Any]:
    return {
        **status.budget.as_dict(),
        "window": status.window,
        "spent_usd": str(status.spent_usd),
        "reserved_usd": str(status.reserved_usd),
        "remaining_usd": str(status.remaining_usd),
    }


def _csv(groups: dict[str, list[str]], data: dict[str, list[TotalsRow]], total: list) -> str:
    keys = list(dict.fromkeys(k for ks in groups.values() for k in ks))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["table", *keys, *_SUM_COLUMNS])
    for table, rows in [*data.items(), ("total", total)]:
        for row in rows:
            values = row.as_dict()
            writer.writerow(
                [table, *(values.get(k) or "" for k in keys), *(values[c] for c in _SUM_COLUMNS)]
            )
    return out.getvalue().rstrip("\n")


def fmt_money(value: Decimal, places: Decimal = _MONEY_PLACES) -> str:
    """``value`` rounded half-up to ``places``, with thousands separators."""
    return f"{value.quantize(places, ROUND_HALF_UP):,}"


def _pct(row: Any) -> str:
    return f"{row.savings_ratio * 100:.1f}%" if row.direct_cny else ""


def _money_cells(row: TotalsRow) -> list[str]:
    return [
        f"{row.calls:,}",
        f"{row.prompt_tokens:,}",
        f"{row.completion_tokens:,}",
        f"{row.cached_tokens:,}",
        fmt_money(row.total_usd),
        fmt_money(row.relay_cny),
        fmt_money(row.direct_cny),
        fmt_money(row.savings_cny),
        _pct(row),
    ]


def _text(
    groups: dict[str, list[str]],
    data: dict[str, list[TotalsRow]],
    total: list[TotalsRow],
    budgets: list[Any],
    use_rich: bool | None,
) -> str:
    if not total:
        return "no calls recorded in this period"
    parts = []
    for table, keys in groups.items():
        rows = sorted(data[table], key=lambda r: -r.total_usd) if not _timed(keys) else data[table]
        body = [[r.group[k] or "-" for k in keys] + _money_cells(r) for r in rows]
        footer = ["TOTAL"] + [""] * (len(keys) - 1) + _money_cells(total[0])
        head = [*keys, *_HEAD, "savings CNY", "saved"]
        parts.append(render_table(f"by {table}", head, body, footer, len(keys), use_rich))
    if total[0].unpriced_calls:
        parts.append(
            f"{total[0].unpriced_calls} call(s) had no price: counted in calls and tokens, "
            "not in money"
        )
    if total[0].estimated_calls:
        parts.append(
            f"{total[0].estimated_calls} call(s) are estimated (the relay reported no usage, "
            f"e.g. a stream cut short): {fmt_money(total[0].estimated_usd)} USD of the total is "
            "an estimate"
        )
    if budgets:
        head = ["budget", "window", "limit", "spent", "held", "left"]
        body = [
            [s.budget.describe().removeprefix("the "), s.window]
            + [
                fmt_money(v)
                for v in (s.budget.limit_usd, s.spent_usd, s.reserved_usd, s.remaining_usd)
            ]
            for s in budgets
        ]
        parts.append(render_table("budgets (USD)", head, body, None, 2, use_rich))
    return "\n\n".join(parts)


def _timed(keys: list[str]) -> bool:
    return any(k in ("day", "month") for k in keys)
