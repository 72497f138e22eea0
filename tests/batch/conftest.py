"""Bulk-job fixtures: a job runner parametrised over sync and async, Redis, subprocess workers.

Redis tests use ``HOLYSHEEP_TEST_REDIS`` (a database other than 0; flushed before and after);
without it they are skipped, except in CI where a missing Redis fails them.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from holysheep import HolySheepClient
from holysheep.batch import BatchResult, BatchSummary
from holysheep.testing import RelayEmulator

ROOT = Path(__file__).resolve().parents[2]
KEY = "hs-batch-test-key-0123456789"
REDIS_URL = os.environ.get("HOLYSHEEP_TEST_REDIS", "").strip()  # read before clean_environ
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")

Runner = Callable[..., tuple[list[BatchResult], BatchSummary]]


def requests(n: int, *, distinct: int | None = None, model: str = "deepseek-v3.2",
             max_tokens: int = 20, prefix: str = "r") -> list[dict[str, Any]]:
    """``n`` short requests; with ``distinct``, bodies repeat every ``distinct`` requests."""
    distinct = distinct or n
    return [
        {"custom_id": f"{prefix}{i}", "model": model, "max_tokens": max_tokens,
         "messages": [{"role": "user", "content": f"question {i % distinct}"}]}
        for i in range(n)
    ]


@pytest.fixture
def client(emulator: RelayEmulator) -> Iterator[HolySheepClient]:
    """A client of the session emulator (retries without waiting long)."""
    from holysheep import RetryPolicy

    retry = RetryPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.05, jitter=False)
    with HolySheepClient(api_key=KEY, base_url=emulator.base_url, retry=retry) as c:
        yield c


@pytest.fixture(params=["sync", "async"])
def run_batch(request: pytest.FixtureRequest) -> Runner:
    """Run a job to its end with ``client.batch`` or ``client.abatch``: (results, summary).

    Concurrency defaults to 4: the emulator's listen backlog is 5, and a burst of new
    connections beyond it waits a second for the SYN to be sent again.
    """

    def run(client: HolySheepClient, items: Any, **options: Any) -> tuple[list[BatchResult],
                                                                         BatchSummary]:
        options.setdefault("concurrency", 4)
        if request.param == "sync":
            job = client.batch(items, **options)
            return list(job), job.summary

        async def go() -> tuple[list[BatchResult], BatchSummary]:
            job = client.abatch(items, **options)
            results = [result async for result in job]
            return results, job.summary

        return asyncio.run(go())

    return run


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The test Redis database, flushed before and after the test."""
    if not REDIS_URL:
        if IN_CI:
            pytest.fail("CI=true but HOLYSHEEP_TEST_REDIS is not set")
        pytest.skip("set HOLYSHEEP_TEST_REDIS=redis://127.0.0.1:6379/13 to run fleet tests")
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    if client.connection_pool.connection_kwargs.get("db", 0) == 0:
        pytest.fail("HOLYSHEEP_TEST_REDIS must name a database other than 0 (it is flushed)")
    try:
        client.flushdb()
    except redis.RedisError as exc:
        if IN_CI:
            raise
        pytest.skip(f"Redis at {REDIS_URL} does not answer: {exc}")
    yield REDIS_URL
    client.flushdb()
    client.close()


def cli(emulator: RelayEmulator, *args: str, **extra_env: str) -> subprocess.Popen[str]:
    """Start ``holysheep batch ARGS`` in a subprocess against the emulator."""
    env = {
        **extra_env,
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join((str(ROOT / "shared"), str(ROOT))),
        "HOLYSHEEP_API_KEY": KEY,
        "HOLYSHEEP_BASE_URL": emulator.base_url,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "holysheep.cli", "batch", *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
