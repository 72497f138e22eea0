"""Stream chunks to cumulative ``ChatResponse`` deltas, grown by appends, never rebuilt.

Shared by ``stream_chat`` and ``astream_chat``. The core's accumulator already folds each chunk
in (provider spellings, Mistral's index-less and Qwen's id-less tool-call deltas), so this module
reads only what it appended since the previous chunk: new text and reasoning pieces, and the tool
calls whose argument pieces grew. FunctionAgent needs those partial tool calls on every chunk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    MessageRole,
    ToolCallBlock,
)

from ._convert import call_dict, message_blocks, response_from_completion

if TYPE_CHECKING:
    from holysheep import AsyncChatStream, ChatCompletionChunk, ChatStream

__all__ = ["StreamState"]

_ASSISTANT = MessageRole.ASSISTANT


def _first_choice(stream: ChatStream | AsyncChatStream) -> Any:
    """What choice 0 has received so far (``None`` before it has any), read without rebuilding:
    append-only ``content``/``reasoning`` pieces and ``tool_calls`` by normalised index."""
    return stream.progress(0)


class _ToolCallProgress:
    """One tool call as last seen: argument pieces consumed, the block and dict built from them."""

    __slots__ = ("arguments", "block", "pieces", "wire")

    def __init__(self) -> None:
        self.pieces = 0
        self.arguments = ""
        self.block: ToolCallBlock | None = None
        self.wire: dict[str, Any] = {}


class StreamState:
    """What one stream has produced so far, as the LlamaIndex message the caller sees."""

    __slots__ = (
        "_reasoning",
        "_reasoning_pieces",
        "_text",
        "_text_pieces",
        "_tool_blocks",
        "_tool_dicts",
        "_tools",
    )

    def __init__(self) -> None:
        self._text = ""
        self._text_pieces = 0
        self._reasoning = ""
        self._reasoning_pieces = 0
        self._tools: dict[int, _ToolCallProgress] = {}
        self._tool_blocks: list[ToolCallBlock] = []
        self._tool_dicts: list[dict[str, Any]] = []

    def update(
        self, stream: ChatStream | AsyncChatStream, chunk: ChatCompletionChunk
    ) -> ChatResponse | None:
        """The response after ``chunk``, or ``None`` when it added no text, thinking or tool call.

        Chunks that only carry a role, a finish reason or usage are skipped; the usage reaches the
        caller on the final response (see ``finish``).
        """
        parts = _first_choice(stream)
        if parts is None:
            return None
        delta = ""
        pieces = parts.content
        if len(pieces) > self._text_pieces:
            delta = "".join(pieces[self._text_pieces :])
            self._text_pieces = len(pieces)
            self._text += delta
        thinking = ""
        pieces = parts.reasoning
        if len(pieces) > self._reasoning_pieces:
            thinking = "".join(pieces[self._reasoning_pieces :])
            self._reasoning_pieces = len(pieces)
            self._reasoning += thinking
        tools_changed = bool(parts.tool_calls) and self._update_tools(parts.tool_calls)
        if not (delta or thinking or tools_changed):
            return None
        message = ChatMessage(
            role=_ASSISTANT,
            blocks=message_blocks(self._text, self._reasoning, self._tool_blocks),
            additional_kwargs={"tool_calls": list(self._tool_dicts)} if self._tool_dicts else {},
        )
        kwargs = {"thinking_delta": thinking} if thinking else {}
        return ChatResponse(message=message, delta=delta, raw=chunk, additional_kwargs=kwargs)

    def _update_tools(self, calls: dict[int, Any]) -> bool:
        """Rebuild the blocks of tool calls whose name, id or arguments grew; True if any did."""
        changed = False
        tools = self._tools
        for index, call in calls.items():
            seen = tools.get(index)
            if seen is None:
                seen = tools[index] = _ToolCallProgress()
            arguments = call.arguments
            block = seen.block
            if (
                block is not None
                and len(arguments) == seen.pieces
                and block.tool_name == call.name
                and block.tool_call_id == (call.id or "")
            ):
                continue
            if len(arguments) > seen.pieces:
                seen.arguments += "".join(arguments[seen.pieces :])
                seen.pieces = len(arguments)
            seen.block = ToolCallBlock(
                tool_call_id=call.id or "", tool_name=call.name, tool_kwargs=seen.arguments
            )
            seen.wire = call_dict(call.id, call.name, seen.arguments)
            changed = True
        if changed:
            # gateway-anthropic-stream-tool-call-index-1: indices may start at 1; keep order.
            order = sorted(tools)
            self._tool_blocks = [tools[i].block for i in order]  # type: ignore[misc]
            self._tool_dicts = [tools[i].wire for i in order]
        return changed

    def finish(self, stream: ChatStream | AsyncChatStream) -> ChatResponse:
        """The last response of a stream: delta ``""``, the whole completion as ``raw``, usage.

        LlamaIndex hands only the last response to ``LLMChatEndEvent`` and callbacks, so usage,
        cost and the served model travel here, exactly as in a non-streamed ``chat``.
        """
        return response_from_completion(stream.completion, delta="")
