"""bind_tools: the wire request (tools, tool_choice, strict, parallel calls) and the tool calls."""

from __future__ import annotations

import pytest
from holysheep.testing import Reply
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from .conftest import invoke, merged, stream


@tool
def get_weather(city: str) -> str:
    """Get the weather in a city."""
    return f"Sunny in {city}"


class Lookup(BaseModel):
    """Look a term up in the glossary."""

    term: str = Field(description="the term")


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("any", "required"),
        ("required", "required"),
        (True, "required"),
        ("Lookup", {"type": "function", "function": {"name": "Lookup"}}),
        ({"type": "function", "function": {"name": "get_weather"}}, None),
        (None, "<absent>"),
        (False, "<absent>"),
    ],
)
def test_tool_choice_spellings_reach_the_wire(model, emulator, choice, wire) -> None:
    model.bind_tools([get_weather, Lookup], tool_choice=choice).invoke("hi")
    body = emulator.requests[-1].json
    assert body["tools"][0] == WEATHER
    assert body["tools"][1]["function"]["name"] == "Lookup"
    expected = choice if wire is None else wire
    assert body.get("tool_choice", "<absent>") == expected


def test_tool_choice_naming_no_bound_tool_is_rejected(model) -> None:
    with pytest.raises(ValueError, match="names no bound tool"):
        model.bind_tools([get_weather], tool_choice="get_time")


def test_parallel_tool_calls_and_strict_reach_the_wire(model, emulator) -> None:
    model.bind_tools([get_weather], parallel_tool_calls=False, strict=True).invoke("hi")
    body = emulator.requests[-1].json
    assert body["parallel_tool_calls"] is False
    function = body["tools"][0]["function"]
    assert function["strict"] is True
    assert function["parameters"]["additionalProperties"] is False


def test_invoke_parses_tool_calls(model, emulator, side) -> None:
    emulator.script(
        Reply(
            tool_calls=[
                {"name": "get_weather", "arguments": {"city": "Paris"}, "id": "call_1"},
                {"name": "get_weather", "arguments": {"city": "东京"}, "id": "call_2"},
            ]
        )
    )
    message = invoke(model.bind_tools([get_weather]), side, "weather?")
    assert message.tool_calls == [
        {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1", "type": "tool_call"},
        {"name": "get_weather", "args": {"city": "东京"}, "id": "call_2", "type": "tool_call"},
    ]
    assert message.response_metadata["finish_reason"] == "tool_calls"


def test_invalid_tool_arguments_become_invalid_tool_calls(model, emulator, side) -> None:
    emulator.script(
        Reply(tool_calls=[{"name": "get_weather", "arguments": "{not json", "id": "c"}])
    )
    message = invoke(model.bind_tools([get_weather]), side, "weather?")
    assert message.tool_calls == []
    [bad] = message.invalid_tool_calls
    assert (bad["name"], bad["args"], bad["id"]) == ("get_weather", "{not json", "c")
    assert "not valid JSON" in bad["error"]


def test_streamed_tool_call_chunks_merge_into_tool_calls(model, emulator, side) -> None:
    emulator.script(
        Reply(
            content="Checking.",
            tool_calls=[
                {"name": "get_weather", "arguments": {"city": "Paris"}, "id": "call_a"},
                {"name": "get_weather", "arguments": {"city": "Rome"}, "id": "call_b"},
            ],
        )
    )
    chunks = stream(model.bind_tools([get_weather]), side, "weather?")
    pieces = [c for chunk in chunks for c in chunk.tool_call_chunks]
    assert len(pieces) > 2  # arguments really arrive in fragments
    assert {p["index"] for p in pieces} == {0, 1}
    assert [p["id"] for p in pieces if p["id"]] == ["call_a", "call_b"]  # each id exactly once
    full = merged(chunks)
    assert full.text == "Checking."
    assert full.tool_calls == [
        {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_a", "type": "tool_call"},
        {"name": "get_weather", "args": {"city": "Rome"}, "id": "call_b", "type": "tool_call"},
    ]
    assert full.response_metadata["finish_reason"] == "tool_calls"


def test_tool_history_is_sent_back_in_wire_shape(model, emulator) -> None:
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    history = [
        HumanMessage("weather in Paris?"),
        AIMessage(
            "",
            tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "call_9"}],
            additional_kwargs={"reasoning_content": "I should call the tool"},
        ),
        ToolMessage("Sunny", tool_call_id="call_9"),
    ]
    model.bind_tools([get_weather]).invoke(history)
    messages = emulator.requests[-1].json["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "type": "function",
                "id": "call_9",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    }  # earlier reasoning is not replayed
    assert messages[2] == {"role": "tool", "tool_call_id": "call_9", "content": "Sunny"}
