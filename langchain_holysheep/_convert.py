"""LangChain messages to wire messages, and the core's completions to ``AIMessage``.

Sans-I/O and shared by the sync and async paths. Usage and cost come from the core's
``CallInfo`` (priced once, in the core); this module only moves them into LangChain's slots:
``usage_metadata`` and ``response_metadata``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from holysheep.calls import cost_metadata
from holysheep.wire import split_content
from langchain_core.messages import AIMessage, BaseMessage, convert_to_openai_messages
from langchain_core.messages.ai import InputTokenDetails, OutputTokenDetails, UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatResult

if TYPE_CHECKING:
    from holysheep import ChatCompletion, Usage
    from holysheep.calls import CallInfo
    from holysheep.wire import ChatMessage, ToolCall
    from langchain_core.messages import InvalidToolCall
    from langchain_core.messages import ToolCall as LCToolCall

__all__ = [
    "PROVIDER",
    "chat_result",
    "fit_to_window",
    "reasoning_kwargs",
    "response_metadata",
    "split_parts",
    "to_wire_messages",
    "usage_metadata",
]

PROVIDER = "holysheep"
"""``ls_provider`` and ``response_metadata["model_provider"]``: kept identical on purpose."""


def to_wire_messages(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """Messages in the chat-completions shape (reasoning from earlier turns is not replayed)."""
    return convert_to_openai_messages(messages)  # type: ignore[return-value]


def fit_to_window(messages: Sequence[BaseMessage], max_prompt_tokens: int) -> list[BaseMessage]:
    """The newest messages whose estimated tokens fit ``max_prompt_tokens``, system prompt kept.

    langchain-core's ``trim_messages`` (``strategy="last"``, ``include_system=True``, kept history
    starting on a human turn), counting with the core's estimate (``holysheep.tokens``, the one
    the router and budgets use). When even the latest message cannot fit, the messages are
    returned unchanged: dropping the question would be worse than the relay's context-length
    error.
    """
    from holysheep.tokens import estimate_message_tokens
    from langchain_core.messages import trim_messages

    priming = estimate_message_tokens(())
    sizes: dict[int, int] = {}

    def count(batch: list[BaseMessage]) -> int:  # called on slices: each message sized once
        total = 0
        for message in batch:
            size = sizes.get(id(message))
            if size is None:
                wire = to_wire_messages([message])
                size = sizes[id(message)] = estimate_message_tokens(wire) - priming
            total += size
        return total

    budget = max_prompt_tokens - priming
    messages = list(messages)
    if count(messages) <= budget:
        return messages
    kept = trim_messages(
        messages,
        max_tokens=budget,
        token_counter=count,
        strategy="last",
        include_system=True,
        start_on="human",
    )
    if not kept or kept[-1] is not messages[-1]:
        return messages
    return kept


def usage_metadata(usage: Usage | None) -> UsageMetadata | None:
    """LangChain usage (cache reads and reasoning in the details) from the core's ``Usage``."""
    if usage is None:
        return None
    return UsageMetadata(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
        input_token_details=InputTokenDetails(cache_read=usage.cached_tokens),
        output_token_details=OutputTokenDetails(reasoning=usage.reasoning_tokens),
    )


def response_metadata(
    info: CallInfo | None,
    *,
    completion_id: str | None,
    finish_reason: str | None,
    system_fingerprint: str | None,
    model: str | None = None,
) -> dict[str, Any]:
    """``response_metadata``: served model, finish reason, id, cost, attribution, route."""
    metadata: dict[str, Any] = {
        "model_provider": PROVIDER,
        "model_name": info.model if info is not None else model,
        "finish_reason": finish_reason,
        "id": completion_id or None,
        "system_fingerprint": system_fingerprint,
    }
    if info is not None:
        cost = info.cost
        metadata["cost"] = cost_metadata(cost)  # floats; the core keeps Decimal
        if info.estimated:  # usage (so cost) estimated: the relay reported none, or nonsense
            metadata["estimated"] = True
            if info.usage is not None:  # kept out of usage_metadata; cost handlers count it
                metadata["estimated_usage"] = usage_metadata(info.usage)
        metadata["requested_model"] = info.requested_model
        metadata["attempts"] = info.attempts
        who = info.attribution
        for key in ("task", "user", "app"):
            value = getattr(who, key)
            if value is not None:
                metadata[key] = value
        if info.route is not None:
            metadata["route"] = info.route.as_dict()  # JSON-safe, so messages serialize
    return metadata


