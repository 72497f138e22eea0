"""Span attributes of a relay call, as plain dicts: request, outcome (usage, cost, route), error.

Kept apart from the recorder so the naming rules (GenAI conventions first, ``holysheep.*`` for
the rest) sit in one place and need no OpenTelemetry import to read or test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._content import input_messages

if TYPE_CHECKING:
    from .._base import _Call
    from ..calls import CallInfo
    from ..wire import ChatCompletion

__all__ = ["error_attributes", "outcome_attributes", "request_attributes"]

_PARAMS = (
    ("max_tokens", "gen_ai.request.max_tokens"),
    ("max_completion_tokens", "gen_ai.request.max_tokens"),
    ("temperature", "gen_ai.request.temperature"),
    ("top_p", "gen_ai.request.top_p"),
    ("frequency_penalty", "gen_ai.request.frequency_penalty"),
    ("presence_penalty", "gen_ai.request.presence_penalty"),
    ("seed", "gen_ai.request.seed"),
    ("n", "gen_ai.request.choice.count"),
)
_SCALARS = (bool, int, float, str)


def request_attributes(base: dict[str, Any], call: _Call, capture: bool) -> dict[str, Any]:
    """``base`` plus the request's parameters, attribution and (opted in) its messages."""
    attrs = dict(base)
    data = call.data
    for key, name in _PARAMS:
        value = data.get(key)
        if value is not None and isinstance(value, _SCALARS):
            attrs[name] = value
    stop = data.get("stop")
    if stop:
        attrs["gen_ai.request.stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if call.stream:
        attrs["gen_ai.request.stream"] = True
    who = call.attribution
    if who.task:
        attrs["holysheep.task"] = who.task
    if who.app:
        attrs["holysheep.app"] = who.app
    if who.user:
        attrs["holysheep.user"] = who.user
    if capture:
        attrs.update(input_messages(data.get("messages") or ()))
    return attrs


def outcome_attributes(completion: ChatCompletion, info: CallInfo | None) -> dict[str, Any]:
    """What answered: response model and id, finish reasons, usage, cost, route, attempts."""
    attrs: dict[str, Any] = {
        "gen_ai.response.model": completion.model or (info.model if info else ""),
    }
    if completion.id:
        attrs["gen_ai.response.id"] = completion.id
    reasons = [c.finish_reason for c in completion.choices if c.finish_reason]
    if reasons:
        attrs["gen_ai.response.finish_reasons"] = reasons
    if info is None:
        return attrs
    usage, cost = info.usage, info.cost
    if usage is not None:
        attrs["gen_ai.usage.input_tokens"] = usage.prompt_tokens
        attrs["gen_ai.usage.output_tokens"] = usage.completion_tokens
        if usage.cached_tokens:
            attrs["gen_ai.usage.cache_read.input_tokens"] = usage.cached_tokens
        if usage.reasoning_tokens:
            attrs["gen_ai.usage.reasoning.output_tokens"] = usage.reasoning_tokens
    if cost is not None:
        attrs["holysheep.cost.usd"] = float(cost.total_usd)
        attrs["holysheep.cost.relay_cny"] = float(cost.relay_cny)
        attrs["holysheep.cost.direct_cny"] = float(cost.direct_cny)
    attrs["holysheep.cost.estimated"] = info.estimated
    attrs["holysheep.attempts"] = info.attempts
    if info.request_id:
        attrs["holysheep.request_id"] = info.request_id
    if info.attribution.task:  # a classified call learns its label only now
        attrs["holysheep.task"] = info.attribution.task
    if info.route is not None:
        attrs.update(route_attributes(info.route))
    return attrs


def route_attributes(route: Any) -> dict[str, Any]:
    """The router's decision: label and its source, chosen model, why, and fallbacks taken."""
    attrs: dict[str, Any] = {
        "holysheep.route.task": route.task,
        "holysheep.route.task_source": route.task_source,
        "holysheep.route.reason": route.reason,
        "holysheep.route.candidates": [c.model for c in route.candidates],
        "holysheep.route.fallbacks": len(route.fallbacks),
    }
    if route.model:
        attrs["holysheep.route.model"] = route.model
    if route.fallbacks:
        attrs["holysheep.route.failed_models"] = [f.from_model for f in route.fallbacks]
    return attrs


def error_attributes(error: BaseException) -> dict[str, Any]:
    """``error.type`` (the error's class name) and the HTTP status when there was one."""
    attrs: dict[str, Any] = {"error.type": type(error).__name__}
    status = getattr(error, "status_code", None)
    if isinstance(status, int):
        attrs["http.response.status_code"] = status
    return attrs
