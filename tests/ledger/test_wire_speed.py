"""Issue #14: the ledger off the event loop and nearly free, with every guarantee kept.

The event loop never waits on the store: while an ``achat`` needs a reservation from a SQLite
file another process holds, or from a Redis server that is paused, a ticker in the same loop
keeps ticking. Group commit keeps every billed call recorded exactly once and every budget
whole, with 64 concurrent calls and a second process on the same ledger; what a process queued
is written at exit without ``close()``, and a process killed right after a call returned leaves a
journal the next process records. A budget another process sets binds within ``budget_cache_s``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from holysheep import BudgetExceededError, HolySheepClient, RetryPolicy
from holysheep.calls import Attribution
from holysheep.ledger import CostLedger
from holysheep.ledger._model import dedup_key
from holysheep.testing import RelayEmulator
from holysheep.usage import Usage

from ..conftest import FAKE_KEY
from ..hostile import HostileUpstream
from . import _load_worker
from ._world import RedisServer, SQLiteLock
from .conftest import backend_url
from .helpers import CATALOG

HELLO = [{"role": "user", "content": "Hello there"}]
TICK_S = 0.02
HOLD_S = 1.5
"""How long the store is held busy while a call waits on it."""


async def _tick_while(call: asyncio.Task, gaps: list[float]) -> None:
    """Tick every ``TICK_S`` until ``call`` is done, keeping each gap between ticks."""
    last = time.monotonic()
    while not call.done():
        await asyncio.sleep(TICK_S)
        now = time.monotonic()
        gaps.append(now - last)
        last = now


def _assert_loop_kept_ticking(gaps: list[float], waited: float) -> None:
    """The call waited on the store for about ``HOLD_S``; no tick was late by anything near it."""
    assert waited >= HOLD_S * 0.8, f"the call did not wait on the store ({waited:.2f} s)"
    assert len(gaps) >= 10
    worst = max(gaps)
    assert worst < HOLD_S / 3, f"a {worst:.2f} s stall of the loop while the store was busy"


# ---------------------------------------------------------------- the loop never stalls


def test_a_locked_sqlite_ledger_never_stalls_the_event_loop(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    ledger = CostLedger(f"sqlite:///{db}")
    ledger.set_budget("100.00")  # the call needs a reservation: the store must be asked
    with HostileUpstream() as up, HolySheepClient(FAKE_KEY, up.base_url, ledger=ledger) as client:
        lock = SQLiteLock(db)  # another process holds BEGIN EXCLUSIVE

        async def main() -> tuple[list[float], float]:
            started = time.monotonic()
            call = asyncio.create_task(client.achat(model="gpt-4.1", messages=HELLO))
            gaps: list[float] = []
            ticker = asyncio.create_task(_tick_while(call, gaps))
            await asyncio.sleep(HOLD_S)
            assert not call.done() and up.received == []  # still waiting for its reservation
            await asyncio.to_thread(lock.release)
            reply = await call
            await ticker
            assert reply.text == "ok"
            return gaps, time.monotonic() - started

        try:
            gaps, waited = asyncio.run(main())
        finally:
            lock.release()
        assert len(up.received) == 1
    _assert_loop_kept_ticking(gaps, waited)
    [entry] = ledger.entries()
    assert ledger.budget_status()[0].spent_usd == entry.cost.total_usd
    assert ledger.budget_status()[0].reserved_usd == 0
    ledger.close()


@pytest.fixture
def redis_server(tmp_path: Path) -> RedisServer:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


def test_a_paused_redis_ledger_never_stalls_the_event_loop(redis_server: RedisServer) -> None:
    import redis

    ledger = CostLedger(redis_server.url, spool_dir=redis_server.folder / "spool")
    ledger.set_budget("100.00")
    admin = redis.Redis(port=redis_server.port)
    with HostileUpstream() as up, HolySheepClient(FAKE_KEY, up.base_url, ledger=ledger) as client:

        async def main() -> tuple[list[float], float]:
            started = time.monotonic()
            admin.execute_command("CLIENT", "PAUSE", int(HOLD_S * 1000))  # every client waits
            call = asyncio.create_task(client.achat(model="gpt-4.1", messages=HELLO))
            gaps: list[float] = []
            await _tick_while(call, gaps)
            reply = await call
            assert reply.text == "ok"
            return gaps, time.monotonic() - started

        gaps, waited = asyncio.run(main())
        assert len(up.received) == 1
    admin.close()
    _assert_loop_kept_ticking(gaps, waited)
    [row] = ledger.totals(())
    assert row.calls == 1 and ledger.budget_status()[0].reserved_usd == 0
    ledger.close()


def test_no_budget_means_no_round_trip_before_the_call(redis_server: RedisServer) -> None:
    """With no budget, a call needs nothing from the store before it is sent: a Redis that went
    away costs no LedgerError, and the billed call is spooled and recorded once it is back."""
    ledger = CostLedger(redis_server.url, spool_dir=redis_server.folder / "spool",
                        budget_cache_s=60)
    with _unique_upstream() as up, HolySheepClient(FAKE_KEY, up.base_url, ledger=ledger) as client:
        first = client.chat(model="gpt-4.1", messages=HELLO)  # reads the (empty) budget list
        ledger.flush()
        redis_server.shutdown()
        with pytest.warns(Warning, match="spooled"):
            second = asyncio.run(client.achat(model="gpt-4.1", messages=HELLO, user="bob"))
            ledger.flush()
        assert second.text == "ok" and len(up.received) == 2
    redis_server.start()
    assert {e.user for e in ledger.entries()} == {None, "bob"}
    assert first.text == "ok"
    ledger.close()


# ---------------------------------------------------------------- exactly once, within budget


@pytest.fixture(scope="module")
def relay() -> RelayEmulator:
    with RelayEmulator(latency=0) as relay:
        yield relay


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_64_concurrent_calls_and_another_process_record_each_billed_call_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, relay: RelayEmulator
) -> None:
    url = backend_url(backend, tmp_path, request)
    relay.reset()
    calls, other_calls = 256, 128
    with HolySheepClient(api_key="hs-load-test", base_url=relay.base_url) as probe:
        one = probe.chat(model="gpt-4.1", messages=_load_worker.messages_for(0, 0),
                         max_tokens=_load_worker.MAX_TOKENS).call_info.cost.total_usd
    relay.reset()
    limit = (one * (calls + other_calls) * Decimal("0.6")).quantize(Decimal("0.000001"))
    ledger = CostLedger(url)
    ledger.set_budget(limit)
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    other = ctx.Process(target=_load_worker.run_client,
                        args=(url, relay.base_url, other_calls, barrier, results))
    other.start()

    keys: list[str] = []

    async def main() -> tuple[list[str], int]:
        ids: list[str] = []
        refused = 0
        todo = iter(range(calls))
        async with HolySheepClient(api_key="hs-load-test", base_url=relay.base_url,
                                   ledger=ledger, retry=RetryPolicy(max_attempts=1)) as client:

            async def worker() -> None:
                nonlocal refused
                for n in todo:
                    try:
                        reply = await client.achat(
                            model="gpt-4.1", messages=_load_worker.messages_for(1, n),
                            max_tokens=_load_worker.MAX_TOKENS, user=f"user-{n % 8}")
                    except BudgetExceededError:
                        refused += 1
                    else:
                        ids.append(reply.id)
                        keys.append(dedup_key(reply.call_info))

            await asyncio.to_thread(barrier.wait, 120)
            await asyncio.gather(*(worker() for _ in range(64)))
        return ids, refused

    try:
        ids, refused = asyncio.run(main())
        theirs = results.get(timeout=240)
    finally:
        other.join(timeout=60)
    assert other.exitcode == 0
    billed = sum((CATALOG.cost(m, Usage.from_wire(u)).total_usd for m, u in relay.billed),
                 Decimal(0))
    [total] = ledger.totals(())
    [status] = ledger.budget_status()
    recorded = [e.id for e in ledger.entries()]
    assert len(ids) + refused == calls and len(theirs["ids"]) + theirs["refused"] == other_calls
    assert sorted(recorded) == sorted(ids + theirs["ids"])  # each billed call, exactly once
    # each under the relay's "created" first (the unique index grows at its end)
    assert set(keys) <= {e.key for e in ledger.entries()}
    assert all(key[:10].isdigit() and key[10] == "|" for key in keys)
    assert total.calls == len(relay.billed) and total.total_usd == billed
    assert status.spent_usd == billed <= limit and status.reserved_usd == 0
    assert refused + theirs["refused"] > 0  # the budget did bind
    ledger.close()


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_a_budget_another_process_sets_binds_within_the_cache_time(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = backend_url(backend, tmp_path, request)
    ledger = CostLedger(url, budget_cache_s=0.2)
    with HostileUpstream() as up, HolySheepClient(FAKE_KEY, up.base_url, ledger=ledger) as client:
        client.chat(model="gpt-4.1", messages=HELLO, user="carol")  # no budget yet: cached
        _python(f"from holysheep.ledger import CostLedger\n"
                f"with CostLedger({url!r}) as other:\n"
                f"    other.set_budget('0.000001', scope='user', key='carol')\n")
        time.sleep(0.3)  # past budget_cache_s: this process reads the budgets again
        with pytest.raises(BudgetExceededError, match="carol"):
            asyncio.run(client.achat(model="gpt-4.1", messages=HELLO, user="carol"))
        with pytest.raises(BudgetExceededError):
            client.chat(model="gpt-4.1", messages=HELLO, user="carol")
        assert len(up.received) == 1  # neither refused call was sent
        client.chat(model="gpt-4.1", messages=HELLO, user="dave")  # not under that budget
    ledger.close()


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_a_budget_set_or_removed_between_batches_changes_what_the_next_batch_charges(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A group commit remembers which budgets the calls of each user/app/task count against;
    a budget set, or removed, between two batches must count in the very next one."""
    url = backend_url(backend, tmp_path, request)
    attribution = Attribution(user="alice", app="web")
    with RelayEmulator(latency=0) as relay, CostLedger(url) as ledger, HolySheepClient(
        FAKE_KEY, relay.base_url, ledger=ledger
    ) as client:

        def batch(calls: int) -> Decimal:
            costs = [client.chat(model="gpt-4.1", messages=HELLO, user="alice", app="web",
                                 max_tokens=8).call_info.cost.total_usd  # type: ignore[union-attr]
                     for _ in range(calls)]
            ledger.flush()
            return sum(costs, Decimal(0))

        def spent() -> dict[str, Decimal]:
            return {s.budget.scope: s.spent_usd for s in ledger.budget_status(attribution)}

        ledger.set_budget("100", scope="user", key="alice", period="day")
        first = batch(3)
        assert spent() == {"user": first}
        ledger.set_budget("100", scope="app", key="web", period="day")  # counts the day so far
        second = batch(3)
        assert spent() == {"user": first + second, "app": first + second}
        assert ledger.remove_budget(scope="user", key="alice", period="day")
        third = batch(3)
        assert spent() == {"app": first + second + third}
        assert len(ledger.entries()) == 9


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_a_lease_share_spend_worked_out_in_the_commit_is_taken_by_the_book(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The commit keeps each share's spend for the book's settle after it (worked out once):
    every one kept is taken, so nothing piles up, and the lease is given back whole."""
    from holysheep.ledger import _lease_store

    url = backend_url(backend, tmp_path, request)
    _lease_store._KEPT.clear()
    with RelayEmulator(latency=0) as relay, CostLedger(url) as ledger, HolySheepClient(
        FAKE_KEY, relay.base_url, ledger=ledger
    ) as client:
        ledger.set_budget("100", scope="user", key="alice", period="day")
        for _ in range(40):
            client.chat(model="gpt-4.1", messages=HELLO, user="alice", max_tokens=8)

        async def many() -> None:
            await asyncio.gather(*(client.achat(model="gpt-4.1", messages=HELLO, user="alice",
                                                max_tokens=8) for _ in range(40)))

        asyncio.run(many())
        ledger.flush()
        assert ledger._leases is not None and ledger._leases.served > 0  # shares were served
        assert _lease_store._KEPT == {}
        [status] = ledger.budget_status(Attribution(user="alice"))
        assert status.spent_usd == sum((e.cost.total_usd for e in ledger.entries()), Decimal(0))  # type: ignore[union-attr]
    with CostLedger(url) as again:  # closed: the lease's unused part went back
        [status] = again.budget_status(Attribution(user="alice"))
        assert status.reserved_usd == 0 and len(again.entries()) == 80


# ---------------------------------------------------------------- exit, close and a kill

_CALLER = """
import sys
from holysheep import HolySheepClient
from holysheep.ledger import CostLedger, _ledger
if sys.argv[3] == "kill":
    _ledger._COMMIT_WINDOW_S = 600.0  # the writer would commit long after the kill
ledger = CostLedger(sys.argv[1])
client = HolySheepClient("hs-test-key-not-a-secret", sys.argv[2], ledger=ledger)
ids = [client.chat(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}]).id
       for _ in range(int(sys.argv[4]))]
