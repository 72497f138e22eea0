"""The SQLite ledger backend: one file, safe for many threads and processes on one machine.

The database runs in WAL mode (readers never block the writer) with ``synchronous=NORMAL`` (a
power cut may lose the last commits, never corrupt the file). Every reserve and commit is one
``BEGIN IMMEDIATE`` transaction: the write lock is taken before anything is read, so two
processes can never both see room in a budget that only fits one. ``busy_timeout`` makes a
waiting writer queue instead of failing; recording a billed call waits only ``settle_wait_s``
(the façade spools it when the file stays locked, rather than keep the caller waiting). Every
``sqlite3.Error`` leaves as a ``LedgerError`` naming the file. Each thread (and each process,
after a fork) gets its own connection; ``close()`` closes them all. Schema and units:
``_sqlite_schema.py``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from holysheep.errors import ConfigurationError

from ._aggregate import Query
from ._backend import CommitItem, Facets
from ._budgets import Hold, from_nano, reserved_for, to_nano, window, window_start
from ._errors import ledger_error, sqlite_error
from ._lease import LEASE_PREFIX, lease_of
from ._lease_store import drop_holds, give_back_sql, lease_grant, spend_nano, usd
from ._model import Budget, BudgetStatus, LedgerEntry, Refusal, Reservation, TotalsRow
from ._process import pid
from ._sqlite_schema import (
    ENTRY_COLUMNS,
    INSERT_ENTRIES,
    INSERT_ENTRY,
    MIGRATIONS,
    SCHEMA,
    SCHEMA_VERSION,
    DecimalSum,
    budget_from_row,
    entry_from_row,
    entry_row,
)
from ._sqlite_totals import entries_sql, totals_rows

__all__ = ["SQLiteBackend"]

_ZERO = Decimal(0)
_BUDGETS = "SELECT id, scope, budget_key, period, limit_usd FROM budgets ORDER BY id"
_SPENT = "SELECT spent_usd FROM spend WHERE budget_id = ? AND win = ?"
_SET_SPENT = "INSERT OR REPLACE INTO spend (budget_id, win, spent_usd) VALUES (?, ?, ?)"
_SPENT_MANY = (
    "SELECT budget_id, win, spent_usd FROM spend WHERE (budget_id, win) IN (VALUES {values})"
)
_SET_SPENT_MANY = "INSERT OR REPLACE INTO spend (budget_id, win, spent_usd) VALUES {values}"
_HOLDS = (  # in nano-dollars: a lease's amount_usd is what it was when taken
    "SELECT user, app, task, model, COALESCE(amount_nano, CAST(CAST(amount_usd AS REAL) * 1e9 "
    "AS INTEGER) + 1), expires_at FROM reservations"
)
_HELD = (  # a row a process of schema 2 wrote has no amount_nano: counted a nano-dollar high
    "SELECT COALESCE(SUM(COALESCE(amount_nano, CAST(CAST(amount_usd AS REAL) * 1e9 AS INTEGER) "
    "+ 1)), 0) FROM reservations WHERE expires_at > ?"
)
_SPENT_AND_HELD = {
    scope: f"SELECT ({_SPENT}), ({_HELD}{match})"
    for scope, match in (("global", ""), ("user", " AND user = ?"), ("app", " AND app = ?"),
                         ("task", " AND task = ?"), ("model", " AND model = ?"))
}
"""A budget's spending and what live holds count against it, in one row: summed by SQLite, so
the writer thread gives up the GIL once per budget, not once per hold."""
_INSERT_HOLDS = (
    "INSERT INTO reservations (id, user, app, task, model, amount_usd, expires_at, amount_nano) "
    "VALUES "
)
_INSERT_HOLD = _INSERT_HOLDS + "(?, ?, ?, ?, ?, ?, ?, ?)"
_CHARGED_MAX = 4096
"""Facets whose budgets a writer remembers (``SQLiteBackend._charged``) per budget list."""
_MAX_PARAMS = 999
"""SQL parameters per statement: SQLite's smallest compiled-in limit (newer builds allow more)."""
LeaseItem = tuple[str, Any, int, int]
"""One step of ``reserve_leased``: kind (``h`` hold, ``L`` lease, ``m`` lease member),
reservation, and for a lease the nano-dollars its members need and the largest of them."""
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def _parts(values: Sequence[T], width: int) -> Iterator[Sequence[T]]:
    """``values`` in slices of at most ``_MAX_PARAMS // width`` (rows of ``width`` parameters)."""
    step = max(1, _MAX_PARAMS // width)
    for start in range(0, len(values), step):
        yield values[start : start + step]


_LOOKUP_SIZES = (8, 64)
"""Dedup keys looked up per statement: a batch's keys go in groups of these fixed sizes (the last
padded with repeats), so each statement is prepared once and kept in the connection's cache; a
statement the size of each batch was prepared anew for every batch."""
_LOOKUPS = {n: f"SELECT dedup FROM entries WHERE dedup IN ({', '.join('?' * n)})"
            for n in _LOOKUP_SIZES}
_ENTRY_WIDTH = len(ENTRY_COLUMNS.split(","))
_ROWS_PER_INSERT = _MAX_PARAMS // _ENTRY_WIDTH
_INSERT_FULL = INSERT_ENTRIES.format(
    values=", ".join([f"({', '.join('?' * _ENTRY_WIDTH)})"] * _ROWS_PER_INSERT)
)
"""One statement for ``_ROWS_PER_INSERT`` entries (SQLite steps once, not per row)."""


def _recorded_before(conn: sqlite3.Connection, keys: list[str]) -> set[str]:
    """Which of ``keys`` the entries table has already, in statements of fixed sizes."""
    seen: set[str] = set()
    for start in range(0, len(keys), _LOOKUP_SIZES[-1]):
        part = keys[start : start + _LOOKUP_SIZES[-1]]
        size = next(n for n in _LOOKUP_SIZES if n >= len(part))
        part += [part[-1]] * (size - len(part))
        seen.update(key for (key,) in conn.execute(_LOOKUPS[size], part))
    return seen


def _insert_entries(conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert entry rows (a dedup key seen before is skipped): full groups in one prepared
    statement each, the rest row by row with the single-row statement (prepared once too)."""
    full = len(rows) - len(rows) % _ROWS_PER_INSERT
    for start in range(0, full, _ROWS_PER_INSERT):
        conn.execute(_INSERT_FULL, [v for row in rows[start : start + _ROWS_PER_INSERT]
                                    for v in row])
    if full < len(rows):
        conn.executemany(INSERT_ENTRY, rows[full:])


def _translated(method: F) -> F:
    """Run ``method``; a ``sqlite3.Error`` leaves as a ``LedgerError`` naming the file."""

    @functools.wraps(method)
    def wrapper(self: SQLiteBackend, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            waited = getattr(self._local, "busy_ms", self._busy_ms) / 1000
            raise sqlite_error(self.url, exc, waited) from exc

    return wrapper  # type: ignore[return-value]


def _on_a_loop() -> bool:
    """Whether an asyncio event loop runs in this thread."""
    aio = sys.modules.get("asyncio")
    return aio is not None and aio.events._get_running_loop() is not None


def _checked_path(path: str | os.PathLike[str]) -> Path:
    """The ledger file's path, its folder created; ``ConfigurationError`` for a folder path."""
    path = Path(path).expanduser()
    if str(path) in ("", ":memory:"):
        raise ConfigurationError(
            "an in-memory SQLite ledger is private to one connection; use 'memory' instead"
        )
    if path.is_dir():
        raise ConfigurationError(
            f"the SQLite ledger path {path} is a folder; name a file in it, e.g. "
            f"sqlite:///{path / 'ledger.db'}"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot create the folder of the SQLite ledger {path} ({exc}); pick a path in a "
            "writable folder (the backend argument or HOLYSHEEP_LEDGER)"
        ) from exc
    return path


class SQLiteBackend:
    """Ledger tables in one SQLite file (``sqlite:///relative.db``, ``sqlite:////abs.db``)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout_s: float = 30.0,
        settle_wait_s: float = 2.0,
    ) -> None:
        """Open (and create or migrate) the ledger file.

        Args:
            path: The database file; its folder is created.
            busy_timeout_s: How long budget checks and reads wait for another writer.
            settle_wait_s: How long recording a billed call waits before it is spooled.

        Raises:
            ConfigurationError: the path is a folder, or its folder cannot be created.
            LedgerError: the file is not a database, or stays locked.
        """
        path = _checked_path(path)
        self.path = path
        self.url = f"sqlite:///{path}"
        self._busy_ms = int(busy_timeout_s * 1000)
        self._settle_ms = int(min(settle_wait_s, busy_timeout_s) * 1000)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[tuple[int, sqlite3.Connection]] = []
        self._closed = False
        self._budget_cache: tuple[list[Any], list[Budget]] = ([], [])
        self._charged: tuple[list[Budget] | None, dict[tuple[Any, ...], tuple[Budget, ...]]] = (
            None, {})
        """The budgets each facets of a batch's calls count against, for the budget list they
        were worked out for (a group commit charges the same few facets batch after batch)."""
        self._prepare()

    @_translated
    def _prepare(self) -> None:
        """Create the tables of a new file, or migrate an older one (one writer does it)."""
        if self._conn().execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return  # the usual case: no write lock taken at open
        with self._write() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ledger_error(
                    self.url,
                    "the SQLite ledger was written by a newer holysheep:",
                    f"schema {version}, this version reads {SCHEMA_VERSION}",
                    "Upgrade holysheep (pip install -U holysheep) or use another file.",
                )
            if version == 0:
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
            else:
                for step in range(version, SCHEMA_VERSION):
                    for statement in MIGRATIONS[step]:
                        conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # ------------------------------------------------------------ connections

    def _conn(self) -> sqlite3.Connection:
        """This thread's connection (a new one in a forked child)."""
        local = self._local
        me = pid()
        conn = getattr(local, "conn", None)
        if conn is not None and local.pid == me:
            return conn
        if self._closed:
            raise ConfigurationError("this CostLedger is closed; create a new one")
        conn = sqlite3.connect(
            self.path, timeout=self._busy_ms / 1000, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            conn.close()
            raise
        conn.create_aggregate("dsum", 1, DecimalSum)
        local.conn, local.pid, local.busy_ms = conn, me, self._busy_ms
        with self._lock:
            self._conns.append((me, conn))
        return conn

    @contextlib.contextmanager
    def _write(self, busy_ms: int | None = None) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction (waiting ``busy_ms`` for the lock at most):
        committed on success, rolled back on any error, the commit's own included."""
        conn = self._conn()
        busy_ms = self._busy_ms if busy_ms is None else busy_ms
        if self._local.busy_ms != busy_ms:
            conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
            self._local.busy_ms = busy_ms
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: one consistent snapshot of the file."""
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def close(self) -> None:
        """Close every connection this process opened; safe to call twice."""
        me = pid()
        with self._lock:
            self._closed = True
            conns, self._conns = self._conns, []
        for owner, conn in conns:
            if owner == me:  # a parent's connection is not the forked child's to close
                conn.close()
        self._local = threading.local()

    # ------------------------------------------------------------ budgets

    def _budgets(self, conn: sqlite3.Connection) -> list[Budget]:
        """Every budget: read again only when another connection committed since this thread's
        last read (``PRAGMA data_version``; this connection's own budget writes clear it)."""
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        known = getattr(self._local, "budgets", None)
        if known is not None and known[0] == version:
            return known[1]
        rows = conn.execute(_BUDGETS).fetchall()
        cached_rows, budgets = self._budget_cache  # one tuple: threads swap it atomically
        if rows != cached_rows:
            budgets = [budget_from_row(r) for r in rows]
            self._budget_cache = (rows, budgets)
        self._local.budgets = (version, budgets)
        return budgets

    @staticmethod
    def _spent_and_held(
        conn: sqlite3.Connection, budget: Budget, now: float
    ) -> tuple[Decimal, Decimal]:
        """A budget's spending in its current window and what live holds count against it."""
        args: tuple[Any, ...] = (budget.id, window(budget.period, now), now)
        if budget.scope != "global":
            args += (budget.key,)
        spent, held = conn.execute(_SPENT_AND_HELD[budget.scope], args).fetchone()
        return (_ZERO if spent is None else Decimal(spent)), from_nano(held)

    @_translated
    def put_budget(self, budget: Budget, now: float, canonical: Callable[[str], str]) -> None:
        """Add or replace a budget; recompute its current window's spending from entries."""
        since_us = int(window_start(budget.period, now) * 1_000_000)
        self._local.budgets = None  # this connection's own write leaves data_version as it is
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO budgets (id, scope, budget_key, period, limit_usd) "
                "VALUES (?, ?, ?, ?, ?)",
                (budget.id, budget.scope, budget.key, budget.period, str(budget.limit_usd)),
            )
            rows = conn.execute(
                "SELECT user, app, task, model, requested_model, total_usd FROM entries "
                "WHERE ts_us >= ? AND total_usd IS NOT NULL",
                (since_us,),
            )
            total = _ZERO
            for user, app, task, model, requested, usd in rows:
                if budget.applies(user, app, task, (canonical(model), canonical(requested))):
                    total += Decimal(usd)
            conn.execute(_SET_SPENT, (budget.id, window(budget.period, now), str(total)))

    @_translated
    def delete_budget(self, budget_id: str) -> bool:
        """Remove a budget."""
        self._local.budgets = None
        with self._write() as conn:
            return conn.execute("DELETE FROM budgets WHERE id = ?", (budget_id,)).rowcount > 0

    @_translated
    def budgets(self) -> list[Budget]:
        """Every budget, ordered by id."""
        return list(self._budgets(self._conn()))

    # ------------------------------------------------------------ holds and entries

    @_translated
    def reserve(self, reservation: Reservation, now: float) -> bool | Refusal:
        """Check every applicable budget and store the hold in one IMMEDIATE transaction."""
        facets = Facets.of_reservation(reservation)
        if not facets.applicable(self._budgets(self._conn())):
            return False  # no budget applies: nothing to hold, no write lock taken
        with self._write() as conn:
            applicable = facets.applicable(self._budgets(conn))
            if not applicable:
                return False
            conn.execute("DELETE FROM reservations WHERE expires_at <= ?", (now,))
            amount = reservation.amount_usd
            for budget in applicable:
                spent, held = self._spent_and_held(conn, budget, now)
                if spent + held + amount > budget.limit_usd:
                    return Refusal(budget, spent, held)
            conn.execute(_INSERT_HOLD, self._hold_row(reservation, facets))
            return True

    @staticmethod
    def _hold_row(
        reservation: Reservation, facets: Facets, nano: int | None = None
    ) -> tuple[Any, ...]:
        """The stored row of a hold (or of a lease of ``nano`` nano-dollars)."""
        amount = reservation.amount_usd if nano is None else usd(nano)
        return (reservation.id, facets.user, facets.app, facets.task, reservation.model,
                str(amount), reservation.expires_at,
                to_nano(amount, up=True) if nano is None else nano)

    @_translated
    def reserve_many(self, reservations: Sequence[Reservation], now: float) -> list[bool | Refusal]:
        """Each reservation as ``reserve`` would judge it, in order, all in one transaction."""
        return self.reserve_leased([("h", r, 0, 0) for r in reservations], now)

    @_translated
    def reserve_leased(self, items: Sequence[LeaseItem], now: float) -> list[Any]:
        """Holds and leases judged in order, in one transaction (``_lease`` has the rules).

        ``items``: ``("h", reservation, 0, 0)`` a hold, as ``reserve`` judges it;
        ``("G", lease_id, nano, 0)`` headroom given back from a lease (these come first);
        ``("L", lease, need_nano, unit_nano)`` a lease (its id, facets and expiry) asked for
        the ``("m", reservation, 0, 0)`` items after it: its outcome is the nano-dollars leased,
        and those members are then covered (``True``), or 0 and each member is judged as a hold.
        Spending and holds are read once per budget (summed in SQL); each hold or lease taken
        counts against the next ones.
        """
        with self._write() as conn:
            budgets = self._budgets(conn)
            if not budgets:
                return [0 if kind == "L" else False for kind, *_ in items]
            conn.execute("DELETE FROM reservations WHERE expires_at <= ?", (now,))
            spent: dict[str, Decimal] = {}
            reserved: dict[str, Decimal] = {}

            def standing(applicable: list[Budget]) -> None:
                for budget in applicable:
                    if budget.id not in spent:
                        spent[budget.id], reserved[budget.id] = self._spent_and_held(
                            conn, budget, now
                        )

            out: list[Any] = []
            rows = []
            covered = False
            for kind, reservation, need, unit in items:
                if kind == "G":  # a lease given back (first in the batch, before any read)
                    give_back_sql(conn, reservation, need)  # type: ignore[arg-type]
                    out.append(None)
                    continue
                facets = Facets.of_reservation(reservation)
                applicable = facets.applicable(budgets)
                if kind == "L":
                    grant = 0
                    if applicable:
                        standing(applicable)
                        headroom = min(b.limit_usd - spent[b.id] - reserved[b.id]
                                       for b in applicable)
                        grant = lease_grant(to_nano(headroom, up=False), need, unit)
                    if grant:
                        held = usd(grant)
                        for budget in applicable:
                            reserved[budget.id] += held
                        rows.append(self._hold_row(reservation, facets, grant))
                    covered = grant > 0
                    out.append(grant)
                    continue
                if kind == "m" and covered:
                    out.append(True)
                    continue
                if not applicable:
                    out.append(False)
                    continue
                standing(applicable)
                amount = reservation.amount_usd
                refusal: Refusal | None = None
                for budget in applicable:
                    if spent[budget.id] + reserved[budget.id] + amount > budget.limit_usd:
                        refusal = Refusal(budget, spent[budget.id], reserved[budget.id])
                        break
                if refusal is not None:
                    out.append(refusal)
                    continue
                for budget in applicable:
                    reserved[budget.id] += amount
                rows.append(self._hold_row(reservation, facets))
                out.append(True)
            for part in _parts(rows, 8):  # one statement per chunk: SQLite steps once
                values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(part))
                conn.execute(_INSERT_HOLDS + values, [value for row in part for value in row])
            return out

    @_translated
    def give_back(self, lease_id: str, nano: int) -> None:
        """Lower a lease by headroom its process no longer needs."""
        with self._write() as conn:
            give_back_sql(conn, lease_id, nano)

    @_translated
    def give_back_many(self, returns: Sequence[tuple[str, int]]) -> None:
        """``give_back`` for several leases, in one transaction."""
        with self._write() as conn:
            for lease_id, nano in returns:
                give_back_sql(conn, lease_id, nano)

    @_translated
    def commit(
        self, entry: LedgerEntry, models: tuple[str, ...], hold_id: str | None, now: float
    ) -> bool:
        """Record once, charge budgets and drop the hold; waits ``settle_wait_s`` at most."""
        with self._write(self._settle_ms) as conn:
            new = conn.execute(INSERT_ENTRY, entry_row(entry)).rowcount == 1
            if hold_id is not None and hold_id.startswith(LEASE_PREFIX):
                # a lease is lowered only by an entry recorded now
                drop_holds(conn, (), {lease_of(hold_id): spend_nano(entry) if new else 0})
            elif hold_id is not None:
                drop_holds(conn, (hold_id,), {})
            if not new:
                return False  # recorded before: exactly once
            if entry.cost is None:
                return True
            amount = entry.cost.total_usd
            for budget in Facets.of_entry(entry, models).applicable(self._budgets(conn)):
                win = window(budget.period, now)
                row = conn.execute(_SPENT, (budget.id, win)).fetchone()
                spent = (Decimal(row[0]) if row else _ZERO) + amount
                conn.execute(_SET_SPENT, (budget.id, win, str(spent)))
            return True

    @_translated
    def commit_many(
        self, items: Sequence[CommitItem], rows: Sequence[tuple[Any, ...]] | None = None
    ) -> list[bool]:
        """Group commit: each item as ``commit`` would record it, all in one transaction.

        ``rows``: the entries as ``entry_row`` built them already. Budget counters are read and
        written once per (budget, window) for the whole batch.
        """
        with self._write(self._settle_ms) as conn:
            return self._commit_batch(conn, items, rows)

    def try_commit_many(
        self, items: Sequence[CommitItem], rows: Sequence[tuple[Any, ...]] | None = None
    ) -> list[bool] | None:
        """``commit_many`` if the file's write lock is free right now; None (nothing written)
        when another connection holds it or anything fails. Never waits, so a caller's own
        thread, even an event loop's, may commit a batch: the lock is tried once, and the
        connection of a thread running an event loop leaves WAL checkpoints (which sync the
        disk) to ``checkpoint`` on another thread.
        """
        try:
            conn = self._conn()
            if getattr(self._local, "quiet", None) is not conn and _on_a_loop():
                conn.execute("PRAGMA wal_autocheckpoint = 0")
                self._local.quiet = conn
            try:
                with self._write(0) as conn:
                    return self._commit_batch(conn, items, rows)
            finally:  # this thread's reads and reservations wait for the lock as before
                conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
                self._local.busy_ms = self._busy_ms
        except sqlite3.Error:
            return None

    @_translated
    def checkpoint(self) -> None:
        """Copy the WAL into the file (PASSIVE: never waits for readers or writers), for the
        commits of connections that leave it to this one (``try_commit_many``)."""
        self._conn().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _commit_batch(
        self,
        conn: sqlite3.Connection,
        items: Sequence[CommitItem],
        rows: Sequence[tuple[Any, ...]] | None,
    ) -> list[bool]:
        """The statements of a group commit, inside the caller's write transaction."""
        if rows is None:
            rows = [entry_row(entry) for entry, _m, _h, _n in items]
        keys = [entry.key for entry, _m, _h, _n in items]
        charges: dict[tuple[str, str], Decimal] = {}
        seen = _recorded_before(conn, keys)
        budgets = self._budgets(conn)
        recorded: list[bool] = []
        plain_holds: list[str] = []
        spent: dict[str, int] = {}  # lease id -> what its shares here spent
        groups: dict[tuple[Any, ...], list[Any]] = {}
        # one pass: new or recorded before (or earlier in this batch); what each hold takes; the
        # new priced calls summed per facets and UTC day (each group's budgets worked out once)
        for (entry, models, hold, now), key in zip(items, keys, strict=True):
            new = key not in seen
            seen.add(key)
            recorded.append(new)
            cost = entry.cost
            lease = None
            if hold is not None:
                if hold.startswith(LEASE_PREFIX):  # a share: its lease is lowered (0 if not new)
                    lease = hold.partition(".")[0]
                    spent.setdefault(lease, 0)
                else:
                    plain_holds.append(hold)
            if not new or cost is None or (lease is None and not budgets):
                continue
            total = cost.total_usd
            if lease is not None:  # its spend is kept for the book's settle after the commit
                spent[lease] += spend_nano(entry, keep=True, total=total)
            if budgets:
                group_key = (entry.user, entry.app, entry.task, models, int(now // 86_400))
                group = groups.get(group_key)
                if group is None:
                    groups[group_key] = [total, now]
                else:
                    group[0] += total
        drop_holds(conn, plain_holds, spent)
        _insert_entries(conn, rows)
        if groups:
            charged = self._charged
            if charged[0] is not budgets:
                charged = self._charged = (budgets, {})
            windows: dict[tuple[str, int], str] = {}
            for (user, app, task, models, day), (amount, now) in groups.items():
                facets = (user, app, task, models)
                applicable = charged[1].get(facets)
                if applicable is None:
                    applicable = tuple(Facets(user, app, task, models).applicable(budgets))
                    if len(charged[1]) < _CHARGED_MAX:
                        charged[1][facets] = applicable
                for budget in applicable:
                    win = windows.get((budget.period, day))
                    if win is None:
                        win = windows[budget.period, day] = window(budget.period, now)
                    slot = (budget.id, win)
                    charges[slot] = charges.get(slot, _ZERO) + amount
        if charges:  # every counter of the batch read in one statement and written in one
            slots = list(charges)
            known: dict[tuple[str, str], str] = {}
            for part in _parts(slots, 2):
                values = ", ".join(["(?, ?)"] * len(part))
                known.update(((b, w), spent) for b, w, spent in conn.execute(
                    _SPENT_MANY.format(values=values), [v for slot in part for v in slot]))
            rows = [(b, w, str(Decimal(known.get((b, w), "0")) + charges[b, w])) for b, w in slots]
            for part in _parts(rows, 3):
                values = ", ".join(["(?, ?, ?)"] * len(part))
                conn.execute(_SET_SPENT_MANY.format(values=values), [v for r in part for v in r])
        return recorded

    @_translated
    def release(self, hold_id: str) -> None:
        """Drop a hold."""
        with self._write() as conn:
            conn.execute("DELETE FROM reservations WHERE id = ?", (hold_id,))

    # ------------------------------------------------------------ reading

    @_translated
    def status(self, facets: Facets | None, now: float) -> list[BudgetStatus]:
        """Where each (applicable) budget stands, from one snapshot."""
        with self._read() as conn:
            budgets = self._budgets(conn)
            if facets is not None:
                budgets = facets.applicable(budgets)
            if not budgets:
                return []
            holds = [Hold(u, a, t, m, from_nano(x), e) for u, a, t, m, x, e in conn.execute(_HOLDS)]
            out = []
            for budget in budgets:
                win = window(budget.period, now)
                row = conn.execute(_SPENT, (budget.id, win)).fetchone()
                spent = Decimal(row[0]) if row else _ZERO
                out.append(BudgetStatus(budget, win, spent, reserved_for(budget, holds, now)))
            return out

    @_translated
    def entries(self, query: Query, limit: int | None) -> list[LedgerEntry]:
        """Matching entries, oldest first."""
        where, params = entries_sql(query)
        sql = f"SELECT {ENTRY_COLUMNS} FROM entries {where} ORDER BY ts_us DESC, seq DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        rows = self._conn().execute(sql, params).fetchall()
        return [entry_from_row(r) for r in reversed(rows)]

    @_translated
    def totals(self, query: Query) -> list[TotalsRow]:
        """Sums per group, computed in SQL (money with the exact ``dsum`` aggregate)."""
        return totals_rows(self._conn(), query)
