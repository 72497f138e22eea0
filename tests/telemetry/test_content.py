"""Message content only on the user's opt-in, in the conventions' shape; the key never."""

from __future__ import annotations

import json

import pytest
from holysheep import HolySheepClient
from holysheep.testing import RelayEmulator, Reply

from ..hostile import HostileUpstream, json_response
from .conftest import Telemetry, chat, failing, stream

CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
SECRET = "hs-live-7f3a9c2e5b1d4f8a6c0e2b4d"
PROMPT = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "What is the capital of Peru?"},
]


def exported_text(otel: Telemetry) -> str:
    """Every span and metric point as the exporters would serialize them."""
    spans = [span.to_json() for span in otel.spans()]
    data = otel.reader.get_metrics_data()
    return "\n".join(spans) + (data.to_json() if data is not None else "")


def test_content_is_not_recorded_by_default(
    client: HolySheepClient, emulator: RelayEmulator, otel: Telemetry, side: str
) -> None:
    emulator.script(Reply(content="Lima, of course."))
    chat(client, side, messages=PROMPT)
    stream(client, side, messages=PROMPT)
    text = exported_text(otel)
    assert "capital of Peru" not in text and "terse" not in text
    assert "Lima" not in text
    for span in otel.spans():
        assert not {"gen_ai.input.messages", "gen_ai.output.messages"} & set(span.attributes)


@pytest.mark.parametrize("value", ["false", "", "yes-please"])
def test_only_the_conventions_opt_in_turns_content_on(
    client: HolySheepClient, otel: Telemetry, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(CAPTURE, value)
    otel.reinstrument()
    chat(client, "sync", messages=PROMPT)
    assert "gen_ai.input.messages" not in otel.span().attributes


def test_opted_in_content_follows_the_conventions_shape(
    client: HolySheepClient, emulator: RelayEmulator, otel: Telemetry,
    monkeypatch: pytest.MonkeyPatch, side: str,
) -> None:
    monkeypatch.setenv(CAPTURE, "true")
    otel.reinstrument()
    emulator.script(Reply(content="Lima."))
    chat(client, side, messages=PROMPT)
    a = otel.span().attributes
    assert json.loads(a["gen_ai.system_instructions"]) == [
        {"type": "text", "content": "You are terse."}]
    assert json.loads(a["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "What is the capital of Peru?"}]}]
    assert json.loads(a["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Lima."}],
         "finish_reason": "stop"}]


def test_opted_in_tool_calls_and_results_are_parts(
    client: HolySheepClient, emulator: RelayEmulator, otel: Telemetry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(CAPTURE, "true")
    otel.reinstrument()
    emulator.script(Reply(tool_calls=[{"name": "weather", "arguments": {"city": "Lima"},
                                       "id": "call_2"}]))
    history = [
        {"role": "user", "content": "Weather in Lima?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "weather", "arguments": '{"city": "Lima"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18 C, cloudy"},
    ]
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}}}}]
    chat(client, "sync", messages=history, tools=tools)
    a = otel.span().attributes
    sent = json.loads(a["gen_ai.input.messages"])
    assert sent[1] == {"role": "assistant", "parts": [
        {"type": "tool_call", "id": "call_1", "name": "weather", "arguments": '{"city": "Lima"}'}]}
    assert sent[2] == {"role": "tool", "parts": [
        {"type": "tool_call_response", "id": "call_1", "response": "18 C, cloudy"}]}
    (answer,) = json.loads(a["gen_ai.output.messages"])
    assert answer["finish_reason"] == "tool_calls"
    assert answer["parts"][0]["type"] == "tool_call" and answer["parts"][0]["name"] == "weather"


def test_the_key_never_reaches_a_span_or_a_metric(
    otel: Telemetry, monkeypatch: pytest.MonkeyPatch, side: str
) -> None:
    """Content on, a prompt that quotes the key, and a relay error that echoes it back."""
    monkeypatch.setenv(CAPTURE, "true")
    otel.reinstrument()
    echoed = {"error": {"message": f"invalid api key {SECRET}", "type": "invalid_request_error"}}
    with HostileUpstream() as up:
        up.answer(json_response(echoed, status=401))
        with HolySheepClient(api_key=SECRET, base_url=up.base_url) as client:
            failing(chat, client, side)
    with RelayEmulator() as relay, HolySheepClient(api_key=SECRET, base_url=relay.base_url) as c:
        chat(c, side, messages=[{"role": "user", "content": f"is {SECRET} my key?"}])
        stream(c, side)
    assert len(otel.spans()) == 3
    text = exported_text(otel)
    assert "my key?" in text  # content was captured...
    assert SECRET not in text  # ...but the key was not
