"""``CostLedger``: every billed call recorded once, totals by any attribution, enforced budgets.

The façade does what needs no storage (choosing the backend, canonical model ids, the clock,
building entries and refusal messages); the backend (``memory``, ``sqlite``, ``redis``) does each
reserve and settle atomically. Backends are imported only when chosen, so ``import holysheep``
loads neither ``sqlite3`` nor ``redis``.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import functools
import itertools
import logging
import os
import time
import uuid
import weakref
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

from holysheep.calls import Attribution, CallInfo
from holysheep.errors import ConfigurationError, LedgerError

from ._aggregate import build_query
from ._backend import Facets, LedgerBackend
from ._budgets import exceeded_error, to_nano, unpriced_error
from ._holdbatch import HoldBatcher
from ._journal import Journal
from ._lease import LEASE_PREFIX, LeaseBook, is_lease
from ._lease_store import spend_nano
from ._model import PERIODS, SCOPES, Budget, BudgetStatus, LedgerEntry, Reservation, TotalsRow
from ._recorder import Recorder
from ._refusal import refused_record
from ._spool import Spool, default_spool_dir, keep
from ._text import clean, clean_attribution, clean_entry

if TYPE_CHECKING:
    from holysheep.catalog import ModelCatalog

    from ._model import Period, Scope

__all__ = ["LEDGER_ENV", "CostLedger", "open_backend", "redact_url"]

LEDGER_ENV = "HOLYSHEEP_LEDGER"
"""Chooses the ledger: ``memory`` (default), ``sqlite:///path.db`` or ``redis://host:port/db``."""
_NO_ATTRIBUTION = Attribution()
_APPLICABLE_CACHE = 4096
"""Attributions whose applicable budgets are remembered per budget list."""


class _Ask(NamedTuple):
    """A call a budget applies to, before anything is held (``LeaseBook.serve`` takes it as is)."""

    key: tuple[Budget, ...]
    """The budgets it counts against (a lease's key)."""
    model: str
    amount: Decimal
    attribution: Attribution
    nano: int
    """``amount`` in nano-dollars, rounded up (as the stores hold it)."""
    now: float

_REPLAY_BATCH = 32
"""Spooled records replayed after one successful call (the rest after the next ones)."""
_COMMIT_WINDOW_S = 0.008
"""Group commit: a settled call waits at most this long for others to share its transaction."""
_FRESH_WAIT_S = 0.5
"""An event loop's call waits this long at most for an expired budget list to be read again
(a read that takes longer means a busy store: the last list serves, ``_STALE_GRACE_S``)."""
_STALE_GRACE_S = 5.0
"""An event loop's calls keep using the last budget list this long past ``budget_cache_s`` at
most while the store is too busy to read it again; past that they wait for the read."""
_CLOSE_WAIT_S = 30.0
"""``close()`` and interpreter exit wait this long at most for the writer (then the journal
keeps what is left, for the next process to record)."""
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


_ids: tuple[int, str, Iterator[int]] = (0, "", itertools.count())


