"""The cost report as one self-contained HTML page: inline SVG and CSS, no script, no network.

``CostLedger.report_html`` and ``holysheep report --html FILE`` build it from the ledger's public
reading methods only (``totals``, ``entries``, ``budget_status``), so every backend gives the same
page. Exact decimals sit in ``data-value`` attributes; the text rounds like the text report.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from holysheep._money_text import money_text
from holysheep.errors import ConfigurationError

from ._html_style import STYLE
from ._model import BudgetStatus, LedgerEntry, TotalsRow
from ._svg import OTHER_COLOUR, PALETTE, exact, meter, paired_bars, stacked_columns

if TYPE_CHECKING:
    from ._ledger import CostLedger

__all__ = ["build_report_html", "write_page"]

_TOP = 10
"""Rows per top list (users, apps, tasks); the rest are summed in one row."""
_MAX_DAYS = 92
"""Longer periods are charted per month."""
_ZERO = Decimal(0)
_NONE = "(not set)"


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _pct(part: Decimal | int, whole: Decimal | int) -> str:
    return f"{Decimal(part) / Decimal(whole) * 100:.1f}%" if whole else "0.0%"


@dataclass
class _TaskRoutes:
    """Routed calls of one task label: models served, how the label came, fallbacks taken."""

    calls: int = 0
    classified: int = 0
    fell_back: int = 0
    fallbacks: int = 0
    models: Counter[str] = field(default_factory=Counter)


def _routes(
    entries: Iterable[LedgerEntry],
) -> tuple[dict[str, _TaskRoutes], Counter[tuple[str, str, str]]]:
    """Per task label, the routed calls; and each fallback move ``(from, to, error)`` counted."""
    tasks: dict[str, _TaskRoutes] = {}
    moves: Counter[tuple[str, str, str]] = Counter()
    for entry in entries:
        route = entry.route
        if not route:
            continue
        task = str(route.get("task") or entry.task or _NONE)
        row = tasks.setdefault(task, _TaskRoutes())
        row.calls += 1
        row.classified += route.get("task_source") == "classifier"
        row.models[entry.model] += 1
        fallbacks = [f for f in route.get("fallbacks") or () if isinstance(f, dict)]
        row.fell_back += bool(fallbacks)
        row.fallbacks += len(fallbacks)
        for f in fallbacks:
            moves[(str(f.get("from_model")), str(f.get("to_model") or "none"), _why(f))] += 1
    return dict(sorted(tasks.items(), key=lambda kv: -kv[1].calls)), moves


def _why(fallback: dict) -> str:
    status = fallback.get("status_code")
    kind = str(fallback.get("error_type") or "error")
    return f"{kind} ({status})" if status else kind


def _card(name: str, key: str, value: Decimal | int, text: str, note: str = "") -> str:
    note_html = f'<span class="note">{_e(note)}</span>' if note else ""
    return (
        f'<div class="card"><span class="name">{_e(name)}</span>'
        f'<span class="value" data-total="{key}" data-value="{exact(value)}">{_e(text)}</span>'
        f"{note_html}</div>"
    )


def _cards(total: TotalsRow) -> str:
    tokens = f"{total.prompt_tokens:,} in · {total.completion_tokens:,} out"
    saved = f"{_pct(total.savings_cny, total.direct_cny)} less than direct"
    return (
        '<section class="cards">'
        + "".join(
            [
                _card("Calls", "calls", total.calls, f"{total.calls:,}", tokens),
                _card(
                    "List price", "total_usd", total.total_usd, f"$ {money_text(total.total_usd)}"
                ),
                _card(
                    "Relay CNY",
                    "relay_cny",
                    total.relay_cny,
                    money_text(total.relay_cny),
                    "what the relay billed",
                ),
                _card(
                    "Direct CNY",
                    "direct_cny",
                    total.direct_cny,
                    money_text(total.direct_cny),
                    "the providers' price",
                ),
                _card(
                    "Saved CNY",
                    "savings_cny",
                    total.savings_cny,
                    money_text(total.savings_cny),
                    saved,
                ),
            ]
        )
        + "</section>"
    )


def _columns(first: date, last: date, monthly: bool) -> list[str]:
    """Every day (or month) from ``first`` to ``last``, so quiet days show as gaps."""
    out: list[str] = []
    day = first.replace(day=1) if monthly else first
    while day <= last:
        out.append(day.strftime("%Y-%m" if monthly else "%Y-%m-%d"))
        day = (
            (day.replace(day=28) + timedelta(days=4)).replace(day=1)
            if monthly
            else (day + timedelta(days=1))
        )
    return out


def _spend_chart(ledger: CostLedger, by_model: list[TotalsRow], window: dict) -> str:
    rows = ledger.totals(["day", "model"], **window)
    days = sorted({r["day"] for r in rows if r["day"]})
    first, last = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
    monthly = (last - first).days >= _MAX_DAYS
    if monthly:
        rows = ledger.totals(["month", "model"], **window)
    columns = _columns(first, last, monthly)
    ranked = [r["model"] or _NONE for r in sorted(by_model, key=lambda r: -r.total_usd)]
    named = ranked if len(ranked) <= len(PALETTE) + 1 else ranked[: len(PALETTE)]
    index = {c: i for i, c in enumerate(columns)}
    values = {m: [_ZERO] * len(columns) for m in [*named, "other models"]}
    for r in rows:
        model = r["model"] or _NONE
        column = index[r["month" if monthly else "day"]]
        values[model if model in named else "other models"][column] += r.total_usd
    colours = dict(zip(named, (*PALETTE, OTHER_COLOUR), strict=False))
    series = [(m, colours.get(m, OTHER_COLOUR), v) for m, v in values.items() if any(v)]
    legend = "".join(
        f'<li class="series" data-series="{_e(m)}"><i style="background:{c}"></i>{_e(m)}</li>'
        for m, c, _ in series
    )
    per = "month" if monthly else "day"
    chart = stacked_columns(columns, series, unit="USD", label=f"list-price USD per {per} by model")
    return (
        f'<section id="spend"><h2>Spend per {per}, by model</h2>'
        f'<p class="hint">USD at list price; unpriced calls add nothing here.</p>{chart}'
        f'<ul class="legend">{legend}</ul></section>'
    )


def _relay_section(total: TotalsRow, by_model: list[TotalsRow]) -> str:
    rows = sorted(by_model, key=lambda r: -r.direct_cny)
    pairs = [
        (
            r["model"] or _NONE,
            r.relay_cny,
            r.direct_cny,
            f"saved {money_text(r.savings_cny)} ({_pct(r.savings_cny, r.direct_cny)})",
        )
        for r in rows
        if r.direct_cny or r.relay_cny
    ]
    chart = paired_bars(pairs, label="relay CNY against direct CNY per model") if pairs else ""
    return (
        '<section id="relay"><h2>Relay against direct</h2>'
        f'<p class="lead">Through the relay: <b>{money_text(total.relay_cny)} CNY</b>; direct from '
        f"the providers: <b>{money_text(total.direct_cny)} CNY</b>; saved "
        f'<b data-total="savings_ratio" data-value="{exact(total.savings_ratio)}">'
        f"{money_text(total.savings_cny)} CNY "
        f"({_pct(total.savings_cny, total.direct_cny)})</b>.</p>"
        '<ul class="legend"><li><i class="relay"></i>relay CNY</li>'
        f'<li><i class="direct"></i>direct CNY</li></ul>{chart}</section>'
    )


def _top_table(key: str, rows: list[TotalsRow], total: TotalsRow) -> str:
    ranked = sorted(rows, key=lambda r: (-r.total_usd, -r.calls))
    shown, rest = ranked[:_TOP], ranked[_TOP:]
    body = []
    for r in shown:
        body.append(_top_row(r[key] or _NONE, r, total, "row"))
    if rest:
        extra = TotalsRow(
            {},
            sum(r.calls for r in rest),
            total_usd=sum((r.total_usd for r in rest), _ZERO),
            relay_cny=sum((r.relay_cny for r in rest), _ZERO),
        )
        body.append(_top_row(f"{len(rest)} more", extra, total, "row rest"))
    return (
        f'<div class="top" data-key="{_e(key)}"><h3>Top {_e(key)}s</h3><table>'
        "<thead><tr><th>" + _e(key) + "</th><th>calls</th><th>USD</th><th>relay CNY</th>"
        "<th>share of USD</th></tr></thead><tbody>" + "".join(body) + "</tbody></table></div>"
    )


def _top_row(name: str, r: TotalsRow, total: TotalsRow, cls: str) -> str:
    share = meter(
        [("part", r.total_usd, _pct(r.total_usd, total.total_usd))],
        total.total_usd,
        label=f"{name}: share of USD",
    )
    return (
        f'<tr class="{cls}" data-name="{_e(name)}"><td class="name">{_e(name)}</td>'
        f"<td>{r.calls:,}</td>"
        f'<td data-value="{exact(r.total_usd)}">{money_text(r.total_usd)}</td>'
        f'<td>{money_text(r.relay_cny)}</td><td class="bar">{share}'
        f"<span>{_pct(r.total_usd, total.total_usd)}</span></td></tr>"
    )


def _budget_section(status: Sequence[BudgetStatus]) -> str:
    if not status:
        return (
            '<section id="budgets"><h2>Budgets</h2><p class="hint">No budget is set '
            "(CostLedger.set_budget).</p></section>"
        )
    rows = []
    for s in status:
        limit, used = s.budget.limit_usd, s.spent_usd + s.reserved_usd
        bar = meter(
            [
                ("spent", s.spent_usd, f"spent {money_text(s.spent_usd)} USD"),
                ("held", s.reserved_usd, f"held {money_text(s.reserved_usd)} USD"),
            ],
            limit,
            label=f"{s.budget.describe()}: used against limit",
        )
        name = s.budget.describe().removeprefix("the ")
        cls = "budget over" if limit and used >= limit * Decimal("0.9") else "budget"
        rows.append(
            f'<tr class="{cls}" data-budget="{_e(s.budget.id)}" data-spent="{exact(s.spent_usd)}" '
            f'data-limit="{exact(limit)}"><td class="name">{_e(name)}</td>'
            f"<td>{_e(s.window)}</td><td>{money_text(limit)}</td>"
            f'<td data-value="{exact(s.spent_usd)}">{money_text(s.spent_usd)}</td>'
            f"<td>{money_text(s.reserved_usd)}</td><td>{money_text(s.remaining_usd)}</td>"
            f'<td class="bar">{bar}<span>{_pct(used, limit)}</span></td></tr>'
        )
    return (
        '<section id="budgets"><h2>Budgets</h2><p class="hint">USD in each budget\'s current '
        "window, whatever the report's period; held is what calls in flight reserve.</p><table>"
        "<thead><tr><th>budget</th><th>window</th><th>limit</th><th>spent</th><th>held</th>"
        "<th>left</th><th>used</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></section>"
    )


def _routing_section(entries: list[LedgerEntry]) -> str:
    tasks, moves = _routes(entries)
    if not tasks:
        return (
            '<section id="routing"><h2>Routing</h2><p class="hint">No call in this period was '
            'routed (model="auto").</p></section>'
        )
    most = max(t.calls for t in tasks.values())
    rows = []
    for name, t in tasks.items():
        bar = meter(
            [
                (
                    "first",
                    Decimal(t.calls - t.fell_back),
                    f"{t.calls - t.fell_back} first pick",
                ),
                ("fell-back", Decimal(t.fell_back), f"{t.fell_back} after a fallback"),
            ],
            Decimal(most),
            label=f"{name}: routed calls",
        )
        served = ", ".join(f"{m} \u00d7{n}" for m, n in t.models.most_common())
        rows.append(
            f'<tr class="route" data-task="{_e(name)}" data-calls="{t.calls}" '
            f'data-fallbacks="{t.fallbacks}"><td class="name">{_e(name)}</td><td>{t.calls:,}</td>'
            f'<td>{t.classified:,}</td><td class="models">{_e(served)}</td>'
            f"<td>{t.fallbacks:,}</td>"
            f'<td class="bar">{bar}</td></tr>'
        )
    moved = "".join(
        f'<tr class="fallback" data-count="{n}"><td>{_e(a)} → {_e(b)}</td><td>{_e(why)}</td>'
        f"<td>{n:,}</td></tr>"
        for (a, b, why), n in moves.most_common()
    )
    fallbacks = (
        "<h3>Fallbacks taken</h3><table><thead><tr><th>move</th><th>because of</th><th>times</th>"
        f"</tr></thead><tbody>{moved}</tbody></table>"
        if moved
        else '<p class="hint">No fallback was needed.</p>'
    )
    return (
        '<section id="routing"><h2>Routing</h2><p class="hint">Calls made with model="auto", '
        "by task label; classified: the label came from the classifier.</p>"
        '<ul class="legend"><li><i class="first"></i>served by the first pick</li>'
        '<li><i class="fell-back"></i>served after a fallback</li></ul>'
        "<table><thead><tr><th>task</th><th>routed calls</th><th>classified</th>"
        '<th class="models">models served</th><th>fallbacks</th><th>first pick / after '
        "a fallback</th></tr></thead><tbody>" + "".join(rows) + f"</tbody></table>{fallbacks}"
        "</section>"
    )


def _quality_section(total: TotalsRow) -> str:
    est, unpriced, calls = total.estimated_calls, total.unpriced_calls, total.calls
    lines = [
        (
            "estimated",
            est,
            f"{est:,} of {calls:,} calls ({_pct(est, calls)}) had usage estimated "
            "(the relay reported none, e.g. a stream cut short): "
            f"{money_text(total.estimated_usd)} "
            f"USD, {_pct(total.estimated_usd, total.total_usd)} of the money, is an estimate.",
        ),
        (
            "unpriced",
            unpriced,
            f"{unpriced:,} of {calls:,} calls ({_pct(unpriced, calls)}) had no "
            "price: counted in calls and tokens, not in money.",
        ),
    ]
    items = "".join(
        f'<li class="share {cls}" data-calls="{n}">'
        f"{meter([(cls, Decimal(n), _pct(n, calls))], Decimal(calls), label=text)}"
        f"<span>{_e(text)}</span></li>"
        for cls, n, text in lines
    )
    return f'<section id="quality"><h2>Estimated and unpriced calls</h2><ul>{items}</ul></section>'


def _period(since: datetime | None, until: datetime | None, entries: list[LedgerEntry]) -> str:
    def when(t: datetime) -> str:
        return t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M")

    asked = (f"from {when(since)} " if since else "") + (f"before {when(until)}" if until else "")
    span = f"calls {when(entries[0].ts)} to {when(entries[-1].ts)} UTC" if entries else "no calls"
    return f"{asked.strip() or 'all recorded calls'} · {span}"


def build_report_html(
    ledger: CostLedger,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    title: str = "HolySheep cost report",
) -> str:
    """The page for the calls in ``[since, until)`` (UTC; None: unbounded)."""
    from ._ledger import redact_url

    window = {"since": since, "until": until}
    [total] = ledger.totals((), **window) or [TotalsRow({})]
    entries = ledger.entries(**window)
    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head = (
        f'<header><h1>{_e(title)}</h1><p class="meta">{_e(_period(since, until, entries))} · '
        f"ledger {_e(redact_url(ledger.url))} · made {made}</p></header>"
    )
    if not total.calls:
        body = '<p class="empty">No calls recorded in this period.</p>'
    else:
        by_model = ledger.totals(["model"], **window)
        tops = "".join(
            _top_table(k, ledger.totals([k], **window), total) for k in ("user", "app", "task")
        )
        body = "".join(
            [
                _cards(total),
                _spend_chart(ledger, by_model, window),
                _relay_section(total, by_model),
                f'<section id="top"><h2>Who spent it</h2><div class="tops">{tops}</div></section>',
                _budget_section(ledger.budget_status()),
                _routing_section(entries),
                _quality_section(total),
            ]
        )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>{head}<main>{body}</main>"
        "<footer>Made by holysheep from its cost ledger. Money: USD at list price; relay CNY is "
        "what the relay billed, direct CNY what the providers charge at the market rate.</footer>"
        "</body></html>\n"
    )


def write_page(path: Path, page: str) -> None:
    """Write ``page`` to ``path`` whole (a temporary file renamed over it), UTF-8.

    Raises:
        ConfigurationError: the folder is missing or not writable, or the path is a folder.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigurationError(
            f"cannot write the HTML report to {path} ({exc.strerror or exc}); choose a file in "
            "an existing, writable folder"
        ) from None
