"""Fixtures for the routing tests: a fake clock, routers on it, and a fast-failing client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from holysheep import HolySheepClient, RetryPolicy
from holysheep.routing import CircuitBreaker, TaskRouter
from holysheep.testing import RelayEmulator

from tests.conftest import FAKE_KEY

NO_RETRY = RetryPolicy(max_attempts=1, initial_delay=0, jitter=False)
"""One attempt per candidate: fallbacks, not retries, are under test."""


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker(clock=clock)


@pytest.fixture
def router(clock: FakeClock, breaker: CircuitBreaker) -> TaskRouter:
    return TaskRouter(clock=clock, breaker=breaker)


@pytest.fixture
def client(emulator: RelayEmulator) -> Iterator[HolySheepClient]:
    with HolySheepClient(api_key=FAKE_KEY, base_url=emulator.base_url, retry=NO_RETRY) as c:
        yield c


def user(text: str) -> list[dict[str, str]]:
    """A one-message chat."""
    return [{"role": "user", "content": text}]
