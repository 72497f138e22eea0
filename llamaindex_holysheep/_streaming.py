"""Stream chunks to cumulative ``ChatResponse`` deltas, grown by appends, never rebuilt.

Shared by ``stream_chat`` and ``astream_chat``. The core's accumulator already folds each chunk
in (provider spellings, Mistral's index-less and Qwen's id-less tool-call deltas), so this module
reads only what it appended since the previous chunk: new text and reasoning pieces, and the tool
calls whose argument pieces grew. FunctionAgent needs those partial tool calls on every chunk.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Any

from holysheep.integration import ToolCallIndexer
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    MessageRole,
    ToolCallBlock,
)

from ._convert import call_dict, message_blocks, response_from_completion

if TYPE_CHECKING:
    from holysheep import AsyncChatStream, ChatCompletionChunk, ChatStream
    from holysheep.integration import ToolCallProgress

__all__ = ["StreamState"]

_ASSISTANT = MessageRole.ASSISTANT


class _SeenCall:
    """One tool call as last seen: argument pieces consumed, the block and dict built from them."""

    __slots__ = ("arguments", "block", "pieces", "wire")

    def __init__(self) -> None:
        self.pieces = 0
        self.arguments = ""
        self.block: ToolCallBlock | None = None
        self.wire: dict[str, Any] = {}


class StreamState:
    """What one stream has produced so far, as the LlamaIndex message the caller sees.

    Per chunk the work is proportional to what the chunk carries, not to what came before: only
    the tool calls the chunk names are rebuilt (found with the core's ``ToolCallIndexer``, fed the
    same fragments as the core's accumulator), and each response's message is assembled without
    re-validating the blocks already built. A stream of thousands of tool-call deltas stays linear.
    """

    __slots__ = (
        "_indexer",
        "_order",
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
        self._indexer = ToolCallIndexer()
        self._tools: dict[int, _SeenCall] = {}
        self._order: list[int] = []  # tool-call indices in the order the blocks are listed
        self._tool_blocks: list[ToolCallBlock] = []
        self._tool_dicts: list[dict[str, Any]] = []

    def update(
        self, stream: ChatStream | AsyncChatStream, chunk: ChatCompletionChunk
    ) -> ChatResponse | None:
        """The response after ``chunk``, or ``None`` when it added no text, thinking or tool call.

        Chunks that only carry a role, a finish reason or usage are skipped; the usage reaches the
        caller on the final response (see ``finish``).
        """
        touched = self._touched(chunk)
        parts = stream.progress(0)  # choice 0 so far, as append-only pieces
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
        tools_changed = bool(touched) and self._update_tools(parts.tool_calls, touched)
        if not (delta or thinking or tools_changed):
            return None
        # model_construct: the blocks are built and valid; validating them again per chunk made
        # a stream of many tool calls quadratic. The lists are fresh copies, so a response kept
        # by the caller never changes under it.
        message = ChatMessage.model_construct(
            role=_ASSISTANT,
            blocks=message_blocks(self._text, self._reasoning, self._tool_blocks),
            additional_kwargs={"tool_calls": list(self._tool_dicts)} if self._tool_dicts else {},
        )
        kwargs = {"thinking_delta": thinking} if thinking else {}
        return ChatResponse(message=message, delta=delta, raw=chunk, additional_kwargs=kwargs)

    def _touched(self, chunk: ChatCompletionChunk) -> list[int]:
        """Indices of choice 0's tool calls that ``chunk`` adds to, as the core numbers them."""
        touched: list[int] = []
        for choice in chunk.choices:
            delta = choice.delta
            if choice.index or delta is None or not delta.tool_calls:
                continue
            for fragment in delta.tool_calls:
                fn = fragment.function
                name = fn.name if fn is not None else None
                index = self._indexer.place(fragment.index, fragment.id, name)[0]
                if index not in touched:
                    touched.append(index)
        return touched

    def _update_tools(self, calls: dict[int, ToolCallProgress], touched: list[int]) -> bool:
        """Rebuild the blocks of the touched tool calls that grew; True if any did."""
        changed = False
        tools = self._tools
        for index in touched:
            call = calls.get(index)
            if call is None:
                continue
            seen = tools.get(index)
            if seen is None:
                seen = tools[index] = _SeenCall()
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
            self._place(index, seen.block, seen.wire, new=block is None)
            changed = True
        return changed

    def _place(
        self, index: int, block: ToolCallBlock, wire: dict[str, Any], *, new: bool
    ) -> None:
        """Put a call's block and dict at its place in index order (appended in the usual case)."""
        order = self._order
        if not new:
            position = bisect.bisect_left(order, index)
            self._tool_blocks[position] = block
            self._tool_dicts[position] = wire
        elif not order or index > order[-1]:
            order.append(index)
            self._tool_blocks.append(block)
            self._tool_dicts.append(wire)
        else:  # a call that starts below the highest index so far (interleaved parallel calls)
            position = bisect.bisect_left(order, index)
            order.insert(position, index)
            self._tool_blocks.insert(position, block)
            self._tool_dicts.insert(position, wire)

    def finish(self, stream: ChatStream | AsyncChatStream) -> ChatResponse:
        """The last response of a stream: delta ``""``, the whole completion as ``raw``, usage.

        LlamaIndex hands only the last response to ``LLMChatEndEvent`` and callbacks, so usage,
        cost and the served model travel here, exactly as in a non-streamed ``chat``.
        """
        return response_from_completion(stream.completion, delta="")
