"""Pydantic models of the OpenAI chat-completions wire format, as relays really speak it.

Every model keeps unknown fields (``extra="allow"``) so provider extras such as
``reasoning_details``, ``x_groq`` or ``content_filter_results`` survive a round trip.
Every field some provider omits or sends as ``null`` is optional (see
``tests/fixtures/upstream/MANIFEST.md`` for the cases).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    model_validator,
)

__all__ = [
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatMessage",
    "ChatRequest",
    "Choice",
    "ChunkChoice",
    "ChunkDelta",
    "CompletionTokensDetails",
    "ErrorBody",
    "ErrorDetail",
    "FunctionCall",
    "FunctionCallDelta",
    "ModelInfo",
    "ModelList",
    "PromptTokensDetails",
    "StreamOptions",
    "ToolCall",
    "ToolCallDelta",
    "WireUsage",
    "extra_usage",
    "seconds",
    "split_content",
]


def seconds(value: Any) -> int | None:
    """A ``created`` stamp as whole epoch seconds, or ``None`` for one that is not a number: some
    servers send a float or a string, and a field no call needs must never fail a billed answer."""
    if type(value) is int or value is None:
        return value
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        return None


Seconds = Annotated[int | None, BeforeValidator(seconds)]
"""``created``: whole epoch seconds, ``None`` when absent or not a number."""


class _Wire(BaseModel):
    """Base of every wire model: keeps unknown fields, allows field names starting with model_."""

    model_config = ConfigDict(extra="allow", protected_namespaces=(), defer_build=True)


# ---------------------------------------------------------------- usage


class PromptTokensDetails(_Wire):
    """Breakdown of prompt tokens; ``cached_tokens`` are counted inside ``prompt_tokens``."""

    cached_tokens: int | None = None
    audio_tokens: int | None = None


class CompletionTokensDetails(_Wire):
    """Breakdown of completion tokens; ``reasoning_tokens`` count inside ``completion_tokens``."""

    reasoning_tokens: int | None = None
    audio_tokens: int | None = None
    accepted_prediction_tokens: int | None = None
    rejected_prediction_tokens: int | None = None


class WireUsage(_Wire):
    """Usage as a provider reports it (OpenAI, DeepSeek and Together spellings).

    A count that cannot be one (``"abc"``, ``5.5``, ``-3``, ``true``) never makes the whole answer
    invalid: it is dropped (read as absent) and named in ``invalid_fields``, so the answer is
    kept and the call's usage is estimated instead (``CallInfo.estimated``).
    """

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None
    prompt_cache_hit_tokens: int | None = None  # DeepSeek
    prompt_cache_miss_tokens: int | None = None  # DeepSeek
    cached_tokens: int | None = None  # Together, at top level
    _invalid: tuple[str, ...] = PrivateAttr(default=())

    @property
    def invalid_fields(self) -> tuple[str, ...]:
        """Count fields dropped because they were not non-negative integers (dotted paths)."""
        return self._invalid

    @model_validator(mode="wrap")
    @classmethod
    def _drop_impossible_counts(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """Drop counts that are not counts, remembering their names, before validating."""
        if not isinstance(data, dict):
            return handler(data)
        clean, invalid = _clean_counts(data)
        try:
            usage = handler(clean)
        except ValidationError:  # a shape no cleaning foresaw: keep the answer, lose the usage
            usage, invalid = handler({}), tuple(k for k in data if data[k] is not None)
        if invalid:
            usage._invalid = invalid
        return usage


_COUNT_FIELDS = frozenset(
    {
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "prompt_cache_hit_tokens",
        "prompt_cache_miss_tokens",
        "cached_tokens",
    }
)
_DETAIL_FIELDS = {
    "prompt_tokens_details": frozenset(PromptTokensDetails.model_fields),
    "completion_tokens_details": frozenset(CompletionTokensDetails.model_fields),
}


def _is_count(value: Any) -> bool:
    """A non-negative whole number (``7`` or ``7.0``); ``None`` counts as absent, not invalid."""
    if value.__class__ is int:
        return value >= 0
    return isinstance(value, float) and value.is_integer() and value >= 0


def _clean_counts(data: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """``data`` without its impossible counts, and their (dotted) names."""
    invalid: list[str] = []
    clean = data
    for key, value in data.items():
        if value is None or (value.__class__ is int and value >= 0):  # the usual: nothing to do
            if value is not None and key in _DETAIL_FIELDS:
                invalid.append(key)
            continue
        if key in _COUNT_FIELDS and not _is_count(value):
            invalid.append(key)
        elif key in _DETAIL_FIELDS:
            if not isinstance(value, dict):
                invalid.append(key)
                continue
            fields = _DETAIL_FIELDS[key]
            bad = [
                k
                for k, v in value.items()
                if v is not None
                and not (v.__class__ is int and v >= 0)
                and k in fields
                and not _is_count(v)
            ]
            if bad:
                clean = dict(clean) if clean is data else clean
                clean[key] = {k: v for k, v in value.items() if k not in bad}
                invalid.extend(f"{key}.{k}" for k in bad)
    if invalid:
        clean = dict(clean) if clean is data else clean
        for name in invalid:
            if "." not in name:
                del clean[name]
    return clean, tuple(invalid)


def extra_usage(extra: dict[str, Any] | None) -> WireUsage | None:
    """Usage a provider put outside ``usage``: Groq's ``x_groq.usage``, else ``None``.

    A recorded Groq stream carried usage only there (groq-stream-tool-call-x_groq-usage).
    """
    if not extra:
        return None
    groq = extra.get("x_groq")
    usage = groq.get("usage") if isinstance(groq, dict) else None
    return WireUsage.model_validate(usage) if isinstance(usage, dict) else None


# ---------------------------------------------------------------- tool calls


class FunctionCall(_Wire):
    """A complete function call: name and JSON-encoded arguments."""

    name: str = ""
    arguments: str = ""


class ToolCall(_Wire):
    """A complete tool call in a response message (``id`` may be ``""`` on Gemini)."""

    id: str | None = None
    type: str = "function"
    function: FunctionCall
    index: int | None = None  # DeepSeek sends it even outside streams


class FunctionCallDelta(_Wire):
    """A fragment of a streamed function call."""

    name: str | None = None
    arguments: str | None = None


class ToolCallDelta(_Wire):
    """A fragment of a streamed tool call; Mistral omits ``index``, Qwen sends empty ids."""

    index: int | None = None
    id: str | None = None
    type: str | None = None
    function: FunctionCallDelta | None = None


# ---------------------------------------------------------------- messages and requests


class ChatMessage(_Wire):
    """One conversation message; ``content`` may be text, a list of parts, or ``None``."""

    role: str
    content: str | list[Any] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    refusal: str | None = None
    reasoning_content: str | None = None

    @property
    def content_text(self) -> str:
        """The answer: ``content`` itself, or its text parts joined (thinking parts left out)."""
        return split_content(self.content)[0]

    @property
    def reasoning_text(self) -> str | None:
        """The model's reasoning under any provider spelling, or ``None``.

        ``reasoning_content`` (DeepSeek, xAI), ``reasoning`` (OpenRouter, Groq) or thinking parts
        inside ``content`` (mistral-stream-magistral-thinking-parts), resolved here once.
        """
        if self.reasoning_content:
            return self.reasoning_content
        extra = self.__pydantic_extra__
        other = extra.get("reasoning") if extra else None
        if isinstance(other, str) and other:
            return other
        return split_content(self.content)[1]


def split_content(content: str | list[Any] | None) -> tuple[str, str | None]:
    """Text and thinking of a message content that may be a list of typed parts."""
    if content is None:
        return "", None
    if isinstance(content, str):
        return content, None
    texts: list[str] = []
    thoughts: list[str] = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
            continue
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text":
            texts.append(part.get("text") or "")
        elif kind == "thinking":
            inner = part.get("thinking")
            if isinstance(inner, str):
                thoughts.append(inner)
            elif isinstance(inner, list):
                thoughts.extend(p.get("text") or "" for p in inner if isinstance(p, dict))
    return "".join(texts), ("".join(thoughts) or None)


class StreamOptions(_Wire):
    """``stream_options``: ask for a final usage chunk."""

    include_usage: bool | None = None


class ChatRequest(_Wire):
    """A ``POST /chat/completions`` body; anything not named here is passed through.

    Numbers are checked before sending: NaN or infinity anywhere at the top level (JSON would
    carry it as ``null``, silently changing the request) and ``max_tokens`` below 1 are refused.
    """

    model_config = ConfigDict(allow_inf_nan=False)

    model: str
    messages: list[ChatMessage]
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    n: int | None = None
    seed: int | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None
    user: str | None = None

    @model_validator(mode="after")
    def _finite_extras(self) -> ChatRequest:
        """Passed-through numbers (``frequency_penalty``, ...) must be finite too."""
        extra = self.__pydantic_extra__
        if extra:
            for name, value in extra.items():
                if isinstance(value, float) and not math.isfinite(value):
                    raise ValueError(f"{name} must be a finite number (got {value})")
        return self

    def to_json(self) -> bytes:
        """Serialize for the wire: ``None`` fields left out, extras kept."""
        return self.__pydantic_serializer__.to_json(self, exclude_none=True)


# ---------------------------------------------------------------- responses


class Choice(_Wire):
    """One choice of a non-streaming response."""

    index: int = 0
    message: ChatMessage
    finish_reason: str | None = None
    logprobs: Any = None


class ChatCompletion(_Wire):
    """A non-streaming response, or the result accumulated from a stream."""

    id: str = ""
    object: str = "chat.completion"
    created: Seconds = None
    model: str = ""
    choices: list[Choice] = []
    usage: WireUsage | None = None
    system_fingerprint: str | None = None
    _call_info: Any = PrivateAttr(default=None)

    @property
    def call_info(self) -> Any:
        """The client's ``CallInfo`` (usage, cost, attribution); ``None`` if built by hand."""
        private = self.__pydantic_private__  # not self._call_info: pydantic's __getattr__, ~2 µs
        return None if private is None else private.get("_call_info")

    @property
    def message(self) -> ChatMessage:
        """The first choice's message (an empty assistant message if there is none)."""
        if self.choices:
            return self.choices[0].message
        return ChatMessage(role="assistant", content=None)

    @property
    def text(self) -> str:
        """The first choice's text content (parts joined, ``""`` when there is none)."""
        return self.message.content_text


