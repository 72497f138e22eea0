"""SQLite schema of the ledger and the conversions between rows and ledger values.

Units: money is stored as exact decimal strings (TEXT, USD or CNY as the column says) and summed
with the ``dsum`` aggregate registered on every connection, so totals are exact (a reservation
also keeps its amount in integer nano-dollars, rounded up, for budget checks to sum in SQL);
timestamps are integer microseconds since the Unix epoch, UTC (``ts_us``); reservation expiry is
epoch seconds (REAL); tags and routes are JSON text.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from holysheep.costs import Cost
from holysheep.usage import Usage

from ._model import Budget, LedgerEntry

__all__ = [
    "ENTRY_COLUMNS",
    "INSERT_ENTRIES",
    "INSERT_ENTRY",
    "MIGRATIONS",
    "SCHEMA",
    "SCHEMA_VERSION",
    "DecimalSum",
    "budget_from_row",
    "entry_from_row",
    "entry_row",
]

SCHEMA_VERSION = 3
"""1: the first schema; 2: ``entries.estimated`` (usage estimated, not reported); 3:
``reservations.amount_nano`` (the hold in integer nano-dollars, rounded up, summed in SQL)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY,
    dedup TEXT NOT NULL UNIQUE,          -- '<created>|<call id>|<request id>': one row a call
    call_id TEXT NOT NULL,
    request_id TEXT,
    ts_us INTEGER NOT NULL,              -- microseconds since the epoch, UTC
    model TEXT NOT NULL,                 -- served
    requested_model TEXT NOT NULL,
    task TEXT, user TEXT, app TEXT,
    tags TEXT NOT NULL DEFAULT '{}',     -- JSON object
    prompt_tokens INTEGER, completion_tokens INTEGER, total_tokens INTEGER,
    cached_tokens INTEGER, reasoning_tokens INTEGER,   -- NULL: the relay reported no usage
    cost_model TEXT,
    input_usd TEXT, cached_input_usd TEXT, output_usd TEXT, total_usd TEXT,
    relay_cny TEXT, direct_cny TEXT,     -- exact decimal strings, NULL: unpriced
    latency_s REAL NOT NULL, attempts INTEGER NOT NULL, streamed INTEGER NOT NULL,
    route TEXT,                          -- JSON object or NULL
    estimated INTEGER NOT NULL DEFAULT 0 -- 1: usage estimated, not reported by the relay
);
CREATE INDEX IF NOT EXISTS entries_ts ON entries (ts_us);
CREATE TABLE IF NOT EXISTS budgets (
    id TEXT PRIMARY KEY,                 -- 'period|scope|key'
    scope TEXT NOT NULL, budget_key TEXT, period TEXT NOT NULL,
    limit_usd TEXT NOT NULL              -- exact decimal string
);
CREATE TABLE IF NOT EXISTS spend (
    budget_id TEXT NOT NULL,
    win TEXT NOT NULL,                   -- '2025-06-01', '2025-06' or 'all'
    spent_usd TEXT NOT NULL,             -- exact decimal string
    PRIMARY KEY (budget_id, win)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS reservations (
    id TEXT PRIMARY KEY,
    user TEXT, app TEXT, task TEXT, model TEXT NOT NULL,
    amount_usd TEXT NOT NULL,            -- exact decimal string
    expires_at REAL NOT NULL,            -- epoch seconds: ignored once past and then purged
    amount_nano INTEGER                  -- amount_usd in nano-dollars, rounded up
);
"""

ENTRY_COLUMNS = (
    "dedup, call_id, request_id, ts_us, model, requested_model, task, user, app, tags, "
    "prompt_tokens, completion_tokens, total_tokens, cached_tokens, reasoning_tokens, "
    "cost_model, input_usd, cached_input_usd, output_usd, total_usd, relay_cny, direct_cny, "
    "latency_s, attempts, streamed, route, estimated"
)
INSERT_ENTRY = (
    f"INSERT INTO entries ({ENTRY_COLUMNS}) VALUES ({', '.join('?' * 27)}) "
    "ON CONFLICT (dedup) DO NOTHING"
)

INSERT_ENTRIES = (
    f"INSERT INTO entries ({ENTRY_COLUMNS}) VALUES {{values}} ON CONFLICT (dedup) DO NOTHING"
)
"""``INSERT_ENTRY`` for several rows: ``values`` is one ``(?, ...)`` group per row."""

MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: ("ALTER TABLE entries ADD COLUMN estimated INTEGER NOT NULL DEFAULT 0",),
    2: ("ALTER TABLE reservations ADD COLUMN amount_nano INTEGER",),
}
"""Statements that bring a file from version ``n`` to ``n + 1`` (run in one transaction)."""


class DecimalSum:
    """``dsum(text)``: an exact sum of decimal strings (NULLs skipped), returned as text."""

    def __init__(self) -> None:
        self.total = Decimal(0)

    def step(self, value: str | None) -> None:
        if value is not None:
            self.total += Decimal(value)

    def finalize(self) -> str:
        return str(self.total)


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"), sort_keys=True)


def entry_row(entry: LedgerEntry) -> tuple[Any, ...]:
    """The ``INSERT_ENTRY`` parameters for ``entry``."""
    u, c = entry.usage, entry.cost
    tokens = (
        (None,) * 5
        if u is None
        else (
            u.prompt_tokens,
            u.completion_tokens,
            u.total_tokens,
            u.cached_tokens,
            u.reasoning_tokens,
        )
    )
    money = (
        (None,) * 7
        if c is None
        else (
            c.model,
            str(c.input_usd),
            str(c.cached_input_usd),
            str(c.output_usd),
            str(c.total_usd),
            str(c.relay_cny),
            str(c.direct_cny),
        )
    )
    return (
        entry.key,
        entry.id,
        entry.request_id,
        entry.ts_us,
        entry.model,
        entry.requested_model,
        entry.task,
        entry.user,
        entry.app,
        _json(dict(entry.tags)) if entry.tags else "{}",
        *tokens,
        *money,
        entry.latency_s,
        entry.attempts,
        int(entry.streamed),
        None if entry.route is None else _json(dict(entry.route)),
        int(entry.estimated),
    )


def entry_from_row(row: tuple[Any, ...]) -> LedgerEntry:
    """A ``LedgerEntry`` from a ``SELECT {ENTRY_COLUMNS}`` row."""
    (key, call_id, request_id, ts_us, model, requested, task, user, app, tags) = row[:10]
    tokens, money = row[10:15], row[15:22]
    latency, attempts, streamed, route, estimated = row[22:]
    usage = None if tokens[0] is None else Usage(*tokens)
    cost = None
    if money[0] is not None:
        cost_model, inp, cached, out, _total, relay, direct = money
        cost = Cost(
            cost_model,
            Decimal(inp),
            Decimal(cached),
            Decimal(out),
            Decimal(relay),
            Decimal(direct),
        )
    seconds, micros = divmod(ts_us, 1_000_000)
    ts = datetime.fromtimestamp(seconds, timezone.utc).replace(microsecond=micros)
    return LedgerEntry(
        key=key,
        id=call_id,
        request_id=request_id,
        ts=ts,
        model=model,
        requested_model=requested,
        task=task,
        user=user,
        app=app,
        tags=MappingProxyType(json.loads(tags) if tags else {}),
        usage=usage,
        cost=cost,
        latency_s=latency,
        attempts=attempts,
        streamed=bool(streamed),
        route=None if route is None else json.loads(route),
        estimated=bool(estimated),
    )


def budget_from_row(row: tuple[str, str, str | None, str, str]) -> Budget:
    """A ``Budget`` from ``SELECT id, scope, budget_key, period, limit_usd``."""
    _id, scope, key, period, limit = row
    return Budget(scope, key, period, Decimal(limit))  # type: ignore[arg-type]
