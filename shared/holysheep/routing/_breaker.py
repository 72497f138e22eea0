"""A circuit breaker per model, built for how LLM relays fail.

Why not a generic breaker: LLM failures mean different things. A 429 says exactly how long to
stay away (``Retry-After``); a 402 means the money ran out, for long; 5xx and timeouts are noise
until they become a pattern; a context-length or content-policy error is the request's fault and
says nothing about the model's health. LiteLLM cools a deployment for a fixed 5 s, never probes
and keeps the first (shorter) deadline when it cools again; Portkey closes without a probe. Here:

* ``closed``: requests pass; failures are counted in a rolling window. The circuit opens after
  ``consecutive_failures`` in a row, or when at least ``minimum_requests`` in ``window_s`` fail at
  ``failure_rate`` or more. It then stays open ``cooldown_s`` (doubling after each failed probe,
  up to ``max_cooldown_s``).
* a 429 opens it at once for ``Retry-After`` seconds (``rate_limit_cooldown_s`` when absent);
  a 402 for ``credit_cooldown_s``; a 404 (model not served) for ``not_found_cooldown_s``.
  Opening again never shortens an open circuit.
* ``half-open`` once the time is up: exactly one probe request is let through. Its success
  closes the circuit; its failure opens it again; a probe that never reports is replaced after
  ``probe_timeout_s``.

The breaker does no I/O and never sleeps; time comes from an injectable clock, so tests drive
it with a fake one. One instance is thread-safe and may be shared by many routers and clients.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from holysheep.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    HolySheepError,
    InsufficientCreditError,
    ModelNotFoundError,
    RateLimitError,
    StreamError,
)

__all__ = ["BreakerState", "CircuitBreaker", "FailureKind", "ModelHealth", "failure_kind"]

FailureKind = Literal["rate_limit", "credit", "not_found", "failure", "neutral"]
"""How an error bears on a model's health; ``neutral`` errors are the request's own fault."""

_POLICY_CODES = frozenset({"content_filter", "content_policy_violation", "content_policy"})
_POLICY_TEXT = re.compile(r"content[ _-]?(?:policy|filter|management)|safety system", re.I)
_PROBE_POLL_S = 0.5


class BreakerState(str, Enum):
    """A circuit's state."""

    CLOSED = "closed"
    """Healthy: requests pass."""
    OPEN = "open"
    """Cooling down: no request passes until the time is up."""
    HALF_OPEN = "half-open"
    """Time is up: one probe request may pass; its outcome closes or reopens the circuit."""


def is_content_policy(error: BaseException) -> bool:
    """True for a provider's content-policy refusal (a 400 with a policy code or message)."""
    code = str(getattr(error, "code", "") or "")
    return code in _POLICY_CODES or bool(_POLICY_TEXT.search(str(error)))


def failure_kind(error: BaseException) -> FailureKind:
    """How ``error`` counts for the model that raised it.

    ``neutral``: context-length, content-policy and other 400s, authentication, local errors and
    anything that is not a relay error (the request or the account is at fault, not the model).
    """
    if isinstance(error, RateLimitError):
        return "rate_limit"
    if isinstance(error, InsufficientCreditError):
        return "credit"
    if isinstance(error, ModelNotFoundError):
        return "not_found"
    if isinstance(error, (BadRequestError, AuthenticationError)) or is_content_policy(error):
        return "neutral"
    if isinstance(error, StreamError):
        status = error.status_code
        return "failure" if status is None or status >= 500 or status == 429 else "neutral"
    if isinstance(error, APIError):
        return "failure"
    return "neutral"


@dataclass(frozen=True, slots=True)
class ModelHealth:
    """A snapshot of one model's circuit."""

    model: str
    state: BreakerState
    retry_in_s: float
    """Seconds until a request may pass (0 when one may pass now)."""
    reason: str
    """Why the circuit last opened (empty when it never did)."""
    requests: int
    """Outcomes counted in the current window."""
    failures: int
    """Failures among them."""
    consecutive_failures: int

    @property
    def available(self) -> bool:
        """True when a request may pass now (closed, or half-open with no probe in flight)."""
        return self.retry_in_s <= 0


