"""The core's stream chunks to LangChain ``ChatGenerationChunk`` objects, one stream at a time.

Sans-I/O and shared by ``_stream`` and ``_astream``. Each wire chunk becomes at most one
``AIMessageChunk`` built directly from the parsed delta (no dict round trip); empty deltas are
skipped. Everything that is known only once the stream ends (served model, finish reason, usage,
cost, route, the structured ``reasoning_details``) goes on one final chunk, so LangChain's merge
never concatenates two copies of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from holysheep.integration import ToolCallIndexer
from langchain_core.messages import AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk

from ._convert import response_metadata, split_parts, usage_metadata

if TYPE_CHECKING:
    from holysheep import AsyncChatStream, ChatCompletionChunk, ChatStream
    from holysheep.wire import ToolCallDelta
    from langchain_core.messages import ToolCallChunk

__all__ = ["ChunkTranslator"]


class ChunkTranslator:
    """State of one stream: tool-call indices and the finish reason seen so far."""

    __slots__ = ("_tools", "finish_reason")

    def __init__(self) -> None:
        self._tools: ToolCallIndexer | None = None
        self.finish_reason: str | None = None

    def translate(self, chunk: ChatCompletionChunk) -> ChatGenerationChunk | None:
        """The LangChain chunk for one wire chunk of choice 0; ``None`` when it adds nothing."""
        choices = chunk.choices
        if not choices:
            return None  # the usage-only chunk: its numbers go on the final chunk
        choice = choices[0]
        if choice.index:
            return None  # n > 1: LangChain streams one choice
        if choice.finish_reason:
            self.finish_reason = choice.finish_reason
        delta = choice.delta
        if delta is None:
            return None
        content = delta.content
        kwargs: dict[str, Any] = {}
        if content is None:
            text = ""
        elif isinstance(content, str):
            text = content
        else:
            text, thinking = split_parts(content)
            if thinking:
                kwargs["reasoning_content"] = thinking
        reasoning = delta.reasoning_content or delta.reasoning
        if reasoning:
            kwargs["reasoning_content"] = reasoning
            if delta.reasoning:
                kwargs["reasoning"] = delta.reasoning
        if delta.refusal:
            kwargs["refusal"] = delta.refusal
        if delta.tool_calls:
            message = AIMessageChunk(
                content=text,
                additional_kwargs=kwargs,
                tool_call_chunks=self._tool_call_chunks(delta.tool_calls),
            )
        elif text or kwargs:
            message = AIMessageChunk(content=text, additional_kwargs=kwargs)
        else:
            return None
        return ChatGenerationChunk(message=message)

    def _tool_call_chunks(self, deltas: list[ToolCallDelta]) -> list[ToolCallChunk]:
        """``tool_call_chunks`` with indices LangChain can merge (see ``ToolCallIndexer``)."""
        indexer = self._tools
        if indexer is None:
            indexer = self._tools = ToolCallIndexer()
        out: list[ToolCallChunk] = []
        for delta in deltas:
            fn = delta.function
            name = fn.name if fn is not None else None
            index, call_id, name = indexer.place(delta.index, delta.id, name)
            out.append(
                {
                    "name": name,
                    "args": fn.arguments if fn is not None else None,
                    "id": call_id,
                    "index": index,
                    "type": "tool_call_chunk",
                }
            )
        return out

    def last(self, stream: ChatStream | AsyncChatStream) -> ChatGenerationChunk:
        """The closing chunk: usage, served model, finish reason, cost, completion id, reasoning."""
        completion = stream.completion
        info = stream.call_info
        kwargs: dict[str, Any] = {}
        if completion.choices:
            details = (completion.choices[0].message.model_extra or {}).get("reasoning_details")
            if details:
                kwargs["reasoning_details"] = details
        metadata = response_metadata(
            info,
            completion_id=completion.id,
            finish_reason=self.finish_reason,
            system_fingerprint=completion.system_fingerprint,
            model=completion.model,
        )
        message = AIMessageChunk(
            content="",
            additional_kwargs=kwargs,
            # an estimate (the relay reported none) stays out of the slot, as in chat_result
            usage_metadata=usage_metadata(
                info.usage if info is not None and completion.usage is not None else None
            ),
            response_metadata=metadata,
            chunk_position="last",
        )  # no id: langchain-core gives the message its own (the completion id is metadata)
        return ChatGenerationChunk(message=message)
