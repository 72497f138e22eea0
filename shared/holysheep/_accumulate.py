"""Turn stream chunks into one final ``ChatCompletion``: text, reasoning, tool calls, usage.

Sans-I/O and shared by the sync and async paths. Each quirk handled here names the fixture in
``tests/fixtures/upstream/`` that shows it. State grows by appends; nothing is rebuilt per chunk.
"""

from __future__ import annotations

from typing import Any

from ._tool_deltas import ToolCallIndexer
from .errors import StreamError, stream_error
from .wire import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessage,
    Choice,
    ChunkDelta,
    FunctionCall,
    ToolCall,
    ToolCallDelta,
    WireUsage,
    extra_usage,
    seconds,
    split_content,
)

__all__ = ["ChoiceProgress", "StreamAccumulator", "ToolCallProgress"]


class ToolCallProgress:
    """One tool call being assembled from deltas (read-only for callers).

    ``index`` is normalised (providers omit it or start at 1); ``arguments`` holds the pieces
    received so far, in order; ``id`` is the first non-empty id seen.
    """

    __slots__ = ("arguments", "extra", "id", "index", "name", "type")

    def __init__(self, index: int) -> None:
        self.index = index
        self.id: str | None = None
        self.type = "function"
        self.name = ""
        self.arguments: list[str] = []
        self.extra: dict[str, Any] = {}

    def build(self) -> ToolCall:
        return ToolCall(
            id=self.id or "",
            type=self.type,
            function=FunctionCall(name=self.name, arguments="".join(self.arguments)),
            **self.extra,
        )


class ChoiceProgress:
    """One choice being assembled (read-only for callers): append-only pieces, tool calls.

    ``content``, ``reasoning`` and ``refusal`` are lists of the pieces received so far;
    ``tool_calls`` maps a normalised index to its ``ToolCallProgress``. Adapters that need
    partial results per chunk read these instead of rebuilding the message each time.
    """

    __slots__ = (
        "_indexer",
        "content",
        "finish_reason",
        "reasoning",
        "reasoning_details",
        "refusal",
        "role",
        "tool_calls",
    )

    def __init__(self) -> None:
        self.role = "assistant"
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.reasoning_details: list[Any] = []
        self.refusal: list[str] = []
        self.tool_calls: dict[int, ToolCallProgress] = {}
        self.finish_reason: str | None = None
        self._indexer = ToolCallIndexer()

    def add(self, delta: ChunkDelta) -> None:
        content = delta.content
        if content.__class__ is str:  # the hot path: one text piece
            if content:
                self.content.append(content)
        elif content:
            self._add_parts(content)
        if delta.role:
            self.role = delta.role
        # DeepSeek/xAI/Z.ai say reasoning_content, OpenRouter/Groq say reasoning.
        reasoning = delta.reasoning_content or delta.reasoning
        if reasoning:
            self.reasoning.append(reasoning)
        if delta.tool_calls:
            for tc in delta.tool_calls:
                self._add_tool_call(tc)
        if delta.refusal:
            self.refusal.append(delta.refusal)
        extra = delta.__pydantic_extra__
        if extra:
            details = extra.get("reasoning_details")
            if details:  # openrouter-stream-reasoning-details
                self.reasoning_details.extend(details)

    def _add_parts(self, parts: list[Any]) -> None:
        """Content as a list of parts (mistral-stream-magistral-thinking-parts)."""
        text, thinking = split_content(parts)
        if text:
            self.content.append(text)
        if thinking:
            self.reasoning.append(thinking)

    def _add_tool_call(self, tc: ToolCallDelta) -> None:
        fn = tc.function
        index, new_id, new_name = self._indexer.place(tc.index, tc.id, fn.name if fn else None)
        parts = self.tool_calls.get(index)
        if parts is None:
            parts = self.tool_calls[index] = ToolCallProgress(index)
        if new_id:  # alibaba-qwen-stream-tool-call-empty-id: "" on continuations
            parts.id = new_id
        if tc.type:
            parts.type = tc.type
        if new_name:
            parts.name += new_name
        if fn is not None and fn.arguments:
            parts.arguments.append(fn.arguments)
        if tc.__pydantic_extra__:
            parts.extra.update(tc.__pydantic_extra__)

    def build(self, index: int) -> Choice:
        message: dict[str, Any] = {"role": self.role, "content": "".join(self.content) or None}
        if self.tool_calls:
            # gateway-anthropic-stream-tool-call-index-1: indices may start at 1; keep order.
            message["tool_calls"] = [self.tool_calls[i].build() for i in sorted(self.tool_calls)]
        elif message["content"] is None:
            message["content"] = ""
        if self.reasoning:
            message["reasoning_content"] = "".join(self.reasoning)
        if self.reasoning_details:
            message["reasoning_details"] = self.reasoning_details
        if self.refusal:
            message["refusal"] = "".join(self.refusal)
        return Choice(index=index, message=ChatMessage(**message), finish_reason=self.finish_reason)


