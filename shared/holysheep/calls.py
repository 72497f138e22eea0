"""``CallInfo``: what one billed call was, for cost reports, ledgers and framework metadata.

The core builds it once per call (and once per finished stream) so adapters and ledgers read the
same numbers instead of pricing a call twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .costs import Cost
from .usage import Usage

__all__ = ["Attribution", "CallInfo"]


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

    def as_metadata(self) -> dict[str, Any]:
        """A plain dict for framework metadata slots (JSON-friendly; money as strings)."""
        data: dict[str, Any] = {
            "model_name": self.model,
            "requested_model": self.requested_model,
            "attempts": self.attempts,
            "latency_s": round(self.latency_s, 6),
            "cost": self.cost.as_dict() if self.cost is not None else None,
        }
        if self.estimated:
            data["estimated"] = True
        if self.attribution.task:
            data["task"] = self.attribution.task
        if self.route is not None:
            as_dict = getattr(self.route, "as_dict", None)
            data["route"] = as_dict() if as_dict is not None else self.route
        return data