def _hold_id() -> str:
    """A reservation id unique across processes: a random per-process prefix and a counter
    (no ``os.urandom`` per call: a syscall there hands the GIL to the writer thread)."""
    global _ids
    pid, prefix, counter = _ids
    if pid != os.getpid():
        _ids = pid, prefix, counter = os.getpid(), uuid.uuid4().hex[:20], itertools.count()
    return f"{prefix}{next(counter):012x}"


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for reprs, logs and reports)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def _decimal(value: Decimal | str | float | int, name: str) -> Decimal:
    """A finite, non-negative Decimal (floats through ``str``, so 0.1 stays 0.1)."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got {value!r}")
    try:
        dec = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except ArithmeticError:
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not dec.is_finite() or dec < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return dec


class CostLedger:
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
        self._budget_view: tuple[float, list[Budget]] | None = None
        self._budget_generation = 0
        self._applicable: tuple[list[Budget] | None, dict[tuple[Any, ...], tuple[Budget, ...]]] = (
            None, {})
        self._budget_refresh: tuple[int, Future[list[Budget]]] | None = None
        self._budget_thread: tuple[int, ThreadPoolExecutor] | None = None
        self._spool = self._open_spool()
        self._recorder: Recorder | None = None
        self._batcher: HoldBatcher | None = None
        self._leases: LeaseBook | None = None
        commit_many = getattr(self._backend, "commit_many", None)
        if self._spool is None or commit_many is None or not Journal.available:
            return  # memory (nothing to wait for), a custom backend, or no flock: one by one
        self._recorder = Recorder(
            commit_many, Journal(self._spool.directory), self._spool_failed, self._drain,
            window_s=_COMMIT_WINDOW_S,
            try_commit_many=getattr(self._backend, "try_commit_many", None),
            checkpoint=getattr(self._backend, "checkpoint", None),
        )
        writer = self._recorder.writer
        self._batcher = HoldBatcher(
            lambda batch: writer.call_many(self._store_hold_batches, batch), self._release_soon
        )
        self._exit_hook = functools.partial(_finish_at_exit, weakref.ref(self))
        atexit.register(self._exit_hook)
        if hasattr(self._backend, "reserve_leased") and self._budget_cache_s > 0:
            self._leases = LeaseBook(self._give_back)

    def _give_back(self, lease_id: str, nano: int) -> None:
        """Lower a stored lease: on the writer thread while there is one, else right here."""
        recorder = self._recorder
        if recorder is None:
            self._backend.give_back(lease_id, nano)  # type: ignore[attr-defined]
        else:
            recorder.call(self._quiet_give_back, lease_id, nano)

    def _quiet_give_back(self, lease_id: str, nano: int) -> None:
        try:
            self._backend.give_back(lease_id, nano)  # type: ignore[attr-defined]
        except LedgerError as exc:  # the lease expires on its own
            logger.warning("holysheep: could not give back a budget lease (%s)", exc)

    def _open_spool(self) -> Spool | None:
        """The spool of this ledger (none for ``memory``, which cannot fail)."""
        url = self._backend.url
        if url == "memory" and self._spool_dir is None:
            return None
        sqlite_path = getattr(self._backend, "path", None) if url.startswith("sqlite:") else None
        return Spool(self._spool_dir or default_spool_dir(url, sqlite_path))

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
            recorder.close(_CLOSE_WAIT_S)
            atexit.unregister(self._exit_hook)
        leases, self._leases = getattr(self, "_leases", None), None
        if leases is not None:  # unused headroom back to the store (no writer now: directly)
            leases.close()
        reader, self._budget_thread = getattr(self, "_budget_thread", None), None
        if reader is not None and reader[0] == os.getpid():
            reader[1].shutdown(wait=False)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every call settled so far is committed (or spooled); False on timeout.

        Billed calls are written in batches a few milliseconds after they settle; reads
        (``totals``, ``entries``, ``budget_status``) and ``close()`` flush on their own.
        """
        recorder = self._recorder
        return True if recorder is None else recorder.flush(timeout)

    async def aflush(self) -> None:
        """``flush`` without blocking the event loop."""
        recorder = self._recorder
        if recorder is not None and recorder.writer.pending():
            import asyncio

            await asyncio.to_thread(recorder.flush)

    def __enter__(self) -> CostLedger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------ models

    def canonical_model(self, model: str) -> str:
        """The catalogue id of ``model`` (aliases and dated ids resolved), else ``model`` (any
        lone surrogate in it as U+FFFD, as the stores keep it: ``_text.py``)."""
        found = self._canonical_ids.get(model)
        if found is None:
            if self._catalog is None:
                from holysheep.catalog import ModelCatalog

                self._catalog = ModelCatalog.default()
            spec = self._catalog.find(model)
            found = clean(spec.id if spec is not None else model) or ""
            if len(self._canonical_ids) < 4096:
                self._canonical_ids[model] = found
        return found

    # ------------------------------------------------------------ budgets

    def set_budget(
        self,
        limit_usd: Decimal | str | float,
        *,
        scope: Scope = "global",
        key: str | None = None,
        period: Period = "month",
    ) -> Budget:
        """Add or replace the budget for ``scope``/``key``/``period`` (shared by the backend).

        Spending in the current window is recomputed from the recorded calls, so a budget set
        mid-month already counts what the month has cost.

        Args:
            limit_usd: The most calls in one window may cost, in USD at list price.
            scope: ``global``, ``user``, ``app``, ``task`` or ``model``.
            key: The user, app, task label or model (any alias) the budget is for; none for
                ``global``.
            period: ``day`` or ``month`` (UTC calendar windows) or ``all``.

        Raises:
            ValueError: a bad scope, period, key or limit.
        """
        budget = self._budget(limit_usd, scope, key, period)
        self.flush()  # the window's spending is recomputed from entries: include the queued
        self._budgets_changed_here()
        self._drop_leases()
        self._backend.put_budget(budget, self._clock(), self.canonical_model)
        self._budgets_changed_here()
        return budget

    def remove_budget(
        self, *, scope: Scope = "global", key: str | None = None, period: Period = "month"
    ) -> bool:
        """Remove a budget; False when there was none."""
        self._budgets_changed_here()
        self._drop_leases()
        removed = self._backend.delete_budget(self._budget(0, scope, key, period).id)
        self._budgets_changed_here()
        return removed

    def _budget(self, limit: Any, scope: str, key: str | None, period: str) -> Budget:
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
        if period not in PERIODS:
            raise ValueError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")
        if scope == "global":
            if key is not None:
                raise ValueError("a global budget takes no key")
        elif not isinstance(key, str) or not key.strip():
            raise ValueError(f"a {scope} budget needs key=<the {scope} it is for>")
        elif scope == "model":
            key = self.canonical_model(key)
        else:
            key = clean(key)
        return Budget(scope, key, period, _decimal(limit, "limit_usd"))  # type: ignore[arg-type]

    def budgets(self) -> list[Budget]:
        """Every budget, ordered by id."""
        return self._backend.budgets()

    def budget_status(
        self, attribution: Attribution | None = None, model: str | None = None
    ) -> list[BudgetStatus]:
        """Spent, reserved and remaining per budget in its current window.

        With neither argument, every budget; otherwise those a call with this attribution (and
        model) would count against. "Reserved" is what live holds add up to: calls in flight
        (their estimates) and other processes' budget leases; this process's unused leases are
        given back first, so they are not counted.
        """
        self.flush()  # spent as committed, not still held by calls queued for the writer
        self._drop_leases(now=True)  # "reserved": calls in flight, not this process's leases
        return self._status(attribution, model)

    def _status(self, attribution: Attribution | None, model: str | None) -> list[BudgetStatus]:
        facets = None
        if attribution is not None or model is not None:
            att = clean_attribution(attribution or _NO_ATTRIBUTION)
            models = (self.canonical_model(model),) if model else ()
            facets = Facets(att.user, att.app, att.task, models)
        return self._backend.status(facets, self._clock())

    def remaining_usd(self, attribution: Attribution, model: str | None = None) -> Decimal | None:
        """The tightest remaining budget for such a call; ``None`` when no budget applies.

        Calls still queued for the writer count as held (their estimate), never as free, and
        so does the unused part of this process's budget leases (it is not given back here).
        """
        status = self._status(attribution or _NO_ATTRIBUTION, model)
        return min((s.remaining_usd for s in status), default=None)

    def _known_budgets(self) -> list[Budget] | None:
        """The budget list if this process read it less than ``budget_cache_s`` ago."""
        view = self._budget_view
        if view is not None and view[0] > time.monotonic():
            return view[1]
        return None

    def _read_budgets(self) -> list[Budget]:
        """Read the budget list from the store and keep it for ``budget_cache_s`` (unless a
        budget was set or removed here meanwhile: then the next call reads it again)."""
        generation = self._budget_generation
        budgets = self._backend.budgets()
        if generation == self._budget_generation:
            old, self._budget_view = self._budget_view, (
                time.monotonic() + self._budget_cache_s, budgets)
            if old is not None and old[1] != budgets:  # a budget changed elsewhere: leases go
                self._drop_leases()
        return budgets

    def _budgets_changed_here(self) -> None:
        """A budget was set or removed by this process: no list read before counts any more."""
        self._budget_generation += 1
        self._budget_view = None

    async def _abudgets(self) -> list[Budget]:
        """The budget list for an event loop's call, read on a thread of its own (never queued
        behind the writer, which may be waiting on a busy store) and ahead of time: past half
        its life the list is read again while it still serves. An expired list is waited for
        ``_FRESH_WAIT_S`` at most; then, while the store stays too busy to answer, the last list
        serves for up to ``_STALE_GRACE_S`` past its expiry (never with ``budget_cache_s=0``)."""
        view = self._budget_view
        now = time.monotonic()
        if view is not None and now < view[0] - self._budget_cache_s / 2:
            return view[1]
        if self._backend.url == "memory":  # no I/O: nothing to wait for
            return view[1] if view is not None and now < view[0] else self._read_budgets()
        import asyncio

        generation = self._budget_generation
        refresh = self._budget_refresh
        if refresh is None or refresh[1].done() or refresh[0] != generation:
            refresh = self._budget_refresh = (generation, self._budget_reader().submit(
                self._read_budgets))
        if view is not None and now < view[0]:
            return view[1]  # still valid; the new list lands before it expires
        waiting = asyncio.wrap_future(refresh[1])
        if view is not None and self._budget_cache_s > 0:
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(asyncio.shield(waiting), _FRESH_WAIT_S)
            if time.monotonic() < view[0] + _STALE_GRACE_S:
                return view[1]
        return await waiting

    def _budget_reader(self) -> ThreadPoolExecutor:
        """The thread that re-reads the budget list for event loops (one connection)."""
        reader = self._budget_thread
        if reader is None or reader[0] != os.getpid():
            reader = self._budget_thread = (os.getpid(), ThreadPoolExecutor(
                1, thread_name_prefix="holysheep-ledger-budgets"))
        return reader[1]

    def _drop_leases(self, *, now: bool = False) -> None:
        """Stop serving calls from leases and give their headroom back (``now``: before
        returning, so a read that follows does not count it)."""
        leases = self._leases
        if leases is None:
            return
        leases.drop_all()
        if now:
            leases.sweep()  # the give-backs queued on the writer thread are done after this:
            recorder = self._recorder
            if recorder is not None:  # a writer stuck that long: read with the leases counted
                with contextlib.suppress(TimeoutError, FutureTimeout):
                    recorder.call(lambda: None).result(_CLOSE_WAIT_S)

    # ------------------------------------------------------------ calls

    def reserve(
        self,
        model: str,
        estimated_usd: Decimal | str | float | Callable[[], Decimal | None] | None,
        attribution: Attribution | None = None,
    ) -> Reservation:
        """Hold ``estimated_usd`` against every budget that applies, or refuse the call.

        A call no budget applies to costs no round trip to the store (the budget list is
        cached for ``budget_cache_s``) and its reservation holds nothing.

        Args:
            model: The model about to be called (for ``model`` budgets).
            estimated_usd: What the call may cost at most (``estimate_call_usd``); ``None``
                when it cannot be priced (a model without catalogue prices). A callable
                returning either is called only when a budget applies.
            attribution: Task, user, app and tags of the call.

        Returns:
            The reservation to pass to ``settle`` (or ``release`` if the call fails).

        Raises:
            BudgetExceededError: the call could cross a budget, or it cannot be priced and a
                budget applies (fail closed); nothing should be sent.
            LedgerError: the ledger cannot be reached; nothing should be sent.
        """
        held = self._hold(model, estimated_usd, attribution)
        return held if held is not None else self._nothing_held(model, estimated_usd, attribution)

    async def areserve(
        self,
        model: str,
        estimated_usd: Decimal | str | float | Callable[[], Decimal | None] | None,
        attribution: Attribution | None = None,
    ) -> Reservation:
        """``reserve`` without blocking the event loop (the store is asked on another thread)."""
        held = await self._ahold(model, estimated_usd, attribution)
        return held if held is not None else self._nothing_held(model, estimated_usd, attribution)

    def _hold(
        self, model: str, estimated_usd: Any, attribution: Attribution | None
    ) -> Reservation | None:
        """The reservation for a call, or None when no budget applies (no store round trip)."""
        budgets = self._known_budgets()
        if budgets is None:
            budgets = self._read_budgets()
        if not budgets:
            return None
        ask = self._ask(model, estimated_usd, attribution, budgets)
        if ask is None:
            return None
        leases = self._leases
        if leases is None:
            reservation = self._reservation_of(ask)
            return self._reserved(reservation, self._store_hold(reservation))
        served = leases.serve(*ask)
        if served is not None:  # a share of a lease: no store round trip, no hold id
            return served
        reservation = self._reservation_of(ask)
        return self._reserved(reservation, self._store_holds([reservation])[0])

    async def _ahold(
        self, model: str, estimated_usd: Any, attribution: Attribution | None
    ) -> Reservation | None:
        """``_hold`` without blocking the event loop."""
        view = self._budget_view
        if view is not None and time.monotonic() < view[0] - self._budget_cache_s / 2:
            budgets = view[1]
        else:
            budgets = await self._abudgets()
        if not budgets:
            return None
        ask = self._ask(model, estimated_usd, attribution, budgets)
        if ask is None:
            return None
        leases = self._leases
        if leases is not None:
            served = leases.serve(*ask)
            if served is not None:  # a share of a lease: no hand-off to the writer, no hold id
                return served
        reservation = self._reservation_of(ask)
        batcher = self._batcher
        if batcher is not None:  # the loop pass's reservations go to the writer together
            return self._reserved(reservation, await batcher.hold(reservation))
        outcome = await self._off_loop(self._store_holds, reservation, _release_if_held=True)
        return self._reserved(reservation, outcome)

    def _nothing_held(
        self, model: str, estimated_usd: Any, attribution: Attribution | None
    ) -> Reservation:
        """The reservation of a call no budget applies to: it holds nothing."""
        amount = (
            Decimal(0) if estimated_usd is None or callable(estimated_usd)
            else _decimal(estimated_usd, "estimated_usd")
        )
        return Reservation(
            uuid.uuid4().hex, self.canonical_model(model), amount,
            clean_attribution(attribution or _NO_ATTRIBUTION),
            self._clock() + self.reservation_ttl_s, False,
        )

    def _ask(
        self,
        model: str,
        estimated_usd: Any,
        attribution: Attribution | None,
        budgets: list[Budget],
    ) -> _Ask | None:
        """What a call asks to hold and the budgets it counts against (a lease's key), or None
        when no (cached) budget applies to the call. Each amount is converted once here.

        Raises ``BudgetExceededError`` for an unpriced call a budget applies to (fail closed).
        """
        att = clean_attribution(attribution or _NO_ATTRIBUTION)
        canonical = self.canonical_model(model)
        cache = self._applicable
        if cache[0] is not budgets:  # a new list: what applies to whom is worked out again
            cache = self._applicable = (budgets, {})
        facets = (att.user, att.app, att.task, canonical)
        applicable = cache[1].get(facets)
        if applicable is None:
            applicable = tuple(Facets(att.user, att.app, att.task, (canonical,))
                               .applicable(budgets))
            if len(cache[1]) < _APPLICABLE_CACHE:
                cache[1][facets] = applicable
        if not applicable:
            return None
        if callable(estimated_usd):
            estimated_usd = estimated_usd()
        if estimated_usd is None:
            raise unpriced_error(applicable[0], model)
        amount = _decimal(estimated_usd, "estimated_usd")
        return _Ask(applicable, canonical, amount, att, to_nano(amount, up=True), self._clock())

    def _reservation_of(self, ask: _Ask) -> Reservation:
        """The reservation to store for a call no lease served (its own hold id)."""
        return Reservation(_hold_id(), ask.model, ask.amount, ask.attribution,
                           ask.now + self.reservation_ttl_s)

    def _store_hold(self, reservation: Reservation) -> Any:
        """Check and hold in the store (True, False when no budget applies, or a refusal)."""
        outcome = self._backend.reserve(reservation, self._clock())
        self._drain()
        return outcome

    def _store_holds(self, reservations: list[Reservation]) -> list[Any]:
        """``_store_hold`` for reservations queued together: one transaction or pipeline."""
        if self._leases is not None:
            outcomes = self._store_leased(self._leases, reservations)
            self._drain()
            return outcomes
        many = getattr(self._backend, "reserve_many", None)
        now = self._clock()
        if many is None:
            outcomes = [self._backend.reserve(r, now) for r in reservations]
        else:
            outcomes = many(reservations, now)
        self._drain()
        return outcomes

    def _store_leased(self, leases: LeaseBook, reservations: list[Reservation]) -> list[Any]:
        """Reservations by budget set: served from a lease taken meanwhile, or one lease asked
        for each set (covering all its calls here), each call judged alone if none is granted.

        Outcomes as ``_store_holds``, a share of a lease in place of ``True``.
        """
        now = self._clock()
        view = self._budget_view
        budgets = view[1] if view is not None else self._backend.budgets()
        out: list[Any] = [None] * len(reservations)
        groups: dict[tuple[Budget, ...], list[int]] = {}
        for i, reservation in enumerate(reservations):
            key = tuple(Facets.of_reservation(reservation).applicable(budgets))
            served = leases.serve(
                key, reservation.model, reservation.amount_usd, reservation.attribution,
                to_nano(reservation.amount_usd, up=True), now,
            ) if key else None
            if served is not None:
                out[i] = served
            else:
                groups.setdefault(key, []).append(i)
        if not groups:
            return out
        items: list[tuple[str, Any, int, int]] = [
            ("G", lease_id, nano, 0) for lease_id, nano in leases.due([k for k in groups if k])
        ]
        asks: list[tuple[Reservation | None, tuple[Budget, ...], list[int], list[int]]] = []
        expires = now + self.reservation_ttl_s + leases.max_age_s
        for key, at in groups.items():
            members = [reservations[i] for i in at]
            if not key:
                asks.append((None, key, at, []))
                items += [("h", m, 0, 0) for m in members]
                continue
            nanos = [to_nano(m.amount_usd, up=True) for m in members]
            first = members[0]
            ask = Reservation(LEASE_PREFIX + _hold_id(), first.model, Decimal(0),
                              first.attribution, expires)
            asks.append((ask, key, at, nanos))
            items.append(("L", ask, sum(nanos), max(nanos)))
            items += [("m", m, 0, 0) for m in members]
        outcomes = self._backend.reserve_leased(items, now)  # type: ignore[attr-defined]
        pos = sum(1 for item in items if item[0] == "G")
        for ask, key, at, nanos in asks:
            grant = 0
            if ask is not None:
                grant, pos = outcomes[pos], pos + 1
            if grant:
                members = [reservations[i] for i in at]
                shares = leases.granted(ask.id, key, grant, members, nanos, now, expires)
                for i, share in zip(at, shares, strict=True):
                    out[i] = share
            else:
                for i, outcome in zip(at, outcomes[pos : pos + len(at)], strict=True):
                    out[i] = outcome
            pos += len(at)
        return out

    def _store_hold_batches(self, batches: list[list[Reservation]]) -> list[list[Any]]:
        """``_store_holds`` for batches queued together (from several loops or passes)."""
        outcomes = self._store_holds([r for batch in batches for r in batch])
        out, at = [], 0
        for batch in batches:
            out.append(outcomes[at : at + len(batch)])
            at += len(batch)
        return out

    def _reserved(self, reservation: Reservation, outcome: Any) -> Reservation:
        """The reservation the store's ``outcome`` gives, or the refusal raised."""
        if outcome is True:
            return reservation
        if isinstance(outcome, Reservation):  # a share of a lease taken for it
            return outcome
        if outcome is False:  # the budget went away meanwhile: nothing held
            return dataclasses.replace(reservation, held=False)
        raise exceeded_error(outcome, reservation.model, reservation.amount_usd, self._clock())

    def settle(self, reservation: Reservation | None, info: CallInfo) -> LedgerEntry | None:
        """Record the call once, charge its budgets and release its reservation, atomically.

        When the ledger cannot be reached the record is spooled to local disk instead (a
        ``LedgerSpoolWarning`` says where) and replayed once the ledger answers again; this
        method never raises ``LedgerError``, so a billed call's answer is never lost.

        Returns:
            The new (or spooled) entry, or ``None`` when this call (id and request id) was
            recorded before.
        """
        entry, models, hold, now = self._entry(reservation, info)
        try:
            recorded = self._backend.commit(entry, models, hold, now)
        except LedgerError as exc:
            self._spool_failed(entry, models, hold, exc)
            return entry
        self._drain()
        return entry if recorded else None

    async def asettle(self, reservation: Reservation | None, info: CallInfo) -> LedgerEntry | None:
        """``settle`` without blocking the event loop; same outcome, committed with others."""
        recorder = self._recorder
        if recorder is None:
            return await self._off_loop(self.settle, reservation, info)
        import asyncio
        from concurrent.futures import Future

        future: Future[LedgerEntry | None] = Future()
        if not recorder.post(*self._entry(reservation, info), future):
            return await self._off_loop(self.settle, reservation, info)
        return await asyncio.wrap_future(future)

    def _settle_soon(self, reservation: Reservation | None, info: CallInfo) -> bool:
        """Group commit: journal the record and queue it for the writer; False when this
        ledger has no writer (record it with ``settle``/``asettle``). Never waits on the store:
        the caller commits a due batch itself only if the store's lock is free right now
        (``try_commit_many``), sparing the writer thread's GIL hand-offs.
        """
        recorder = self._recorder
        return recorder is not None and recorder.post(*self._entry(reservation, info), inline=True)

    def _entry(
        self, reservation: Reservation | None, info: CallInfo
    ) -> tuple[LedgerEntry, tuple[str, ...], str | None, float]:
        """What the store records for a billed call: entry, models, hold id, now."""
        now = self._clock()
        if info.id or info.request_id:
            key = f"{info.id}|{info.request_id or ''}"
        else:  # nothing identifies the call: it cannot be deduplicated
            key = f"anon-{uuid.uuid4().hex}"
        entry = clean_entry(LedgerEntry.from_call(info, now, key))
        models = (self.canonical_model(info.model), self.canonical_model(info.requested_model))
        hold = reservation.id if reservation is not None and reservation.held else None
        if hold is not None and is_lease(hold) and self._leases is not None:
            self._leases.settled(hold, spend_nano(entry))
        return entry, models, hold, now

    def record(self, info: CallInfo) -> LedgerEntry | None:
        """Record a call made without a reservation (callbacks, other clients); idempotent."""
        return self.settle(None, info)

    def release(self, reservation: Reservation | None) -> None:
        """Drop the reservation of a call that failed (nothing was billed).

        Raises:
            LedgerError: the ledger cannot be reached (the hold expires on its own).
        """
        if reservation is not None and reservation.held and not self._released_share(reservation):
            self._backend.release(reservation.id)

    def _released_share(self, reservation: Reservation) -> bool:
        """A failed call's share of a lease goes back to the lease (no store round trip)."""
        if not is_lease(reservation.id):
            return False
        if self._leases is not None:
            self._leases.released(reservation.id)
        return True  # a lease this process no longer serves from: given back already

    async def arelease(self, reservation: Reservation | None) -> None:
        """``release`` without blocking the event loop."""
        if reservation is not None and reservation.held and not self._released_share(reservation):
            await self._off_loop(self._backend.release, reservation.id)

    def _release_soon(self, reservation: Reservation | None) -> bool:
        """Drop a hold on the writer thread, not waiting; False when there is no writer."""
        recorder = self._recorder
        if recorder is None:
            return False
        if reservation is not None and reservation.held and not self._released_share(reservation):
            recorder.call(self._quiet_release, reservation.id)
        return True

    def _quiet_release(self, hold_id: str) -> None:
        try:
            self._backend.release(hold_id)
        except LedgerError as exc:  # the hold expires on its own
            logger.warning("holysheep: could not release a reservation (%s)", exc)

    async def _off_loop(self, fn: Callable[..., Any], *args: Any, **kw: bool) -> Any:
        """``fn(*args)`` on the writer thread (or a worker thread), awaited; the memory
        backend (no I/O) runs inline. ``_release_if_held``: a reservation stored for a task
        cancelled meanwhile is released, not left to expire.
        """
        import asyncio

        if self._backend.url == "memory":
            return fn(list(args))[0] if fn == self._store_holds else fn(*args)
        recorder = self._recorder
        if fn == self._store_holds:  # one reservation; queued ones are checked together
            if recorder is None:
                return (await asyncio.to_thread(fn, list(args)))[0]
            future = recorder.writer.call_many(fn, args[0])
        elif recorder is None:
            return await asyncio.to_thread(fn, *args)
        else:
            future = recorder.call(fn, *args)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            if kw.get("_release_if_held"):
                future.add_done_callback(
                    lambda f: f.cancelled() or f.exception() is not None or f.result() is not True
                    or self._release_soon(args[0])
                )
            raise

    # ------------------------------------------------------------ the spool

    @property
    def spool_dir(self) -> Path | None:
        """Where billed calls wait while the ledger cannot record them (None for ``memory``)."""
        return None if self._spool is None else self._spool.directory

    def replay_spool(self) -> int:
        """Record every spooled call now (each exactly once); returns how many were replayed.

        Runs on its own after any successful ledger call and before reports, so calling it is
        only needed to drain the spool at a moment of your choosing.

        Raises:
            LedgerError: the ledger still cannot be reached; the records stay spooled.
        """
        if self._spool is None:
            return 0
        self.flush()
        return self._spool.replay(self._replay_commit)

    def _spool_failed(
        self, entry: LedgerEntry, models: tuple[str, ...], hold: str | None, exc: BaseException
    ) -> None:
        """Keep a billed call the store refused; never raises (the caller keeps its answer)."""
        reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
        keep(self._spool, entry, models, hold, getattr(exc, "url", None) or redact_url(self.url),
             reason, refused=refused_record(exc))

    def _replay_commit(self, entry: LedgerEntry, models: tuple[str, ...], hold: str | None) -> bool:
        """Commit a spooled record, charged to the budget windows of when it was billed (its
        names cleaned: a record spooled by an older version may hold a lone surrogate)."""
        models = tuple(clean(m) or "" for m in models)
        return self._backend.commit(clean_entry(entry), models, hold, entry.ts.timestamp())

    def _drain(self, *, force: bool = False) -> None:
        """After a ledger call succeeded: replay a batch of spooled records, if any wait."""
        spool = self._spool
        if spool is None or not (spool.pending() or force):
            return
        try:
            spool.replay(self._replay_commit, limit=None if force else _REPLAY_BATCH)
        except LedgerError as exc:  # down again: the records wait for the next success
            logger.debug("holysheep: spool replay stopped: %s", exc)

    # ------------------------------------------------------------ reading

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
