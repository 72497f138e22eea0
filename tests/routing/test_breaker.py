"""The circuit breaker's state machine, driven by a fake clock."""

from __future__ import annotations

import threading

import pytest
from holysheep.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    ContextLengthError,
    InsufficientCreditError,
    ModelNotFoundError,
    RateLimitError,
    StreamError,
    UpstreamError,
)
from holysheep.routing import BreakerState, CircuitBreaker, failure_kind

from tests.routing.conftest import FakeClock

M = "gpt-4.1"


def boom(status: int = 503) -> UpstreamError:
    return UpstreamError("upstream failed", status_code=status)


def test_starts_closed_and_admits(breaker: CircuitBreaker) -> None:
    assert breaker.state(M) is BreakerState.CLOSED
    assert breaker.acquire(M) and breaker.acquire(M)
    assert breaker.retry_in(M) == 0 and breaker.available(M)


def test_429_opens_for_exactly_retry_after(breaker: CircuitBreaker, clock: FakeClock) -> None:
    breaker.record_failure(M, RateLimitError("slow down", status_code=429, retry_after=7))
    assert breaker.state(M) is BreakerState.OPEN
    assert breaker.retry_in(M) == pytest.approx(7)
    assert not breaker.acquire(M)
    clock.advance(6.9)
    assert not breaker.acquire(M)
    clock.advance(0.2)
    assert breaker.state(M) is BreakerState.HALF_OPEN
    assert "rate limited (429)" in breaker.health(M).reason


def test_429_without_retry_after_uses_the_default(clock: FakeClock) -> None:
    breaker = CircuitBreaker(clock=clock, rate_limit_cooldown_s=3)
    breaker.record_failure(M, RateLimitError("slow down", status_code=429))
    assert breaker.retry_in(M) == pytest.approx(3)


def test_huge_retry_after_is_capped(clock: FakeClock) -> None:
    breaker = CircuitBreaker(clock=clock, max_rate_limit_cooldown_s=60)
    breaker.record_failure(M, RateLimitError("slow down", status_code=429, retry_after=86400))
    assert breaker.retry_in(M) == pytest.approx(60)


def test_402_opens_for_long(breaker: CircuitBreaker, clock: FakeClock) -> None:
    breaker.record_failure(M, InsufficientCreditError("no credit", status_code=402))
    assert breaker.retry_in(M) == pytest.approx(3600)
    clock.advance(3599)
    assert breaker.state(M) is BreakerState.OPEN


def test_404_opens_the_model(breaker: CircuitBreaker) -> None:
    assert breaker.record_failure(M, ModelNotFoundError("gone", status_code=404)) == "not_found"
    assert breaker.state(M) is BreakerState.OPEN


def test_reopening_never_shortens(breaker: CircuitBreaker, clock: FakeClock) -> None:
    """LiteLLM #40130: a second, shorter cooldown must not cut the first one short."""
    breaker.record_failure(M, RateLimitError("slow", status_code=429, retry_after=30))
    clock.advance(1)
    breaker.record_failure(M, RateLimitError("slow", status_code=429, retry_after=2))
    assert breaker.retry_in(M) == pytest.approx(29)
    breaker.record_failure(M, RateLimitError("slow", status_code=429, retry_after=60))
    assert breaker.retry_in(M) == pytest.approx(60)


def test_consecutive_failures_open(breaker: CircuitBreaker) -> None:
    breaker.record_failure(M, boom())
    breaker.record_failure(M, APITimeoutError("slow"))
    assert breaker.state(M) is BreakerState.CLOSED
    breaker.record_failure(M, APIConnectionError("refused"))
    assert breaker.state(M) is BreakerState.OPEN
    health = breaker.health(M)
    assert health.consecutive_failures == 3 and "3 failures in a row" in health.reason
    assert health.retry_in_s == pytest.approx(breaker.cooldown_s)


def test_failure_rate_opens_after_minimum_requests(clock: FakeClock) -> None:
    breaker = CircuitBreaker(clock=clock, consecutive_failures=10, minimum_requests=4)
    for ok in (True, False, True, False):
        breaker.record_success(M) if ok else breaker.record_failure(M, boom())
    assert breaker.state(M) is BreakerState.OPEN
    assert "2 of 4 requests failed" in breaker.health(M).reason


def test_failures_outside_the_window_are_forgotten(clock: FakeClock) -> None:
    breaker = CircuitBreaker(clock=clock, consecutive_failures=10, window_s=60)
    breaker.record_failure(M, boom())
    breaker.record_failure(M, boom())
    clock.advance(61)
    breaker.record_success(M)
    breaker.record_success(M)
    assert breaker.state(M) is BreakerState.CLOSED
    assert breaker.health(M).requests == 2


