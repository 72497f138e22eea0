"""The event-loop twins of ``CostLedger``: the same outcomes, the loop never blocked on the store.

A layer of the façade: reservations of one loop pass go to the writer thread together
(``HoldBatcher``), settles are posted for group commit, the budget list is read ahead on a thread
of its own, and anything else runs on the writer (or a worker) thread and is awaited.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from holysheep.calls import Attribution, CallInfo

from ._ledger_holds import _Ask
from ._ledger_record import RecordMixin
from ._model import Budget, LedgerEntry, Reservation
from ._process import pid

__all__ = ["AsyncMixin"]

_FRESH_WAIT_S = 0.5
"""An event loop's call waits this long at most for an expired budget list to be read again
(a read that takes longer means a busy store: the last list serves, ``_STALE_GRACE_S``)."""
_STALE_GRACE_S = 5.0
"""An event loop's calls keep using the last budget list this long past ``budget_cache_s`` at
most while the store is too busy to read it again; past that they wait for the read."""


class AsyncMixin(RecordMixin):
    """``aflush``, ``areserve``, ``asettle`` and ``arelease`` of ``CostLedger``."""

    async def aflush(self) -> None:
        """``flush`` without blocking the event loop."""
        recorder = self._recorder
        if recorder is not None and recorder.writer.pending():
            import asyncio

            await asyncio.to_thread(recorder.flush)

    async def areserve(
        self,
        model: str,
        estimated_usd: Decimal | str | float | Callable[[], Decimal | None] | None,
        attribution: Attribution | None = None,
    ) -> Reservation:
        """``reserve`` without blocking the event loop (the store is asked on another thread)."""
        held = await self._ahold(model, estimated_usd, attribution)
        return held if held is not None else self._nothing_held(model, estimated_usd, attribution)

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
        if ask is None or type(ask) is not _Ask:  # nothing applies, or a share of a lease
            return ask
        reservation = self._reservation_of(ask)
        batcher = self._batcher
        if batcher is not None:  # the loop pass's reservations go to the writer together
            return self._reserved(reservation, await batcher.hold(reservation))
        outcome = await self._off_loop(self._store_holds, reservation, _release_if_held=True)
        return self._reserved(reservation, outcome)

    async def asettle(self, reservation: Reservation | None, info: CallInfo) -> LedgerEntry | None:
        """``settle`` without blocking the event loop; same outcome, committed with others."""
        recorder = self._recorder
        if recorder is None:
            return await self._off_loop(self.settle, reservation, info)
        import asyncio
        from concurrent.futures import Future

        future: Future[LedgerEntry | None] = Future()
        recorder.post(*self._entry(reservation, info, queued=True), future, unjournaled=True)
        # shielded: a caller cancelled meanwhile leaves the record queued, committed all the same
        return await asyncio.shield(asyncio.wrap_future(future))

    async def arelease(self, reservation: Reservation | None) -> None:
        """``release`` without blocking the event loop."""
        if reservation is not None and reservation.held and not self._released_share(reservation):
            await self._off_loop(self._backend.release, reservation.id)

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
        if reader is None or reader[0] != pid():
            reader = self._budget_thread = (pid(), ThreadPoolExecutor(
                1, thread_name_prefix="holysheep-ledger-budgets"))
        return reader[1]

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
