"""with_structured_output: json_schema, function_calling and json_mode, with and without raw."""

from __future__ import annotations

import json

import pytest
from holysheep.testing import Reply
from langchain_core.messages import AIMessage
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from .conftest import invoke, stream

JOKE = {
    "setup": "Why did the cat sit on the keyboard?",
    "punchline": "To keep an eye on the mouse.",
}


class Joke(BaseModel):
    """A joke to tell the user."""

    setup: str = Field(description="the question")
    punchline: str = Field(description="the answer")


class JokeDict(TypedDict):
    """A joke to tell the user."""

    setup: str
    punchline: str


def as_content(emulator) -> None:
    emulator.script(Reply(content=json.dumps(JOKE)))


def as_tool_call(emulator, name: str = "Joke") -> None:
    emulator.script(Reply(tool_calls=[{"name": name, "arguments": JOKE}]))


@pytest.mark.parametrize(
    "schema", [Joke, JokeDict, Joke.model_json_schema()], ids=["pydantic", "typeddict", "json"]
)
def test_function_calling_forces_the_schema_tool(model, emulator, side, schema) -> None:
    as_tool_call(emulator, "Joke" if schema is not JokeDict else "JokeDict")
    result = invoke(model.with_structured_output(schema, method="function_calling"), side, "joke")
    assert result == (Joke(**JOKE) if schema is Joke else JOKE)
    body = emulator.requests[-1].json
    name = body["tools"][0]["function"]["name"]
    assert body["tool_choice"] == {"type": "function", "function": {"name": name}}


def test_function_calling_is_the_default_and_streams(model, emulator, side) -> None:
    as_tool_call(emulator)
    results = stream(model.with_structured_output(Joke), side, "joke")
    assert results[-1] == Joke(**JOKE)
    assert emulator.requests[-1].json["stream"] is True


def test_json_schema_sends_response_format(model, emulator, side) -> None:
    as_content(emulator)
    result = invoke(
        model.with_structured_output(Joke, method="json_schema", strict=True), side, "joke"
    )
    assert result == Joke(**JOKE)
    fmt = emulator.requests[-1].json["response_format"]
    assert fmt["type"] == "json_schema"
    spec = fmt["json_schema"]
    assert spec["name"] == "Joke" and spec["strict"] is True
    assert spec["description"] == "A joke to tell the user."
    assert spec["schema"]["required"] == ["setup", "punchline"]
    assert spec["schema"]["additionalProperties"] is False


def test_json_schema_streams_partial_dicts(model, emulator, side) -> None:
    as_content(emulator)
    results = stream(model.with_structured_output(JokeDict, method="json_schema"), side, "joke")
    assert results[-1] == JOKE
    assert all(set(r) <= {"setup", "punchline"} for r in results)
    assert "strict" not in emulator.requests[-1].json["response_format"]["json_schema"]


def test_json_mode_sends_json_object(model, emulator, side) -> None:
    as_content(emulator)
    result = invoke(model.with_structured_output(Joke, method="json_mode"), side, "joke")
    assert result == Joke(**JOKE)
    assert emulator.requests[-1].json["response_format"] == {"type": "json_object"}
    as_content(emulator)
    assert invoke(model.with_structured_output(None, method="json_mode"), side, "joke") == JOKE


@pytest.mark.parametrize("method", ["function_calling", "json_schema"])
def test_unscripted_the_emulator_answers_the_schema_we_sent(model, side, method) -> None:
    # The emulator builds its answer from the request's tool or response_format schema only.
    result = invoke(model.with_structured_output(Joke, method=method), side, "joke")
    assert result == Joke(setup="example", punchline="example")


def test_include_raw_returns_message_parsed_and_error(model, emulator, side) -> None:
    as_tool_call(emulator)
    out = invoke(model.with_structured_output(Joke, include_raw=True), side, "joke")
    assert isinstance(out["raw"], AIMessage) and out["raw"].usage_metadata["total_tokens"] > 0
    assert out["parsed"] == Joke(**JOKE) and out["parsing_error"] is None
    emulator.script(Reply(content="not json at all"))
    out = invoke(
        model.with_structured_output(Joke, method="json_mode", include_raw=True), side, "j"
    )
    assert out["parsed"] is None and out["parsing_error"] is not None
    assert out["raw"].text == "not json at all"


def test_structured_output_is_traced_with_its_schema(model, emulator) -> None:
    from langchain_core.callbacks import BaseCallbackHandler

    class Options(BaseCallbackHandler):
        seen: list = []

        def on_chat_model_start(self, *args, options=None, **kwargs) -> None:
            self.seen.append(options)

    handler = Options()
    as_tool_call(emulator)
    model.with_structured_output(Joke).invoke("joke", config={"callbacks": [handler]})
    traced = handler.seen[0]["ls_structured_output_format"]
    assert traced["kwargs"] == {"method": "function_calling", "strict": None}
    assert traced["schema"]["title"] == "Joke"


def test_bad_arguments_are_rejected(model) -> None:
    with pytest.raises(ValueError, match="unknown method"):
        model.with_structured_output(Joke, method="xml")
    with pytest.raises(ValueError, match="needs a schema"):
        model.with_structured_output(None, method="json_schema")
    with pytest.raises(ValueError, match="unexpected arguments"):
        model.with_structured_output(Joke, tools=[])
