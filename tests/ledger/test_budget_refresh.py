"""An event loop's call never waits behind a busy store to re-read an expired budget list.

The list used to be re-read through the writer thread: with that thread waiting on a locked
SQLite file (a settle, up to ``settle_wait_s``), a call under no budget waited too. Now the list
is re-read on a thread of its own (a SQLite read does not wait for another process's write
lock), ahead of its expiry, and while the store is too busy to answer at all (a paused Redis) the
last list serves, for a bounded time (``_ledger._FRESH_WAIT_S``, ``_STALE_GRACE_S``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from holysheep import BudgetExceededError, HolySheepClient
from holysheep.ledger import CostLedger, _ledger
from holysheep.ledger._sqlite import SQLiteBackend

from ..conftest import FAKE_KEY
from ..hostile import HostileUpstream, completion, json_response
from ._world import RedisServer, SQLiteLock
from .helpers import CATALOG

HELLO = [{"role": "user", "content": "Hello there"}]
WRITER_WAIT_S = 4.0
"""How long the writer waits on the locked file for a settle (``settle_wait_s``)."""
CACHE_S = 0.2


def _upstream(calls: int) -> HostileUpstream:
    """An upstream answering ``calls`` completions, each with its own id."""
    up = HostileUpstream()
    up.answer(*(json_response(json.dumps(completion(f"a{n}", id=f"chatcmpl-{n}")).encode())
                for n in range(calls)))
    return up


def test_an_expired_budget_list_is_not_read_behind_a_writer_waiting_on_a_lock(
    tmp_path: Path,
) -> None:
    db = tmp_path / "ledger.db"
    ledger = CostLedger(SQLiteBackend(db, settle_wait_s=WRITER_WAIT_S), catalog=CATALOG,
                        budget_cache_s=CACHE_S)
    ledger.set_budget("100.00", scope="user", key="alice")  # bob's calls need no reservation
    with _upstream(3) as up, HolySheepClient(FAKE_KEY, up.base_url, ledger=ledger) as client:

        async def main() -> float:
            await client.achat(model="gpt-4.1", messages=HELLO, user="bob")  # reads the list
            await ledger.aflush()
            lock = await asyncio.to_thread(SQLiteLock, db)
            try:
                await client.achat(model="gpt-4.1", messages=HELLO, user="bob")
                await asyncio.sleep(CACHE_S * 2)  # its record waits on the lock; the list expired
                assert ledger.flush(timeout=0) is False  # the writer is stuck on the file
                started = time.monotonic()
                await client.achat(model="gpt-4.1", messages=HELLO, user="bob")
                return time.monotonic() - started
            finally:
                await asyncio.to_thread(lock.release)

        took = asyncio.run(main())
        assert len(up.received) == 3
    assert took < WRITER_WAIT_S / 4, f"the call waited {took:.2f} s behind the locked writer"
    assert sorted(e.id for e in ledger.entries()) == ["chatcmpl-0", "chatcmpl-1", "chatcmpl-2"]
    assert ledger.spool_dir is not None and not list(ledger.spool_dir.glob("*.json"))
    ledger.close()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


def test_a_paused_store_serves_the_last_list_for_a_bounded_time(
    redis_server: RedisServer,
) -> None:
    import redis

    ledger = CostLedger(redis_server.url, spool_dir=redis_server.folder / "spool",
                        catalog=CATALOG, budget_cache_s=CACHE_S)
    ledger.set_budget("100.00", scope="user", key="alice")
    admin = redis.Redis(port=redis_server.port)
    pause_s = _ledger._FRESH_WAIT_S * 4
    with _upstream(2) as up, HolySheepClient(FAKE_KEY, up.base_url, ledger=ledger) as client:

        async def main() -> float:
            await client.achat(model="gpt-4.1", messages=HELLO, user="bob")  # reads the list
            await ledger.aflush()
            await asyncio.sleep(CACHE_S * 1.5)  # expired
            admin.execute_command("CLIENT", "PAUSE", int(pause_s * 1000))  # every client waits
            started = time.monotonic()
            await client.achat(model="gpt-4.1", messages=HELLO, user="bob")
            return time.monotonic() - started

        took = asyncio.run(main())
        assert len(up.received) == 2
    admin.close()
    # it waited for the new list a moment, then went with the last one
    assert _ledger._FRESH_WAIT_S * 0.8 <= took < pause_s * 0.8, f"{took:.2f} s"
    assert sorted(e.id for e in ledger.entries()) == ["chatcmpl-0", "chatcmpl-1"]
    ledger.close()


def test_a_budget_set_here_binds_the_next_async_call_at_once(tmp_path: Path) -> None:
    """A list read before the budget was set never serves after it (not even as the last one)."""
    ledger = CostLedger(f"sqlite:///{tmp_path / 'ledger.db'}", catalog=CATALOG,
                        budget_cache_s=60)
    with _upstream(1) as up, HolySheepClient(FAKE_KEY, up.base_url, ledger=ledger) as client:
        asyncio.run(client.achat(model="gpt-4.1", messages=HELLO, user="carol"))
        ledger.set_budget("0.000001", scope="user", key="carol")
        with pytest.raises(BudgetExceededError, match="carol"):
            asyncio.run(client.achat(model="gpt-4.1", messages=HELLO, user="carol"))
        assert len(up.received) == 1
    ledger.close()
