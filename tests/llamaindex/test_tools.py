"""Tool calling: request shape, tool calls out of chat and streams, predict_and_call."""

from __future__ import annotations

import asyncio
import json

import pytest
from holysheep.testing import Reply
from llama_index.core.base.llms.types import ChatMessage, ToolCallBlock
from llama_index.core.tools import FunctionTool

from .conftest import HELLO, chat, stream


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def lookup(city: str) -> str:
    """Look up the weather in a city."""
    return f"sunny in {city}"


ADD = FunctionTool.from_defaults(fn=add)
LOOKUP = FunctionTool.from_defaults(fn=lookup)
PARIS = {"name": "lookup", "arguments": {"city": "Paris"}}
ROME = {"name": "lookup", "arguments": {"city": "Rome"}}


def test_prepare_chat_with_tools_builds_the_request(llm) -> None:
    history = [ChatMessage(role="system", content="Use tools.")]
    request = llm._prepare_chat_with_tools([ADD], "2+3?", chat_history=history)
    assert len(history) == 1  # the caller's history is not mutated
    assert [m.content for m in request["messages"]] == ["Use tools.", "2+3?"]
    assert request["tools"] == [ADD.metadata.to_openai_tool()]
    assert request["tool_choice"] == "auto"
    assert request["parallel_tool_calls"] is False
    parallel = llm._prepare_chat_with_tools([ADD], "x", allow_parallel_tool_calls=True)
    assert "parallel_tool_calls" not in parallel  # some providers reject the field
    assert llm._prepare_chat_with_tools([ADD], "x", tool_required=True)["tool_choice"] == "required"
    named = llm._prepare_chat_with_tools([ADD], "x", tool_choice="add")["tool_choice"]
    assert named == {"type": "function", "function": {"name": "add"}}
    assert "tools" not in llm._prepare_chat_with_tools([], "x")


def test_chat_with_tools_returns_tool_calls(llm, emulator, side) -> None:
    emulator.script(Reply(tool_calls=[PARIS, ROME]))
    kwargs = llm._prepare_chat_with_tools([LOOKUP], "Weather?", allow_parallel_tool_calls=True)
    response = chat(llm, side, kwargs.pop("messages"), **kwargs)
    calls = llm.get_tool_calls_from_response(response)
    assert [(c.tool_name, c.tool_kwargs) for c in calls] == [
        ("lookup", {"city": "Paris"}),
        ("lookup", {"city": "Rome"}),
    ]
    assert all(c.tool_id.startswith("call_") for c in calls)
    assert emulator.requests[-1].json["tools"][0]["function"]["name"] == "lookup"


def test_one_tool_call_kept_when_parallel_calls_are_not_allowed(llm, emulator) -> None:
    emulator.script(Reply(tool_calls=[PARIS, ROME]))
    response = llm.chat_with_tools([LOOKUP], "Weather?", allow_parallel_tool_calls=False)
    assert [c.tool_kwargs for c in llm.get_tool_calls_from_response(response)] == [
        {"city": "Paris"}
    ]
    assert len(response.message.additional_kwargs["tool_calls"]) == 1


def test_no_tool_call_raises_unless_told_not_to(llm, emulator) -> None:
    response = llm.chat(HELLO)
    assert llm.get_tool_calls_from_response(response, error_on_no_tool_call=False) == []
    with pytest.raises(ValueError, match="expected at least one tool call"):
        llm.get_tool_calls_from_response(response)


def test_streamed_tool_calls_are_readable_on_every_chunk(llm, emulator, side) -> None:
    emulator.script(Reply(tool_calls=[PARIS, ROME]))
    kwargs = llm._prepare_chat_with_tools([LOOKUP], "Weather?", allow_parallel_tool_calls=True)
    responses = stream(llm, side, kwargs.pop("messages"), **kwargs)
    seen = [llm.get_tool_calls_from_response(r, error_on_no_tool_call=False) for r in responses]
    assert any(len(calls) == 1 for calls in seen)  # the first call before the second started
    partial = [c[0].tool_kwargs for c in seen if c and c[0].tool_kwargs != {"city": "Paris"}]
    assert partial  # half-received arguments parse (to a dict) while they stream
    final = seen[-1]
    assert [(c.tool_name, c.tool_kwargs) for c in final] == [
        ("lookup", {"city": "Paris"}),
        ("lookup", {"city": "Rome"}),
    ]
    assert final[0].tool_id == seen[-2][0].tool_id != ""


def test_a_finished_tool_call_block_is_reused_not_rebuilt(llm, emulator) -> None:
    emulator.script(Reply(tool_calls=[PARIS, ROME]))
    kwargs = llm._prepare_chat_with_tools([LOOKUP], "Weather?", allow_parallel_tool_calls=True)
    *chunks, _last = list(llm.stream_chat(**kwargs))
    firsts = [
        next(b for b in r.message.blocks if isinstance(b, ToolCallBlock))
        for r in chunks
        if sum(isinstance(b, ToolCallBlock) for b in r.message.blocks) == 2
    ]
    assert len(firsts) >= 2 and all(b is firsts[0] for b in firsts)
    assert json.loads(firsts[0].tool_kwargs) == {"city": "Paris"}


def test_predict_and_call_runs_the_forced_tool(llm, emulator, side) -> None:
    # Unscripted: the emulator answers a forced tool_choice with the schema's minimal instance.
    if side == "sync":
        result = llm.predict_and_call([ADD], "Add one and one.", tool_choice="add")
    else:
        result = asyncio.run(llm.apredict_and_call([ADD], "Add one and one.", tool_choice="add"))
    assert result.response == "2"
    assert result.sources[0].raw_input == {"args": (), "kwargs": {"a": 1, "b": 1}}
    assert emulator.requests[-1].json["tool_choice"] == {
        "type": "function",
        "function": {"name": "add"},
    }
