"""Totals over ledger entries: group keys, filters and the sums, in plain Python.

The memory and Redis backends aggregate here; SQLite does the same in SQL (``_sqlite.py``) and
is checked against this code in the tests. Group keys: ``model`` (served), ``requested_model``,
``task``, ``user``, ``app``, ``tag:<name>``, ``day`` and ``month`` (UTC).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from ._model import LedgerEntry, TotalsRow
from ._text import clean

__all__ = [
    "COLUMNS",
    "TIME_KEYS",
    "Query",
    "aggregate",
    "build_query",
    "group_value",
    "matches",
]

COLUMNS = ("model", "requested_model", "task", "user", "app")
"""Group keys and filters that are plain entry fields."""
TIME_KEYS = ("day", "month")
"""Group keys derived from the entry's UTC timestamp."""


@dataclass(frozen=True, slots=True)
class Query:
    """A validated ``totals``/``entries`` request: group keys, time range and equality filters."""

    group_by: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    filters: Mapping[str, str | None] = field(default_factory=dict)
    """``model``/``task``/... or ``tag:<name>`` -> the value an entry must have."""


def _utc(value: datetime | None, name: str) -> datetime | None:
    """``value`` as an aware UTC datetime (a naive one is taken to be UTC already)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {value!r}")
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _check_key(key: str, *, grouping: bool) -> str:
    if key in COLUMNS or (grouping and key in TIME_KEYS):
        return key
    if key.startswith("tag:") and len(key) > 4:
        return key
    allowed = [*COLUMNS, *(TIME_KEYS if grouping else ()), "tag:<name>"]
    what = "group by" if grouping else "filter on"
    raise ValueError(f"cannot {what} {key!r}; use one of {', '.join(allowed)}")


def build_query(
    group_by: Sequence[str] | str,
    since: datetime | None,
    until: datetime | None,
    filters: Mapping[str, Any],
) -> Query:
    """Validate arguments of ``totals``/``entries``; ``tags={...}`` becomes ``tag:<name>`` filters.

    Raises:
        ValueError: an unknown group key or filter name.
    """
    if isinstance(group_by, str):
        group_by = [k.strip() for k in group_by.split(",") if k.strip()]
    keys = tuple(dict.fromkeys(_check_key(k, grouping=True) for k in group_by))
    flat: dict[str, str | None] = {}
    for name, value in filters.items():
        if name == "tags":
            flat.update((f"tag:{k}", v) for k, v in dict(value or {}).items())
        else:  # names are stored cleaned (``_text.py``): so is what they are compared with
            key = _check_key(name, grouping=False)
            flat[key] = clean(value) if isinstance(value, str) else value
    return Query(keys, _utc(since, "since"), _utc(until, "until"), MappingProxyType(flat))


def group_value(entry: LedgerEntry, key: str) -> str | None:
    """The value of one group key for ``entry``."""
    if key == "day":
        return entry.ts.strftime("%Y-%m-%d")
    if key == "month":
        return entry.ts.strftime("%Y-%m")
    if key.startswith("tag:"):
        return entry.tags.get(key[4:])
    return getattr(entry, key)


def matches(entry: LedgerEntry, query: Query) -> bool:
    """Whether ``entry`` is in the query's time range (``since <= ts < until``) and filters."""
    if query.since is not None and entry.ts < query.since:
        return False
    if query.until is not None and entry.ts >= query.until:
        return False
    return all(group_value(entry, k) == v for k, v in query.filters.items())


class _Sum:
    """A running total for one group."""

    __slots__ = ("calls", "direct", "est_calls", "est_usd", "relay", "tokens", "unpriced", "usd")

    def __init__(self) -> None:
        self.calls = self.unpriced = self.est_calls = 0
        self.tokens = [0, 0, 0, 0, 0]
        self.usd = self.relay = self.direct = self.est_usd = Decimal(0)

    def add(self, entry: LedgerEntry) -> None:
        self.calls += 1
        usage, cost = entry.usage, entry.cost
        if usage is not None:
            t = self.tokens
            t[0] += usage.prompt_tokens
            t[1] += usage.completion_tokens
            t[2] += usage.cached_tokens
            t[3] += usage.reasoning_tokens
            t[4] += usage.total_tokens
        if entry.estimated:
            self.est_calls += 1
        if cost is None:
            self.unpriced += 1
        else:
            self.usd += cost.total_usd
            self.relay += cost.relay_cny
            self.direct += cost.direct_cny
            if entry.estimated:
                self.est_usd += cost.total_usd

    def row(self, group: Mapping[str, str | None]) -> TotalsRow:
        p, c, cached, reasoning, total = self.tokens
        return TotalsRow(
            MappingProxyType(dict(group)),
            self.calls,
            self.unpriced,
            p,
            c,
            cached,
            reasoning,
            total,
            self.usd,
            self.relay,
            self.direct,
            self.est_calls,
            self.est_usd,
        )


def sort_key(row: TotalsRow) -> tuple[tuple[bool, str], ...]:
    """Rows ordered by their group keys, ``None`` last."""
    return tuple((v is None, v or "") for v in row.group.values())


def aggregate(entries: Iterable[LedgerEntry], query: Query) -> list[TotalsRow]:
    """Sum ``entries`` that match ``query`` per group; rows ordered by group keys."""
    sums: dict[tuple[str | None, ...], _Sum] = {}
    keys = query.group_by
    for entry in entries:
        if not matches(entry, query):
            continue
        group = tuple(group_value(entry, k) for k in keys)
        total = sums.get(group)
        if total is None:
            total = sums[group] = _Sum()
        total.add(entry)
    rows = [total.row(dict(zip(keys, group, strict=True))) for group, total in sums.items()]
    return sorted(rows, key=sort_key)