class StreamAccumulator:
    """Collects chunks of one stream; ``result()`` gives the final ``ChatCompletion``.

    Usage is replaced, never added: providers send it once at the end
    (openai-stream-basic-include-usage), on the finish chunk (deepseek-stream-reasoning-content)
    or cumulatively on every chunk (perplexity-stream-usage-every-chunk).
    """

    __slots__ = (
        "choices",
        "chunks",
        "created",
        "done",
        "id",
        "model",
        "system_fingerprint",
        "usage",
    )

    def __init__(self) -> None:
        self.id = ""
        self.model = ""
        self.created: int | None = None
        self.system_fingerprint: str | None = None
        self.usage: WireUsage | None = None
        self.choices: dict[int, ChoiceProgress] = {}
        self.chunks = 0
        self.done = False

    def add(self, chunk: ChatCompletionChunk, request_id: str | None = None) -> None:
        """Fold one chunk in; raises ``StreamError`` when the chunk carries an error."""
        self.chunks += 1
        if not self.id and chunk.id:  # azure-stream-model-router: first chunk has id ""
            self.id = chunk.id
        model = chunk.model
        if model:
            self.model = model
        if not self.created:  # azure-stream-model-router: the first chunk says 0
            self.created = seconds(chunk.created)
        if chunk.system_fingerprint:
            self.system_fingerprint = chunk.system_fingerprint
        if chunk.usage is not None:
            self.usage = chunk.usage
        elif chunk.__pydantic_extra__:  # groq: usage only under x_groq (x_groq-usage fixture)
            self.usage = extra_usage(chunk.__pydantic_extra__) or self.usage
        choices = self.choices
        for choice in chunk.choices:
            parts = choices.get(choice.index)
            if parts is None:
                parts = choices[choice.index] = ChoiceProgress()
            delta = choice.delta
            if delta is not None:
                parts.add(delta)
            if choice.finish_reason:
                parts.finish_reason = choice.finish_reason
        if chunk.error is not None:  # openrouter-stream-keepalive-error-in-200
            raise self.error(chunk.error.model_dump(), request_id)

    @property
    def text(self) -> str:
        """Text received so far on the first choice."""
        parts = self.choices.get(0) or next(iter(self.choices.values()), None)
        return "".join(parts.content) if parts else ""

    @property
    def finished(self) -> bool:
        """True once ``[DONE]`` or a finish reason arrived."""
        return self.done or any(p.finish_reason for p in self.choices.values())

    @property
    def complete(self) -> bool:
        """True when the answer is whole: ``[DONE]`` arrived, or every choice has its finish
        reason (whatever happens to the connection afterwards; missing usage is estimated)."""
        if self.done:
            return True
        choices = self.choices.values()
        return bool(choices) and all(p.finish_reason for p in choices)

    def error(self, error: Any, request_id: str | None = None) -> StreamError:
        """A ``StreamError`` for an error frame, carrying what has arrived so far."""
        return stream_error(
            error,
            text=self.text,
            usage=self.usage,
            partial=self.result(),
            request_id=request_id,
        )

    def cut_short(self, request_id: str | None = None, cause: str = "") -> StreamError:
        """A ``StreamError`` for a stream that ended before ``[DONE]`` or a finish reason."""
        why = f" ({cause})" if cause else ""
        return StreamError(
            f"the stream ended early after {self.chunks} chunks{why}; the partial text and "
            "usage are on this error (.text, .usage). Retry the call to get a full answer.",
            request_id=request_id,
            text=self.text,
            usage=self.usage,
            partial=self.result(),
        )

    def result(self) -> ChatCompletion:
        """The completion assembled from every chunk so far."""
        choices = [self.choices[i].build(i) for i in sorted(self.choices)]
        return ChatCompletion(
            id=self.id,
            created=self.created,
            model=self.model,
            choices=choices,
            usage=self.usage,
            system_fingerprint=self.system_fingerprint,
        )
