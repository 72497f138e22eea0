"""Usage.from_wire on real provider payloads, and Usage arithmetic."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from holysheep.usage import Usage
from holysheep.wire import WireUsage

UPSTREAM = Path(__file__).resolve().parents[1] / "fixtures" / "upstream"


def wire_usage(case: str) -> dict[str, Any]:
    """The ``usage`` object of a recorded non-streaming response."""
    return json.loads((UPSTREAM / f"{case}.response.json").read_text(encoding="utf-8"))["usage"]


def last_stream_usage(case: str) -> dict[str, Any]:
    """The last ``usage`` object in a recorded SSE stream."""
    usage = None
    for line in (UPSTREAM / f"{case}.response.sse").read_text(encoding="utf-8").splitlines():
        if line.startswith("data:") and line[5:].strip() != "[DONE]":
            usage = json.loads(line[5:]).get("usage") or usage
    assert usage is not None
    return usage


def both(raw: dict[str, Any]) -> Usage:
    """Parse from the dict and from ``WireUsage``; both paths must agree."""
    from_dict = Usage.from_wire(raw)
    assert from_dict == Usage.from_wire(WireUsage.model_validate(raw))
    assert from_dict is not None
    return from_dict


def test_openai_cached_tokens_come_from_prompt_tokens_details() -> None:
    usage = both(wire_usage("openai-chat-cached-tokens"))
    assert usage == Usage(
        prompt_tokens=3663,
        completion_tokens=117,
        total_tokens=3780,
        cached_tokens=3584,
        reasoning_tokens=0,
    )
    assert usage.uncached_prompt_tokens == 3663 - 3584


def test_together_top_level_cached_tokens() -> None:
    raw = wire_usage("together-chat-basic")
    assert raw["cached_tokens"] == 0 and "prompt_tokens_details" not in raw
    assert both(raw) == Usage(44, 23, 67, 0, 0)
    assert both({**raw, "cached_tokens": 30}).cached_tokens == 30


def test_deepseek_prompt_cache_hit_tokens() -> None:
    raw = wire_usage("deepseek-chat-json-mode")
    usage = both(raw)
    assert (usage.prompt_tokens, usage.cached_tokens, usage.reasoning_tokens) == (495, 320, 118)
    assert usage.completion_tokens == 144 and usage.total_tokens == 639
    # Without the OpenAI-style details, DeepSeek's own field is used.
    deepseek_only = {k: v for k, v in raw.items() if k != "prompt_tokens_details"}
    assert both(deepseek_only).cached_tokens == raw["prompt_cache_hit_tokens"] == 320


def test_xai_total_kept_and_reasoning_folded_into_completion() -> None:
    raw = wire_usage("xai-chat-reasoning-tool-call")
    assert raw["total_tokens"] == raw["prompt_tokens"] + raw["completion_tokens"] + 189
    usage = both(raw)
    assert usage.total_tokens == 506  # as reported
    assert usage.reasoning_tokens == 189
    assert usage.completion_tokens == 26 + 189  # reasoning is billed output: kept inside completion
    assert usage.cached_tokens == 244
    assert usage.reasoning_tokens <= usage.completion_tokens


def test_xai_stream_usage_chunk() -> None:
    usage = both(last_stream_usage("xai-stream-reasoning-tool-call"))
    assert usage.total_tokens == 513
    assert (usage.prompt_tokens, usage.completion_tokens, usage.reasoning_tokens) == (291, 222, 196)


def test_gemini_total_kept_and_hidden_thinking_counted_as_output() -> None:
    raw = wire_usage("gemini-openai-compat-tool-call-empty-id")
    assert raw == {"completion_tokens": 12, "prompt_tokens": 35, "total_tokens": 109}
    usage = both(raw)
    assert usage.total_tokens == 109
    assert usage.prompt_tokens == 35
    assert usage.completion_tokens == 109 - 35
    assert usage.reasoning_tokens == 109 - 35 - 12


def test_openai_basic_and_anthropic_minimal() -> None:
    assert both(wire_usage("openai-chat-basic")) == Usage(16, 12, 28, 0, 0)
    assert both(wire_usage("anthropic-openai-compat-chat")) == Usage(17, 15, 32, 0, 0)


def test_null_details_and_missing_fields() -> None:
    raw = {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
        "prompt_tokens_details": None,
        "completion_tokens_details": None,
    }
    assert both(raw) == Usage(10, 5, 15, 0, 0)
    assert Usage.from_wire({"prompt_tokens": 7, "completion_tokens": 3}) == Usage(7, 3, 10, 0, 0)
    assert Usage.from_wire({}) == Usage.zero()


def test_none_in_none_out_and_usage_passthrough() -> None:
    assert Usage.from_wire(None) is None
    usage = Usage(1, 2, 3, 0, 0)
    assert Usage.from_wire(usage) is usage


def test_cached_tokens_clamped_to_prompt() -> None:
    raw = {
        "prompt_tokens": 100,
        "completion_tokens": 1,
        "total_tokens": 101,
        "prompt_tokens_details": {"cached_tokens": 250},
    }
    usage = both(raw)
    assert usage.cached_tokens == 100
    assert usage.uncached_prompt_tokens == 0


def test_addition_zero_and_sum() -> None:
    a = Usage(10, 5, 15, 4, 2)
    b = Usage(1, 2, 3, 0, 1)
    assert a + b == Usage(11, 7, 18, 4, 3)
    assert a + Usage.zero() == a
    assert sum([a, b]) == a + b
    assert sum([a, b], Usage.zero()) == a + b


def test_usage_is_frozen_and_hashable() -> None:
    usage = Usage(1, 1, 2, 0, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        usage.prompt_tokens = 5  # type: ignore[misc]
    assert {usage, Usage(1, 1, 2, 0, 0)} == {usage}
