"""What happens around each relay call: budgets before it, the ledger after it, routing across it.

Sans-I/O helpers shared by the sync and async twins of ``HolySheepClient`` and its streams:

- ``Metering`` reserves a call's estimated cost before anything is sent (``BudgetExceededError``
  leaves no trace at the relay), settles the actual cost after it, and releases the reservation
  of a call that failed, so every billed call is recorded exactly once. A ledger that is down
  refuses the call before sending (``LedgerError``) unless ``on_ledger_error="allow"``; after
  billing nothing the ledger does can cost the caller the answer (the record is spooled).
- ``drive``/``adrive`` walk a ``RoutePlan`` for ``model="auto"``: try a candidate (its retries
  included), fall back on what another model can fix, wait for a cooling model within the
  deadline, else raise ``NoModelAvailableError``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import warnings
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from . import _telemetry
from .errors import HolySheepError, LedgerError

if TYPE_CHECKING:
    from ._base import _Call, _ClientBase
    from .calls import CallInfo
    from .routing import RoutePlan

__all__ = ["AUTO", "Metering", "adrive", "drive", "plan_for", "retarget", "route_of"]

AUTO = "auto"
"""The model id that asks the client's router to choose."""

T = TypeVar("T")
logger = logging.getLogger("holysheep")


class Metering:
    """A call's reservation with the ledger: taken before sending, settled or released after.

    ``Metering(client, call)`` reserves on the calling thread; ``await Metering.aopen(...)`` is
    the event loop's twin, which never blocks the loop on the store. Settling a ``CostLedger``
    with group commit (SQLite, Redis) only journals the record and queues it for the ledger's
    writer thread, so it is cheap and non-blocking from either side.
    """

    __slots__ = ("_ledger", "_loop", "_reservation")

    def __init__(self, client: _ClientBase, call: _Call | None) -> None:
        self._ledger = ledger = None
        self._reservation = None
        self._loop = False
        if call is None:  # aopen fills it in
            return
        try:
            ledger = client.ledger
            if ledger is None:
                return
            hold = getattr(ledger, "_hold", None)  # a CostLedger: None when nothing is held
            if hold is not None:
                self._reservation = hold(call.model, lambda: _estimate(client, call),
                                         call.attribution)
            else:  # a ledger of the caller's own making
                self._reservation = ledger.reserve(call.model, _estimate(client, call),
                                                   call.attribution)
        except LedgerError as exc:
            if client.on_ledger_error != "allow":
                raise
            _warn_unchecked(exc)
        self._ledger = ledger

    @classmethod
    async def aopen(cls, client: _ClientBase, call: _Call) -> Metering:
        """Reserve for ``call`` without blocking the event loop (async twin of the constructor)."""
        meter = cls(client, None)
        meter._loop = True
        ledger = None
        try:
            ledger = client.ledger
            if ledger is None:
                return meter
            ahold = getattr(ledger, "_ahold", None)
            if ahold is not None:
                meter._reservation = await ahold(
                    call.model, lambda: _estimate(client, call), call.attribution
                )
            else:  # a ledger of the caller's own making: its sync method, off the loop
                import asyncio

                meter._reservation = await asyncio.to_thread(
                    ledger.reserve, call.model, _estimate(client, call), call.attribution
                )
        except LedgerError as exc:
            if client.on_ledger_error != "allow":
                raise
            _warn_unchecked(exc)
        meter._ledger = ledger
        return meter

    def settle(self, info: CallInfo) -> None:
        """Record the billed call once and release what was reserved beyond its cost.

        Never raises: the ledger spools what it cannot record, and anything else is logged.
        """
        ledger, self._ledger = self._ledger, None
        if ledger is None:
            return
        try:
            soon = getattr(ledger, "_settle_soon", None)
            if soon is not None and soon(self._reservation, info, on_loop=self._loop):
                return  # journaled and queued: the writer records it within milliseconds
            if self._loop and getattr(ledger, "url", None) != "memory":
                _in_background(ledger, self._reservation, info)
                return
            ledger.settle(self._reservation, info)
        except Exception as exc:  # the relay billed: the caller keeps the answer whatever happens
            _billed_not_recorded(info, exc)

    def release(self) -> None:
        """The call failed before it was billed: give the reservation back."""
        ledger, self._ledger = self._ledger, None
        if ledger is None:
            return
        try:
            soon = getattr(ledger, "_release_soon", None)
            if soon is not None and soon(self._reservation):
                return  # the writer thread drops the hold; nobody waits for it
            ledger.release(self._reservation)
        except LedgerError as exc:  # the hold expires on its own; keep the call's own error
            logger.warning("holysheep: could not release a reservation (%s)", exc)

    async def arelease(self) -> None:
        """``release`` without blocking the event loop."""
        ledger = self._ledger
        if ledger is None:
            return
        soon = getattr(ledger, "_release_soon", None)
        if soon is not None and soon(self._reservation):
            self._ledger = None
            return
        if getattr(ledger, "url", None) == "memory":
            self.release()
            return
        import asyncio

        self._ledger = None
        try:
            await asyncio.to_thread(ledger.release, self._reservation)
        except LedgerError as exc:
            logger.warning("holysheep: could not release a reservation (%s)", exc)


