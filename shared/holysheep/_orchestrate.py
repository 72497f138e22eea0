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
    """A call's reservation with the ledger: taken before sending, settled or released after."""

    __slots__ = ("_ledger", "_reservation")

    def __init__(self, client: _ClientBase, call: _Call) -> None:
        self._ledger = ledger = None
        self._reservation = None
        try:
            ledger = client.ledger
            if ledger is None:
                return
            self._reservation = ledger.reserve(
                call.model, _estimate(client, call), call.attribution
            )
        except LedgerError as exc:
            if client.on_ledger_error != "allow":
                raise
            _warn_unchecked(exc)
        self._ledger = ledger

    def settle(self, info: CallInfo) -> None:
        """Record the billed call once and release what was reserved beyond its cost.

        Never raises: the ledger spools what it cannot record, and anything else is logged.
        """
        ledger, self._ledger = self._ledger, None
        if ledger is None:
            return
        try:
            ledger.settle(self._reservation, info)
        except Exception as exc:  # the relay billed: the caller keeps the answer whatever happens
            logger.error("holysheep: call %s was billed but not recorded", info.id, exc_info=True)
            warnings.warn(
                f"call {info.id} was billed but the ledger could not record it ({exc}); "
                "see the holysheep error log",
                RuntimeWarning,
                stacklevel=2,
            )

    def release(self) -> None:
        """The call failed before it was billed: give the reservation back."""
        ledger, self._ledger = self._ledger, None
        if ledger is None:
            return
        try:
            ledger.release(self._reservation)
        except LedgerError as exc:  # the hold expires on its own; keep the call's own error
            logger.warning("holysheep: could not release a reservation (%s)", exc)


def _estimate(client: _ClientBase, call: _Call) -> Any:
    """The most the call may cost; ``None`` (fail closed) when its model has no price."""
    from .ledger import estimate_call_usd

    spec = client.catalog.find(call.model)
    if (spec is None or not spec.priced) and client.on_unpriced != "allow":
        return None
    data = call.data
    return estimate_call_usd(
        spec, data.get("messages") or (),
        data.get("max_tokens") or data.get("max_completion_tokens"), data.get("tools"),
    )


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
