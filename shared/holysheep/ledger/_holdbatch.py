"""Reservations asked for in one pass of an event loop, sent to the writer thread as one batch.

Sixty-four tasks that start their calls in the same loop pass would otherwise post sixty-four
calls to the ledger's writer thread, each waking it, each its own transaction (or pipeline) and
its own cross-thread wake-up of the loop. ``HoldBatcher.hold`` instead queues the reservation
for the end of the current pass (``loop.call_soon``); the whole pass goes over as one call, is
checked in one transaction, and comes back with one wake-up. The store still judges every
reservation before its call is sent; only the number of round trips changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from ._model import Reservation

__all__ = ["HoldBatcher"]

Pending = list[tuple[Reservation, "asyncio.Future[Any]"]]


class HoldBatcher:
    """Coalesces the reservations of one loop pass into one writer-thread call."""

    def __init__(
        self,
        submit: Callable[[list[Reservation]], Future[list[Any]]],
        release: Callable[[Reservation], Any],
    ) -> None:
        """``submit`` runs a list of reservations on the writer thread (outcomes in order);
        ``release`` drops a hold whose caller was cancelled while it was being taken."""
        self._submit = submit
        self._release = release
        self._local = threading.local()  # one open batch per thread (its running loop)

    def hold(self, reservation: Reservation) -> asyncio.Future[Any]:
        """The store's outcome for ``reservation`` (``True``, ``False``, a ``Refusal``, or the
        reservation as a share of a lease taken for it)."""
        loop = asyncio.get_running_loop()
        pending: Pending | None = getattr(self._local, "pending", None)
        if pending is None or getattr(self._local, "loop", None) is not loop:
            pending = []
            self._local.pending, self._local.loop = pending, loop
            loop.call_soon(self._send, loop, pending)
        waiter: asyncio.Future[Any] = loop.create_future()
        pending.append((reservation, waiter))
        return waiter

    def _send(self, loop: asyncio.AbstractEventLoop, pending: Pending) -> None:
        """End of the loop pass: hand the batch to the writer thread."""
        if getattr(self._local, "pending", None) is pending:
            self._local.pending = self._local.loop = None  # keep no closed loop alive
        try:
            future = self._submit([r for r, _ in pending])
        except BaseException as exc:  # a closed ledger: every waiter learns why
            for _r, waiter in pending:
                if not waiter.done():
                    waiter.set_exception(exc)
            return
        def back(done: Future[list[Any]]) -> None:
            # a closed loop: nobody waits any more, and the holds expire on their own
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._deliver, pending, done)

        future.add_done_callback(back)

    def _deliver(self, pending: Pending, done: Future[list[Any]]) -> None:
        """Back on the loop: each waiter gets its outcome; a cancelled one's hold is dropped."""
        exc = done.exception()
        outcomes = [exc] * len(pending) if exc is not None else done.result()
        for (reservation, waiter), outcome in zip(pending, outcomes, strict=True):
            if waiter.cancelled():
                if outcome is True:
                    self._release(reservation)
                elif isinstance(outcome, Reservation):  # a share of a lease taken for it
                    self._release(outcome)
            elif exc is not None:
                waiter.set_exception(exc)
            else:
                waiter.set_result(outcome)