@dataclass(slots=True)
class _Circuit:
    events: deque[tuple[float, bool]] = field(default_factory=deque)
    consecutive: int = 0
    open_until: float = 0.0
    """0 = closed; in the future = open; in the past = half-open."""
    reopens: int = 0
    probe_started: float | None = None
    reason: str = ""


class CircuitBreaker:
    """Per-model circuit breakers keyed by model id, sharing one set of parameters.

    Example:
        ```python
        breaker = CircuitBreaker(cooldown_s=20)
        router_a = TaskRouter(breaker=breaker)   # both routers see the same model health
        router_b = TaskRouter.from_toml("routes.toml", breaker=breaker)
        ```
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        failure_rate: float = 0.5,
        minimum_requests: int = 4,
        consecutive_failures: int = 3,
        window_s: float = 60.0,
        cooldown_s: float = 15.0,
        max_cooldown_s: float = 300.0,
        rate_limit_cooldown_s: float = 5.0,
        max_rate_limit_cooldown_s: float = 600.0,
        credit_cooldown_s: float = 3600.0,
        not_found_cooldown_s: float = 600.0,
        probe_timeout_s: float = 60.0,
    ) -> None:
        """Set the thresholds; see the module docstring for what each one does."""
        if not 0 < failure_rate <= 1:
            raise ValueError("failure_rate must be in (0, 1]")
        if minimum_requests < 1 or consecutive_failures < 1:
            raise ValueError("minimum_requests and consecutive_failures must be at least 1")
        for name, value in (
            ("window_s", window_s),
            ("cooldown_s", cooldown_s),
            ("rate_limit_cooldown_s", rate_limit_cooldown_s),
            ("probe_timeout_s", probe_timeout_s),
        ):
            if value <= 0:
                raise ValueError(f"{name} must be > 0 seconds")
        self.clock = clock
        self.failure_rate = failure_rate
        self.minimum_requests = minimum_requests
        self.consecutive_failures = consecutive_failures
        self.window_s = window_s
        self.cooldown_s = cooldown_s
        self.max_cooldown_s = max(max_cooldown_s, cooldown_s)
        self.rate_limit_cooldown_s = rate_limit_cooldown_s
        self.max_rate_limit_cooldown_s = max_rate_limit_cooldown_s
        self.credit_cooldown_s = credit_cooldown_s
        self.not_found_cooldown_s = not_found_cooldown_s
        self.probe_timeout_s = probe_timeout_s
        self._lock = threading.Lock()
        self._circuits: dict[str, _Circuit] = {}

    def __repr__(self) -> str:
        open_ = [m for m in list(self._circuits) if self.state(m) is not BreakerState.CLOSED]
        return f"<CircuitBreaker {len(self._circuits)} models, not closed: {open_}>"

    # ------------------------------------------------------------ reading

    def _circuit(self, model: str) -> _Circuit:
        circuit = self._circuits.get(model)
        if circuit is None:
            circuit = self._circuits[model] = _Circuit()
        return circuit

    @staticmethod
    def _state_of(circuit: _Circuit, now: float) -> BreakerState:
        if circuit.open_until <= 0:
            return BreakerState.CLOSED
        return BreakerState.OPEN if now < circuit.open_until else BreakerState.HALF_OPEN

    def _retry_in(self, circuit: _Circuit, now: float) -> float:
        state = self._state_of(circuit, now)
        if state is BreakerState.OPEN:
            return circuit.open_until - now
        if state is BreakerState.HALF_OPEN and circuit.probe_started is not None:
            left = circuit.probe_started + self.probe_timeout_s - now
            return min(left, _PROBE_POLL_S) if left > 0 else 0.0
        return 0.0

    def state(self, model: str) -> BreakerState:
        """The circuit's state now."""
        with self._lock:
            return self._state_of(self._circuit(model), self.clock())

    def retry_in(self, model: str) -> float:
        """Seconds until ``model`` may take a request (0 = now; a short poll while probing)."""
        with self._lock:
            return self._retry_in(self._circuit(model), self.clock())

    def available(self, model: str) -> bool:
        """True when a request to ``model`` would pass now; takes nothing (see ``acquire``)."""
        return self.retry_in(model) <= 0

    def health(self, model: str) -> ModelHealth:
        """A snapshot of ``model``'s circuit."""
        with self._lock:
            now = self.clock()
            circuit = self._circuit(model)
            self._prune(circuit, now)
            failures = sum(1 for _, ok in circuit.events if not ok)
            return ModelHealth(
                model=model,
                state=self._state_of(circuit, now),
                retry_in_s=self._retry_in(circuit, now),
                reason=circuit.reason,
                requests=len(circuit.events),
                failures=failures,
                consecutive_failures=circuit.consecutive,
            )

    # ------------------------------------------------------------ acting

    def acquire(self, model: str) -> bool:
        """Permission to send one request to ``model`` now; in half-open, the single probe."""
        with self._lock:
            now = self.clock()
            circuit = self._circuit(model)
            state = self._state_of(circuit, now)
            if state is BreakerState.CLOSED:
                return True
            if state is BreakerState.OPEN:
                return False
            started = circuit.probe_started
            if started is not None and now - started < self.probe_timeout_s:
                return False
            circuit.probe_started = now
            return True

    def record_success(self, model: str) -> None:
        """A request to ``model`` succeeded; a half-open circuit closes."""
        with self._lock:
            now = self.clock()
            circuit = self._circuit(model)
            if self._state_of(circuit, now) is BreakerState.HALF_OPEN:
                self._circuits[model] = _Circuit()
                return
            circuit.consecutive = 0
            circuit.events.append((now, True))
            self._prune(circuit, now)

    def record_failure(self, model: str, error: BaseException) -> FailureKind:
        """Count ``error`` against ``model`` as ``failure_kind`` says; returns that kind."""
        kind = failure_kind(error)
        with self._lock:
            now = self.clock()
            circuit = self._circuit(model)
            state = self._state_of(circuit, now)
            circuit.probe_started = None
            if kind == "rate_limit":
                after = getattr(error, "retry_after", None)
                wait = self.rate_limit_cooldown_s if after is None else float(after)
                wait = min(max(wait, 0.001), self.max_rate_limit_cooldown_s)
                self._open(circuit, now, wait, f"rate limited (429), retry after {wait:g} s")
            elif kind == "credit":
                self._open(circuit, now, self.credit_cooldown_s, "out of credit (402)")
            elif kind == "not_found":
                self._open(circuit, now, self.not_found_cooldown_s, "not served (404)")
            elif kind == "failure":
                self._count_failure(circuit, now, state, error)
        return kind

    def _count_failure(
        self, circuit: _Circuit, now: float, state: BreakerState, error: BaseException
    ) -> None:
        circuit.consecutive += 1
        circuit.events.append((now, False))
        self._prune(circuit, now)
        what = _describe(error)
        if state is BreakerState.HALF_OPEN:
            circuit.reopens += 1
            self._open(circuit, now, self._cooldown(circuit), f"probe failed: {what}")
            return
        failures = sum(1 for _, ok in circuit.events if not ok)
        total = len(circuit.events)
        if circuit.consecutive >= self.consecutive_failures:
            why = f"{circuit.consecutive} failures in a row, last {what}"
        elif total >= self.minimum_requests and failures / total >= self.failure_rate:
            why = f"{failures} of {total} requests failed in {self.window_s:g} s, last {what}"
        else:
            return
        self._open(circuit, now, self._cooldown(circuit), why)

    def _cooldown(self, circuit: _Circuit) -> float:
        return min(self.cooldown_s * 2 ** min(circuit.reopens, 30), self.max_cooldown_s)

    @staticmethod
    def _open(circuit: _Circuit, now: float, seconds: float, reason: str) -> None:
        until = now + seconds
        if until >= circuit.open_until:  # opening again never shortens an open circuit
            circuit.open_until = until
            circuit.reason = reason

    def _prune(self, circuit: _Circuit, now: float) -> None:
        horizon = now - self.window_s
        events = circuit.events
        while events and events[0][0] < horizon:
            events.popleft()

    def reset(self, model: str | None = None) -> None:
        """Forget one model's circuit (or every circuit): closed, no history."""
        with self._lock:
            if model is None:
                self._circuits.clear()
            else:
                self._circuits.pop(model, None)


def _describe(error: BaseException) -> str:
    status = getattr(error, "status_code", None)
    name = type(error).__name__
    if isinstance(error, HolySheepError) and isinstance(status, int):
        return f"{name} ({status})"
    return name
