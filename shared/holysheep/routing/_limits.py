"""Token limits: does a request fit a model, what ``max_tokens`` to send, and trimming history.

Why here and not in the relay's hands: a prompt that does not fit costs a round trip and an error,
and a ``max_tokens`` above what the window leaves is rejected by some providers and silently
truncated by others. Estimates come from :mod:`holysheep.tokens` (fast, erring high).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from holysheep.tokens import estimate_message_tokens

__all__ = [
    "ASSUMED_REPLY_TOKENS",
    "MIN_REPLY_TOKENS",
    "Fit",
    "assess_fit",
    "clamp_max_tokens",
    "trim_messages",
]

MIN_REPLY_TOKENS = 256
"""Room a reply needs at least when the caller gave no ``max_tokens``."""
ASSUMED_REPLY_TOKENS = 1024
"""Reply length assumed for cost estimates when the caller gave no ``max_tokens``."""

FULL, CLAMPED, TRIMMED, NO_FIT = 0, 1, 2, 3
"""Fit levels, best first: as asked; reply clamped to the room left; history trimmed; none."""

M = TypeVar("M")
_PRIMING = estimate_message_tokens(())  # tokens every prompt has, even with no messages


def _k(tokens: int) -> str:
    """``212345`` -> ``212k``; small numbers stay exact."""
    return f"{tokens / 1000:.0f}k" if tokens >= 10_000 else f"{tokens:,}"


@dataclass(frozen=True, slots=True)
class Fit:
    """How a request fits one model: a level (lower is better), the max_tokens to send, why."""

    level: int
    """``FULL`` (0), ``CLAMPED`` (1), ``TRIMMED`` (2) or ``NO_FIT`` (3)."""
    max_tokens: int | None
    """``max_tokens`` to send (None: the caller gave none and none is needed)."""
    prompt_tokens: int
    """Prompt tokens that will be sent (after trimming, at ``TRIMMED``)."""
    reason: str
    """Plain words, for the verdict."""


def clamp_max_tokens(spec: Any, prompt_tokens: int, max_tokens: int | None) -> int | None:
    """``max_tokens`` capped by the model's output limit and by what its window leaves.

    With ``max_tokens=None`` the result is None unless the window leaves less than the model's
    output cap (then a reply could overflow the window, so the room left is returned).
    Never below 1.
    """
    room = max(1, spec.context_window - prompt_tokens)
    if max_tokens is None:
        return room if room < spec.max_output_tokens else None
    return max(1, min(max_tokens, spec.max_output_tokens, room))


def assess_fit(
    spec: Any, prompt_tokens: int, max_tokens: int | None, *, min_prompt_tokens: int | None = None
) -> Fit:
    """How the request fits ``spec``; ``min_prompt_tokens`` (when trimming is allowed) is the
    prompt with only the system messages and the latest turn kept."""
    window = spec.context_window
    want = MIN_REPLY_TOKENS if max_tokens is None else min(max_tokens, spec.max_output_tokens)
    capped = max_tokens is not None and max_tokens > spec.max_output_tokens
    note = (
        f"; max_tokens {max_tokens:,} capped at its {spec.max_output_tokens:,} output"
        if (capped and max_tokens is not None)
        else ""
    )
    asked = "no max_tokens" if max_tokens is None else f"{want:,} max_tokens"
    if prompt_tokens + want <= window:
        return Fit(
            FULL,
            clamp_max_tokens(spec, prompt_tokens, max_tokens),
            prompt_tokens,
            f"prompt ~{_k(prompt_tokens)} tokens + {asked} fit its {_k(window)} window{note}",
        )
    room = window - prompt_tokens
    if room >= MIN_REPLY_TOKENS:
        return Fit(
            CLAMPED,
            room,
            prompt_tokens,
            f"prompt ~{_k(prompt_tokens)} tokens leaves {room:,} of its {_k(window)} window "
            f"for the reply: max_tokens clamped to {room:,}",
        )
    too_big = (
        f"prompt ~{_k(prompt_tokens)} tokens + {asked} exceed its {_k(window)} window"
        if room > 0
        else f"prompt ~{_k(prompt_tokens)} tokens exceeds its {_k(window)} window"
    )
    if min_prompt_tokens is not None and min_prompt_tokens + want <= window:
        budget = window - want
        return Fit(
            TRIMMED,
            clamp_max_tokens(spec, budget, max_tokens),
            budget,
            f"{too_big}; the oldest turns will be trimmed to fit ~{_k(budget)} tokens",
        )
    return Fit(NO_FIT, None, prompt_tokens, too_big)


# ---------------------------------------------------------------- trimming


def _as_mapping(message: Any) -> Mapping[str, Any]:
    if isinstance(message, Mapping):
        return message
    return message.model_dump(exclude_none=True)


def message_tokens(message: Any) -> int:
    """Tokens one wire message adds to a prompt (text, tool calls, per-message overhead)."""
    return estimate_message_tokens([message]) - _PRIMING


def _units(rest: Sequence[Any]) -> list[list[Any]]:
    """Non-system messages grouped so an assistant tool call stays with its tool results."""
    units: list[list[Any]] = []
    for message in rest:
        if _as_mapping(message).get("role") == "tool" and units:
            units[-1].append(message)
        else:
            units.append([message])
    return units


def trim_messages(
    messages: Sequence[M],
    max_prompt_tokens: int,
    *,
    count: Callable[[Any], int] = message_tokens,
) -> list[M]:
    """The newest turns that fit ``max_prompt_tokens``, with every system message kept.

    Why: a long chat outgrows any window; dropping the oldest turns keeps the instructions and
    the latest context. An assistant tool call is never separated from its tool results, and
    the kept history starts at a user message (providers reject a leading assistant turn).
    The latest turn is always kept, even when it alone is too big; the router then skips
    models it cannot fit. Messages may be wire dicts or pydantic models; order is preserved.

    Args:
        messages: the chat, oldest first.
        max_prompt_tokens: the token budget for the kept messages (reply excluded).
        count: tokens of one message; the default is the router's estimate.
    """
    system = [m for m in messages if _as_mapping(m).get("role") in ("system", "developer")]
    rest = [m for m in messages if _as_mapping(m).get("role") not in ("system", "developer")]
    used = _PRIMING + sum(count(m) for m in system)
    units = _units(rest)
    kept: list[list[Any]] = []
    for unit in reversed(units):
        cost = sum(count(m) for m in unit)
        if kept and used + cost > max_prompt_tokens:
            break
        kept.append(unit)
        used += cost
    kept.reverse()
    while len(kept) > 1 and _as_mapping(kept[0][0]).get("role") != "user":
        kept.pop(0)
    keep_ids = {id(m) for unit in kept for m in unit} | {id(m) for m in system}
    return [m for m in messages if id(m) in keep_ids]


def min_prompt_tokens(messages: Sequence[Any], *, extra: int = 0) -> int:
    """Tokens of the smallest prompt trimming can produce: system messages plus the latest turn."""
    kept = trim_messages(messages, 0)
    return estimate_message_tokens(kept) + extra
