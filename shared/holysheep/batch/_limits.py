"""Concurrency per model that adapts to the relay: halve on a 429, grow back on successes.

Additive increase, multiplicative decrease, as TCP does: a 429 halves the model's limit once per
round (the calls already in flight when it came do not halve it again) and pauses the model for
``Retry-After``; every ``limit`` successes add one, up to the ceiling. No I/O, no sleeping: the
runner asks what may start and how long to wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["AdaptiveLimits", "default_ceiling"]

_TIER_LIMITS = {"fast": 32, "standard": 16, "slow": 8}
"""Default concurrency per model by catalogue latency tier (slow reasoning models hold a
connection for minutes; fast ones for a second)."""


def default_ceiling(catalog: object, model: str) -> int:
    """The catalogue's concurrency for ``model``: from its latency tier (16 when unknown)."""
    spec = catalog.find(model) if hasattr(catalog, "find") else None  # type: ignore[attr-defined]
    return _TIER_LIMITS.get(getattr(spec, "latency_tier", "standard"), 16)


@dataclass(slots=True)
class _Model:
    ceiling: int
    limit: int
    in_flight: int = 0
    successes: int = 0
    round: int = 0
    paused_until: float = 0.0
    halvings: int = 0


class AdaptiveLimits:
    """How many calls each model may have in flight, adapting to 429s."""

    def __init__(
        self,
        ceiling: int | Mapping[str, int] | Callable[[str], int],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(ceiling, int):
            fixed = ceiling
            self._ceiling: Callable[[str], int] = lambda _model: fixed
        elif isinstance(ceiling, Mapping):
            table = dict(ceiling)
            default = table.pop("*", 16)
            self._ceiling = lambda model: table.get(model, default)
        else:
            self._ceiling = ceiling
        self._clock = clock
        self._models: dict[str, _Model] = {}

    def _get(self, model: str) -> _Model:
        state = self._models.get(model)
        if state is None:
            ceiling = max(1, int(self._ceiling(model)))
            state = self._models[model] = _Model(ceiling, ceiling)
        return state

    def can_start(self, model: str) -> bool:
        """True when ``model`` is below its limit and not paused."""
        state = self._get(model)
        return state.in_flight < state.limit and self._clock() >= state.paused_until

    def wait_s(self, model: str) -> float:
        """Seconds until a paused ``model`` may start calls again (0 when it may now)."""
        return max(0.0, self._get(model).paused_until - self._clock())

    def started(self, model: str) -> int:
        """Count a call as in flight; returns its round (pass it to ``finished``)."""
        state = self._get(model)
        state.in_flight += 1
        return state.round

    def finished(self, model: str, round_: int, *, rate_limited: bool = False,
                 pause_s: float = 0.0) -> None:
        """A call ended: a 429 halves the limit (once per round) and pauses; success grows it."""
        state = self._get(model)
        state.in_flight = max(0, state.in_flight - 1)
        if rate_limited:
            if round_ == state.round:
                state.limit = max(1, state.limit // 2)
                state.round += 1
                state.successes = 0
                state.halvings += 1
            state.paused_until = max(state.paused_until, self._clock() + pause_s)
            return
        state.successes += 1
        if state.successes >= state.limit and state.limit < state.ceiling:
            state.limit += 1
            state.successes = 0

    def limit(self, model: str) -> int:
        """The current limit of ``model``."""
        return self._get(model).limit

    def in_flight(self) -> int:
        """Calls in flight over every model."""
        return sum(state.in_flight for state in self._models.values())

    def halvings(self) -> int:
        """How many times a 429 cut a limit (for the summary and tests)."""
        return sum(state.halvings for state in self._models.values())
