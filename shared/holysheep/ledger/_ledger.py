"""``CostLedger``: every billed call recorded once, totals by any attribution, enforced budgets.

The façade does what needs no storage (choosing the backend, canonical model ids, the clock,
building entries and refusal messages); the backend (``memory``, ``sqlite``, ``redis``) does each
reserve and settle atomically. Backends are imported only when chosen, so ``import holysheep``
loads neither ``sqlite3`` nor ``redis``. This module opens, closes and reads a ledger; the rest
of the façade is in layers, one job each (``_ledger_state.py`` lists them).
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import time
import weakref
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from holysheep.errors import ConfigurationError

from ._aggregate import build_query
from ._backend import LedgerBackend
from ._holdbatch import HoldBatcher
from ._journal import Journal
from ._lease import LeaseBook
from ._ledger_async import _FRESH_WAIT_S, _STALE_GRACE_S, AsyncMixin  # noqa: F401 (tests read them here)
from ._ledger_state import CLOSE_WAIT_S, redact_url
from ._model import LedgerEntry, TotalsRow
from ._process import pid
from ._recorder import Recorder

if TYPE_CHECKING:
    from holysheep.catalog import ModelCatalog

__all__ = ["LEDGER_ENV", "CostLedger", "open_backend", "redact_url"]

LEDGER_ENV = "HOLYSHEEP_LEDGER"
"""Chooses the ledger: ``memory`` (default), ``sqlite:///path.db`` or ``redis://host:port/db``."""
_COMMIT_WINDOW_S = 0.008
"""Group commit: a settled call waits at most this long for others to share its transaction."""
logger = logging.getLogger("holysheep.ledger")


def open_backend(url: str) -> LedgerBackend:
    """The backend a ledger URL names; ``ConfigurationError`` for anything else.

    ``sqlite:///relative/path.db`` and ``sqlite:////absolute/path.db`` follow SQLAlchemy.
    """
    url = url.strip()
    if url in ("", "memory", "memory://"):
        from ._memory import MemoryBackend

        return MemoryBackend()
    if url.startswith("sqlite:///"):
        from ._sqlite import SQLiteBackend

        return SQLiteBackend(url[len("sqlite:///") :])
    if url.startswith(("redis://", "rediss://", "unix://")):
        try:
            from ._redis import RedisBackend
        except ImportError as exc:
            raise ConfigurationError(
                "a Redis ledger needs the redis package: pip install 'holysheep[redis]'"
            ) from exc
        return RedisBackend(url)
    raise ConfigurationError(
        f"unknown ledger {redact_url(url)!r}: use 'memory', 'sqlite:///path.db' or "
        f"'redis://host:port/db' (the backend argument or {LEDGER_ENV})"
    )


