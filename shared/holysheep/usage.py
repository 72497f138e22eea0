"""Token usage of one call (or a total of calls) as a small immutable value.

Bucket rules, the same for every provider once parsed by :meth:`Usage.from_wire`:

* ``cached_tokens`` are counted INSIDE ``prompt_tokens`` (``uncached_prompt_tokens`` is the rest);
* ``reasoning_tokens`` are counted INSIDE ``completion_tokens`` (both billed as output).

Providers that report reasoning outside ``completion_tokens`` (xAI; Gemini's OpenAI-compatible
endpoint counts thinking only in ``total_tokens``) are normalised so these rules hold and no billed
output token is lost; ``total_tokens`` is always kept exactly as the wire reported it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from holysheep.wire import WireUsage

__all__ = ["Usage"]


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one call or of many (``a + b``); a slotted dataclass, cheap to build per call."""

    prompt_tokens: int = 0
    """Every input token, cached ones included."""
    completion_tokens: int = 0
    """Every output token, reasoning tokens included; all are billed at the output price."""
    total_tokens: int = 0
    """The total as the provider reported it (may exceed prompt + completion, e.g. Gemini)."""
    cached_tokens: int = 0
    """Prompt tokens served from the provider's cache; a subset of ``prompt_tokens``."""
    reasoning_tokens: int = 0
    """Hidden or streamed reasoning tokens; a subset of ``completion_tokens``."""

    @property
    def uncached_prompt_tokens(self) -> int:
        """Prompt tokens billed at the full input price (``prompt_tokens - cached_tokens``)."""
        return max(0, self.prompt_tokens - self.cached_tokens)

    @classmethod
    def zero(cls) -> Usage:
        """The neutral element for ``+``, the start of a running total."""
        return _ZERO

    def __add__(self, other: object) -> Usage:
        """Field-wise sum, for totals over many calls."""
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.total_tokens + other.total_tokens,
            self.cached_tokens + other.cached_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
        )

    def __radd__(self, other: object) -> Usage:
        """Lets ``sum(usages)`` start from the integer 0."""
        if other == 0:
            return self
        return NotImplemented

    @classmethod
    def from_wire(cls, wire: WireUsage | Mapping[str, Any] | Usage | None) -> Usage | None:
        """Parse a provider's ``usage`` object (pydantic ``WireUsage`` or plain dict); None -> None.

        Cached tokens come from ``prompt_tokens_details.cached_tokens``, else DeepSeek's
        ``prompt_cache_hit_tokens``, else Together's top-level ``cached_tokens``; they are clamped
        to ``prompt_tokens``. When ``total_tokens`` exceeds prompt + completion, the excess is
        reasoning the provider left out of ``completion_tokens`` (xAI, Gemini) and is added there.
        """
        if wire is None:
            return None
        if isinstance(wire, Usage):
            return wire
        if isinstance(wire, Mapping):
            get = wire.get
        else:  # WireUsage, or any object with the same attribute names (e.g. an SDK's usage)

            def get(key: str) -> Any:
                return getattr(wire, key, None)

        prompt = _int(get("prompt_tokens"))
        completion = _int(get("completion_tokens"))
        reported_total = get("total_tokens")

        cached = _detail(get("prompt_tokens_details"), "cached_tokens")
        if cached is None:
            cached = _opt_int(get("prompt_cache_hit_tokens"))
        if cached is None:
            cached = _opt_int(get("cached_tokens"))
        cached = min(cached or 0, prompt)

        reasoning = _detail(get("completion_tokens_details"), "reasoning_tokens") or 0

        if isinstance(reported_total, int) and not isinstance(reported_total, bool):
            total = max(0, reported_total)
            hidden = total - prompt - completion
            if hidden > 0:
                # xAI: total = prompt + completion + reasoning; Gemini: thinking only in the total.
                completion += hidden
                reasoning = max(reasoning, hidden)
        else:
            total = prompt + completion
        return cls(prompt, completion, total, cached, min(reasoning, completion))


_ZERO = Usage()


def _opt_int(value: Any) -> int | None:
    """A non-negative int, or None when the field is absent or not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return max(0, int(value))


def _int(value: Any) -> int:
    """A non-negative int, 0 when the field is absent or null."""
    return _opt_int(value) or 0


def _detail(details: Any, key: str) -> int | None:
    """``details[key]`` from a dict or a pydantic details object (None when absent)."""
    if details is None:
        return None
    if isinstance(details, Mapping):
        return _opt_int(details.get(key))
    return _opt_int(getattr(details, key, None))