def split_parts(parts: list[Any]) -> tuple[str, str]:
    """Text and reasoning from content given as parts (mistral-stream-magistral-thinking-parts)."""
    text, thinking = split_content(parts)
    return text, thinking or ""


def reasoning_kwargs(
    reasoning_content: str | None, reasoning: str | None, details: Any
) -> dict[str, Any]:
    """``additional_kwargs`` for reasoning: ``reasoning_content`` always, provider keys as sent.

    DeepSeek, xAI and Z.ai say ``reasoning_content``; OpenRouter and Groq say ``reasoning``
    (openrouter-stream-reasoning-details), with structured ``reasoning_details`` beside it.
    """
    kwargs: dict[str, Any] = {}
    text = reasoning_content or reasoning
    if text:
        kwargs["reasoning_content"] = text
    if reasoning:
        kwargs["reasoning"] = reasoning
    if details:
        kwargs["reasoning_details"] = details
    return kwargs


def _tool_calls(raw: list[ToolCall]) -> tuple[list[LCToolCall], list[InvalidToolCall]]:
    """Parsed tool calls, and those whose arguments are not valid JSON."""
    # Imported on first use: output_parsers adds ~20 ms to `import langchain_holysheep`.
    from langchain_core.output_parsers.openai_tools import make_invalid_tool_call, parse_tool_call

    calls: list[LCToolCall] = []
    invalid: list[InvalidToolCall] = []
    for call in raw:
        fn = call.function
        wire = {"id": call.id, "function": {"name": fn.name, "arguments": fn.arguments}}
        try:
            parsed = parse_tool_call(wire, return_id=True)
        except Exception as exc:  # OutputParserException: arguments are not JSON
            invalid.append(make_invalid_tool_call(wire, str(exc)))
        else:
            if parsed is not None:
                calls.append(parsed)  # type: ignore[arg-type]
    return calls, invalid


def _ai_message(
    message: ChatMessage, usage: UsageMetadata | None, metadata: dict[str, Any]
) -> AIMessage:
    content = message.content
    extra = message.model_extra or {}
    thinking = None
    if content is None:
        content = ""
    elif isinstance(content, list):
        content, thinking = split_parts(content)
    kwargs = reasoning_kwargs(
        message.reasoning_content or thinking,
        extra.get("reasoning"),
        extra.get("reasoning_details"),
    )
    if message.refusal:
        kwargs["refusal"] = message.refusal
    calls, invalid = _tool_calls(message.tool_calls) if message.tool_calls else ([], [])
    return AIMessage(
        content=content,
        additional_kwargs=kwargs,
        tool_calls=calls,
        invalid_tool_calls=invalid,
        usage_metadata=usage,
        response_metadata=metadata,
    )


def chat_result(completion: ChatCompletion) -> ChatResult:
    """One ``ChatGeneration`` per choice, each with the call's usage and metadata.

    The completion id goes in ``response_metadata["id"]``, never in ``AIMessage.id``: relays that
    replay cached answers repeat ids, and LangGraph's ``add_messages`` would then replace an
    earlier turn. langchain-core gives each message its own ``lc_run-...`` id, as for ChatOpenAI.
    """
    info: CallInfo | None = completion.call_info
    # usage the relay never reported is estimated for the ledger (cost, "estimated" in
    # response_metadata) but not put in LangChain's slot, which means "reported"
    reported = info is not None and completion.usage is not None
    usage = usage_metadata(info.usage if reported else None)
    generations = []
    for choice in completion.choices or [None]:
        metadata = response_metadata(
            info,
            completion_id=completion.id,
            finish_reason=choice.finish_reason if choice is not None else None,
            system_fingerprint=completion.system_fingerprint,
            model=completion.model,
        )
        if choice is not None and choice.logprobs is not None:
            metadata["logprobs"] = choice.logprobs
        message = choice.message if choice is not None else completion.message
        generations.append(ChatGeneration(message=_ai_message(message, usage, metadata)))
    model_name = info.model if info is not None else completion.model
    return ChatResult(generations=generations, llm_output={"model_name": model_name})
