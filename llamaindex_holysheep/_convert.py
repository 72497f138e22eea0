"""Translation between LlamaIndex messages and the relay's wire format, in both directions.

Sans-I/O and shared by every sync/async twin of ``HolySheep``: messages to wire dicts, a core
``ChatCompletion`` to a ``ChatResponse`` (usage and cost included), tool choices and tool calls.
Models are built with their plain constructors: with pydantic-core these are faster than
``model_construct`` (a Python loop over fields and defaults), which matters once per chunk.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import (
    AudioBlock,
    CachePoint,
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    DocumentBlock,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.llms.utils import parse_partial_json

if TYPE_CHECKING:
    from holysheep import ChatCompletion
    from holysheep.calls import CallInfo
    from holysheep.wire import ChatMessage as WireMessage

__all__ = [
    "call_dict",
    "completion_response",
    "message_blocks",
    "response_from_completion",
    "tool_choice_for",
    "tool_selections",
    "usage_kwargs",
    "wire_message",
    "wire_messages",
]

_ASSISTANT = MessageRole.ASSISTANT
# Roles other chat APIs use for the assistant (Gemini "model", Cohere "chatbot").
_ROLES = {
    MessageRole.MODEL: "assistant",
    MessageRole.CHATBOT: "assistant",
    MessageRole.FUNCTION: "tool",
}
_STRING_ONLY_ROLES = frozenset({"assistant", "tool", "system", "developer"})
_TOOL_CHOICE_WORDS = frozenset({"auto", "none", "required"})


# ---------------------------------------------------------------- LlamaIndex -> wire


def wire_messages(
    messages: Sequence[ChatMessage], reasoning_field: str | None = None
) -> list[dict[str, Any]]:
    """LlamaIndex messages as wire dicts for ``HolySheepClient.chat``.

    ``reasoning_field`` (from the catalogue) names the field that carries an assistant's
    thinking back during a tool loop, where DeepSeek requires it
    (deepseek-chat-reasoning-parallel-tool-calls).
    """
    return [wire_message(message, reasoning_field) for message in messages]


def wire_message(message: ChatMessage, reasoning_field: str | None = None) -> dict[str, Any]:
    """One LlamaIndex message as a wire dict (text, images, audio, files, tool calls)."""
    role = _ROLES.get(message.role, message.role.value)
    blocks = message.blocks
    extra = message.additional_kwargs
    if not extra and len(blocks) == 1 and type(blocks[0]) is TextBlock:  # the common case
        return {"role": role, "content": blocks[0].text}
    texts: list[str] = []
    parts: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    thinking: list[str] = []
    for block in blocks:
        if isinstance(block, TextBlock):
            texts.append(block.text)
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ToolCallBlock):
            calls.append(call_dict(block.tool_call_id, block.tool_name, block.tool_kwargs))
        elif isinstance(block, ThinkingBlock):
            if block.content:
                thinking.append(block.content)
        elif not isinstance(block, CachePoint):
            parts.append(_media_part(block))
    text_only = len(parts) == len(texts)
    content: Any = "".join(texts) if text_only or role in _STRING_ONLY_ROLES else parts
    if not calls and extra.get("tool_calls"):  # messages made by other LLM integrations
        calls = [_foreign_call(call) for call in extra["tool_calls"]]
    wire: dict[str, Any] = {"role": role, "content": content}
    if calls:
        wire["tool_calls"] = calls
        if content == "":
            wire["content"] = None
        if thinking and reasoning_field:
            wire[reasoning_field] = "".join(thinking)
    for key in ("tool_call_id", "name"):
        if extra.get(key) is not None:
            wire[key] = extra[key]
    return wire


def _media_part(block: Any) -> dict[str, Any]:
    """An image, audio or file block as an OpenAI content part."""
    if isinstance(block, ImageBlock):
        image: dict[str, Any] = {"url": str(block.url) if block.url else block.inline_url()}
        if block.detail:
            image["detail"] = block.detail
        return {"type": "image_url", "image_url": image}
    if isinstance(block, AudioBlock):
        data = block.resolve_audio(as_base64=True).read().decode("utf-8")
        return {"type": "input_audio", "input_audio": {"data": data, "format": block.format}}
    if isinstance(block, DocumentBlock):
        return {"type": "file", "file": {"filename": block.title, "file_data": block.inline_url()}}
    raise ValueError(
        f"{type(block).__name__} cannot be sent to the HolySheep relay; use text, image, "
        "audio or document blocks"
    )


def call_dict(call_id: str | None, name: str, arguments: Any) -> dict[str, Any]:
    """A wire tool call; dict arguments are encoded as the JSON string the API expects.

    Also the shape kept in ``message.additional_kwargs["tool_calls"]``, where LlamaIndex's
    streaming structured output (``process_streaming_objects``) looks for tool calls.
    """
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments, ensure_ascii=False)
    return {
        "id": call_id or "",
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def _foreign_call(call: Any) -> dict[str, Any]:
    """A tool call kept in ``additional_kwargs`` by another integration (dict or SDK object)."""
    if not isinstance(call, Mapping):
        call = call.model_dump() if hasattr(call, "model_dump") else dict(call)
    function = call.get("function") or {}
    return call_dict(call.get("id"), function.get("name", ""), function.get("arguments", ""))


def tool_choice_for(choice: str | dict[str, Any] | None, required: bool) -> str | dict[str, Any]:
    """The wire ``tool_choice``: a tool name forces that tool; ``None`` means auto or required."""
    if choice is None:
        return "required" if required else "auto"
    if isinstance(choice, str) and choice not in _TOOL_CHOICE_WORDS:
        return {"type": "function", "function": {"name": choice}}
    return choice


# ---------------------------------------------------------------- wire -> LlamaIndex


def message_blocks(
    text: str, reasoning: str | None, tool_blocks: Sequence[ToolCallBlock]
) -> list[Any]:
    """Blocks of an assistant message: thinking, then text (unless only tools), then tool calls."""
    blocks: list[Any] = []
    if reasoning:
        blocks.append(ThinkingBlock(content=reasoning))
    if text or not tool_blocks:
        blocks.append(TextBlock(text=text))
    blocks.extend(tool_blocks)
    return blocks


def _split_content(message: WireMessage) -> tuple[str, str | None]:
    """Text and reasoning of a wire message, under any provider's spelling (the core resolves)."""
    return message.content_text, message.reasoning_text


