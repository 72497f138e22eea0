"""Token estimates: fast, and never below the real count by much."""

from __future__ import annotations

import time

from holysheep.tokens import estimate_message_tokens, estimate_tokens, estimate_tools_tokens


def test_empty_and_ascii() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd" * 25) >= 25


def test_cjk_counts_a_token_per_character() -> None:
    assert estimate_tokens("你好世界") >= 4


def test_messages_include_overhead_and_tool_calls() -> None:
    plain = estimate_message_tokens([{"role": "user", "content": "hello"}])
    with_call = estimate_message_tokens(
        [
            {"role": "user", "content": "hello"},
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "c1", "function": {"name": "lookup", "arguments": '{"q": "x" }'}}
                ],
            },
        ]
    )
    assert with_call > plain > estimate_tokens("hello")
    assert estimate_message_tokens([{"role": "user", "content": [{"type": "text", "text": "a"}]}])


def test_tools_add_tokens() -> None:
    assert estimate_tools_tokens(None) == 0
    assert estimate_tools_tokens([{"type": "function", "function": {"name": "f"}}]) > 0


def test_estimate_is_about_as_cheap_as_reading_the_text() -> None:
    """A ratio against a baseline of the same run (json.dumps of the messages), not a timing."""
    import json

    messages = [{"role": "user", "content": "word " * 400}] * 5

    def best(fn: object) -> float:
        out = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(20):
                fn(messages)  # type: ignore[operator]
            out = min(out, time.perf_counter() - start)
        return out

    assert best(estimate_message_tokens) < 2 * best(json.dumps)
