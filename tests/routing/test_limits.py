"""Token limits: clamping max_tokens and trimming old turns (the core, for wire dicts)."""

from __future__ import annotations

from holysheep.catalog import ModelCatalog
from holysheep.routing import clamp_max_tokens, trim_messages
from holysheep.routing._limits import CLAMPED, FULL, NO_FIT, TRIMMED, assess_fit
from holysheep.tokens import estimate_message_tokens

DEEPSEEK = ModelCatalog.default().get("deepseek-v3.2")  # 128,000 window, 8,192 output


def test_clamp_to_output_cap_and_window() -> None:
    assert clamp_max_tokens(DEEPSEEK, 1_000, 500) == 500
    assert clamp_max_tokens(DEEPSEEK, 1_000, 50_000) == 8_192
    assert clamp_max_tokens(DEEPSEEK, 125_000, 8_000) == 3_000
    assert clamp_max_tokens(DEEPSEEK, 1_000, None) is None  # nothing to clamp
    assert clamp_max_tokens(DEEPSEEK, 124_000, None) == 4_000  # an unbounded reply could overflow
    assert clamp_max_tokens(DEEPSEEK, 200_000, 100) == 1  # never below 1


def test_fit_levels() -> None:
    assert assess_fit(DEEPSEEK, 1_000, 4_000).level == FULL
    clamped = assess_fit(DEEPSEEK, 125_000, 8_000)
    assert clamped.level == CLAMPED and clamped.max_tokens == 3_000
    assert assess_fit(DEEPSEEK, 130_000, None).level == NO_FIT
    trimmed = assess_fit(DEEPSEEK, 130_000, 1_000, min_prompt_tokens=5_000)
    assert trimmed.level == TRIMMED and trimmed.prompt_tokens == 127_000
    assert "trimmed" in trimmed.reason
    assert "exceeds its 128k window" in assess_fit(DEEPSEEK, 210_000, 4_000).reason


def chat(turns: int, size: int = 400) -> list[dict]:
    messages: list[dict] = [{"role": "system", "content": "You are terse."}]
    for i in range(turns):
        messages.append({"role": "user", "content": f"q{i} " + "word " * size})
        messages.append({"role": "assistant", "content": f"a{i} " + "word " * size})
    messages.append({"role": "user", "content": "final question"})
    return messages


def test_trim_keeps_system_and_latest_turns_within_budget() -> None:
    messages = chat(10)
    trimmed = trim_messages(messages, 2_000)
    assert trimmed[0] == messages[0]
    assert trimmed[-1] == messages[-1]
    assert trimmed[1]["role"] == "user"
    assert estimate_message_tokens(trimmed) <= 2_000
    assert trimmed == [messages[0], *messages[len(messages) - len(trimmed) + 1 :]]


def test_trim_is_a_no_op_when_it_fits() -> None:
    messages = chat(2)
    assert trim_messages(messages, 100_000) == messages


def test_trim_keeps_tool_calls_with_their_results() -> None:
    messages = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "old " * 2000},
        {"role": "user", "content": "weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny " * 50},
        {"role": "user", "content": "and tomorrow?"},
    ]
    trimmed = trim_messages(messages, 300)
    roles = [m["role"] for m in trimmed]
    assert roles == ["system", "user", "assistant", "tool", "user"]


def test_trim_always_keeps_the_latest_turn() -> None:
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "x " * 5000}]
    assert trim_messages(messages, 10) == messages
