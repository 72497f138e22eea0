"""``estimate_call_usd``: the most a call may cost, the amount a reservation holds."""

from __future__ import annotations

from decimal import Decimal

from holysheep.catalog import ModelSpec
from holysheep.ledger import estimate_call_usd
from holysheep.tokens import estimate_message_tokens, estimate_tools_tokens

from .helpers import CATALOG

MESSAGES = [{"role": "user", "content": "Summarise the attached report in three bullet points."}]
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]


def test_prompt_plus_max_tokens_at_the_model_prices() -> None:
    spec = CATALOG.get("gpt-4.1")
    prompt = estimate_message_tokens(MESSAGES)
    expected = (prompt * Decimal("2.00") + 500 * Decimal("8.00")) / 1_000_000
    assert estimate_call_usd(spec, MESSAGES, 500) == expected


def test_tools_add_to_the_prompt() -> None:
    spec = CATALOG.get("deepseek-v3.2")
    extra = estimate_tools_tokens(TOOLS) * Decimal("0.28") / 1_000_000
    with_tools = estimate_call_usd(spec, MESSAGES, 100, tools=TOOLS)
    assert with_tools - estimate_call_usd(spec, MESSAGES, 100) == extra


def test_no_max_tokens_assumes_the_model_maximum() -> None:
    spec = CATALOG.get("claude-sonnet-4.5")
    assert estimate_call_usd(spec, MESSAGES, None) == estimate_call_usd(
        spec, MESSAGES, spec.max_output_tokens
    )
    assert estimate_call_usd(spec, MESSAGES, None) > Decimal("0.95")  # 64k tokens at $15/M


def test_the_estimate_bounds_what_the_call_costs() -> None:
    spec = CATALOG.get("gemini-2.5-flash")
    assert estimate_call_usd(spec, MESSAGES, 0) > 0
    assert estimate_call_usd(spec, MESSAGES, 50) < estimate_call_usd(spec, MESSAGES, 51)


def test_unknown_or_unpriced_models_estimate_zero() -> None:
    assert estimate_call_usd(None, MESSAGES, 100) == 0
    assert estimate_call_usd(ModelSpec("new-model"), MESSAGES, 100) == 0


def test_repeated_estimates_follow_each_model_prices_and_tokens() -> None:
    """Estimates are remembered by shape (a call repeats a few), never across prices: a model
    repriced or another model with the same prompt gets its own figure, every time."""
    import dataclasses

    spec = CATALOG.get("gpt-4.1")
    dearer = dataclasses.replace(spec, input_usd_per_mtok=Decimal("3.00"))
    prompt = estimate_message_tokens(MESSAGES)
    for _ in range(3):
        assert estimate_call_usd(spec, MESSAGES, 500) == (
            prompt * Decimal("2.00") + 500 * Decimal("8.00")) / 1_000_000
        assert estimate_call_usd(dearer, MESSAGES, 500) == (
            prompt * Decimal("3.00") + 500 * Decimal("8.00")) / 1_000_000
        assert estimate_call_usd(spec, MESSAGES, 501) == (
            prompt * Decimal("2.00") + 501 * Decimal("8.00")) / 1_000_000
