"""Every streamed upstream fixture through the SSE decoder and the accumulator.

Expectations were read off the fixture files by hand (see tests/fixtures/upstream/MANIFEST.md).
"""

from __future__ import annotations

import json

import pytest
from holysheep import StreamError
from holysheep._accumulate import StreamAccumulator
from holysheep._sse import SSEDecoder
from holysheep._stream import decode_event
from holysheep.wire import ChatCompletion

from ..conftest import FIXTURES


def feed(body: bytes, acc: StreamAccumulator, request_id: str | None) -> None:
    """Feed raw SSE bytes through our splitter and decoder, as the client does."""
    decoder = SSEDecoder(1 << 20)
    for event, data in [*decoder.feed(body), *decoder.end()]:
        decode_event(event, data, acc, request_id)
        if acc.done:
            break


def run(name: str) -> tuple[StreamAccumulator, StreamError | None]:
    """Feed one .sse fixture through the splitter and the decoder."""
    body = (FIXTURES / f"{name}.response.sse").read_bytes()
    acc = StreamAccumulator()
    try:
        feed(body, acc, "req_1")
    except StreamError as exc:
        return acc, exc
    return acc, None


# name -> (text, finish_reason, tool calls [(name, args)], prompt, completion, reasoning prefix)
CASES = {
    "openai-stream-basic-include-usage": ("4200 + 42 equals 4242.", "stop", [], 16, 10, None),
    "openai-stream-length-reasoning-only": ("", "length", [], 13, 50, None),
    "openai-stream-parallel-tool-calls": (
        "",
        "tool_calls",
        [
            ("secret_retrieval_tool", {"password": "mellon"}),
            ("secret_retrieval_tool", {"password": "radiance"}),
        ],
        75,
        53,
        None,
    ),
    "openai-stream-after-tool-results": (None, "stop", [], 149, 28, None),
    "openai-stream-refusal": ("", "stop", [], 64, 13, None),
    "azure-stream-model-router": ("Capital of Denmark.", "stop", [], 15, 78, None),
    "deepseek-stream-reasoning-content": (
        "Hello there! 😊 How can I help you today?",
        "stop",
        [],
        6,
        212,
        "Hmm, the user",
    ),
    "deepseek-stream-reasoner-tool-call": (
        "",
        "tool_calls",
        [("weather", {"location": "San Francisco"})],
        339,
        83,
        "The user is",
    ),
    "gateway-anthropic-stream-tool-call-index-1": (
        "Reading it.",
        "tool_calls",
        [("read_file", {"path": "a.txt"})],
        None,
        None,
        None,
    ),
    "alibaba-qwen-stream-tool-call-empty-id": (
        "",
        "tool_calls",
        [("weather", {"location": "San Francisco"})],
        295,
        22,
        None,
    ),
    "groq-stream-tool-call-x_groq-usage": ("", "tool_calls", [("weather", {})], 210, 15, None),
    "huggingface-novita-stream-unrequested-usage": ("Paris", "stop", [], 40, 2, None),
    "mistral-stream-magistral-thinking-parts": ("2 + 2 = 4", "stop", [], 10, 46, "The user is"),
    "mistral-stream-tool-call-no-index": (
        "",
        "tool_calls",
        [("weather", {"location": "San Francisco"})],
        124,
        22,
        None,
    ),
    "openrouter-stream-reasoning-details": ("2 + 2 = 4", "stop", [], 43, 36, "This is a simple"),
    "openrouter-stream-usage-empty-choices": ("Hello!", "stop", [], 254, 5, None),
    "perplexity-stream-usage-every-chunk": (
        "The current population of **[2][3]",
        "stop",
        [],
        10,
        336,
        None,
    ),
    "xai-stream-reasoning-tool-call": (
        "",
        "tool_calls",
        [("weather", {"location": "San Francisco"})],
        291,
        26,
        "First, the user",
    ),
    "zai-stream-reasoning-no-finish-key": ("4", "stop", [], 13, 564, "\n1.  **Analyze"),
}


