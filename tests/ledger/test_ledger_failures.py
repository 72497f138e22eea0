"""Issue #9 (money 3): a ledger that fails never costs a billed call its answer or its record.

Real failures only: a redis-server of the test's own shut down while calls are in flight, a
SQLite file that another process locks, corrupt files and folder paths. After billing the caller
gets the answer, the record is spooled and replayed exactly once when the ledger answers again;
before billing a ledger that is down raises ``LedgerError`` naming its URL (or, with
``on_ledger_error="allow"``, the call goes out unchecked).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import holysheep
import pytest
from holysheep import HolySheepClient, RetryPolicy
from holysheep.ledger import CostLedger, LedgerSpoolWarning
from holysheep.ledger._sqlite import SQLiteBackend

from ..conftest import FAKE_KEY
from ..hostile import HostileUpstream, chunk, completion, json_response, sse_response, usage_chunk
from ._world import GatedUpstream, RedisServer, SQLiteLock, free_port, wait_until

HELLO = [{"role": "user", "content": "Hello there"}]
ONCE = RetryPolicy(max_attempts=1)
IN_FLIGHT = 6
_REPLAYER = """
import sys
from holysheep.ledger import CostLedger
with CostLedger(sys.argv[1], spool_dir=sys.argv[2]) as ledger:
    sys.stdin.readline()  # both processes start replaying together
    print(ledger.replay_spool(), flush=True)
