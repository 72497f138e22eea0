"""Structured prediction: json_schema where the catalogue allows it, a forced tool call elsewhere.

The emulator answers an unscripted ``response_format`` json_schema or forced ``tool_choice``
with the smallest instance of the schema, so these run without scripts.
"""

from __future__ import annotations

import asyncio

import pytest
from holysheep.testing import Reply
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.prompts import PromptTemplate
from llama_index.core.types import PydanticProgramMode
from pydantic import BaseModel

PROMPT = PromptTemplate("Report the weather in {city}.")


class Weather(BaseModel):
    """The weather in a city."""

    city: str
    temp_c: int


def predict(llm, side: str) -> Weather:
    if side == "sync":
        return llm.structured_predict(Weather, PROMPT, city="Paris")
    return asyncio.run(llm.astructured_predict(Weather, PROMPT, city="Paris"))


def test_json_schema_models_use_response_format(llm, emulator, side) -> None:
    assert predict(llm, side) == Weather(city="example", temp_c=1)
    body = emulator.requests[-1].json
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["name"] == "Weather"
    assert body["response_format"]["json_schema"]["schema"] == Weather.model_json_schema()
    assert "tools" not in body
    assert body["messages"][-1]["content"] == "Report the weather in Paris."


@pytest.mark.parametrize(
    ("model", "mode"),
    [("claude-sonnet-4.5", PydanticProgramMode.DEFAULT), ("gpt-4.1", PydanticProgramMode.FUNCTION)],
)
def test_other_models_and_function_mode_use_a_forced_tool_call(
    make_llm, emulator, side, model, mode
) -> None:
    llm = make_llm(model=model, pydantic_program_mode=mode)
    assert predict(llm, side) == Weather(city="example", temp_c=1)
    body = emulator.requests[-1].json
    assert body["tools"][0]["function"]["name"] == "Weather"
    assert body["tool_choice"] == "required"
    assert "response_format" not in body


def test_fenced_json_answers_are_parsed(llm, emulator) -> None:
    emulator.script(Reply(content='```json\n{"city": "Oslo", "temp_c": -3}\n```'))
    assert predict(llm, "sync") == Weather(city="Oslo", temp_c=-3)


def test_stream_structured_predict_ends_with_the_object(llm, emulator) -> None:
    emulator.script(
        Reply(tool_calls=[{"name": "Weather", "arguments": {"city": "Rome", "temp_c": 25}}])
    )
    *_, last = llm.stream_structured_predict(Weather, PROMPT, city="Rome")
    assert last == Weather(city="Rome", temp_c=25)


@pytest.mark.parametrize("model", ["gpt-4.1", "claude-sonnet-4.5"])
def test_as_structured_llm_is_counted_once(make_llm, emulator, cost, side, model) -> None:
    structured = make_llm(model=model).as_structured_llm(Weather)
    messages = [ChatMessage(role="user", content="Weather in Lima?")]
    if side == "sync":
        response = structured.chat(messages)
    else:
        response = asyncio.run(structured.achat(messages))
    assert response.raw == Weather(city="example", temp_c=1)
    assert Weather.model_validate_json(response.message.content) == response.raw
    assert len(emulator.requests) == 1
    assert cost.calls == 1  # two LLMChatEndEvents, one billed call
    assert cost.usage.total_tokens > 0 and cost.by_model.keys() == {model}
