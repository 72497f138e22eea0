"""Span attributes of a relay call, as plain dicts: request, outcome (usage, cost, route), error.

Kept apart from the recorder so the naming rules (GenAI conventions first, ``holysheep.*`` for
the rest) sit in one place and need no OpenTelemetry import to read or test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._content import input_messages

if TYPE_CHECKING:
    from decimal import Decimal

    from .._base import _Call
    from ..calls import CallInfo
    from ..wire import ChatCompletion

__all__ = ["base_attributes", "error_attributes", "outcome_attributes", "request_attributes"]

_STOP = "gen_ai.request.stop_sequences"
_PARAMS = {
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",  # wins over max_tokens (see below)
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "presence_penalty": "gen_ai.request.presence_penalty",
    "seed": "gen_ai.request.seed",
    "n": "gen_ai.request.choice.count",
    "stop": _STOP,
}
_SCALARS = (bool, int, float, str)


def base_attributes(call: _Call, host: str, port: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """What every call of this model, server and attribution shares: metric and span attributes."""
    metric: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "holysheep",
        "gen_ai.request.model": call.model,
        "server.address": host,
        "server.port": port,
    }
    span = dict(metric)
    if call.stream:
        span["gen_ai.request.stream"] = True
    who = call.attribution
    if who.task:
        span["holysheep.task"] = who.task
    if who.app:
        span["holysheep.app"] = who.app
    if who.user:
        span["holysheep.user"] = who.user
    return metric, span


def request_attributes(base: dict[str, Any], call: _Call, capture: bool) -> dict[str, Any]:
    """``base`` (the call's shape) plus the request's parameters and (opted in) its messages.

    One pass over the body's few keys, not one lookup per known parameter.
    """
    attrs = dict(base)
    data = call.data
    for key, value in data.items():
        name = _PARAMS.get(key)
        if name is None or value is None:
            continue
        if name is _STOP:
            if value:
                attrs[_STOP] = [value] if isinstance(value, str) else list(value)
        elif isinstance(value, _SCALARS) and not (
            key == "max_tokens" and isinstance(data.get("max_completion_tokens"), _SCALARS)
        ):
            attrs[name] = value
    if capture:
        attrs.update(input_messages(data.get("messages") or ()))
    return attrs


def outcome_attributes(
    completion: ChatCompletion, info: CallInfo | None, response_model: str,
    total_usd: Decimal | None,
) -> dict[str, Any]:
    """What answered: response model and id, finish reasons, usage, cost, route, attempts.

    ``total_usd`` is ``info.cost.total_usd``, computed once by the caller (it also feeds the
    cost counter).
    """
    attrs: dict[str, Any] = {"gen_ai.response.model": response_model}
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
        attrs["holysheep.cost.usd"] = float(cost.total_usd if total_usd is None else total_usd)
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
