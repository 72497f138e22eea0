"""A record the store refuses never holds back the others; a store that is down rejects nothing.

Real refusals only: a trigger in the test's own SQLite file refuses every entry of one user (the
store answers, but never takes that record), calls go through a real client to a loopback
upstream, and the outages are a real lock on the file and a redis-server of the test's own,
stopped and started again.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import holysheep
import pytest
from holysheep import HolySheepClient, RetryPolicy
from holysheep.ledger import CostLedger, LedgerSpoolWarning
from holysheep.ledger._spool import REJECT_AFTER
from holysheep.ledger._sqlite import SQLiteBackend

from ..conftest import FAKE_KEY
from ._world import GatedUpstream, RedisServer, SQLiteLock

HELLO = [{"role": "user", "content": "Hello there"}]
ONCE = RetryPolicy(max_attempts=1)
POISON = "mallory"
_TRIGGER = (
    "CREATE TRIGGER refuse_mallory BEFORE INSERT ON entries WHEN NEW.user = 'mallory' "
    "BEGIN SELECT RAISE(ABORT, 'entries of mallory are refused'); END"
)


def _spooled(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json")) if folder.exists() else []


async def _calls_in_one_batch(client: HolySheepClient, upstream: GatedUpstream,
                              users: list[str]) -> list[holysheep.ChatCompletion]:
    """Every call in flight first, then all answered together: they settle as one batch."""
    tasks = [asyncio.ensure_future(client.achat(model="gpt-4.1", messages=HELLO, user=u))
             for u in users]
    while upstream.received < len(users):
        await asyncio.sleep(0.01)
    upstream.open()
    return list(await asyncio.gather(*tasks))


def test_a_refused_record_is_spooled_alone_skipped_then_set_aside(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    ledger = CostLedger(SQLiteBackend(db, busy_timeout_s=0.3, settle_wait_s=0.3))
    with sqlite3.connect(db) as conn:
        conn.execute(_TRIGGER)
    users = ["alice", "bob", POISON, "carol", "dave"]
    with GatedUpstream() as upstream, HolySheepClient(
        FAKE_KEY, upstream.base_url, retry=ONCE, ledger=ledger
    ) as client:
        with pytest.warns(LedgerSpoolWarning, match="refused") as caught:
            replies = asyncio.run(_calls_in_one_batch(client, upstream, users))
            ledger.flush()
        assert len(caught) == 1  # only the refused record was spooled, not its batch
        spool = ledger.spool_dir
        assert spool is not None and len(_spooled(spool)) == 1
        recorded = {e.user for e in ledger.entries()}
        assert recorded == {"alice", "bob", "carol", "dave"}

        # a good record spooled behind it (the file locked): replay skips the refused one
        with SQLiteLock(db), pytest.warns(LedgerSpoolWarning, match="locked"):
            late = client.chat(model="gpt-4.1", messages=HELLO, user="erin")
            ledger.flush()
        assert len(_spooled(spool)) == 2
        assert ledger.replay_spool() == 1
        assert {e.user for e in ledger.entries()} == recorded | {"erin"}

        # refused on every replay (reads replay too): kept in the spool, each refusal counted,
        # then set aside with a warning
        [waiting] = _spooled(spool)
        assert 1 <= json.loads(waiting.read_bytes())["refusals"] < REJECT_AFTER
        with pytest.warns(LedgerSpoolWarning, match="refused a billed call's record") as aside:
            for _ in range(REJECT_AFTER):
                assert ledger.replay_spool() == 0
                if not _spooled(spool):
                    break
        assert len(aside) == 1 and _spooled(spool) == []
        [rejected] = list((spool / "rejected").iterdir())
        assert str(rejected) in str(aside[0].message) and "move the file back" in str(
            aside[0].message)
        record = json.loads(rejected.read_bytes())
        assert record["entry"]["user"] == POISON and record["refusals"] == REJECT_AFTER
        assert ledger.replay_spool() == 0  # no longer tried

        # calls go on being recorded; nothing was recorded twice
        client.chat(model="gpt-4.1", messages=HELLO, user="frank")
        entries = ledger.entries()
    assert sorted(e.user for e in entries) == ["alice", "bob", "carol", "dave", "erin", "frank"]
    assert len({e.key for e in entries}) == len(entries)

    # what the warning says to do: fix the store, move the file back; it is recorded once
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TRIGGER refuse_mallory")
    rejected.rename(spool / rejected.name)
    assert ledger.replay_spool() == 1
    assert ledger.replay_spool() == 0
    [poison] = [e for e in ledger.entries() if e.user == POISON]
    [reply] = [r for r, u in zip(replies, users, strict=True) if u == POISON]
    assert poison.id == reply.call_info.id and poison.cost == reply.call_info.cost
    assert ledger.totals(())[0].calls == 7
    assert late.call_info.id in {e.id for e in ledger.entries()}
    ledger.close()


@pytest.mark.parametrize("outage", ["sqlite-locked", "redis-stopped"])
def test_a_store_down_for_a_while_loses_and_rejects_nothing(tmp_path: Path, outage: str) -> None:
    server: RedisServer | None = None
    lock: SQLiteLock | None = None
    if outage == "redis-stopped":
        server = RedisServer(tmp_path)
        server.start()
        ledger = CostLedger(server.url, spool_dir=tmp_path / "spool")
    else:
        db = tmp_path / "ledger.db"
        ledger = CostLedger(SQLiteBackend(db, busy_timeout_s=0.2, settle_wait_s=0.2))
    try:
        with GatedUpstream() as upstream, HolySheepClient(
            FAKE_KEY, upstream.base_url, retry=ONCE, ledger=ledger, on_ledger_error="allow"
        ) as client:
            upstream.open()
            first = client.chat(model="gpt-4.1", messages=HELLO, user="u0")
            ledger.flush()  # recorded before the outage
            if server is not None:
                server.shutdown()
            else:
                lock = SQLiteLock(db)
            with pytest.warns(LedgerSpoolWarning):
                down = [client.chat(model="gpt-4.1", messages=HELLO, user=f"u{i}")
                        for i in range(1, 5)]
                ledger.flush()
            spool = ledger.spool_dir
            assert spool is not None and len(_spooled(spool)) == 4
            for _ in range(REJECT_AFTER + 2):  # replays while down count no refusal
                with pytest.raises(holysheep.LedgerError):
                    ledger.replay_spool()
            assert len(_spooled(spool)) == 4 and not (spool / "rejected").exists()
            if server is not None:
                server.start()
            else:
                assert lock is not None
                lock.release()
            assert ledger.replay_spool() == 4
            assert ledger.replay_spool() == 0
            entries = ledger.entries()
    finally:
        ledger.close()
        if lock is not None:
            lock.release()
        if server is not None:
            server.stop()
    assert [e.id for e in entries] == [r.call_info.id for r in [first, *down]]  # in order
    assert _spooled(spool) == [] and not (spool / "rejected").exists()


_KILLED_CALLER = """
import sys
from holysheep import HolySheepClient
from holysheep.ledger import CostLedger, _ledger, _writer
_ledger._COMMIT_WINDOW_S = 600.0  # the writer would commit long after the kill
_writer._PATIENT_S = 600.0  # calls on a budget lease wait the patient window: as long
ledger = CostLedger(sys.argv[1])
client = HolySheepClient("hs-test-key-not-a-secret", sys.argv[2], ledger=ledger)
ids = [client.chat(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}], user=u).id
       for u in sys.argv[3:]]
