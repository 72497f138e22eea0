"""Adaptive concurrency: halve once per round on a 429, pause for Retry-After, grow back."""

from __future__ import annotations

from holysheep.batch._limits import AdaptiveLimits


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_429_halves_once_per_round_and_pauses_the_model() -> None:
    clock = Clock()
    limits = AdaptiveLimits(8, clock=clock)
    rounds = [limits.started("m") for _ in range(8)]
    assert not limits.can_start("m")
    for r in rounds[:3]:  # three 429s from calls started in the same round: one halving
        limits.finished("m", r, rate_limited=True, pause_s=2.0)
    assert limits.limit("m") == 4 and limits.halvings() == 1
    for r in rounds[3:]:
        limits.finished("m", r)
    assert not limits.can_start("m") and limits.wait_s("m") == 2.0
    clock.now += 2.0
    assert limits.can_start("m")
    other = AdaptiveLimits({"m": 2, "*": 5}, clock=clock)
    assert other.limit("m") == 2 and other.limit("x") == 5


def test_successes_grow_the_limit_back_to_the_ceiling() -> None:
    limits = AdaptiveLimits(8, clock=Clock())
    limits.finished("m", limits.started("m"), rate_limited=True)
    r = limits.started("m")
    limits.finished("m", r, rate_limited=True)  # a new round: halves again
    assert limits.limit("m") == 2
    for _ in range(100):
        limits.finished("m", limits.started("m"))
    assert limits.limit("m") == 8  # back up, never above the ceiling
