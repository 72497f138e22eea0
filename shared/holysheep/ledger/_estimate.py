"""What a call may cost at most, before it is sent: the amount a budget reservation holds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from holysheep.tokens import estimate_message_tokens, estimate_tools_tokens

if TYPE_CHECKING:
    from holysheep.catalog import ModelSpec

__all__ = ["estimate_call_usd"]

_ZERO = Decimal(0)
_PRICED: dict[tuple[Decimal, Decimal, int, int], Decimal] = {}
"""Estimates already worked out, by prices and token counts: most calls repeat a few shapes."""
_PRICED_MAX = 4096


def estimate_call_usd(
    spec: ModelSpec | None,
    messages: Iterable[Mapping[str, Any] | Any],
    max_tokens: int | None,
    tools: Iterable[Mapping[str, Any]] | None = None,
) -> Decimal:
    """An upper estimate of a call's list-price USD: the prompt plus all of ``max_tokens``.

    The prompt is estimated with ``holysheep.tokens`` (which errs high) and priced as uncached
    input; the output is ``max_tokens`` at the output price. Without ``max_tokens`` the model's
    ``max_output_tokens`` is assumed: an honest upper bound, often far above what a call uses, so
    set ``max_tokens`` to reserve less of a budget per call.

    An unknown or unpriced model gives ``Decimal(0)``: budgets cannot protect calls to models
    whose prices the catalogue does not know (their recorded cost is ``None``, never 0).

    Args:
        spec: The catalogue entry of the model to be called, or ``None`` if unknown.
        messages: Wire messages (dicts or pydantic models).
        max_tokens: The request's output cap, or ``None``.
        tools: Tool definitions sent with the request, if any.

    Returns:
        USD at list price, exact.
    """
    if spec is None:
        return _ZERO
    input_price, output_price = spec.input_usd_per_mtok, spec.output_usd_per_mtok
    if input_price is None or output_price is None or spec.cached_input_usd_per_mtok is None:
        return _ZERO  # not priced
    prompt = estimate_message_tokens(messages)
    if tools:
        prompt += estimate_tools_tokens(tools)
    if max_tokens is None:
        output = spec.max_output_tokens
    else:
        output = max_tokens if type(max_tokens) is int and max_tokens >= 0 else max(
            0, int(max_tokens))
    key = (input_price, output_price, prompt, output)
    amount = _PRICED.get(key)
    if amount is None:
        amount = (prompt * input_price + output * output_price).scaleb(-6)
        if len(_PRICED) >= _PRICED_MAX:
            _PRICED.clear()
        _PRICED[key] = amount
    return amount
