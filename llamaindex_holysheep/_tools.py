"""Tool calling for ``HolySheep``: the request for a tool call and the tool calls in a response.

``FunctionCallingLLM`` drives the loop (``chat_with_tools``, ``predict_and_call``, the agents);
this mixin only shapes the request (tool specs, ``tool_choice``) and reads tool calls back out of
``ToolCallBlock``s, partial ones included, since agents read them on every streamed chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole, ToolCallBlock

from ._convert import tool_choice_for, tool_selections

if TYPE_CHECKING:
    from llama_index.core.llms.function_calling import FunctionCallingLLM
    from llama_index.core.llms.llm import ToolSelection
    from llama_index.core.tools.types import BaseTool

    _Base = FunctionCallingLLM
else:
    _Base = object

__all__ = ["ToolCallingMixin"]


class ToolCallingMixin(_Base):
    """``_prepare_chat_with_tools``, response validation and ``get_tool_calls_from_response``."""

    if TYPE_CHECKING:
        model: str
        strict: bool

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The ``chat`` arguments for a tool call: messages, tool specs and ``tool_choice``.

        ``parallel_tool_calls`` is sent only to forbid parallel calls, since some providers
        reject the field (run-llama/llama_index#20865). ``strict`` (default: the LLM's) marks
        the specs strict, as OpenAI's integration does.
        """
        messages = list(chat_history or ())
        if isinstance(user_msg, str):
            user_msg = ChatMessage(role=MessageRole.USER, content=user_msg)
        if user_msg is not None:
            messages.append(user_msg)
        request: dict[str, Any] = {"messages": messages, **kwargs}
        if tools:
            specs = [tool.metadata.to_openai_tool(skip_length_check=True) for tool in tools]
            if self.strict if strict is None else strict:
                for spec in specs:
                    if spec.get("type") == "function":
                        spec["function"]["strict"] = True
                        spec["function"]["parameters"]["additionalProperties"] = False
            request["tools"] = specs
            request["tool_choice"] = tool_choice_for(tool_choice, tool_required)
            if not allow_parallel_tool_calls:
                request["parallel_tool_calls"] = False
        return request

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        """Keep only the first tool call when parallel calls were not allowed."""
        message = response.message
        calls = [b for b in message.blocks if isinstance(b, ToolCallBlock)]
        if not allow_parallel_tool_calls and len(calls) > 1:
            dropped = set(map(id, calls[1:]))
            message.blocks = [b for b in message.blocks if id(b) not in dropped]
            if "tool_calls" in message.additional_kwargs:
                message.additional_kwargs["tool_calls"] = message.additional_kwargs["tool_calls"][
                    :1
                ]
        return response

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        """The tool calls of a response, partial arguments included (agents call it per chunk)."""
        message = response.message
        selections = tool_selections(
            message.blocks, message.additional_kwargs.get("tool_calls") or ()
        )
        if not selections and error_on_no_tool_call:
            raise ValueError(
                f"expected at least one tool call from {self.model}, got none; the model "
                f"answered {(message.content or '')[:200]!r}"
            )
        return selections
