"""Pure payload builders for the relay emulator: replies, usage, chunks and error bodies.

Kept apart from the HTTP server in :mod:`holysheep.testing.emulator` so the wire shapes can be
read (and unit-tested) without sockets or threads. Nothing here does I/O.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

__all__ = [
    "RecordedRequest",
    "Reply",
    "completion_body",
    "compute_usage",
    "delivered_usage",
    "echo_text",
    "error_body",
    "error_type",
    "owned_by",
    "stream_chunks",
]

SYSTEM_FINGERPRINT = "fp_emulator"

_OWNERS: tuple[tuple[str, str], ...] = (
    (r"(gpt|chatgpt|o\d)", "openai"),
    (r"claude", "anthropic"),
    (r"gemini", "google"),
    (r"deepseek", "deepseek"),
    (r"grok", "xai"),
    (r"qwen", "alibaba"),
)

# status -> (type, code, message); a ``{model}`` placeholder is filled with the requested model.
_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", "invalid_request_error", "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    402: (
        "insufficient_quota",
        "insufficient_quota",
        "Insufficient balance: please top up your HolySheep account.",
    ),
    403: ("permission_error", "permission_denied", "You do not have access to this resource."),
    404: (
        "invalid_request_error",
        "model_not_found",
        "The model `{model}` does not exist or you do not have access to it.",
    ),
    429: (
        "rate_limit_error",
        "rate_limit_exceeded",
        "Rate limit reached for requests. Please try again later.",
    ),
    500: ("server_error", "server_error", "The server had an error while processing your request."),
    502: ("server_error", "bad_gateway", "Bad gateway: the upstream provider returned an error."),
    503: (
        "server_error",
        "service_unavailable",
        "The service is temporarily overloaded. Please retry shortly.",
    ),
    504: ("server_error", "gateway_timeout", "The upstream provider timed out."),
}

_CODE_MESSAGES: dict[str, str] = {
    "context_length_exceeded": (
        "This model's maximum context length is 128000 tokens. However, your messages resulted "
        "in more tokens. Please reduce the length of the messages."
    ),
}


@dataclass(frozen=True)
class Reply:
    """One scripted assistant answer.

    Attributes:
        content: Assistant text.
        reasoning: Reasoning text, emitted as ``reasoning_content`` before the content.
        tool_calls: Calls as ``{"name": str, "arguments": dict | str, "id": str (optional)}``;
            a dict is sent as compact JSON, a str verbatim (so invalid JSON can be scripted).
        finish_reason: Defaults to ``"tool_calls"`` if there are tool calls, else ``"stop"``.
        model: Served model id to report (default: the requested model).
        usage: Usage dict that replaces the computed one wholesale.
        cached_tokens: Reported in ``usage.prompt_tokens_details.cached_tokens``.
    """

    content: str | None = None
    reasoning: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    model: str | None = None
    usage: dict[str, Any] | None = None
    cached_tokens: int = 0

    def __post_init__(self) -> None:
        """Validate tool calls early, so a bad script fails in the test, not in the server."""
        for call in self.tool_calls:
            if not isinstance(call, Mapping) or not isinstance(call.get("name"), str):
                raise ValueError(f"tool call needs a str 'name': {call!r}")
            if not isinstance(call.get("arguments", {}), (str, Mapping)):
                raise ValueError(f"tool call 'arguments' must be a dict or str: {call!r}")

    @property
    def resolved_finish_reason(self) -> str:
        """The finish reason to report."""
        if self.finish_reason is not None:
            return self.finish_reason
        return "tool_calls" if self.tool_calls else "stop"

    def wire_tool_calls(self) -> list[dict[str, Any]]:
        """Tool calls in wire shape, with fresh ids where none were given."""
        out: list[dict[str, Any]] = []
        for call in self.tool_calls:
            args = call.get("arguments", {})
            if not isinstance(args, str):
                args = json.dumps(args, separators=(",", ":"), ensure_ascii=False)
            call_id = call.get("id")
            if not isinstance(call_id, str):  # "" is kept: some providers really send it
                call_id = f"call_{uuid.uuid4().hex[:24]}"
            function = {"name": call["name"], "arguments": args}
            out.append({"id": call_id, "type": "function", "function": function})
        return out


@dataclass(frozen=True)
class RecordedRequest:
    """One request the emulator received (secrets redacted).

    Attributes:
        method: HTTP method.
        path: Request path as sent, query string included.
        headers: Lower-case header names; credential values replaced by ``"***"``.
        json: Parsed JSON body, or ``None`` if absent or malformed.
        client_port: Client-side TCP port (the same for requests on one kept-alive connection).
    """

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    client_port: int = 0


def owned_by(model_id: str) -> str:
    """Guess the provider that owns a model id from its prefix."""
    lowered = model_id.lower()
    for pattern, owner in _OWNERS:
        if re.match(pattern, lowered):
            return owner
    return "holysheep"


def _content_text(content: Any) -> str:
    """Text of a message ``content``: a string, or the ``text`` parts of a list joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, Mapping) and p.get("type") == "text"
        )
    return ""


def _message_text(message: Any) -> str:
    """Text counted for a message: its content plus any tool call argument strings."""
    if not isinstance(message, Mapping):
        return ""
    text = _content_text(message.get("content"))
    for call in message.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, Mapping) else None
        if isinstance(function, Mapping):
            args = function.get("arguments", "")
            text += args if isinstance(args, str) else json.dumps(args)
    return text


def echo_text(messages: Sequence[Any]) -> str:
    """Default reply text: ``"Echo: "`` plus the text of the last user message."""
    for message in reversed(messages):
        if isinstance(message, Mapping) and message.get("role") == "user":
            return "Echo: " + _content_text(message.get("content"))
    return "Echo: "