def test_every_streamed_fixture_is_covered(fixture_index: list[dict]) -> None:
    streamed_ok = {c["id"] for c in fixture_index if c["stream"] and c["status"] == 200}
    assert streamed_ok - set(CASES) == {
        "groq-stream-error-event-in-200",
        "openrouter-stream-keepalive-error-in-200",
    }


@pytest.mark.parametrize("name", sorted(CASES))
def test_stream_fixture_accumulates(name: str) -> None:
    text, finish, tools, prompt, completion, reasoning = CASES[name]
    acc, error = run(name)
    assert error is None
    assert acc.finished
    result = acc.result()
    assert isinstance(result, ChatCompletion)
    if text is not None:
        assert result.text == text
    assert result.choices[0].finish_reason == finish
    calls = result.message.tool_calls or []
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == tools
    assert all(c.id for c in calls), "every tool call keeps the id its first delta carried"
    if prompt is None:
        assert result.usage is None
    else:
        assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (prompt, completion)
    if reasoning:
        assert result.message.reasoning_content.startswith(reasoning)
    else:
        assert not result.message.reasoning_content
    assert result.model, "the served model is taken from the chunks"


def test_cumulative_usage_is_replaced_not_added() -> None:
    acc, _ = run("perplexity-stream-usage-every-chunk")
    # 8 chunks each carry running totals; the sum would be far above the final 336.
    assert acc.result().usage.completion_tokens == 336
    assert acc.result().usage.total_tokens == 346


def test_refusal_is_kept_apart_from_text() -> None:
    acc, _ = run("openai-stream-refusal")
    message = acc.result().message
    assert message.refusal.startswith("I'm very sorry, but I can't assist")
    assert message.content == ""


def test_reasoning_details_are_kept() -> None:
    acc, _ = run("openrouter-stream-reasoning-details")
    details = acc.result().message.model_extra["reasoning_details"]
    assert details and all(d["type"] == "reasoning.text" for d in details)


def test_azure_empty_first_chunk_does_not_blank_the_id_or_time() -> None:
    acc, _ = run("azure-stream-model-router")
    assert acc.result().id.startswith("chatcmpl-")
    assert acc.result().model == "gpt-5-nano-2025-08-07"
    assert acc.result().created == 1762317021  # the first chunk's "created": 0 is no time


def test_error_event_in_200_stream_raises_stream_error_with_partial() -> None:
    _acc, error = run("groq-stream-error-event-in-200")
    assert isinstance(error, StreamError)
    assert error.code == "tool_use_failed"
    assert error.status_code == 400
    assert "Tool call validation failed" in str(error)
    assert error.request_id == "req_1"
    # What arrived before the error is on the exception.
    assert error.partial.message.reasoning_content.startswith("We need to call the tool")


def test_error_object_in_data_frame_raises_with_usage() -> None:
    _acc, error = run("openrouter-stream-keepalive-error-in-200")
    assert isinstance(error, StreamError)
    assert "Token limit reached" in str(error)
    assert error.code == 400
    assert error.usage.prompt_tokens == 43 and error.usage.completion_tokens == 10


def test_stream_cut_short_is_detected() -> None:
    body = (FIXTURES / "openai-stream-basic-include-usage.response.sse").read_bytes()
    frames = body.split(b"\n\n")
    cut = b"\n\n".join(frames[:5]) + b"\n\n"  # role chunk and a few words, no finish, no [DONE]
    acc = StreamAccumulator()
    feed(cut, acc, None)
    assert not acc.finished
    error = acc.cut_short("req_2", "connection reset")
    assert isinstance(error, StreamError)
    assert error.text and "4242" not in error.text
    assert "ended early" in str(error)


def test_malformed_chunk_is_a_stream_error() -> None:
    with pytest.raises(StreamError, match="malformed"):
        feed(b'data: {"choices": "nope"}\n\n', StreamAccumulator(), None)
