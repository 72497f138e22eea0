"""Totals and entry queries of the SQLite backend, built as SQL from a validated ``Query``.

Group keys and filters map onto columns (``tag:<name>`` onto ``json_extract``, ``day``/``month``
onto ``strftime`` of the UTC timestamp); money is summed with the exact ``dsum`` aggregate. Tags
keep their exact text (escaped JSON), lone surrogates included, which SQLite's JSON functions give
back as bytes that are not UTF-8: a tag is read and compared as a BLOB (``surrogatepass``), so
SQLite answers as the memory and Redis backends do.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from ._aggregate import Query, sort_key
from ._model import TotalsRow, epoch_us

__all__ = ["entries_sql", "totals_rows"]

_TIME = {
    "day": "strftime('%Y-%m-%d', ts_us / 1000000, 'unixepoch')",
    "month": "strftime('%Y-%m', ts_us / 1000000, 'unixepoch')",
}
_SUMS = (
    "COUNT(*), SUM(total_usd IS NULL), "
    "COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), "
    "COALESCE(SUM(cached_tokens), 0), COALESCE(SUM(reasoning_tokens), 0), "
    "COALESCE(SUM(total_tokens), 0), dsum(total_usd), dsum(relay_cny), dsum(direct_cny), "
    "COALESCE(SUM(estimated), 0), dsum(CASE WHEN estimated THEN total_usd END)"
)


def _expr(key: str, params: list[Any]) -> str:
    """The SQL expression of a group key or filter name (a tag's JSON path goes in params)."""
    if key in _TIME:
        return _TIME[key]
    if key.startswith("tag:"):
        name = key[4:]
        if not name.isascii():  # a JSON path matches the stored (escaped) name: look it up
            params.append(_blob(name))
            return "(SELECT CAST(value AS BLOB) FROM json_each(tags) WHERE CAST(key AS BLOB) = ?)"
        params.append('$."' + name.replace("\\", "\\\\").replace('"', '\\"') + '"')
        return "CAST(json_extract(tags, ?) AS BLOB)"
    return key  # one of COLUMNS, validated by build_query


def _blob(text: str) -> bytes:
    """``text`` as SQLite's JSON functions give it: UTF-8, lone surrogates kept."""
    return text.encode("utf-8", "surrogatepass")


def _text(value: Any) -> str | None:
    """A group value as ``str`` (a tag's BLOB decoded as ``_blob`` encoded it)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogatepass")
    return str(value)


def entries_sql(query: Query) -> tuple[str, list[Any]]:
    """``WHERE ...`` and its parameters for the query's time range and filters."""
    params: list[Any] = []
    clauses: list[str] = []
    if query.since is not None:
        clauses.append("ts_us >= ?")
        params.append(epoch_us(query.since))
    if query.until is not None:
        clauses.append("ts_us < ?")
        params.append(epoch_us(query.until))
    for name, value in query.filters.items():
        clauses.append(f"{_expr(name, params)} IS ?")
        params.append(_blob(value) if name.startswith("tag:") and isinstance(value, str) else value)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


def totals_rows(conn: sqlite3.Connection, query: Query) -> list[TotalsRow]:
    """Run the grouped query and turn its rows into ``TotalsRow`` values."""
    params: list[Any] = []
    keys = query.group_by
    select = [f"{_expr(k, params)} AS g{i}" for i, k in enumerate(keys)]
    where, where_params = entries_sql(query)
    sql = f"SELECT {', '.join([*select, _SUMS])} FROM entries {where}"
    if keys:
        sql += " GROUP BY " + ", ".join(str(i + 1) for i in range(len(keys)))
    rows = []
    for row in conn.execute(sql, params + where_params):
        values, sums = row[: len(keys)], row[len(keys) :]
        if not sums[0]:
            continue  # no group keys and no entries: SQLite still returns one row
        group = MappingProxyType(
            {k: _text(v) for k, v in zip(keys, values, strict=True)}
        )
        calls, unpriced, p, c, cached, reasoning, total, usd, relay, direct, est, est_usd = sums
        rows.append(
            TotalsRow(
                group,
                calls,
                unpriced or 0,
                p,
                c,
                cached,
                reasoning,
                total,
                Decimal(usd),
                Decimal(relay),
                Decimal(direct),
                est,
                Decimal(est_usd),
            )
        )
    return sorted(rows, key=sort_key)
