"""What happens around each relay call: budgets before it, the ledger after it, routing across it.

Sans-I/O helpers shared by the sync and async twins of ``HolySheepClient`` and its streams:

- ``Metering`` reserves a call's estimated cost before anything is sent (``BudgetExceededError``
  leaves no trace at the relay), settles the actual cost after it, and releases the reservation
  of a call that failed, so every billed call is recorded exactly once.
- ``drive``/``adrive`` walk a ``RoutePlan`` for ``model="auto"``: try a candidate (its retries
  included), fall back on what another model can fix, wait for a cooling model within the
  deadline, else raise ``NoModelAvailableError``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import HolySheepError

if TYPE_CHECKING:
    from ._base import _Call, _ClientBase
    from .calls import CallInfo
    from .routing import RoutePlan

__all__ = ["AUTO", "Metering", "adrive", "drive", "plan_for", "retarget", "route_of"]

AUTO = "auto"
"""The model id that asks the client's router to choose."""

T = TypeVar("T")


class Metering:
    """A call's reservation with the ledger: taken before sending, settled or released after."""

    __slots__ = ("_ledger", "_reservation")

    def __init__(self, client: _ClientBase, call: _Call) -> None:
        self._ledger = ledger = client.ledger
        self._reservation = None
        if ledger is None:
            return
        from .ledger import estimate_call_usd

        data = call.data
        estimate = estimate_call_usd(
            client.catalog.find(call.model), data.get("messages") or (),
            data.get("max_tokens") or data.get("max_completion_tokens"), data.get("tools"),
        )
        self._reservation = ledger.reserve(call.model, estimate, call.attribution)

    def settle(self, info: CallInfo) -> None:
        """Record the billed call once and release what was reserved beyond its cost."""
        if self._ledger is not None:
            self._ledger.settle(self._reservation, info)
            self._ledger = None

    def release(self) -> None:
        """The call failed before it was billed: give the reservation back."""
        if self._ledger is not None:
            self._ledger.release(self._reservation)
            self._ledger = None


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


def route_of(plan: RoutePlan | None, model: str) -> Any:
    """Mark ``model`` as the one that served and return the final decision (None: not routed)."""
    if plan is None:
        return None
    plan.succeeded(model)
    return plan.decision
