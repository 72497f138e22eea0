"""Every non-streaming upstream response parses, keeps unknown fields, and round-trips."""

from __future__ import annotations

import json

import pytest
from holysheep.wire import ChatCompletion, ChatRequest

from ..conftest import FIXTURES


def ok_json_cases(index: list[dict]) -> list[str]:
    return [c["id"] for c in index if not c["stream"] and c["status"] == 200]


def test_all_200_json_fixtures_parse(fixture_index: list[dict]) -> None:
    names = ok_json_cases(fixture_index)
    assert len(names) >= 9
    for name in names:
        raw = (FIXTURES / f"{name}.response.json").read_bytes()
        completion = ChatCompletion.model_validate_json(raw)
        assert completion.choices, name
        assert completion.usage is not None and completion.usage.prompt_tokens > 0, name


def test_unknown_fields_survive_a_round_trip() -> None:
    raw = (FIXTURES / "azure-chat-content-filter-results.response.json").read_bytes()
    completion = ChatCompletion.model_validate_json(raw)
    dumped = json.loads(completion.model_dump_json(exclude_none=True))
    assert "prompt_filter_results" in dumped
    assert "content_filter_results" in dumped["choices"][0]


def test_gemini_tool_call_with_empty_id_and_thought_signature() -> None:
    raw = (FIXTURES / "gemini-openai-compat-tool-call-empty-id.response.json").read_bytes()
    message = ChatCompletion.model_validate_json(raw).message
    assert message.tool_calls[0].id == ""
    assert message.model_extra["extra_content"]["google"]["thought_signature"]


def test_openrouter_leading_whitespace_body_parses() -> None:
    raw = (FIXTURES / "openrouter-chat-leading-whitespace.response.json").read_bytes()
    assert raw[:1].isspace()
    assert ChatCompletion.model_validate_json(raw).text


def test_deepseek_reasoning_and_indexed_tool_calls() -> None:
    raw = (FIXTURES / "deepseek-chat-reasoning-parallel-tool-calls.response.json").read_bytes()
    message = ChatCompletion.model_validate_json(raw).message
    assert message.reasoning_content
    assert [c.index for c in message.tool_calls] == list(range(len(message.tool_calls)))


@pytest.mark.parametrize(
    "name",
    [
        "openai-chat-basic",
        "openai-stream-after-tool-results",
        "deepseek-chat-reasoning-parallel-tool-calls",
        "openai-chat-structured-output-json-schema",
    ],
)
def test_recorded_requests_validate_and_serialize_without_loss(name: str) -> None:
    original = json.loads((FIXTURES / f"{name}.request.json").read_text())
    request = ChatRequest.model_validate(original)
    again = json.loads(request.to_json())
    assert again == without_nulls(original)


def without_nulls(value: object) -> object:
    """What we send: explicit nulls are left out (the relay treats absent and null alike)."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def test_reasoning_resolved_from_every_spelling() -> None:
    from holysheep.wire import ChatMessage

    deepseek = ChatMessage(role="assistant", content="4", reasoning_content="2+2")
    openrouter = ChatMessage.model_validate(
        {"role": "assistant", "content": "4", "reasoning": "2+2"}
    )
    mistral = ChatMessage(
        role="assistant",
        content=[
            {"type": "thinking", "thinking": [{"type": "text", "text": "2+2"}]},
            {"type": "text", "text": "4"},
        ],
    )
    for message in (deepseek, openrouter, mistral):
        assert (message.content_text, message.reasoning_text) == ("4", "2+2")
    assert ChatMessage(role="assistant", content="plain").reasoning_text is None
