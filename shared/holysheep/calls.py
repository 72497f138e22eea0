"""``CallInfo``: what one billed call was, for cost reports, ledgers and framework metadata.

The core builds it once per call (and once per finished stream) so adapters and ledgers read the
same numbers instead of pricing a call twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from .costs import Cost
from .usage import Usage

__all__ = ["Attribution", "CallInfo", "cost_from_metadata", "cost_metadata"]


@dataclass(frozen=True, slots=True)
class Attribution:
    """Who and what a call is billed to: task label, end user, application, free tags."""

    task: str | None = None
    user: str | None = None
    app: str | None = None
    tags: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class CallInfo:
    """One billed call: models, usage, cost, attribution, timing and (when routed) the route."""

    id: str
    """The relay's completion id (or the request id when the relay gave none)."""
    requested_model: str
    """The model id the caller asked for (``"auto"`` resolves to the routed model)."""
    model: str
    """The model that served the call, as the relay reported it."""
    usage: Usage | None
    """Tokens as reported; ``None`` when the relay reported none."""
    cost: Cost | None
    """USD split and CNY comparison; ``None`` (with a warning) when the model has no price."""
    attribution: Attribution
    """Task label, user, app and tags the call is billed to."""
    latency_s: float
    """Wall seconds from the first attempt to the last byte."""
    attempts: int
    """HTTP attempts made on the model that served, retries included (a routed call's failed
    candidates are in ``route.fallbacks``)."""
    streamed: bool
    """True for a stream."""
    request_id: str | None = None
    """The relay's ``x-request-id`` of the attempt that succeeded."""
    route: Any = None
    """The ``RouteDecision`` when a router chose the model."""
    estimated: bool = False
    """True when ``usage`` (and so ``cost``) was estimated rather than reported by the relay:
    a stream cut before its usage chunk, or usage the relay reported that could not be true."""
    created: int | None = None
    """The completion's ``created`` (epoch seconds) as the relay stamped it; ``None`` when it
    gave none. It leads the ledger's dedup key, so keys come in time order (see ``LedgerEntry``)."""

    def as_metadata(self) -> dict[str, Any]:
        """A plain dict for framework metadata slots (JSON-friendly; money as floats).

        The core keeps ``Decimal`` (``self.cost``); frameworks and dashboards want numbers.
        """
        data: dict[str, Any] = {
            "model_name": self.model,
            "requested_model": self.requested_model,
            "attempts": self.attempts,
            "latency_s": round(self.latency_s, 6),
            "cost": cost_metadata(self.cost),
        }
        if self.estimated:
            data["estimated"] = True
        if self.attribution.task:
            data["task"] = self.attribution.task
        if self.route is not None:
            as_dict = getattr(self.route, "as_dict", None)
            data["route"] = as_dict() if as_dict is not None else self.route
        return data


_MONEY_KEYS = ("input_usd", "cached_input_usd", "output_usd", "relay_cny", "direct_cny")


def cost_metadata(cost: Cost | None) -> dict[str, Any] | None:
    """A ``Cost`` for framework metadata: the model id and every amount as a float.

    Costs have at most about 13 significant digits, so ``cost_from_metadata`` gets the exact
    ``Decimal`` back from these floats.
    """
    if cost is None:
        return None
    return {
        "model": cost.model,
        **{key: float(getattr(cost, key)) for key in _MONEY_KEYS},
        "total_usd": float(cost.total_usd),
        "savings_cny": float(cost.savings_cny),
    }


def cost_from_metadata(data: Mapping[str, Any] | None) -> Cost | None:
    """The ``Cost`` behind :func:`cost_metadata`'s dict (floats or, from older code, strings)."""
    if data is None:
        return None
    amounts = (_decimal(data[key]) for key in _MONEY_KEYS)
    return Cost(str(data.get("model", "")), *amounts)


def _decimal(value: Any) -> Decimal:
    """A float (its shortest repr: exact for our amounts) or a decimal string as a Decimal."""
    return Decimal(repr(value) if isinstance(value, float) else str(value))
