"""Ledger fixtures: every backend (memory, SQLite, a real Redis), an injectable clock, calls.

Redis tests use ``HOLYSHEEP_TEST_REDIS`` (``.ci/run`` starts redis-server and sets it to
``redis://127.0.0.1:6379/15``); that database is flushed before and after each test. Without the
variable they are skipped, except in CI (``CI=true``), where a missing Redis fails them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from holysheep.ledger import CostLedger

from .helpers import CATALOG, Clock

# Read at import: the autouse clean_environ fixture removes HOLYSHEEP_* before each test.
REDIS_URL = os.environ.get("HOLYSHEEP_TEST_REDIS", "").strip()
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
BACKENDS = ("memory", "sqlite", "redis")


def _no_redis(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true but {reason}: .ci/run must install and start redis-server")
    pytest.skip(f"{reason}; set HOLYSHEEP_TEST_REDIS=redis://127.0.0.1:6379/15 to run it")


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The test Redis database, flushed before and after the test."""
    if not REDIS_URL:
        _no_redis("HOLYSHEEP_TEST_REDIS is not set")
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        db = client.connection_pool.connection_kwargs.get("db", 0)
        if int(db) == 0:
            pytest.fail("HOLYSHEEP_TEST_REDIS must name a database other than 0 (it is flushed)")
        try:
            client.ping()
        except redis.ConnectionError as exc:
            _no_redis(f"Redis at {REDIS_URL} does not answer ({exc})")
        client.flushdb()
        yield REDIS_URL
        client.flushdb()
    finally:
        client.close()


def backend_url(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh ledger URL for backend ``name``."""
    if name == "memory":
        return "memory"
    if name == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return request.getfixturevalue("redis_url")


@pytest.fixture(params=BACKENDS)
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """One URL per backend (the test runs three times)."""
    return backend_url(request.param, tmp_path, request)


@pytest.fixture
def clock() -> Clock:
    """Noon UTC on 2025-06-15, until advanced."""
    return Clock()


@pytest.fixture
def make_ledger(ledger_url: str, clock: Clock) -> Iterator[Callable[..., CostLedger]]:
    """Open ledgers on the test's backend (same clock and catalogue); all closed afterwards."""
    opened: list[CostLedger] = []
    shared: list[CostLedger] = []

    def make(**options: Any) -> CostLedger:
        if ledger_url == "memory" and shared and not options.pop("fresh", False):
            return shared[0]  # a memory ledger is one process's: "reopen" means the same one
        options.pop("fresh", None)
        options.setdefault("clock", clock)
        options.setdefault("catalog", CATALOG)
        ledger = CostLedger(ledger_url, **options)
        opened.append(ledger)
        if not shared:
            shared.append(ledger)
        return ledger

    yield make
    for ledger in opened:
        ledger.close()


@pytest.fixture
def ledger(make_ledger: Callable[..., CostLedger]) -> CostLedger:
    """A ledger on the test's backend."""
    return make_ledger()


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``load`` marker (the multi-process load check, run in CI too)."""
    config.addinivalue_line("markers", "load: the multi-process load check of the ledger")


_REDIS_SKIP = "HOLYSHEEP_TEST_REDIS is not set"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Fold the Redis skips into one summary line: one reason, one place (this file)."""
    outcome = yield
    report = outcome.get_result()
    longrepr = report.longrepr
    if report.skipped and isinstance(longrepr, tuple) and _REDIS_SKIP in str(longrepr[2]):
        report.longrepr = (__file__, _no_redis.__code__.co_firstlineno, longrepr[2])