def test_a_success_resets_the_consecutive_count(breaker: CircuitBreaker) -> None:
    for _ in range(5):
        breaker.record_failure(M, boom())
        breaker.record_success(M)
    assert breaker.health(M).consecutive_failures == 0
    assert breaker.state(M) is BreakerState.OPEN  # 5 of 10 failed: the rate still counts


@pytest.mark.parametrize(
    "error",
    [
        ContextLengthError("too long", status_code=400),
        BadRequestError("bad", status_code=400),
        BadRequestError("flagged", status_code=400, code="content_filter"),
        AuthenticationError("who are you", status_code=401),
        BudgetExceededError("over budget"),
        StreamError("bad request in stream", status_code=400),
        ValueError("not a relay error"),
    ],
)
def test_request_errors_do_not_count(breaker: CircuitBreaker, error: BaseException) -> None:
    for _ in range(10):
        assert breaker.record_failure(M, error) == "neutral"
    assert breaker.state(M) is BreakerState.CLOSED
    assert breaker.health(M).requests == 0


def test_failure_kinds() -> None:
    assert failure_kind(StreamError("cut", status_code=None)) == "failure"
    assert failure_kind(StreamError("overloaded", status_code=529)) == "failure"
    assert failure_kind(boom()) == "failure"


def _open(breaker: CircuitBreaker, clock: FakeClock) -> None:
    for _ in range(3):
        breaker.record_failure(M, boom())
    clock.advance(breaker.cooldown_s)
    assert breaker.state(M) is BreakerState.HALF_OPEN


def test_half_open_admits_exactly_one_probe(breaker: CircuitBreaker, clock: FakeClock) -> None:
    _open(breaker, clock)
    assert breaker.available(M)
    assert breaker.acquire(M)
    assert not breaker.acquire(M) and not breaker.available(M)
    assert 0 < breaker.retry_in(M) <= 0.5  # poll while the probe is out
    breaker.record_success(M)
    assert breaker.state(M) is BreakerState.CLOSED
    assert breaker.acquire(M) and breaker.acquire(M)


def test_failed_probe_reopens_with_a_longer_cooldown(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    _open(breaker, clock)
    assert breaker.acquire(M)
    breaker.record_failure(M, boom())
    assert breaker.state(M) is BreakerState.OPEN
    assert breaker.retry_in(M) == pytest.approx(breaker.cooldown_s * 2)
    assert "probe failed" in breaker.health(M).reason
    clock.advance(breaker.cooldown_s * 2)
    assert breaker.acquire(M)
    breaker.record_failure(M, boom())
    assert breaker.retry_in(M) == pytest.approx(breaker.cooldown_s * 4)


def test_cooldown_growth_is_capped(clock: FakeClock) -> None:
    breaker = CircuitBreaker(clock=clock, cooldown_s=10, max_cooldown_s=25)
    _open(breaker, clock)
    for _ in range(5):
        assert breaker.acquire(M)
        breaker.record_failure(M, boom())
        assert breaker.retry_in(M) <= 25
        clock.advance(25)


def test_a_neutral_probe_result_frees_the_probe(breaker: CircuitBreaker, clock: FakeClock) -> None:
    _open(breaker, clock)
    assert breaker.acquire(M)
    breaker.record_failure(M, ContextLengthError("too long", status_code=400))
    assert breaker.state(M) is BreakerState.HALF_OPEN
    assert breaker.acquire(M)  # the next request may probe


def test_an_abandoned_probe_is_replaced(clock: FakeClock) -> None:
    breaker = CircuitBreaker(clock=clock, probe_timeout_s=5)
    _open(breaker, clock)
    assert breaker.acquire(M)
    clock.advance(4)
    assert not breaker.acquire(M)
    clock.advance(1)
    assert breaker.acquire(M)


def test_models_are_independent_and_reset(breaker: CircuitBreaker) -> None:
    breaker.record_failure(M, RateLimitError("slow", status_code=429, retry_after=5))
    assert breaker.state("claude-sonnet-4.5") is BreakerState.CLOSED
    breaker.reset(M)
    assert breaker.state(M) is BreakerState.CLOSED
    breaker.record_failure(M, RateLimitError("slow", status_code=429, retry_after=5))
    breaker.reset()
    assert breaker.available(M)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="failure_rate"):
        CircuitBreaker(failure_rate=0)
    with pytest.raises(ValueError, match="cooldown_s"):
        CircuitBreaker(cooldown_s=0)


def test_thread_safe_single_probe(breaker: CircuitBreaker, clock: FakeClock) -> None:
    _open(breaker, clock)
    admitted: list[bool] = []
    barrier = threading.Barrier(16)

    def race() -> None:
        barrier.wait()
        admitted.append(breaker.acquire(M))

    threads = [threading.Thread(target=race) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert admitted.count(True) == 1