"""


def _replay_in_two_processes(url: str, spool_dir: Path) -> list[int]:
    """Two other processes replay the same spool at the same moment; what each replayed."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _REPLAYER, url, str(spool_dir)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
        )
        for _ in range(2)
    ]
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
    outs = [proc.communicate(timeout=60)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    return [int(out.strip()) for out in outs]


def _spooled(ledger: CostLedger) -> int:
    folder = ledger.spool_dir
    return 0 if folder is None or not folder.exists() else len(list(folder.glob("*.json")))


def _chat_in_threads(client: HolySheepClient, n: int, results: list) -> list[threading.Thread]:
    def one(i: int) -> None:
        try:
            results.append(client.chat(model="gpt-4.1", messages=HELLO, user=f"u{i}"))
        except Exception as exc:  # the assertion below shows what reached the caller
            results.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    return threads


# ---------------------------------------------------------------- Redis


@pytest.fixture
def redis_server(tmp_path: Path) -> RedisServer:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


def test_redis_shut_down_mid_flight_keeps_every_answer_and_replays_each_once(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    ledger = CostLedger(redis_server.url, spool_dir=spool)
    ledger.set_budget("100.00")
    with GatedUpstream() as upstream, HolySheepClient(
        FAKE_KEY, upstream.base_url, retry=ONCE, ledger=ledger
    ) as client:
        upstream.open()
        before = client.chat(model="gpt-4.1", messages=HELLO).call_info
        ledger.flush()  # recorded before the shutdown (a call on a lease may wait 50 ms)
        upstream.gate.clear()
        results: list = []
        with pytest.warns(LedgerSpoolWarning, match="spooled") as caught:
            threads = _chat_in_threads(client, IN_FLIGHT, results)
            wait_until(lambda: upstream.received == 1 + IN_FLIGHT, "6 calls in flight")
            redis_server.shutdown()  # all 6 reserved and were sent; now the ledger is gone
            upstream.open()
            for t in threads:
                t.join(60)
            ledger.flush()  # the writer thread spools the batch it could not commit
    assert all(isinstance(r, holysheep.ChatCompletion) for r in results), results
    assert len(results) == IN_FLIGHT
    assert sum("spooled" in str(w.message) for w in caught) == IN_FLIGHT
    assert "127.0.0.1" in str(caught[0].message)
    assert _spooled(ledger) == IN_FLIGHT

    redis_server.start()  # back, with what it saved: one entry, the budget, six dead holds
    assert sum(_replay_in_two_processes(redis_server.url, spool)) == IN_FLIGHT
    assert ledger.replay_spool() == 0  # a second replay finds nothing left
    [row] = ledger.totals(())
    billed = [r.call_info for r in results] + [before]
    assert row.calls == 1 + IN_FLIGHT
    assert row.total_usd == sum((i.cost.total_usd for i in billed), Decimal(0))
    [status] = ledger.budget_status()
    assert status.spent_usd == row.total_usd and status.reserved_usd == 0
    assert _spooled(ledger) == 0
    ledger.close()


def test_redis_down_before_billing_raises_ledger_error_naming_the_url(tmp_path: Path) -> None:
    url = f"redis://:s3cret-pw@127.0.0.1:{free_port()}/0"
    with HostileUpstream() as up, HolySheepClient(
        FAKE_KEY, up.base_url, ledger=CostLedger(url, spool_dir=tmp_path)
    ) as client:
        with pytest.raises(holysheep.LedgerError) as info:
            client.chat(model="gpt-4.1", messages=HELLO)
        assert up.received == []  # nothing was sent, so nothing was billed
    err = info.value
    assert err.url == url.replace("s3cret-pw", "***")
    assert "s3cret-pw" not in str(err) and "***" in str(err)
    assert "on_ledger_error='allow'" in str(err) and "Start Redis" in str(err)
    assert isinstance(err, holysheep.HolySheepError)


def test_allow_sends_unchecked_while_redis_is_down_and_replays_later(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Chat, async chat and a stream: each answered, each spooled, each recorded once later."""
    ledger = CostLedger(redis_server.url, spool_dir=tmp_path / "spool")
    redis_server.shutdown()
    with HostileUpstream() as up, HolySheepClient(
        FAKE_KEY, up.base_url, ledger=ledger, on_ledger_error="allow"
    ) as client:
        up.answer(
            json_response(completion("one", id="chatcmpl-1")),
            json_response(completion("two", id="chatcmpl-2")),
            sse_response([chunk("three", finish="stop", id="chatcmpl-3"), usage_chunk(5, 1)]),
        )
        with pytest.warns(LedgerSpoolWarning) as caught:
            first = client.chat(model="gpt-4.1", messages=HELLO)
            second = asyncio.run(client.achat(model="gpt-4.1", messages=HELLO))
            with client.stream(model="gpt-4.1", messages=HELLO) as stream:
                text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
            ledger.flush()  # the writer thread spools what it could not commit
        assert (first.text, second.text, text) == ("one", "two", "three")
        assert len(up.received) == 3
    messages = [str(w.message) for w in caught]
    assert sum("without a budget check" in m for m in messages) == 3
    assert sum("spooled to" in m for m in messages) == 3
    redis_server.start()
    [row] = ledger.totals(())  # a report replays what waits first
    infos = [first.call_info, second.call_info, stream.call_info]
    assert row.calls == 3
    assert row.total_usd == sum((i.cost.total_usd for i in infos), Decimal(0))
    ledger.close()


def test_release_while_the_ledger_is_down_keeps_the_calls_own_error(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    ledger = CostLedger(redis_server.url, spool_dir=tmp_path)
    with GatedUpstream(status=400) as upstream, HolySheepClient(
        FAKE_KEY, upstream.base_url, retry=ONCE, ledger=ledger
    ) as client:
        done: list = []
        thread = threading.Thread(target=lambda: _capture(done, client))
        thread.start()
        wait_until(lambda: upstream.received == 1, "the call in flight")
        redis_server.shutdown()
        upstream.open()
        thread.join(60)
    assert isinstance(done[0], holysheep.BadRequestError), done
    ledger.close()


def _capture(done: list, client: HolySheepClient) -> None:
    try:
        client.chat(model="gpt-4.1", messages=HELLO)
    except Exception as exc:
        done.append(exc)


def test_when_the_spool_fails_too_the_answer_stays_and_the_record_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the spool folder should go")
    ledger = CostLedger(f"redis://127.0.0.1:{free_port()}/0", spool_dir=blocked)
    with HostileUpstream() as up, HolySheepClient(
        FAKE_KEY, up.base_url, ledger=ledger, on_ledger_error="allow"
    ) as client, pytest.warns(LedgerSpoolWarning) as caught:
        reply = client.chat(model="gpt-4.1", messages=HELLO)
    assert reply.text == "ok"
    assert any("spool failed too" in str(w.message) for w in caught)
    [record] = [r for r in caplog.records if "for manual entry" in r.getMessage()]
    assert reply.call_info.id in record.getMessage() and FAKE_KEY not in record.getMessage()


def test_malformed_redis_url_is_a_configuration_error() -> None:
    with pytest.raises(holysheep.ConfigurationError, match="malformed"):
        CostLedger("redis://127.0.0.1:notaport/0")


# ---------------------------------------------------------------- SQLite


def test_sqlite_locked_after_billing_spools_quickly_and_replays_once(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    ledger = CostLedger(f"sqlite:///{db}")  # 30 s busy wait for budget checks, 2 s to record
    with GatedUpstream() as upstream, HolySheepClient(
        FAKE_KEY, upstream.base_url, retry=ONCE, ledger=ledger
    ) as client:
        results: list = []
        [thread] = _chat_in_threads(client, 1, results)
        wait_until(lambda: upstream.received == 1, "the call in flight")
        with SQLiteLock(db) as lock, pytest.warns(LedgerSpoolWarning, match="locked") as caught:
            started = time.monotonic()
            upstream.open()
            thread.join(60)
            waited = time.monotonic() - started
            ledger.flush()  # the writer waits settle_wait_s for the lock, then spools
            assert _spooled(ledger) == 1  # still locked: the record waits on disk
            lock.release()
    [reply] = results
    assert isinstance(reply, holysheep.ChatCompletion), reply
    assert waited < 15, f"the caller waited {waited:.1f} s for a locked ledger"
    assert str(db) in str(caught[0].message)
    assert ledger.spool_dir == tmp_path / "ledger.db.spool"  # beside the file
    assert sum(_replay_in_two_processes(ledger.url, ledger.spool_dir)) == 1
    assert ledger.replay_spool() == 0
    [entry] = ledger.entries()
    assert entry.id == reply.call_info.id and entry.cost == reply.call_info.cost
    ledger.close()


def test_sqlite_locked_before_billing_raises_or_allows(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    ledger = CostLedger(SQLiteBackend(db, busy_timeout_s=0.2, settle_wait_s=0.2))
    ledger.set_budget("10.00")
    with HostileUpstream() as up, SQLiteLock(db) as lock:
        with HolySheepClient(FAKE_KEY, up.base_url, ledger=ledger) as client, pytest.raises(
            holysheep.LedgerError, match="locked by another connection"
        ) as info:
            client.chat(model="gpt-4.1", messages=HELLO, max_tokens=10)
        assert up.received == [] and info.value.url == f"sqlite:///{db}"
        with HolySheepClient(
            FAKE_KEY, up.base_url, ledger=ledger, on_ledger_error="allow"
        ) as client, pytest.warns(LedgerSpoolWarning):
            reply = client.chat(model="gpt-4.1", messages=HELLO, max_tokens=10)
        assert len(up.received) == 1
        lock.release()
    [status] = ledger.budget_status()  # recorded and charged after the lock went away
    assert ledger.totals(())[0].calls == 1
    assert ledger.budget_status()[0].spent_usd == reply.call_info.cost.total_usd
    assert status.reserved_usd == 0
    ledger.close()


def test_corrupt_sqlite_file_is_a_ledger_error_with_a_hint(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    db.write_bytes(b"this is not a database, it is a text file that got in the way\n" * 64)
    with pytest.raises(holysheep.LedgerError, match="not a usable database") as info:
        CostLedger(f"sqlite:///{db}")
    assert "Move the file aside" in str(info.value) and info.value.url == f"sqlite:///{db}"


@pytest.mark.parametrize("where", ["folder", "under-a-file"])
def test_unusable_sqlite_path_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    if where == "folder":
        path = tmp_path
    else:
        (tmp_path / "plain").write_text("x")
        path = tmp_path / "plain" / "ledger.db"
    monkeypatch.setenv("HOLYSHEEP_LEDGER", f"sqlite:///{path}")
    with HostileUpstream() as up, HolySheepClient(FAKE_KEY, up.base_url) as client:
        with pytest.raises(holysheep.ConfigurationError, match="ledger"):
            client.chat(model="gpt-4.1", messages=HELLO)
        assert up.received == []


def test_spooled_record_survives_the_process_and_is_replayed_by_the_next(tmp_path: Path) -> None:
    """A process that spooled and exited: the next one to open the ledger records it."""
    db = tmp_path / "ledger.db"
    first = CostLedger(SQLiteBackend(db, settle_wait_s=0.1))
    with HostileUpstream() as up, HolySheepClient(
        FAKE_KEY, up.base_url, ledger=first
    ) as client, SQLiteLock(db), pytest.warns(LedgerSpoolWarning):
        reply = client.chat(model="gpt-4.1", messages=HELLO)
        first.flush()
    first.close()
    with CostLedger(f"sqlite:///{db}") as second:
        [entry] = second.entries()
    assert entry.id == reply.call_info.id
