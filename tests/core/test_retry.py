"""RetryPolicy decisions: which errors, how long, within which bounds."""

from __future__ import annotations

import random

import holysheep
import pytest
from holysheep import RetryPolicy
from holysheep.errors import error_from_response


def err(status: int, retry_after: str | None = None) -> holysheep.HolySheepError:
    headers = {"retry-after": retry_after} if retry_after else {}
    return error_from_response(status, {"error": {"message": "x"}}, headers)


def test_full_jitter_stays_within_the_exponential_bound() -> None:
    policy = RetryPolicy(initial_delay=0.5, max_delay=4.0, rng=random.Random(7))
    for attempt, bound in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (8, 4.0)]:
        delays = [policy.backoff(attempt) for _ in range(200)]
        assert min(delays) >= 0.0 and max(delays) <= bound
        assert max(delays) > bound * 0.8  # really jittered across the whole range


def test_retry_after_is_honoured_and_capped() -> None:
    policy = RetryPolicy(max_retry_after=10.0)
    assert policy.next_delay(1, err(429, "3"), elapsed=0.0) == 3.0
    assert policy.next_delay(1, err(429, "600"), elapsed=0.0) == 10.0


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 422])
def test_caller_errors_are_never_retried(status: int) -> None:
    assert RetryPolicy().next_delay(1, err(status), elapsed=0.0) is None


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_transient_errors_are_retried(status: int) -> None:
    assert RetryPolicy().next_delay(1, err(status), elapsed=0.0) is not None


def test_attempts_and_deadline_bound_the_loop() -> None:
    policy = RetryPolicy(max_attempts=3, deadline=5.0, jitter=False, initial_delay=1.0)
    assert policy.next_delay(2, err(503), elapsed=0.0) == 2.0
    assert policy.next_delay(3, err(503), elapsed=0.0) is None  # attempts spent
    assert policy.next_delay(1, err(503), elapsed=4.5) is None  # would end past the deadline


def test_from_max_retries_counts_retries_not_attempts() -> None:
    assert RetryPolicy.from_max_retries(0).max_attempts == 1
    assert RetryPolicy.from_max_retries(2).max_attempts == 3


def test_invalid_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


def test_call_retries_then_raises_the_last_error() -> None:
    policy = RetryPolicy(max_attempts=3, initial_delay=0.0, max_delay=0.0)
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise err(502)
        return "ok"

    assert policy.call(flaky) == "ok" and len(calls) == 3
    calls.clear()
    with pytest.raises(holysheep.UpstreamError):
        policy.call(lambda: (_ for _ in ()).throw(err(500)))
