"""The ledger's value types: budgets, reservations, recorded calls and totals.

All frozen and slotted, money as ``Decimal`` USD (and CNY for the relay/direct comparison),
timestamps as timezone-aware UTC ``datetime``. ``LedgerEntry.as_dict``/``from_dict`` are the one
serialised form (money as exact decimal strings), used by the Redis backend and by reports.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, get_args

from holysheep.costs import Cost
from holysheep.usage import Usage

if TYPE_CHECKING:
    from holysheep.calls import Attribution, CallInfo

__all__ = [
    "Budget",
    "BudgetStatus",
    "LedgerEntry",
    "Period",
    "Refusal",
    "Reservation",
    "Scope",
    "TotalsRow",
    "dedup_key",
]

Scope = Literal["global", "user", "app", "task", "model"]
"""What a budget is about: every call, or the calls of one user, app, task label or model."""
Period = Literal["day", "month", "all"]
"""How long a budget's spending accumulates: a UTC calendar day, a UTC calendar month, forever."""

SCOPES: tuple[str, ...] = get_args(Scope)
PERIODS: tuple[str, ...] = get_args(Period)
_EMPTY: Mapping[str, str] = MappingProxyType({})
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Budget:
    """A spending limit for one scope and period; build it with ``CostLedger.set_budget``."""

    scope: Scope
    """``global``, ``user``, ``app``, ``task`` or ``model``."""
    key: str | None
    """The user, app, task label or catalogue model id; ``None`` for ``global``."""
    period: Period
    """``day`` or ``month`` (UTC calendar windows) or ``all`` (never resets)."""
    limit_usd: Decimal
    """Most that calls in one window may cost, in USD at list price."""

    @property
    def id(self) -> str:
        """A stable identity, ``period|scope|key``: setting the same one again replaces it."""
        return f"{self.period}|{self.scope}|{self.key or ''}"

    def applies(
        self, user: str | None, app: str | None, task: str | None, models: tuple[str, ...]
    ) -> bool:
        """Whether a call with this attribution (and these catalogue model ids) counts here."""
        scope = self.scope
        if scope == "global":
            return True
        if scope == "model":
            return self.key in models
        return self.key == (user if scope == "user" else app if scope == "app" else task)

    def describe(self) -> str:
        """``the monthly budget for user 'alice'`` (for messages and reports)."""
        when = {"day": "daily", "month": "monthly", "all": "all-time"}[self.period]
        if self.scope == "global":
            return f"the {when} global budget"
        return f"the {when} budget for {self.scope} {self.key!r}"

    def as_dict(self) -> dict[str, str | None]:
        """JSON-friendly form (limit as an exact decimal string)."""
        return {
            "scope": self.scope,
            "key": self.key,
            "period": self.period,
            "limit_usd": str(self.limit_usd),
        }


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """Where one budget stands in its current window."""

    budget: Budget
    window: str
    """``2025-06-01`` (day), ``2025-06`` (month) or ``all``."""
    spent_usd: Decimal
    """What recorded calls in this window cost."""
    reserved_usd: Decimal
    """What live holds this budget applies to add up to: calls in flight, and budget leases
    other processes hold (headroom taken for their next calls, each at most 1/16 of what was
    left; ``CostLedger.budget_status`` gives this process's own back before reading)."""

    @property
    def remaining_usd(self) -> Decimal:
        """``limit - spent - reserved``, never below 0."""
        return max(_ZERO, self.budget.limit_usd - self.spent_usd - self.reserved_usd)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a reservation did not fit: the first budget it would cross and where that stood."""

    budget: Budget
    spent_usd: Decimal
    reserved_usd: Decimal


@dataclass(frozen=True, slots=True)
class Reservation:
    """Money held for one call in flight; settle it after the call or release it on failure."""

    id: str
    """Unique id of the hold."""
    model: str
    """Catalogue id of the model the call is for (the name as given when not in the catalogue)."""
    amount_usd: Decimal
    """The estimate held against every budget that applies."""
    attribution: Attribution
    """Task, user, app and tags of the call."""
    expires_at: float
    """Epoch seconds after which the hold no longer counts (a crashed process's calls)."""
    held: bool = True
    """False when no budget applied, so nothing was stored and settling only records."""


_SET_RESERVATION = tuple(
    Reservation.__dict__[name].__set__
    for name in ("id", "model", "amount_usd", "attribution", "expires_at", "held")
)


def lease_share(
    share_id: str, model: str, amount_usd: Decimal, attribution: Attribution, expires_at: float
) -> Reservation:
    """``Reservation(share_id, model, amount_usd, attribution, expires_at)``, built by its slots
    directly: a frozen dataclass sets each field through ``object.__setattr__``, which made up
    half of serving a budgeted call from a lease."""
    share = object.__new__(Reservation)
    set_id, set_model, set_amount, set_attribution, set_expires, set_held = _SET_RESERVATION
    set_id(share, share_id)
    set_model(share, model)
    set_amount(share, amount_usd)
    set_attribution(share, attribution)
    set_expires(share, expires_at)
    set_held(share, True)
    return share


_CREATED_MAX = 10**13
"""A ``created`` at or above this (or at or below 0) is not a time: the key goes without it."""


def dedup_key(info: CallInfo) -> str:
    """What makes a billed call the same call each time it is recorded: the relay's ``created``
    (zero-padded, so keys sort by time), its completion id and its request id; a fresh uuid
    when it has neither id (it cannot be deduplicated).

    ``created`` leads so that a store's unique index takes new keys at its end: a relay's random
    ids alone land each on an index page of its own, and SQLite writes every such page at
    commit (~20 µs a call in a file of 300,000 entries). Without a usable ``created`` the key
    is ``"<call id>|<request id>"``, as earlier versions wrote it.
    """
    if not (info.id or info.request_id):
        return f"anon-{uuid.uuid4().hex}"
    key = f"{info.id}|{info.request_id or ''}"
    created = info.created
    if type(created) is int and 0 < created < _CREATED_MAX:
        return f"{created:010d}|{key}"
    return key


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One billed call as the ledger recorded it (exactly once: ``dedup_key``)."""

    key: str
    """Deduplication key: ``"<created>|<call id>|<request id>"`` (``dedup_key``)."""
    id: str
    """The relay's completion id."""
    request_id: str | None
    """The relay's ``x-request-id`` of the attempt that succeeded."""
    ts: datetime
    """When the call was recorded, UTC."""
    model: str
    """The model that served the call, as the relay reported it."""
    requested_model: str
    """The model the caller asked for."""
    task: str | None = None
    user: str | None = None
    app: str | None = None
    tags: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    usage: Usage | None = None
    """Tokens as reported; ``None`` when the relay reported none."""
    cost: Cost | None = None
    """USD split and CNY comparison; ``None`` for an unpriced model (counted, never as 0)."""
    latency_s: float = 0.0
    attempts: int = 1
    streamed: bool = False
    route: Mapping[str, Any] | None = None
    """The routing decision as a plain dict, when a router chose the model."""
    estimated: bool = False
    """True when usage (and so cost) was estimated, not reported by the relay (``CallInfo``)."""

    @classmethod
    def from_call(cls, info: CallInfo, ts: float, key: str) -> LedgerEntry:
        """The entry for ``info`` recorded at epoch seconds ``ts`` under dedup ``key``."""
        att = info.attribution
        return cls(
            key=key,
            id=info.id,
            request_id=info.request_id,
            ts=datetime.fromtimestamp(ts, timezone.utc),
            model=info.model,
            requested_model=info.requested_model,
            task=att.task,
            user=att.user,
            app=att.app,
            tags=MappingProxyType(dict(att.tags)) if att.tags else _EMPTY,
            usage=info.usage,
            cost=info.cost,
            latency_s=float(info.latency_s),
            attempts=int(info.attempts),
            streamed=bool(info.streamed),
            route=route_dict(info.route),
            estimated=bool(info.estimated),
        )

    @property
    def ts_us(self) -> int:
        """The timestamp as integer microseconds since the epoch (the stored form)."""
        return epoch_us(self.ts)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form: money as exact decimal strings, time as ISO 8601 UTC."""
        usage = self.usage
        return {
            "key": self.key,
            "id": self.id,
            "request_id": self.request_id,
            "ts": self.ts.isoformat(),
            "model": self.model,
            "requested_model": self.requested_model,
            "task": self.task,
            "user": self.user,
            "app": self.app,
            "tags": dict(self.tags),
            "usage": None if usage is None else usage_dict(usage),
            "cost": None if self.cost is None else self.cost.as_dict(),
            "latency_s": self.latency_s,
            "attempts": self.attempts,
            "streamed": self.streamed,
            "route": None if self.route is None else dict(self.route),
            "estimated": self.estimated,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LedgerEntry:
        """Rebuild an entry from :meth:`as_dict` output."""
        usage, cost = data.get("usage"), data.get("cost")
        return cls(
            key=data["key"],
            id=data["id"],
            request_id=data.get("request_id"),
            ts=datetime.fromisoformat(data["ts"]),
            model=data["model"],
            requested_model=data["requested_model"],
            task=data.get("task"),
            user=data.get("user"),
            app=data.get("app"),
            tags=MappingProxyType(dict(data.get("tags") or {})),
            usage=None if usage is None else Usage(**usage),
            cost=None if cost is None else cost_from(cost),
            latency_s=float(data.get("latency_s", 0.0)),
            attempts=int(data.get("attempts", 1)),
            streamed=bool(data.get("streamed", False)),
            route=data.get("route"),
            estimated=bool(data.get("estimated", False)),
        )


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def epoch_us(when: datetime) -> int:
    """An aware datetime as integer microseconds since the Unix epoch, exactly."""
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def usage_dict(usage: Usage) -> dict[str, int]:
    """The five token counts of ``usage`` as a dict."""
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "cached_tokens": usage.cached_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
    }


def cost_from(data: Mapping[str, str]) -> Cost:
    """A ``Cost`` from ``Cost.as_dict`` output (exact decimal strings)."""
    return Cost(
        data.get("model", ""),
        Decimal(data["input_usd"]),
        Decimal(data["cached_input_usd"]),
        Decimal(data["output_usd"]),
        Decimal(data["relay_cny"]),
        Decimal(data["direct_cny"]),
    )


def route_dict(route: Any) -> dict[str, Any] | None:
    """A route decision as a JSON-safe dict: ``as_dict()`` when it has one, a Mapping as is."""
    if route is None:
        return None
    if hasattr(route, "as_dict"):
        data = route.as_dict()
    elif isinstance(route, Mapping):
        data = dict(route)
    else:
        data = {"text": str(route)}
    return json.loads(json.dumps(data, default=str))  # JSON-safe and detached from the caller


@dataclass(frozen=True, slots=True)
class TotalsRow:
    """Sums over the recorded calls of one group (``CostLedger.totals``)."""

    group: Mapping[str, str | None]
    """The group's keys, e.g. ``{"model": "gpt-4.1", "user": "alice"}`` (None: not set)."""
    calls: int = 0
    """Recorded calls."""
    unpriced_calls: int = 0
    """Calls without a cost (unpriced model or no usage): in the token sums, not in the money."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    total_tokens: int = 0
    total_usd: Decimal = _ZERO
    """List-price USD of the priced calls."""
    relay_cny: Decimal = _ZERO
    """What the relay billed, CNY."""
    direct_cny: Decimal = _ZERO
    """What the providers would have billed directly, CNY at the market rate."""
    estimated_calls: int = 0
    """Calls whose usage was estimated (a stream cut before its usage): counted, flagged."""
    estimated_usd: Decimal = _ZERO
    """The part of ``total_usd`` that comes from estimated calls."""

    def __getitem__(self, name: str) -> str | None:
        """A group key's value: ``row["model"]``."""
        return self.group[name]

    @property
    def savings_cny(self) -> Decimal:
        """CNY saved by paying through the relay."""
        return self.direct_cny - self.relay_cny

    @property
    def savings_ratio(self) -> Decimal:
        """``savings_cny / direct_cny``; 0 when nothing was spent."""
        return self.savings_cny / self.direct_cny if self.direct_cny else _ZERO

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form: group keys first, money as exact decimal strings."""
        return {
            **self.group,
            "calls": self.calls,
            "unpriced_calls": self.unpriced_calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cached_tokens": self.cached_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "total_tokens": self.total_tokens,
            "total_usd": str(self.total_usd),
            "relay_cny": str(self.relay_cny),
            "direct_cny": str(self.direct_cny),
            "savings_cny": str(self.savings_cny),
            "estimated_calls": self.estimated_calls,
            "estimated_usd": str(self.estimated_usd),
        }