class CostLedger(AsyncMixin):
    """Records every billed call once and enforces budgets with reservations.

    Example:
        ```python
        ledger = CostLedger("sqlite:///ledger.db")
        ledger.set_budget("5.00", scope="user", key="alice", period="day")
        hold = ledger.reserve("gpt-4.1", estimate_call_usd(spec, messages, 500), attribution)
        try:
            reply = client.chat(model="gpt-4.1", messages=messages, max_tokens=500)
        except Exception:
            ledger.release(hold)
            raise
        ledger.settle(hold, reply.call_info)
        ledger.totals(["user", "model"])
        ```
    """

    def __init__(
        self,
        backend: str | LedgerBackend | None = None,
        *,
        catalog: ModelCatalog | None = None,
        reservation_ttl_s: float = 900.0,
        clock: Callable[[], float] | None = None,
        spool_dir: str | os.PathLike[str] | None = None,
        budget_cache_s: float = 1.0,
    ) -> None:
        """Open a ledger.

        Args:
            backend: ``memory``, ``sqlite:///path.db``, ``redis://host:port/db`` or a backend
                object; ``None`` reads ``HOLYSHEEP_LEDGER`` (default ``memory``).
            catalog: Resolves model names to catalogue ids for ``model`` budgets (default:
                ``ModelCatalog.default()``, loaded on first use).
            reservation_ttl_s: Seconds after which an unsettled reservation stops counting (the
                caller crashed); longer than your slowest call.
            clock: Epoch seconds now (``time.time``); tests inject their own.
            spool_dir: Where billed calls wait when the ledger cannot record them (default:
                ``<file>.spool`` beside a SQLite file, else under ``$XDG_DATA_HOME/holysheep``).
            budget_cache_s: How long this process trusts its copy of the budget list to skip
                the reservation round trip of calls no budget applies to: a budget another
                process sets binds this one's calls at most this many seconds later (one set
                here binds at once). An event loop's calls wait 0.5 s at most on a busy store
                for the list: then the last one serves while it is read again, up to 5 s
                longer (so such a budget may bind that much later). 0 reads the
                budgets before every call. Also how long a
                budget lease (SQLite, Redis: headroom held in the store for several calls and
                spent here without a round trip) may serve calls after another process changed
                or removed its budget; 0 turns leases off.

        Raises:
            ConfigurationError: an unknown URL, or a SQLite path that is a folder.
            LedgerError: the SQLite file is locked for long or is not a database.
        """
        if reservation_ttl_s <= 0:
            raise ValueError("reservation_ttl_s must be > 0 seconds")
        if backend is None:
            backend = os.environ.get(LEDGER_ENV, "").strip() or "memory"
        self._backend: LedgerBackend = (
            open_backend(backend) if isinstance(backend, str) else backend
        )
        self._catalog = catalog
        self.reservation_ttl_s = float(reservation_ttl_s)
        self._clock = clock or time.time
        self._canonical_ids: dict[str, str] = {}
        self._spool_dir = None if spool_dir is None else Path(spool_dir)
        self._budget_cache_s = float(budget_cache_s)
        self._open_local()

    def _open_local(self) -> None:
        """This process's side: the spool, the budget cache and (SQLite, Redis) group commit."""
        self._budget_view = None
        self._budget_generation = 0
        self._applicable = (None, {})
        self._budget_refresh = None
        self._budget_thread = None
        self._spool = self._open_spool()
        self._recorder = None
        self._batcher = None
        self._leases = None
        commit_many = getattr(self._backend, "commit_many", None)
        if self._spool is None or commit_many is None or not Journal.available:
            return  # memory (nothing to wait for), a custom backend, or no flock: one by one
        self._recorder = Recorder(
            commit_many, Journal(self._spool.directory), self._spool_failed, self._drain,
            window_s=_COMMIT_WINDOW_S,
            try_commit_many=getattr(self._backend, "try_commit_many", None),
            checkpoint=getattr(self._backend, "checkpoint", None),
            written=self._shares_written,
        )
        writer = self._recorder.writer
        self._batcher = HoldBatcher(
            lambda batch: writer.call_many(self._store_hold_batches, batch), self._release_soon
        )
        self._exit_hook = functools.partial(_finish_at_exit, weakref.ref(self))
        atexit.register(self._exit_hook)
        if hasattr(self._backend, "reserve_leased") and self._budget_cache_s > 0:
            self._leases = LeaseBook(self._give_back)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> CostLedger:
        """The ledger a URL names (``memory``, ``sqlite:///...``, ``redis://...``)."""
        return cls(url, **options)

    @property
    def url(self) -> str:
        """The backend's URL (pass it to another process to share this ledger)."""
        return self._backend.url

    @property
    def backend(self) -> LedgerBackend:
        """The storage backend."""
        return self._backend

    def __repr__(self) -> str:
        return f"CostLedger({redact_url(self.url)!r})"

    def __reduce__(self) -> Any:
        if self.url == "memory":
            raise TypeError(
                "a memory ledger lives in one process; share sqlite:///... or redis://... instead"
            )
        state = {
            "reservation_ttl_s": self.reservation_ttl_s,
            "spool_dir": self._spool_dir,
            "budget_cache_s": self._budget_cache_s,
        }
        return (CostLedger, (self.url,), state)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.reservation_ttl_s = state["reservation_ttl_s"]
        self._spool_dir = state.get("spool_dir")
        self._budget_cache_s = state.get("budget_cache_s", 1.0)
        self._close_local()
        self._open_local()

    def close(self) -> None:
        """Record what is still queued, then release the backend's connections; safe twice."""
        self._close_local()
        self._backend.close()

    def _close_local(self) -> None:
        """Flush and stop the group-commit writer (what it cannot write stays journaled)."""
        recorder, self._recorder = self._recorder, None
        if recorder is not None:
            recorder.close(CLOSE_WAIT_S)
            atexit.unregister(self._exit_hook)
        leases, self._leases = getattr(self, "_leases", None), None
        if leases is not None:  # unused headroom back to the store (no writer now: directly)
            leases.close()
        reader, self._budget_thread = getattr(self, "_budget_thread", None), None
        if reader is not None and reader[0] == pid():
            reader[1].shutdown(wait=False)

    def __enter__(self) -> CostLedger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def totals(
        self,
        group_by: Sequence[str] | str = ("model",),
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        **filters: Any,
    ) -> list[TotalsRow]:
        """Sums of the recorded calls per group, ordered by group keys.

        Args:
            group_by: Any of ``model`` (served), ``requested_model``, ``task``, ``user``,
                ``app``, ``tag:<name>``, ``day``, ``month``; empty for one grand total.
            since: Only calls at or after this time (naive means UTC).
            until: Only calls before this time.
            **filters: Equality filters on the same names (``user="alice"``), and
                ``tags={"team": "search"}``.
        """
        query = build_query(group_by, since, until, filters)
        self.flush()
        self._drain(force=True)
        return self._backend.totals(query)

    def entries(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        **filters: Any,
    ) -> list[LedgerEntry]:
        """Recorded calls, oldest first (the newest ``limit`` when given); filters as ``totals``."""
        query = build_query((), since, until, filters)
        self.flush()
        self._drain(force=True)
        return self._backend.entries(query, limit)

    def report_html(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        title: str = "HolySheep cost report",
    ) -> str:
        """The cost report as one self-contained HTML page (inline SVG, no network), as text.

        Spend per day by model, relay against direct CNY, top users/apps/tasks, budgets, routing
        and the share of estimated or unpriced calls, for calls in ``[since, until)``. With
        ``path``, the page is also written there (UTF-8); a path that cannot be written raises
        ``ConfigurationError``.
        """
        from ._html import build_report_html, write_page

        page = build_report_html(self, since=since, until=until, title=title)
        if path is not None:
            write_page(Path(path), page)
        return page


def _finish_at_exit(ref: weakref.ReferenceType[CostLedger]) -> None:
    """At interpreter exit: record what a ledger still queues (bounded), release its journal."""
    ledger = ref()
    if ledger is not None:
        ledger._close_local()