print(" ".join(ids), flush=True)
sys.stdin.read()  # the test kills this process now
"""


def test_a_refused_line_in_a_dead_process_journal_waits_in_the_spool(tmp_path: Path) -> None:
    """A process killed with its calls only journaled: the next replay records the good ones
    and spools the refused one instead of stopping at it."""
    import os
    import signal
    import subprocess
    import sys

    db = tmp_path / "ledger.db"
    with CostLedger(f"sqlite:///{db}") as setup:
        setup.set_budget("100.00")  # calls hold budget
    with sqlite3.connect(db) as conn:
        conn.execute(_TRIGGER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    with GatedUpstream() as upstream:
        upstream.open()
        proc = subprocess.Popen(
            [sys.executable, "-c", _KILLED_CALLER, f"sqlite:///{db}", upstream.base_url,
             "alice", POISON, "bob"],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stdin is not None
        ids = proc.stdout.readline().decode().split()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stdin.close()
    assert len(ids) == 3
    spool = db.with_name(db.name + ".spool")
    # only journaled: three record lines wait before the journal's zeroed rest
    lines = [p.read_bytes().split(b"\0", 1)[0].splitlines() for p in spool.glob("journal-*")]
    assert sum(len(found) for found in lines) == 3
    with CostLedger(f"sqlite:///{db}") as ledger:
        assert ledger.replay_spool() == 2
        assert sorted(e.user for e in ledger.entries()) == ["alice", "bob"]
        [waiting] = _spooled(spool)
        assert json.loads(waiting.read_bytes())["entry"]["id"] == ids[1]
        assert list(spool.glob("journal-*")) == []


def test_a_refusal_is_explained_as_a_refusal_not_a_file_problem(tmp_path: Path) -> None:
    """What a user reads when the file refuses one record: not "check the file is writable"."""
    from holysheep.errors import LedgerError

    from .helpers import call

    db = tmp_path / "ledger.db"
    with CostLedger(f"sqlite:///{db}"):
        pass
    with sqlite3.connect(db) as conn:
        conn.execute(_TRIGGER)
    backend = SQLiteBackend(db)
    info = call(user=POISON)
    item = CostLedger("memory")._entry(None, info)  # what a settle would commit
    with pytest.raises(LedgerError, match="refused a record") as caught:
        backend.commit(*item)
    assert "writable" not in str(caught.value) and "rejected/" in str(caught.value)
    backend.close()
