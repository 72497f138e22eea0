"""The store's side of leases: taking one (SQLite), spending it at settle, giving it back.

The settle side's one hook is ``drop_holds`` (SQLite) and the Lua ``drop_hold`` (Redis,
``_redis_lua.DROP_HOLD``): a plain hold id is deleted as before; a lease share
(``lease-<hex>.<n>``) lowers its lease row by the call's cost (``spend_nano``), in the same
transaction or script that records the entry, and the row goes once nothing is left in it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from ._budgets import to_nano
from ._lease import LEASE_CALLS, LEASE_FLOOR, LEASE_SHARE
from ._model import LedgerEntry

if TYPE_CHECKING:
    import sqlite3

    from holysheep.costs import Cost

__all__ = ["drop_holds", "give_back_sql", "lease_grant", "spend_nano"]

_LOWER = "UPDATE reservations SET amount_nano = MAX(0, amount_nano - ?) WHERE id = ?"
_GONE = "DELETE FROM reservations WHERE id = ? AND amount_nano <= 0"


_KEPT: dict[int, tuple[Cost, int]] = {}
"""``spend_nano`` of lease shares worked out once and wanted again, by ``id`` of their cost (the
entry holds the cost, so the id is not reused meanwhile): a settle that gives the share back at
once keeps it for the commit, and the commit keeps it for the book's ``settled_many`` after it."""
_KEPT_MAX = 4096


def spend_nano(entry: LedgerEntry, *, keep: bool = False, total: Decimal | None = None) -> int:
    """What a billed call takes out of its lease: its cost in nano-dollars, rounded up (0 when
    unpriced), as the local book counts it; worked out once per share (``keep``: someone asks
    again, and takes it). ``total``: the cost's ``total_usd``, when the caller has it."""
    cost = entry.cost
    if cost is None:
        return 0
    kept = _KEPT.pop(id(cost), None)
    if kept is not None and kept[0] is cost:
        nano = kept[1]
    else:
        nano = to_nano(cost.total_usd if total is None else total, up=True)
    if keep:
        if len(_KEPT) >= _KEPT_MAX:  # nobody came for them (a batch lost with its process)
            _KEPT.clear()
        _KEPT[id(cost)] = (cost, nano)
    return nano


def drop_holds(conn: sqlite3.Connection, plain: Sequence[str], spent: Mapping[str, int]) -> None:
    """At settle, inside its transaction: the recorded calls' plain holds are deleted, and each
    lease is lowered by what its shares spent (``spent``: lease id -> the sum of their
    ``spend_nano``; 0 for a share whose entry was recorded before)."""
    for start in range(0, len(plain), 500):
        part = plain[start : start + 500]
        conn.execute(f"DELETE FROM reservations WHERE id IN ({', '.join('?' * len(part))})", part)
    leases = list(spent.items())
    for start in range(0, len(leases), 300):  # one statement each for the lot, not one a lease
        part = leases[start : start + 300]
        cases = " ".join(["WHEN ? THEN ?"] * len(part))
        marks = ", ".join("?" * len(part))
        conn.execute(
            f"UPDATE reservations SET amount_nano = MAX(0, amount_nano - CASE id {cases} END) "
            f"WHERE id IN ({marks})",
            [v for pair in part for v in pair] + [lease for lease, _ in part],
        )
        conn.execute(f"DELETE FROM reservations WHERE id IN ({marks}) AND amount_nano <= 0",
                     [lease for lease, _ in part])


def give_back_sql(conn: sqlite3.Connection, lease_id: str, nano: int) -> None:
    """Lower a lease by headroom its process no longer needs (deleted once empty)."""
    conn.execute(_LOWER, (nano, lease_id))
    conn.execute(_GONE, (lease_id,))


def lease_grant(headroom_nano: int, need_nano: int, unit_nano: int) -> int:
    """How much to lease for calls needing ``need_nano`` (the largest ``unit_nano``) when the
    tightest budget has ``headroom_nano`` left; 0: no lease (judge each call on its own)."""
    if unit_nano <= 0 or headroom_nano < LEASE_FLOOR * unit_nano:
        return 0
    share = headroom_nano // LEASE_SHARE
    if need_nano > share:
        return 0
    return max(need_nano, min(share, LEASE_CALLS * unit_nano))


def usd(nano: int) -> Decimal:
    """Nano-dollars as an exact USD decimal string's value."""
    return Decimal(nano).scaleb(-9)
