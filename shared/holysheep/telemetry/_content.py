"""Message content for spans, only when the user opted in, in the GenAI conventions' shape.

``gen_ai.system_instructions``, ``gen_ai.input.messages`` and ``gen_ai.output.messages`` are
JSON strings of role-and-parts objects. Every string passes through the secret scrubber, so a key
pasted into a prompt does not reach a trace.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .._secrets import scrub

if TYPE_CHECKING:
    from ..wire import ChatCompletion

__all__ = ["input_messages", "output_messages"]


def input_messages(messages: Iterable[Any]) -> dict[str, str]:
    """The request's messages: system text apart, the rest as role-and-parts objects."""
    system: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for message in messages:
        m = _as_dict(message)
        role = str(m.get("role") or "user")
        if role in ("system", "developer"):
            system.extend(_parts(m.get("content")))
            continue
        parts = _parts(m.get("content"))
        if role == "tool":
            parts = [{"type": "tool_call_response", "id": m.get("tool_call_id"),
                      "response": _text(m.get("content"))}]
        parts.extend(_tool_calls(m.get("tool_calls")))
        out.append({"role": role, "parts": parts})
    attrs = {"gen_ai.input.messages": _json(out)}
    if system:
        attrs["gen_ai.system_instructions"] = _json(system)
    return attrs


def output_messages(completion: ChatCompletion) -> str:
    """The answer's choices as assistant messages with their finish reasons."""
    out = []
    for choice in completion.choices:
        m = choice.message.model_dump(exclude_none=True)
        parts = _parts(m.get("content"))
        parts.extend(_tool_calls(m.get("tool_calls")))
        out.append({"role": m.get("role") or "assistant", "parts": parts,
                    "finish_reason": choice.finish_reason or ""})
    return _json(out)


def _as_dict(message: Any) -> Mapping[str, Any]:
    if isinstance(message, Mapping):
        return message
    dump = getattr(message, "model_dump", None)
    return dump(exclude_none=True) if dump is not None else {"content": str(message)}


def _parts(content: Any) -> list[dict[str, Any]]:
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts = []
    for part in content if isinstance(content, list) else [content]:
        if isinstance(part, Mapping) and part.get("type") == "text":
            parts.append({"type": "text", "content": str(part.get("text", ""))})
        elif isinstance(part, Mapping):  # images, audio, files: the kind, never the bytes
            parts.append({"type": str(part.get("type", "unknown"))})
        else:
            parts.append({"type": "text", "content": str(part)})
    return parts


def _text(content: Any) -> str:
    return "".join(p.get("content", "") for p in _parts(content))


def _tool_calls(calls: Any) -> list[dict[str, Any]]:
    parts = []
    for call in calls or ():
        c = _as_dict(call)
        function = _as_dict(c.get("function") or {})
        parts.append({"type": "tool_call", "id": c.get("id"), "name": function.get("name"),
                      "arguments": function.get("arguments")})
    return parts


def _json(value: Any) -> str:
    return scrub(json.dumps(value, ensure_ascii=False, default=str))
