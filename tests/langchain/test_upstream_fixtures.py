"""Every 200 case of the upstream fixtures through ChatHolySheep: HTTP -> core -> adapter.

Each recorded body is served verbatim (with its recorded content type) by a loopback server, so
the real request path runs. Expectations were read off the fixture files by hand (see
``tests/fixtures/upstream/MANIFEST.md``); token counts follow the core's bucket rules (reasoning
left out of ``completion_tokens`` by xAI and Gemini is added back there).
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import holysheep
import pytest

from langchain_holysheep import ChatHolySheep

from ..conftest import FAKE_KEY, FIXTURES
from .conftest import RecordedServer, invoke, merged, partial_stream, stream


class Case(NamedTuple):
    """What ChatHolySheep must report for one recorded answer."""

    text: str | None  # exact text; None: not checked; "...x" means "starts with x"
    tools: list[tuple[str, dict[str, Any]]]
    tokens: tuple[int, int] | None  # (input, output); None: the answer carries no usage
    reasoning: str | None = None  # prefix of additional_kwargs["reasoning_content"]
    cached: int = 0
    finish: str | None = "stop"


SF = {"location": "San Francisco"}

CASES: dict[str, Case] = {
    # ------------------------------------------------------------ non-streaming
    "openai-chat-basic": Case("\\(4200 + 42 = 4242\\).", [], (16, 12)),
    "openai-chat-parallel-tool-calls": Case(
        "",
        [
            ("secret_retrieval_tool", {"password": "mellon"}),
            ("secret_retrieval_tool", {"password": "radiance"}),
        ],
        (75, 53),
        finish="tool_calls",
    ),
    "openai-chat-structured-output-json-schema": Case(
        '...{"title":"THE NAME OF THE WIND"', [], (172, 29)
    ),
    "openai-chat-cached-tokens": Case(
        '..."Ah, the most important meal', [], (3663, 117), cached=3584
    ),
    "azure-chat-content-filter-results": Case("The capital of France is **Paris**.", [], (14, 9)),
    "deepseek-chat-json-mode": Case(
        '...{\n  "location": "San Francisco"', [], (495, 144), "I have the result", cached=320
    ),
    "deepseek-chat-reasoning-parallel-tool-calls": Case(
        "Let me get your name and roll the die!",
        [("get_player_name", {}), ("roll_dice", {})],
        (875, 79),
        "Great, now I have",
        finish="tool_calls",
    ),
    "xai-chat-reasoning-tool-call": Case(
        "", [("weather", SF)], (291, 215), "First, the user", cached=244, finish="tool_calls"
    ),
    "together-chat-basic": Case(
        "To find the answer, add 4200 and 42.\n\n4200 + 42 = 4242", [], (44, 23)
    ),
    "openrouter-chat-leading-whitespace": Case("2 + 2 = 4.", [], (13, 9)),
    "gemini-openai-compat-tool-call-empty-id": Case(
        "", [("get_current_time", {})], (35, 74), finish="tool_calls"
    ),
    "anthropic-openai-compat-chat": Case("4200 + 42 = 4242", [], (17, 15)),
    # ------------------------------------------------------------ streaming
    "openai-stream-basic-include-usage": Case("4200 + 42 equals 4242.", [], (16, 10)),
    "openai-stream-length-reasoning-only": Case("", [], (13, 50), finish="length"),
    "openai-stream-parallel-tool-calls": Case(
        "",
        [
            ("secret_retrieval_tool", {"password": "mellon"}),
            ("secret_retrieval_tool", {"password": "radiance"}),
        ],
        (75, 53),
        finish="tool_calls",
    ),
    "openai-stream-after-tool-results": Case(None, [], (149, 28)),
    "openai-stream-refusal": Case("", [], (64, 13)),
    "azure-stream-model-router": Case("Capital of Denmark.", [], (15, 78)),
    "deepseek-stream-reasoning-content": Case(
        "Hello there! 😊 How can I help you today?", [], (6, 212), "Hmm, the user"
    ),
    "deepseek-stream-reasoner-tool-call": Case(
        "", [("weather", SF)], (339, 83), "The user is", cached=320, finish="tool_calls"
    ),
    "gateway-anthropic-stream-tool-call-index-1": Case(
        "Reading it.", [("read_file", {"path": "a.txt"})], None, finish="tool_calls"
    ),
    "alibaba-qwen-stream-tool-call-empty-id": Case(
        "", [("weather", SF)], (295, 22), finish="tool_calls"
    ),
    "groq-stream-tool-call-x_groq-usage": Case(
        "", [("weather", {})], (210, 15), finish="tool_calls"
    ),
    "huggingface-novita-stream-unrequested-usage": Case("Paris", [], (40, 2)),
    "mistral-stream-magistral-thinking-parts": Case("2 + 2 = 4", [], (10, 46), "The user is"),
    "mistral-stream-tool-call-no-index": Case(
        "", [("weather", SF)], (124, 22), finish="tool_calls"
    ),
    "openrouter-stream-reasoning-details": Case("2 + 2 = 4", [], (43, 36), "This is a simple"),
    "openrouter-stream-usage-empty-choices": Case("Hello!", [], (254, 5)),
    "perplexity-stream-usage-every-chunk": Case(
        "The current population of **[2][3]", [], (10, 336)
    ),
    "xai-stream-reasoning-tool-call": Case(
        "", [("weather", SF)], (291, 222), "First, the user", cached=290, finish="tool_calls"
    ),
    "zai-stream-reasoning-no-finish-key": Case("4", [], (13, 564), "\n1.  **Analyze"),
}

ERRORS_IN_200 = {
    # name -> (text of the error, reasoning that arrived before it)
    "groq-stream-error-event-in-200": ("Tool call validation failed", "We need to call the tool"),
    "openrouter-stream-keepalive-error-in-200": ("Token limit reached", None),
}


def entries(fixture_index: list[dict]) -> dict[str, dict]:
    return {e["id"]: e for e in fixture_index}


def test_every_200_case_is_covered(fixture_index: list[dict]) -> None:
    ok = {e["id"] for e in fixture_index if e["status"] == 200}
    assert ok == set(CASES) | set(ERRORS_IN_200)


def serve(server: RecordedServer, entry: dict) -> None:
    body = (FIXTURES / entry["files"]["response"]).read_bytes()
    server.serve(body, entry["content_type"])


def model_on(server: RecordedServer) -> ChatHolySheep:
    # gpt-4.1 is priced in the catalogue: recorded models the catalogue lacks are priced as it.
    return ChatHolySheep(model="gpt-4.1", api_key=FAKE_KEY, base_url=server.base_url, max_retries=0)


def check(message: Any, case: Case, entry: dict) -> None:
    if case.text is not None:
        if case.text.startswith("..."):
            assert message.text.startswith(case.text[3:])
        else:
            assert message.text == case.text
    assert [(c["name"], c["args"]) for c in message.tool_calls] == case.tools
    assert message.invalid_tool_calls == []
    ids = [c["id"] for c in message.tool_calls]
    if entry["id"] != "gemini-openai-compat-tool-call-empty-id":  # Gemini sends id ""
        assert all(ids) and len(set(ids)) == len(ids)
    usage = message.usage_metadata
    if case.tokens is None:
        assert usage is None
    else:
        assert (usage["input_tokens"], usage["output_tokens"]) == case.tokens
        assert usage["input_token_details"]["cache_read"] == case.cached
        assert message.response_metadata["cost"] is not None
    reasoning = message.additional_kwargs.get("reasoning_content")
    if case.reasoning:
        assert reasoning.startswith(case.reasoning)
    else:
        assert not reasoning
    meta = message.response_metadata
    assert meta["finish_reason"] == case.finish
    assert meta["model_name"] and meta["model_provider"] == "holysheep"


@pytest.mark.parametrize("name", sorted(CASES))
def test_recorded_answer_through_chat_holysheep(name, recorded_server, fixture_index, side):
    entry = entries(fixture_index)[name]
    serve(recorded_server, entry)
    model = model_on(recorded_server)
    if entry["stream"]:
        chunks = stream(model, side, "hi")
        assert chunks[-1].chunk_position == "last"
        assert sum(1 for c in chunks if c.usage_metadata) == (
            0 if CASES[name].tokens is None else 1
        )
        message = merged(chunks)
    else:
        message = invoke(model, side, "hi")
    check(message, CASES[name], entry)
    sent = json.loads(recorded_server.requests[-1])
    assert sent["model"] == "gpt-4.1" and sent.get("stream", False) == entry["stream"]


def test_refusal_is_kept(recorded_server, fixture_index) -> None:
    serve(recorded_server, entries(fixture_index)["openai-stream-refusal"])
    message = merged(list(model_on(recorded_server).stream("hi")))
    assert message.additional_kwargs["refusal"].startswith("I'm very sorry, but I can't assist")


def test_reasoning_keys_are_kept_as_sent(recorded_server, fixture_index) -> None:
    serve(recorded_server, entries(fixture_index)["openrouter-stream-reasoning-details"])
    message = merged(list(model_on(recorded_server).stream("hi")))
    kwargs = message.additional_kwargs
    assert kwargs["reasoning"] == kwargs["reasoning_content"]  # OpenRouter says "reasoning"
    details = kwargs["reasoning_details"]  # once, from the end of the stream, never re-merged
    assert details and all(d["type"] == "reasoning.text" for d in details)
    assert all(d["format"] == "anthropic-claude-v1" for d in details)


def test_served_model_is_reported(recorded_server, fixture_index) -> None:
    serve(recorded_server, entries(fixture_index)["azure-stream-model-router"])
    message = merged(list(model_on(recorded_server).stream("hi")))
    assert message.response_metadata["model_name"] == "gpt-5-nano-2025-08-07"
    assert message.response_metadata["id"].startswith("chatcmpl-")


@pytest.mark.parametrize("name", sorted(ERRORS_IN_200))
def test_error_inside_a_200_stream_raises_after_its_chunks(
    name, recorded_server, fixture_index, side
):
    serve(recorded_server, entries(fixture_index)[name])
    got, error = partial_stream(model_on(recorded_server), side, "hi")
    text, reasoning = ERRORS_IN_200[name]
    assert isinstance(error, holysheep.StreamError)
    assert text in str(error)
    if reasoning:
        streamed = "".join(c.additional_kwargs.get("reasoning_content", "") for c in got)
        assert streamed.startswith(reasoning)