def response_from_completion(completion: ChatCompletion, delta: str | None = None) -> ChatResponse:
    """A ``ChatResponse`` for a finished call: message blocks, ``raw`` and usage in kwargs."""
    wire = completion.message
    text, reasoning = _split_content(wire)
    calls = wire.tool_calls or ()
    tool_blocks = [
        ToolCallBlock(
            tool_call_id=call.id or "",
            tool_name=call.function.name,
            tool_kwargs=call.function.arguments,
        )
        for call in calls
    ]
    extra: dict[str, Any] = {}
    if calls:
        extra["tool_calls"] = [
            call_dict(call.id, call.function.name, call.function.arguments) for call in calls
        ]
    if wire.refusal:
        extra["refusal"] = wire.refusal
    message = ChatMessage(
        role=_ASSISTANT,
        blocks=message_blocks(text, reasoning, tool_blocks),
        additional_kwargs=extra,
    )
    kwargs = usage_kwargs(completion.call_info, completion)
    return ChatResponse(message=message, raw=completion, delta=delta, additional_kwargs=kwargs)


def usage_kwargs(info: CallInfo | None, completion: ChatCompletion) -> dict[str, Any]:
    """Usage, cost and attribution for ``ChatResponse.additional_kwargs``.

    ``prompt_tokens``/``completion_tokens``/``total_tokens`` are the keys TokenCountingHandler
    and tracers read; the rest comes from ``CallInfo.as_metadata()``: served ``model_name``,
    ``cost`` (decimal strings), ``attempts``, ``task`` and, when routed, the ``route`` decision.
    """
    out: dict[str, Any] = {}
    if info is None:
        if completion.usage is not None:
            wire = completion.usage
            out = {
                "prompt_tokens": wire.prompt_tokens or 0,
                "completion_tokens": wire.completion_tokens or 0,
                "total_tokens": wire.total_tokens or 0,
            }
        return out
    usage = info.usage
    if usage is not None:
        out = {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
            "cached_tokens": usage.cached_tokens,
            "reasoning_tokens": usage.reasoning_tokens,
        }
    out.update(info.as_metadata())
    return out


def completion_response(response: ChatResponse) -> CompletionResponse:
    """A ``ChatResponse`` as a ``CompletionResponse`` (text, delta, raw and kwargs kept)."""
    return CompletionResponse(
        text=response.message.content or "",
        delta=response.delta,
        raw=response.raw,
        additional_kwargs=response.additional_kwargs,
    )


def tool_selections(blocks: Iterable[Any], foreign: Sequence[Any] = ()) -> list[ToolSelection]:
    """Tool calls of a message as ``ToolSelection`` (partial JSON arguments allowed).

    Agents call this on every streamed chunk, so half-received arguments must parse.
    ``foreign`` are ``additional_kwargs["tool_calls"]`` left by other integrations.
    """
    selections = [
        ToolSelection(
            tool_id=block.tool_call_id or "",
            tool_name=block.tool_name,
            tool_kwargs=_arguments(block.tool_kwargs),
        )
        for block in blocks
        if isinstance(block, ToolCallBlock)
    ]
    if not selections:
        for call in foreign:
            wire = _foreign_call(call)
            selections.append(
                ToolSelection(
                    tool_id=wire["id"],
                    tool_name=wire["function"]["name"],
                    tool_kwargs=_arguments(wire["function"]["arguments"]),
                )
            )
    return selections


def _arguments(arguments: Any) -> dict[str, Any]:
    """Tool arguments as a dict; partial JSON is completed, anything unparsable gives ``{}``."""
    if isinstance(arguments, dict):
        return arguments
    if not arguments:
        return {}
    try:
        parsed = parse_partial_json(arguments)
    except (ValueError, TypeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}
