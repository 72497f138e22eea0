"""``RetryPolicy``: the one retry loop of the stack, as a sans-I/O decision plus two short twins.

Exponential backoff with full jitter, ``Retry-After`` honoured up to a cap, bounded both by
attempts and by a total deadline. Only errors whose class says ``is_retryable`` are retried
(408/409/429/5xx, timeouts, connection errors), never 400/401/402/403/404. Streams are retried
by the client only before their first chunk reached the caller.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from . import _telemetry
from .errors import HolySheepError, RateLimitError

__all__ = ["RetryPolicy"]

T = TypeVar("T")
logger = logging.getLogger("holysheep")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a failed relay call.

    Example:
        ```python
        policy = RetryPolicy(max_attempts=4, deadline=30.0)
        client = HolySheepClient(retry=policy)
        ```
    """

    max_attempts: int = 3
    """Total attempts, the first included; 1 disables retries."""
    initial_delay: float = 0.5
    """Upper bound of the first backoff, in seconds (full jitter draws from 0 to it)."""
    max_delay: float = 8.0
    """Upper bound of any single backoff, in seconds."""
    multiplier: float = 2.0
    """Growth of the backoff bound per attempt."""
    deadline: float | None = 60.0
    """Total seconds across all attempts and waits; no retry starts that would end past it."""
    max_retry_after: float = 30.0
    """Cap on a server's ``Retry-After``, in seconds."""
    jitter: bool = True
    """Full jitter (uniform in [0, bound]); False waits the bound itself, for predictable tests."""
    retry_rate_limits: bool = True
    """Retry a 429 on the same model; routed calls turn this off and fall back instead."""
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1 (1 means: no retries)")
        if self.initial_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("delays must be >= 0 seconds")

    @classmethod
    def from_max_retries(cls, max_retries: int, **kwargs: float) -> RetryPolicy:
        """A policy allowing ``max_retries`` retries after the first attempt (LangChain naming)."""
        return cls(max_attempts=max(0, max_retries) + 1, **kwargs)  # type: ignore[arg-type]

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if retry_after is not None:
            return min(max(0.0, retry_after), self.max_retry_after)
        bound = min(self.max_delay, self.initial_delay * self.multiplier ** max(0, attempt - 1))
        return self.rng.uniform(0.0, bound) if self.jitter else bound

    def next_delay(self, attempt: int, error: BaseException, elapsed: float) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to give up and raise ``error``."""
        if attempt >= self.max_attempts or not is_retryable(error):
            return None
        if not self.retry_rate_limits and isinstance(error, RateLimitError):
            return None
        delay = self.backoff(attempt, getattr(error, "retry_after", None))
        if self.deadline is not None and elapsed + delay >= self.deadline:
            return None
        return delay

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` until it succeeds or the policy gives up."""
        start = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except HolySheepError as exc:
                delay = self.next_delay(attempt, exc, time.monotonic() - start)
                if delay is None:
                    raise
                _log_retry(attempt, delay, exc)
                time.sleep(delay)

    async def acall(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run ``fn`` until it succeeds or the policy gives up."""
        start = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                return await fn()
            except HolySheepError as exc:
                delay = self.next_delay(attempt, exc, time.monotonic() - start)
                if delay is None:
                    raise
                _log_retry(attempt, delay, exc)
                import asyncio  # lazily: importing asyncio costs ~8 ms for sync-only users

                await asyncio.sleep(delay)


def is_retryable(error: BaseException) -> bool:
    """True when the error's class (or the instance, for early stream errors) allows a retry."""
    return bool(getattr(error, "is_retryable", False))


def _log_retry(attempt: int, delay: float, exc: HolySheepError) -> None:
    _telemetry.retried(attempt, delay, exc)  # a span event when instrumented
    logger.info(
        "holysheep: attempt %d failed (%s, status %s, request %s); retrying in %.2f s",
        attempt,
        type(exc).__name__,
        exc.status_code,
        exc.request_id,
        delay,
    )
