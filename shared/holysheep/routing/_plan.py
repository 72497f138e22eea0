"""``RoutePlan``: the fallback state machine one routed call walks through (sans-I/O).

The client's loop asks ``next_model()``, calls the relay (with its own retries), and reports
``succeeded``/``failed``; when nothing is available it asks ``wait_s()`` and sleeps that long, or
raises ``no_model_error()``. The plan never sleeps and never sends anything, so the sync and the
async client drive the same object, and tests drive it with a fake clock.

Which failures move on to the next candidate (``failed`` re-raises the rest):

* ``RateLimitError`` (429): the model's circuit opens for ``Retry-After``; the model may be tried
  again in this call once it recovers (at most ``MAX_TURNS_PER_MODEL`` turns).
* ``InsufficientCreditError`` (402), ``ModelNotFoundError`` (404): provider-side, long-lived; the
  model is out for this call.
* ``UpstreamError`` (5xx), ``APITimeoutError``, ``APIConnectionError``, ``ConflictError``, and
  a ``StreamError`` before the first chunk (status absent, 5xx or 429): the client's retries are
  spent, so the model is out for this call and the failure counts toward its circuit.
* ``ContextLengthError``: the model is out and so is every candidate whose window is no larger;
  when none is left, larger-window models from the ``long-context`` route join.
* a content-policy refusal (a 400 with a policy code or message): another provider may accept.

Re-raised, because every candidate would fail the same way or the caller already has output:
other ``BadRequestError`` (400/422), ``AuthenticationError`` (401/403), local errors such as
``BudgetExceededError``, anything that is not a relay error, and any failure after the first
stream chunk reached the caller (``after_first_chunk=True``, or a ``StreamError`` carrying text).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from holysheep.errors import (
    APIError,
    BadRequestError,
    ContextLengthError,
    InsufficientCreditError,
    ModelNotFoundError,
    NoModelAvailableError,
    RateLimitError,
    StreamError,
)
from holysheep.routing._breaker import is_content_policy
from holysheep.routing._decision import Fallback, RouteDecision
from holysheep.routing._limits import TRIMMED, trim_messages

if TYPE_CHECKING:
    from holysheep.routing._analysis import Analysis
    from holysheep.routing._breaker import CircuitBreaker

__all__ = ["MAX_TURNS_PER_MODEL", "RoutePlan"]

MAX_TURNS_PER_MODEL = 3
"""Turns one model gets in one call (only rate-limited models get more than one)."""


def fallback_reason(model: str, error: BaseException, *, after_first_chunk: bool) -> str | None:
    """Why ``error`` from ``model`` moves on to another candidate, or None to re-raise it."""
    if after_first_chunk or (isinstance(error, StreamError) and error.text):
        return None
    said = f"{_what(error)} from {model}"
    if isinstance(error, RateLimitError):
        return f"{said}: rate limited; its circuit stays open for the Retry-After time"
    if isinstance(error, InsufficientCreditError):
        return f"{said}: no credit for it; its circuit stays open for long"
    if isinstance(error, ModelNotFoundError):
        return f"{said}: the relay does not serve it"
    if isinstance(error, ContextLengthError):
        return f"{said}: the prompt is too long for its window"
    if isinstance(error, BadRequestError):
        if is_content_policy(error):
            return f"{said}: refused on content policy; another provider may accept"
        return None
    if isinstance(error, StreamError):
        status = error.status_code
        if status is None or status >= 500 or status == 429:
            return f"{said}: the stream failed before its first chunk"
        return None
    if isinstance(error, APIError) and getattr(error, "is_retryable", False):
        return f"{said}: failed after its retries"
    return None


class RoutePlan:
    """One routed call's walk through its candidates; build it with ``TaskRouter.plan``.

    Example (the client's loop, sync; the async twin awaits ``asyncio.sleep`` instead):
        ```python
        plan = router.plan(messages, task="qa", deadline=30)
        while True:
            model = plan.next_model()
            if model is None:
                wait = plan.wait_s()
                if wait is None:
                    raise plan.no_model_error()
                time.sleep(wait)
                continue
            try:
                reply = client.chat(model=model, messages=plan.messages_for(model),
                                    max_tokens=plan.max_tokens_for(model))
            except HolySheepError as exc:
                plan.failed(model, exc)   # re-raises what no other model would fix
                continue
            plan.succeeded(model)
            break
        ```
    """

    def __init__(
        self,
        analysis: Analysis,
        breaker: CircuitBreaker,
        *,
        clock: Callable[[], float],
        deadline: float,
        extend: Callable[[Analysis, int], list[str]],
    ) -> None:
        """Use ``TaskRouter.plan``; ``deadline`` is in seconds from now."""
        self._analysis = analysis
        self._breaker = breaker
        self._clock = clock
        self._started = clock()
        self._deadline = deadline
        self._extend = extend
        self._order = [c.model for c in analysis.candidates if c.skip is None]
        self._out: dict[str, tuple[str, str]] = {}
        self._turns: Counter[str] = Counter()
        self._fallbacks: list[Fallback] = []
        self._current: str | None = None
        self._served: str | None = None
        self._gave_up: str | None = None
        self._stopped: str | None = None

    def __repr__(self) -> str:
        return f"<RoutePlan task={self._analysis.task!r} candidates={self._order}>"

    # ------------------------------------------------------------ asking

    @property
    def task(self) -> str:
        """The route label this plan follows."""
        return self._analysis.task

    def _in_play(self) -> list[str]:
        return [
            m for m in self._order if m not in self._out and self._turns[m] < MAX_TURNS_PER_MODEL
        ]

    def next_model(self) -> str | None:
        """The candidate to try now (its breaker admits it), or None when none is available."""
        if self._served is not None:
            return None
        for model in self._in_play():
            if self._breaker.acquire(model):
                self._turns[model] += 1
                self._current = model
                if self._fallbacks and self._fallbacks[-1].to_model is None:
                    self._fallbacks[-1] = dataclasses.replace(self._fallbacks[-1], to_model=model)
                return model
        return None

    def max_tokens_for(self, model: str) -> int | None:
        """``max_tokens`` to send to ``model``: the caller's, clamped to its output and window."""
        candidate = self._analysis.find(model)
        if candidate is None or candidate.fit is None:
            return self._analysis.max_tokens
        return candidate.fit.max_tokens

    def messages_for(self, model: str) -> list[Any]:
        """The messages to send to ``model``: trimmed to its window when trimming was chosen."""
        analysis = self._analysis
        candidate = analysis.find(model)
        if candidate is None or candidate.fit is None or candidate.fit.level != TRIMMED:
            return list(analysis.messages)
        budget = candidate.fit.prompt_tokens - analysis.tools_tokens
        return trim_messages(analysis.messages, budget)

    def wait_s(self) -> float | None:
        """Seconds until the earliest candidate recovers, or None (give up) past the deadline."""
        if self._served is not None:
            return None
        waits = [self._breaker.retry_in(m) for m in self._in_play()]
        if not waits:
            return None
        wait = max(0.0, min(waits))
        if self._clock() - self._started + wait > self._deadline:
            return None
        return wait

    # ------------------------------------------------------------ reporting

    def succeeded(self, model: str) -> None:
        """``model`` answered: its circuit records a success (a half-open one closes)."""
        self._breaker.record_success(model)
        self._served = model
        self._current = None

    def failed(self, model: str, error: BaseException, *, after_first_chunk: bool = False) -> None:
        """Record ``error`` from ``model``; return to fall back, or re-raise ``error``.

        Args:
            model: the candidate that failed (as returned by ``next_model``).
            error: what it raised, after the client's own retries.
            after_first_chunk: True when a stream already gave the caller a chunk; then
                nothing falls back (the caller has part of an answer).

        Raises:
            BaseException: ``error`` itself when another candidate would not help (see the
                module docstring for the list).
        """
        self._breaker.record_failure(model, error)
        self._current = None
        reason = fallback_reason(model, error, after_first_chunk=after_first_chunk)
        if reason is None:
            self._stopped = f"{model} failed with {type(error).__name__}, which no fallback fixes"
            self._out[model] = ("failed", _what(error))
            raise error
        if not isinstance(error, RateLimitError):
            self._out[model] = ("failed", _what(error))
        if isinstance(error, ContextLengthError):
            reason += self._drop_small_windows(model)
        self._fallbacks.append(Fallback.from_error(model, error, reason))

    def _drop_small_windows(self, model: str) -> str:
        candidate = self._analysis.find(model)
        window = candidate.spec.context_window if candidate is not None else 0
        for other in self._order:
            found = self._analysis.find(other)
            if other not in self._out and found and found.spec.context_window <= window:
                self._out[other] = (
                    "skipped",
                    f"its {found.spec.context_window:,} window is no larger than {model}'s",
                )
        if not self._in_play():
            added = self._extend(self._analysis, window)
            self._order.extend(m for m in added if m not in self._order)
        left = self._in_play()
        if not left:
            return "; no candidate with a larger window is left"
        return f"; only larger windows remain: {', '.join(left)}"

    # ------------------------------------------------------------ explaining

    def no_model_error(self) -> NoModelAvailableError:
        """The error to raise when giving up; its message says why each candidate was unusable."""
        waits = {m: self._breaker.health(m) for m in self._in_play()}
        lines = []
        for candidate in self._analysis.candidates:
            model = candidate.model
            if candidate.skip is not None:
                why = f"skipped: {candidate.skip}"
            elif model in self._out:
                why = " ".join(self._out[model])
            elif model in waits and not waits[model].available:
                health = waits[model]
                why = f"circuit {health.state.value} for {health.retry_in_s:.1f} s"
                why += f" ({health.reason})" if health.reason else ""
            else:
                why = "no turns left"
            lines.append(f"{model}: {why}")
        self._gave_up = "no candidate is available within the deadline"
        message = (
            f"no model can serve this {self._analysis.task!r} request now ({'; '.join(lines)}). "
            "Wait and retry, pass a longer deadline, or add candidates to the route."
        )
        return NoModelAvailableError(message, decision=self.decision)

    @property
    def decision(self) -> RouteDecision:
        """The decision so far: chosen model, verdicts, reason and fallbacks, in order."""
        analysis, fallbacks = self._analysis, tuple(self._fallbacks)
        if self._served is not None:
            return analysis.decide(
                self._breaker, fallbacks=fallbacks, out=self._out, chosen=self._served
            )
        if self._gave_up or self._stopped:
            reason = self._stopped or self._gave_up
            return analysis.decide(
                self._breaker, fallbacks=fallbacks, out=self._out, chosen=None, reason=reason
            )
        if self._current is not None:
            return analysis.decide(
                self._breaker,
                fallbacks=fallbacks,
                out=self._out,
                chosen=self._current,
                reason=f"trying {self._current}",
            )
        return analysis.decide(self._breaker, fallbacks=fallbacks, out=self._out)


def _what(error: BaseException) -> str:
    status = getattr(error, "status_code", None)
    name = type(error).__name__
    return f"{name} ({status})" if isinstance(status, int) else name
