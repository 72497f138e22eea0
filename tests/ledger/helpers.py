"""Helpers of the ledger tests: a settable clock and billed calls priced by the catalogue."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Literal

from holysheep.calls import Attribution, CallInfo
from holysheep.catalog import ModelCatalog
from holysheep.usage import Usage

START = datetime(2025, 6, 15, 12, 0, tzinfo=timezone.utc).timestamp()
"""Noon UTC, 2025-06-15: every test clock starts here."""
CATALOG = ModelCatalog.shipped()


class Clock:
    """Epoch seconds that only move when told to."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def set(self, when: datetime) -> None:
        self.now = when.timestamp()


_counter = iter(range(1, 10**9))


CREATED_FROM = 1_767_225_600
"""2026-01-01T00:00:00Z: ``call``'s first ``created``."""


def call(
    model: str = "gpt-4.1",
    *,
    prompt: int = 1000,
    completion: int = 500,
    cached: int = 0,
    user: str | None = "alice",
    app: str | None = "web",
    task: str | None = "qa",
    tags: dict[str, str] | None = None,
    requested: str | None = None,
    call_id: str | None = None,
    request_id: str | None = "auto",
    priced: bool = True,
    route: Any = None,
    created: int | Literal["auto"] | None = "auto",
) -> CallInfo:
    """A billed call as the client would describe it, priced by the shipped catalogue (a relay
    stamps ``created`` in epoch seconds: by default one second after the previous call's)."""
    n = next(_counter)
    usage = Usage(prompt, completion, prompt + completion, cached, 0)
    cost = CATALOG.cost(model, usage) if priced else None
    return CallInfo(
        id=call_id if call_id is not None else f"chatcmpl-{n}",
        requested_model=requested or model,
        model=model,
        usage=usage,
        cost=cost,
        attribution=Attribution(task=task, user=user, app=app, tags=dict(tags or {})),
        latency_s=0.25,
        attempts=1,
        streamed=False,
        request_id=f"req_{n}" if request_id == "auto" else request_id,
        route=route,
        created=CREATED_FROM + n if created == "auto" else created,
    )


def usd(info: CallInfo) -> Decimal:
    """The list-price USD of a call."""
    assert info.cost is not None
    return info.cost.total_usd