def _tokens(text: str) -> int:
    """Rough token estimate: one token per four characters, rounded up."""
    return math.ceil(len(text) / 4)


def compute_usage(messages: Sequence[Any], reply: Reply, tool_args: Sequence[str]) -> dict:
    """Usage for ``reply`` answering ``messages`` (``reply.usage`` replaces it wholesale)."""
    if reply.usage is not None:
        return dict(reply.usage)
    prompt = sum(4 + _tokens(_message_text(m)) for m in messages)
    reasoning = reply.reasoning or ""
    produced = (reply.content or "") + reasoning + "".join(tool_args)
    completion = max(1, _tokens(produced))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": max(0, min(reply.cached_tokens, prompt))},
        "completion_tokens_details": {"reasoning_tokens": _tokens(reasoning)},
    }


def delivered_usage(usage: dict[str, Any], chunks: Sequence[dict[str, Any]], sent: int) -> dict:
    """What a relay bills for a stream that stopped after ``sent`` of its ``chunks``.

    A stream that sent its finish reason generated everything: ``usage`` as it is. One cut
    earlier is billed the prompt plus the tokens generated before the cut (text, reasoning and
    tool-call arguments), as a real relay bills what the provider produced; one that sent
    nothing at all is not billed (empty dict).
    """
    if sent <= 0:
        return {}
    if any(c["choices"] and c["choices"][0]["finish_reason"] for c in chunks[:sent]):
        return dict(usage)
    produced = []
    for chunk in chunks[:sent]:
        for choice in chunk["choices"]:
            delta = choice["delta"]
            produced.append(delta.get("content") or "")
            produced.append(delta.get("reasoning_content") or "")
            for call in delta.get("tool_calls") or ():
                produced.append(call["function"].get("arguments") or "")
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = _tokens("".join(produced))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def completion_body(
    reply: Reply, *, chat_id: str, created: int, model: str, tool_calls: list[dict], usage: dict
) -> dict[str, Any]:
    """A non-streaming ``chat.completion`` body."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.reasoning is not None:
        message["reasoning_content"] = reply.reasoning
    if tool_calls:
        message["tool_calls"] = tool_calls
    choice = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": reply.resolved_finish_reason,
    }
    return {
        "id": chat_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "choices": [choice],
        "usage": usage,
    }


def split_words(text: str) -> list[str]:
    """Split into one-word pieces (leading whitespace kept) that join back to ``text``."""
    pieces = re.findall(r"\s*\S+", text)
    tail = text[len("".join(pieces)) :]
    if tail:
        if pieces:
            pieces[-1] += tail
        else:
            pieces = [tail]
    return pieces


def _split_args(args: str) -> list[str]:
    """Split an arguments string into up to three roughly equal pieces."""
    if not args:
        return []
    parts = min(3, len(args))
    size = math.ceil(len(args) / parts)
    return [args[i : i + size] for i in range(0, len(args), size)]


def stream_chunks(
    reply: Reply,
    *,
    chat_id: str,
    created: int,
    model: str,
    tool_calls: list[dict],
    usage: dict | None,
) -> list[dict[str, Any]]:
    """All ``chat.completion.chunk`` payloads of a stream, in order (``[DONE]`` excluded).

    ``usage`` is ``None`` unless the request asked for ``stream_options.include_usage``.
    """
    with_usage = usage is not None

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        body = {
            "id": chat_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": [choice],
        }
        if with_usage:
            body["usage"] = None
        return body

    chunks = [chunk({"role": "assistant", "content": ""})]
    words = split_words(reply.reasoning or "")
    for i in range(0, len(words), 3):
        chunks.append(chunk({"reasoning_content": "".join(words[i : i + 3])}))
    chunks.extend(chunk({"content": piece}) for piece in split_words(reply.content or ""))
    for index, call in enumerate(tool_calls):
        function = call["function"]
        head = {
            "index": index,
            "id": call["id"],
            "type": "function",
            "function": {"name": function["name"], "arguments": ""},
        }
        chunks.append(chunk({"tool_calls": [head]}))
        for piece in _split_args(function["arguments"]):
            part = {"index": index, "function": {"arguments": piece}}
            chunks.append(chunk({"tool_calls": [part]}))
    chunks.append(chunk({}, reply.resolved_finish_reason))
    if usage is not None:
        last = chunk({})
        last["choices"] = []
        last["usage"] = usage
        chunks.append(last)
    return chunks


def error_body(
    status: int,
    *,
    code: str | None = None,
    model: str | None = None,
    message: str | None = None,
    param: str | None = None,
) -> dict[str, Any]:
    """An OpenAI-style ``{"error": {...}}`` body with sensible defaults for ``status``."""
    default_type = "server_error" if status >= 500 else "invalid_request_error"
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    err_type, default_code, default_message = _ERRORS.get(status, (default_type, None, phrase))
    if code is not None and message is None:
        message = _CODE_MESSAGES.get(code)
        if code == "context_length_exceeded":
            param = param or "messages"
    text = message or default_message.replace("{model}", model or "unknown")
    return {
        "error": {
            "message": text,
            "type": err_type,
            "param": param,
            "code": code if code is not None else default_code,
        }
    }


def error_type(code: str) -> str:
    """The error ``type`` that goes with an error ``code`` (``"server_error"`` if unknown)."""
    if code in _CODE_MESSAGES:
        return "invalid_request_error"
    for err_type, known_code, _ in _ERRORS.values():
        if known_code == code:
            return err_type
    return "server_error"
