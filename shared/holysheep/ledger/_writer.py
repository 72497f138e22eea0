"""The group-commit writer: one thread per ledger that writes settled calls in batches.

Callers post records and return at once (the journal already holds them); the thread waits up to
``window_s`` for more to arrive, then hands the whole batch to the backend in one transaction
(SQLite) or one script (Redis). Calls that need an answer (a budget reservation, a release,
reading the budgets) are run on the same thread as soon as they arrive, after the batch in hand
(patient items not yet due stay queued for their own batch), so an event loop can await them
through a ``Future`` without ever blocking on the store. The
thread is a daemon; ``flush`` waits until everything posted so far is finished, and the ledger
flushes it on ``close()`` and at interpreter exit.

A caller may also post with ``inline=True`` and then call ``write_due``: when the batch is due and
nobody else is writing, it writes the batch itself with ``write_inline``, which never waits (it
gives the batch back to the thread when the store is busy), so an event loop may do it too. Calls
then cost no second thread's GIL hand-offs; the thread only backs such callers up (``_BACKSTOP_S``
later), and writes at once what they give back. Batches of ``patient`` items (nobody waits on
them and nothing is held for them) wait longer (``_PATIENT_S``) for others: fewer, bigger ones.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

from ._process import pid

__all__ = ["GroupWriter"]

logger = logging.getLogger("holysheep.ledger")

T = TypeVar("T")
_MAX_BATCH = 512
"""A batch this big is written at once, without waiting out the window."""
_PATIENT_S = 0.05
"""A batch of patient items only is due once its oldest is this old: longer than the window, for
bigger (cheaper) batches; the journal keeps every record safe meanwhile, and this process's reads
flush first. (An item holding a hold of its own is not patient: live holds make every budget
check dearer; nor is one someone awaits. A call's share of a budget lease is: the lease row
holds its cost until the commit lowers it, whenever that comes.)"""
_BACKSTOP_S = 0.05
"""How much longer still the thread leaves such a batch to them before writing it itself (what
the last call of a run left)."""
_IDLE_S = 30.0
"""A thread with nothing to do for this long ends (a ledger left open costs no thread)."""
Call = tuple[Callable[..., Any], tuple[Any, ...], "Future[Any]", bool]
"""fn, args, future, and whether fn takes a list of args (calls queued together share one)."""


class GroupWriter(Generic[T]):
    """Batches of ``T`` to ``write`` (on one thread), and calls run on that thread in order."""

    def __init__(
        self,
        write: Callable[[list[T]], None],
        *,
        window_s: float,
        name: str,
        write_inline: Callable[[list[T]], bool] | None = None,
    ) -> None:
        self._write = write
        self._write_inline = write_inline
        self._window_s = window_s
        self._name = name
        self._reset()

    def _reset(self) -> None:
        """Fresh state: at construction and in a forked child (the parent's thread is gone)."""
        self._pid = pid()
        self._cond = threading.Condition(threading.Lock())  # never taken twice by one thread
        self._items: list[T] = []
        self._calls: list[Call] = []
        self._first_at = 0.0
        self._posted = self._finished = 0
        self._urgent = 0
        self._closed = False
        self._busy = False
        """A batch is being written (by the thread or an inline caller): nobody else takes one."""
        self._lazy = False
        """Every queued item came from an inline caller: the thread waits ``_BACKSTOP_S`` more."""
        self._patient = False
        """Every queued item is patient: due after ``_PATIENT_S``."""
        self._armed = False
        """The thread is in a timed wait for the queued items (a post need not wake it)."""
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ callers' side

    def post(self, item: T, *, inline: bool = False, patient: bool = False) -> None:
        """Queue ``item`` for the next batch; returns at once. ``inline``: the caller calls
        ``write_due`` next (the thread leaves such batches to their callers a while longer);
        ``patient``: it may wait ``_PATIENT_S`` for others."""
        if self._pid != pid():
            self._reset()
        inline = inline and self._write_inline is not None
        with self._cond:
            if self._thread is None or self._closed:
                self._ensure_thread()
            items = self._items
            if not items:
                self._first_at = time.monotonic()
                self._lazy = inline
                self._patient = patient
                wake = not (inline and self._armed)
            else:
                # the thread waits the backstop, or the patient window: not for this item
                wake = (self._lazy and not inline) or (self._patient and not patient)
                self._lazy = self._lazy and inline
                self._patient = self._patient and patient
            items.append(item)
            self._posted += 1
            if wake or len(items) == _MAX_BATCH:
                self._cond.notify()

    def write_due(self) -> None:
        """Write the queued batch on this thread if it is due and nobody else is writing
        (``write_inline``; a batch it gives back goes to the thread at once)."""
        if self._write_inline is None or self._pid != pid():
            return
        items = self._items  # a first look without the lock: most calls find no batch due
        if not items or (len(items) < _MAX_BATCH and time.monotonic() < self._first_at + (
            _PATIENT_S if self._patient else self._window_s
        )):
            return
        cond = self._cond
        with cond:
            items = self._items
            due = self._first_at + (_PATIENT_S if self._patient else self._window_s)
            if self._busy or self._calls or not items or self._closed or (
                len(items) < _MAX_BATCH and time.monotonic() < due
            ):
                return
            self._items = []
            self._busy = True
        done = False
        try:
            assert self._write_inline is not None
            done = self._write_inline(items)
        finally:
            with cond:
                self._busy = False
                if done:
                    self._finished += len(items)
                    if self._urgent:
                        cond.notify_all()
                else:  # the store was busy: the thread writes it now, waiting as it may
                    self._items[:0] = items
                    self._first_at = time.monotonic() - self._window_s
                    self._lazy = self._patient = False
                    cond.notify_all()

    def call(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run ``fn(*args)`` on the writer thread soon; its outcome lands in the future."""
        return self._queue((fn, args, Future(), False))

    def call_many(self, fn_many: Callable[[list[Any]], list[Any]], arg: Any) -> Future[Any]:
        """Like ``call``, but calls of ``fn_many`` queued together run as one ``fn_many(args)``
        (a batch of reservations: one transaction or one pipeline); each gets its own result."""
        return self._queue((fn_many, (arg,), Future(), True))

    def _queue(self, call: Call) -> Future[Any]:
        if self._pid != pid():
            self._reset()
        with self._cond:
            self._ensure_thread()
            self._calls.append(call)
            self._cond.notify()
        return call[2]

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every item posted so far is written; False when ``timeout`` ran out."""
        if self._pid != pid():
            return True
        with self._cond:
            target = self._posted
            if self._finished >= target:
                return True
            self._urgent += 1
            self._cond.notify_all()
            try:
                return self._cond.wait_for(lambda: self._finished >= target, timeout)
            finally:
                self._urgent -= 1

    def pending(self) -> int:
        """Items posted and not yet written."""
        return self._posted - self._finished

    def close(self, timeout: float | None = None) -> bool:
        """Write what is queued (waiting ``timeout`` at most) and stop the thread."""
        done = self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        return done

    def _ensure_thread(self) -> None:
        if self._closed:
            from holysheep.errors import ConfigurationError

            raise ConfigurationError("this CostLedger is closed; create a new one")
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    # ------------------------------------------------------------ the thread

    def _next(self) -> tuple[list[T], list[Call]] | None:
        """Wait for work: calls at once, items once the window closed (or someone flushes).

        None: nothing came for ``_IDLE_S`` (the thread ends; the next post starts another).
        """
        cond = self._cond
        with cond:
            while True:
                if self._busy:  # an inline caller is writing: look again shortly
                    cond.wait(self._window_s)
                    continue
                if self._calls or self._closed or (self._urgent and self._items):
                    break
                if self._items:
                    wait = _PATIENT_S if self._patient else self._window_s
                    if self._lazy:
                        wait += _BACKSTOP_S
                    left = self._first_at + wait - time.monotonic()
                    if left <= 0 or len(self._items) >= _MAX_BATCH:
                        break
                    self._armed = True
                    cond.wait(left)
                    self._armed = False
                elif not cond.wait(_IDLE_S) and not (self._items or self._calls or self._urgent):
                    self._thread = None
                    return None
            items = self._items
            if items and self._patient and not (self._urgent or self._closed) and (
                time.monotonic() < self._first_at + _PATIENT_S and len(items) < _MAX_BATCH
            ):  # woken for calls: patient items still wait for their batch (an inline caller's)
                items = []
            else:
                self._items = []
            calls, self._calls = self._calls, []
            self._busy = bool(items or calls)
            return items, calls

    @staticmethod
    def _run_calls(calls: list[Call]) -> None:
        """Run queued calls in order; neighbouring calls of one ``call_many`` function share
        a single run."""
        i = 0
        while i < len(calls):
            fn, args, _future, many = calls[i]
            j = i + 1
            if many:
                while j < len(calls) and calls[j][3] and calls[j][0] is fn:
                    j += 1
            batch = [c for c in calls[i:j] if c[2].set_running_or_notify_cancel()]
            i = j
            if not batch:
                continue
            try:
                results = fn([c[1][0] for c in batch]) if many else [fn(*args)]
            except BaseException as exc:
                for c in batch:
                    c[2].set_exception(exc)
                continue
            for c, result in zip(batch, results, strict=True):
                c[2].set_result(result)

    def _run(self) -> None:
        while True:
            work = self._next()
            if work is None:
                return
            items, calls = work
            if items:
                try:
                    self._write(items)
                except BaseException:  # the write function spools what fails; this is a bug
                    logger.exception("holysheep: the ledger writer failed on %d record(s)",
                                     len(items))
            self._run_calls(calls)
            with self._cond:
                self._busy = False
                self._finished += len(items)
                self._cond.notify_all()
                if self._closed and not self._items and not self._calls:
                    self._thread = None
                    return