_background: set[Any] = set()
"""Settle tasks of ledgers without a writer thread, kept alive until they finish."""


def _in_background(ledger: Any, reservation: Any, info: CallInfo) -> None:
    """Settle on a worker thread from a task of the running loop (a ledger without a writer)."""
    import asyncio

    async def run() -> None:
        try:
            asettle = getattr(ledger, "asettle", None)
            if asettle is not None:
                await asettle(reservation, info)
            else:
                await asyncio.to_thread(ledger.settle, reservation, info)
        except Exception as exc:
            _billed_not_recorded(info, exc)

    task = asyncio.get_running_loop().create_task(run())
    _background.add(task)
    task.add_done_callback(_background.discard)


def _billed_not_recorded(info: CallInfo, exc: Exception) -> None:
    logger.error("holysheep: call %s was billed but not recorded", info.id, exc_info=exc)
    warnings.warn(
        f"call {info.id} was billed but the ledger could not record it ({exc}); "
        "see the holysheep error log",
        RuntimeWarning,
        stacklevel=3,
    )


_estimate_usd: Callable[..., Any] | None = None
"""``ledger.estimate_call_usd``, imported at the first budgeted call (an import statement per
call costs more than the estimate it imports)."""


def _estimate(client: _ClientBase, call: _Call) -> Any:
    """The most the call may cost; ``None`` (fail closed) when its model has no price."""
    global _estimate_usd
    estimate_call_usd = _estimate_usd
    if estimate_call_usd is None:
        from .ledger import estimate_call_usd

        _estimate_usd = estimate_call_usd
    catalog = client._catalog  # the loading property only the first time (``or`` would ask
    if catalog is None:        # the catalog's __len__: a Python call per budgeted call)
        catalog = client.catalog
    spec = catalog.find(call.model)
    data = call.data
    amount = estimate_call_usd(
        spec, data.get("messages") or (),
        data.get("max_tokens") or data.get("max_completion_tokens"), data.get("tools"),
    )
    if amount or client.on_unpriced == "allow" or (spec is not None and spec.priced):
        return amount  # a priced call costs something: the common case asks nothing more
    return None


def _warn_unchecked(exc: LedgerError) -> None:
    """``on_ledger_error="allow"``: say that this call goes out without a budget check."""
    from .ledger import LedgerSpoolWarning

    warnings.warn(
        f"the ledger at {exc.url} cannot be reached ({getattr(exc, 'reason', exc)}); "
        "on_ledger_error='allow', so this call is sent without a budget check and its record "
        "is spooled until the ledger answers",
        LedgerSpoolWarning,
        stacklevel=4,
    )


def plan_for(client: _ClientBase, call: _Call) -> RoutePlan:
    """The router's plan for an ``auto`` call, with the retry policy's deadline."""
    data = call.data
    response_format = data.get("response_format") or {}
    deadline = (call.retry or client.retry).deadline
    return client.routing().plan(
        data["messages"],
        call.attribution.task,
        max_tokens=data.get("max_tokens"),
        tools=data.get("tools"),
        json_schema=response_format.get("type") == "json_schema",
        attribution=call.attribution,
        deadline=deadline,
        trim=call.trim,
    )


def retarget(client: _ClientBase, call: _Call, plan: RoutePlan, model: str) -> _Call:
    """The same call aimed at ``model``: its messages, clamped ``max_tokens`` and timeout."""
    data = {**call.data, "model": model, "messages": plan.messages_for(model)}
    max_tokens = plan.max_tokens_for(model)
    if max_tokens is not None:
        data["max_tokens"] = max_tokens
    # A 429 goes to the plan rather than to a wait on the same model: the breaker cools the
    # model for Retry-After and the next candidate answers now (the plan still waits when
    # every candidate is cooling).
    retry = dataclasses.replace(call.retry or client.retry, retry_rate_limits=False)
    return dataclasses.replace(
        call,
        data=data,
        body=client._serialize(data),
        model=model,
        timeout=call.user_timeout or client._timeout_for(model),
        retry=retry,
    )


def drive(plan: RoutePlan, attempt: Callable[[str], T]) -> T:
    """Try candidates in the plan's order until one answers (sync)."""
    while True:
        model = plan.next_model()
        if model is None:
            wait = plan.wait_s()
            if wait is None:
                raise plan.no_model_error()
            time.sleep(wait)
            continue
        try:
            return attempt(model)
        except HolySheepError as exc:
            plan.failed(model, exc)  # re-raises what no other model would fix
            _telemetry.fell_back(model, exc)  # a span event when instrumented


async def adrive(plan: RoutePlan, attempt: Callable[[str], Awaitable[T]]) -> T:
    """Try candidates in the plan's order until one answers (async twin of ``drive``)."""
    import asyncio

    while True:
        model = plan.next_model()
        if model is None:
            wait = plan.wait_s()
            if wait is None:
                raise plan.no_model_error()
            await asyncio.sleep(wait)
            continue
        try:
            return await attempt(model)
        except HolySheepError as exc:
            plan.failed(model, exc)
            _telemetry.fell_back(model, exc)


def route_of(plan: RoutePlan | None, model: str) -> Any:
    """Mark ``model`` as the one that served and return the final decision (None: not routed)."""
    if plan is None:
        return None
    plan.succeeded(model)
    return plan.decision