class ChunkDelta(_Wire):
    """What one stream chunk adds to a choice; every field may be absent."""

    role: str | None = None
    content: str | list[Any] | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None
    tool_calls: list[ToolCallDelta] | None = None
    refusal: str | None = None


class ChunkChoice(_Wire):
    """One choice of a stream chunk; ``delta`` may be missing or null."""

    index: int = 0
    delta: ChunkDelta | None = None
    finish_reason: str | None = None


class ErrorDetail(_Wire):
    """A provider's error object: ``code`` may be a string or a number."""

    message: str = ""
    type: str | None = None
    code: str | int | None = None
    param: str | None = None


class ChatCompletionChunk(_Wire):
    """One ``data:`` frame of a stream; Azure's first chunk has empty id and model."""

    id: str | None = None
    object: str | None = None
    created: Any = None
    """As sent (not checked per chunk); the accumulated completion holds it as ``Seconds``."""
    model: str | None = None
    choices: list[ChunkChoice] = []
    usage: WireUsage | None = None
    system_fingerprint: str | None = None
    error: ErrorDetail | None = None


class ErrorBody(_Wire):
    """An error response body: ``{"error": {...}}``."""

    error: ErrorDetail | str | None = None


# ---------------------------------------------------------------- models endpoint


class ModelInfo(_Wire):
    """One entry of ``GET /models``."""

    id: str
    object: str = "model"
    created: Seconds = None
    owned_by: str | None = None


class ModelList(_Wire):
    """The ``GET /models`` response."""

    object: str = "list"
    data: list[ModelInfo] = []


CHUNK_ADAPTER: TypeAdapter[ChatCompletionChunk] = TypeAdapter(ChatCompletionChunk)
Role = Literal["system", "user", "assistant", "tool", "developer"]