print(" ".join(ids), flush=True)
if sys.argv[3] == "kill":
    sys.stdin.read()  # the test kills this process now
# "exit": no close(), no flush(): the interpreter exits with the records still queued
"""


def _python(code: str, *args: str, stdin: int | None = None) -> subprocess.Popen[bytes] | None:
    """Run ``code`` in another interpreter with this tree on its path (wait unless ``stdin``)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdin=stdin,
                            stdout=subprocess.PIPE)
    if stdin is not None:
        return proc
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    return None


def _unique_upstream() -> HostileUpstream:
    """A HostileUpstream whose answers carry a new completion id each."""
    import itertools
    import json

    from ..hostile import Answer, completion

    ids = itertools.count(1)
    def body(_request: object) -> list[bytes]:
        return [json.dumps(completion("ok", id=f"chatcmpl-{next(ids)}")).encode()]

    return HostileUpstream(Answer(200, headers={"Content-Type": "application/json"}, body=body))


def test_what_a_process_queued_is_written_at_exit_without_close(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with _unique_upstream() as up:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        out = subprocess.run([sys.executable, "-c", _CALLER, url, up.base_url, "exit", "20"],
                             env=env, capture_output=True, timeout=120, check=True).stdout
    ids = out.decode().split()
    assert len(ids) == 20
    with CostLedger(url) as ledger:
        assert sorted(e.id for e in ledger.entries()) == sorted(ids)
        assert list(ledger.spool_dir.glob("journal-*")) == []  # finished and removed


def test_a_process_killed_right_after_its_calls_returned_loses_no_record(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with _unique_upstream() as up:
        proc = _python(_CALLER, url, up.base_url, "kill", "20", stdin=subprocess.PIPE)
        assert proc is not None and proc.stdout is not None
        ids = proc.stdout.readline().decode().split()
        os.kill(proc.pid, signal.SIGKILL)  # before its writer committed anything
        proc.wait(timeout=30)
        proc.stdout.close()
        assert proc.stdin is not None
        proc.stdin.close()
    assert len(ids) == 20
    with CostLedger(url) as ledger:
        assert [p.name for p in ledger.spool_dir.glob("journal-*")] != []
        assert sorted(e.id for e in ledger.entries()) == sorted(ids)  # replayed from its journal
        assert list(ledger.spool_dir.glob("journal-*")) == []
        assert ledger.replay_spool() == 0 and len(ledger.entries()) == 20  # exactly once


def test_close_writes_what_is_queued(tmp_path: Path) -> None:
    from .helpers import call

    ledger = CostLedger(f"sqlite:///{tmp_path / 'ledger.db'}")
    infos = [call() for _ in range(50)]
    for info in infos:
        assert ledger._settle_soon(None, info)
    ledger.close()
    with CostLedger(ledger.url) as again:
        assert sorted(e.id for e in again.entries()) == sorted(i.id for i in infos)


def test_asettle_reports_a_duplicate_like_settle(tmp_path: Path) -> None:
    from .helpers import call

    info = call()

    async def main(ledger: CostLedger) -> list[object]:
        hold = await ledger.areserve("gpt-4.1", Decimal("0.01"), info.attribution)
        first = await ledger.asettle(hold, info)
        again = await ledger.asettle(None, info)
        await ledger.arelease(hold)  # already dropped by the settle: a no-op
        return [first, again]

    with CostLedger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        ledger.set_budget("1.00")
        first, again = asyncio.run(main(ledger))
        assert first is not None and first.id == info.id and again is None
        [status] = ledger.budget_status()
        assert status.reserved_usd == 0 and status.spent_usd == info.cost.total_usd
