"""A finished request as the journal keeps it: JSON text in, the answer and its cost out.

One encoding for every journal backend, so a result written by one worker (or an earlier run)
is read back by another as the same ``ChatCompletion``, ``CallInfo`` and typed error.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from pydantic_core import PydanticSerializationError, to_json

from holysheep import errors as _errors
from holysheep.calls import Attribution, CallInfo
from holysheep.costs import Cost
from holysheep.usage import Usage
from holysheep.wire import ChatCompletion

__all__ = ["decode_error", "decode_ok", "encode_error", "encode_ok", "record_usd"]

_USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens",
                 "reasoning_tokens")
_COST_FIELDS = ("input_usd", "cached_input_usd", "output_usd", "relay_cny", "direct_cny")


def encode_ok(completion: ChatCompletion, info: CallInfo | None) -> str:
    """The record of an answered request (the completion and what its call cost)."""
    call: dict[str, Any] | None = None
    if info is not None:  # the fields spelled out: no comprehension or getattr per answer
        usage, cost = info.usage, info.cost
        call = {
            "id": info.id,
            "requested_model": info.requested_model,
            "model": info.model,
            "request_id": info.request_id,
            "estimated": info.estimated,
            "created": info.created,
            "task": info.attribution.task,
            "usage": None if usage is None else {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens,
                "cached_tokens": usage.cached_tokens,
                "reasoning_tokens": usage.reasoning_tokens,
            },
            "cost": None if cost is None else {
                "input_usd": str(cost.input_usd),
                "cached_input_usd": str(cost.cached_input_usd),
                "output_usd": str(cost.output_usd),
                "relay_cny": str(cost.relay_cny),
                "direct_cny": str(cost.direct_cny),
            },
        }
    # both parts serialized by pydantic in Rust (compact UTF-8 JSON, a few times faster than
    # json.dumps), the completion spliced in: no dict round trip per answer
    try:
        head = to_json(call).decode()
    except PydanticSerializationError:  # a lone surrogate (say in a task name): escape it
        head = json.dumps(call, separators=(",", ":"))
    return f'{{"ok":true,"call":{head},"completion":{completion.model_dump_json()}}}'


def record_usd(info: CallInfo | None) -> Decimal:
    """USD a call cost (0 when unpriced), for the job's spend."""
    cost = getattr(info, "cost", None)
    return cost.total_usd if cost is not None else Decimal(0)


def decode_ok(text: str) -> tuple[ChatCompletion, CallInfo | None]:
    """The completion and a ``CallInfo`` rebuilt from a record (latency and attempts are 0)."""
    record = json.loads(text)
    completion = ChatCompletion.model_validate(record["completion"])
    call = record.get("call")
    if call is None:
        return completion, None
    usage = Usage(**call["usage"]) if call.get("usage") else None
    cost_data = call.get("cost")
    cost = None
    if cost_data:
        cost = Cost(call["model"], *(Decimal(cost_data[f]) for f in _COST_FIELDS))
    info = CallInfo(
        id=call["id"],
        requested_model=call["requested_model"],
        model=call["model"],
        usage=usage,
        cost=cost,
        attribution=Attribution(task=call.get("task")),
        latency_s=0.0,
        attempts=0,
        streamed=False,
        request_id=call.get("request_id"),
        estimated=bool(call.get("estimated")),
        created=call.get("created"),
    )
    return completion, info


def encode_error(error: _errors.HolySheepError) -> str:
    """The record of a failed request: its error class, message and relay fields."""
    return json.dumps(
        {
            "ok": False,
            "type": type(error).__name__,
            "message": error.message,
            "status_code": error.status_code,
            "code": error.code,
            "request_id": error.request_id,
        },
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )


def decode_error(text: str) -> _errors.HolySheepError:
    """The typed error a failure record describes (``HolySheepError`` for an unknown class)."""
    record = json.loads(text)
    cls = getattr(_errors, str(record.get("type")), None)
    if not (isinstance(cls, type) and issubclass(cls, _errors.HolySheepError)):
        cls = _errors.HolySheepError
    fields = {k: record.get(k) for k in ("status_code", "code", "request_id")}
    return cls(record.get("message") or "failed", **fields)
