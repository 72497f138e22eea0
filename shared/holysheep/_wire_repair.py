"""A relay answer wrong only in fields no call needs is repaired, so a billed answer is not lost.

Some servers send a numeric ``id``, a list for ``system_fingerprint`` or a number for
``finish_reason``; strict validation then refused the whole body, and the caller lost an answer
the relay had billed. Only when validation has already failed (the happy path pays nothing),
each field it named that is metadata is made text when it is a number, else dropped for its
default (a message's ``role`` becomes ``"assistant"``), and the body is validated once more.
A ``usage`` that is not even an object is read as absent (the call's usage is then estimated);
its counts have their own checks (``WireUsage``). Content and tool calls are never repaired: a
wrong answer is refused, not guessed.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

__all__ = ["billed_view", "repaired"]

M = TypeVar("M", bound=BaseModel)

METADATA = frozenset(
    {"id", "object", "model", "system_fingerprint", "finish_reason", "role", "refusal",
     "index", "service_tier"}
)
"""Fields of a completion or chunk that no answer, tool call or bill is read from."""
_STAND_INS = {"role": "assistant"}
"""What a required metadata field becomes when its value cannot be made text."""


def repaired(model: type[M], data: bytes, error: ValidationError) -> M | None:
    """``data`` validated as ``model`` once the metadata fields ``error`` names are repaired;
    ``None`` when any other field is wrong or the body still fails."""
    try:
        payload: Any = json.loads(data)
    except ValueError:
        return None
    for attempt in range(2):  # numbers become text first; what still fails is dropped
        for problem in error.errors():
            place = _place(payload, problem["loc"])
            if place is None:
                return None
            parent, key = place
            value = parent.get(key)
            if key == "usage":  # not an object at all: read as absent (the call is estimated)
                if isinstance(value, dict):
                    return None
                parent.pop(key, None)
            elif attempt == 0 and isinstance(value, int | float):
                parent[key] = str(value)
            elif key in _STAND_INS:
                parent[key] = _STAND_INS[key]
            else:
                parent.pop(key, None)
        try:
            return model.model_validate(payload)
        except ValidationError as again:
            error = again
    return None


def _place(payload: Any, loc: tuple[int | str, ...]) -> tuple[dict[str, Any], str] | None:
    """The object holding the field at ``loc`` and its name, when that field is metadata (or
    ``usage``).

    ``loc`` may hold a union member's tag between real keys: whatever the payload does not
    have at that point is skipped.
    """
    node, parent, key = payload, None, None
    for part in loc:
        in_object = isinstance(node, dict) and isinstance(part, str) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_object or in_list:
            parent, key, node = node, part, node[part]
    if not isinstance(parent, dict) or (key not in METADATA and key != "usage"):
        return None
    return parent, key  # type: ignore[return-value]


def billed_view(model: type[M], data: bytes) -> M | None:
    """What a body no repair could read still says about its bill: ``model`` with no choices
    and the body's ``usage`` (its id, model and created when they are text and numbers), or
    ``None`` when it reports no usage. The relay billed such an answer; it must be recorded."""
    try:
        payload: Any = json.loads(data)
    except ValueError:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("usage"), dict):
        return None
    fields: dict[str, Any] = {"choices": [], "usage": payload["usage"]}
    for name in ("id", "model"):  # an echoed key in either is masked with the call's info
        if isinstance(payload.get(name), str):
            fields[name] = payload[name]
    fields["created"] = payload.get("created")
    try:
        return model.model_validate(fields)
    except ValidationError:
        return None
