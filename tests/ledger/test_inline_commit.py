"""Callers commit their own batches (issue #14): cheaper, and still never waiting on the store.

A caller, sync or on an event loop, commits a due batch itself when the SQLite file's lock is free
(``try_commit_many``); when another process holds the file it never waits for it: the writer
thread takes the batch. A process that dies between committing a batch and marking its journal
leaves records the next process replays, each counted once. A lone record the last call left is
committed without a flush. A batch recorded by one Redis script keeps every rule ``commit`` has.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from holysheep import HolySheepClient
from holysheep.ledger import CostLedger
from holysheep.ledger._lease import LEASE_SHARE
from holysheep.ledger._sqlite import SQLiteBackend

from ._world import SQLiteLock
from .conftest import backend_url
from .helpers import CATALOG, call, usd
from .test_wire_speed import HELLO, _tick_while, _unique_upstream

CALLS = 12
PAUSE_S = 0.03
"""Between calls: together longer than a batch's inline window (50 ms), so batches fall due."""
HANG_S = 30.0
"""How long a commit would wait for the held file: a caller that waited would take this long."""


def _rows(db: Path) -> int:
    """Entries another connection sees in the ledger file (no flush from this process)."""
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0]


def test_calls_on_a_held_file_neither_wait_nor_stall_the_loop(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    # No budget, and the (empty) budget list cached: the calls need nothing from the store.
    ledger = CostLedger(SQLiteBackend(db, settle_wait_s=HANG_S), budget_cache_s=600)
    with _unique_upstream() as up, HolySheepClient("hs-test-key", up.base_url,
                                                   ledger=ledger) as client:
        client.chat(model="gpt-4.1", messages=HELLO)  # connections and tables warm
        ledger.flush()
        lock = SQLiteLock(db)  # another process holds BEGIN EXCLUSIVE

        async def calls() -> tuple[list[str], list[float]]:
            ids: list[str] = []

            async def run() -> None:
                for _ in range(CALLS):
                    ids.append((await client.achat(model="gpt-4.1", messages=HELLO)).id)
                    await asyncio.sleep(PAUSE_S)

            task = asyncio.create_task(run())
            gaps: list[float] = []
            await _tick_while(task, gaps)
            await task
            return ids, gaps

        try:
            started = time.monotonic()
            ids, gaps = asyncio.run(calls())
            for _ in range(CALLS):
                ids.append(client.chat(model="gpt-4.1", messages=HELLO).id)
                time.sleep(PAUSE_S)
            took = time.monotonic() - started
            assert _rows(db) == 1  # nothing committed while the file was held
        finally:
            lock.release()
    assert took < HANG_S / 3, f"the calls waited {took:.1f} s for a held ledger file"
    assert max(gaps) < HANG_S / 30, f"a {max(gaps):.2f} s stall of the loop"
    assert ledger.flush(timeout=HANG_S * 2)
    recorded = [e.id for e in ledger.entries()]
    assert sorted(recorded[1:]) == sorted(ids) and len(set(recorded)) == 2 * CALLS + 1
    assert list(ledger.spool_dir.glob("*.json")) == []  # not spooled: written once free
    ledger.close()


def test_a_lone_record_is_committed_without_a_flush(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    with CostLedger(f"sqlite:///{db}") as ledger:
        for _ in range(3):
            assert ledger._settle_soon(None, call())
            time.sleep(PAUSE_S)
        deadline = time.monotonic() + 20  # the writer backs the callers up within ~0.1 s
        while _rows(db) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _rows(db) == 3  # another connection sees them: nobody flushed


_CRASHER = """
import os, sys, time
from decimal import Decimal
from holysheep.ledger import CostLedger, _journal
from tests.ledger.helpers import call

def crash(self, count):  # the batch is committed; its journal lines are not marked finished
    print(" ".join(ids), flush=True)
    os._exit(3)

_journal.Journal.finished = crash
ledger = CostLedger(sys.argv[1])
ids = []
for n in range(6):
    info = call()
    hold = ledger.reserve("gpt-4.1", Decimal("0.05"), info.attribution)
    ids.append(info.id)
    ledger._settle_soon(hold, info)
    time.sleep(0.015)
time.sleep(0.3)  # the writer thread commits what is left (inline callers did the rest)
"""


def test_a_crash_between_commit_and_journal_replays_each_record_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with CostLedger(url) as ledger:
        ledger.set_budget("10.00")
    env_path = [str(Path(__file__).parents[2])]
    proc = subprocess.run([sys.executable, "-c", _CRASHER, url], capture_output=True,
                          timeout=120, env=_env(env_path))
    assert proc.returncode == 3, proc.stderr.decode()
    committed = proc.stdout.decode().split()  # every record posted before the crash
    assert committed
    with CostLedger(url) as ledger:
        assert list(ledger.spool_dir.glob("journal-*")) != []  # its lines were never finished
        entries = ledger.entries()  # replays the dead process's journal first
        assert sorted(e.id for e in entries) == sorted(committed)  # each once
        assert list(ledger.spool_dir.glob("journal-*")) == []
        [status] = ledger.budget_status()
        assert status.spent_usd == sum((e.cost.total_usd for e in entries), Decimal(0))
        # the dead process's lease still holds until it expires, lowered by each call's cost
        # once (a replayed duplicate must not lower it twice, or the store would hold too little)
        lease = Decimal("10.00") / LEASE_SHARE
        assert status.reserved_usd == lease - status.spent_usd


def _env(extra: list[str]) -> dict[str, str]:
    """This interpreter's path, plus ``extra``, for a child process."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([*extra, *(p for p in sys.path if p)])}


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_one_batch_keeps_every_rule_of_commit(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    ledger = CostLedger(backend_url(backend, tmp_path, request), catalog=CATALOG)
    ledger.set_budget("100.00", scope="user", key="alice", period="day")
    ledger.set_budget("100.00")
    before = call(user="carol")
    ledger.settle(None, before)  # recorded earlier, one by one
    held = call(user="alice", tags={"team": "search", "odd": "\udc80 surrogate"})
    hold = ledger.reserve("gpt-4.1", usd(held) * 2, held.attribution)
    batch = [before, held, held, call(user="bob", priced=False), call(user="alice")]
    for info in batch:
        assert ledger._settle_soon(hold if info is held else None, info)
    assert ledger.flush(timeout=60)
    entries = ledger.entries()
    assert sorted(e.id for e in entries) == sorted({i.id for i in batch})  # duplicates once
    new_priced = usd(held) + usd(batch[4])
    spent = {s.budget.scope: s for s in ledger.budget_status()}
    assert spent["user"].spent_usd == new_priced
    assert spent["global"].spent_usd == new_priced + usd(before)
    assert spent["user"].reserved_usd == spent["global"].reserved_usd == 0  # hold released
    [tagged] = [e for e in entries if e.id == held.id]
    assert dict(tagged.tags) == {"team": "search", "odd": "\udc80 surrogate"}
    assert [e.cost for e in entries if e.user == "bob"] == [None]
    ledger.close()


def test_a_process_that_exits_mid_run_writes_its_queued_records(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    code = (
        "import sys, time\n"
        "from holysheep.ledger import CostLedger\n"
        "from tests.ledger.helpers import call\n"
        "ledger = CostLedger(sys.argv[1])\n"
        "infos = [call() for _ in range(40)]\n"
        "for info in infos:\n"
        "    ledger._settle_soon(None, info)\n"
        "    time.sleep(0.002)\n"
        "print(' '.join(i.id for i in infos))\n"
    )  # no close(), no flush(): some batches were committed inline, the rest queued
    proc = subprocess.run([sys.executable, "-c", code, url], capture_output=True, timeout=120,
                          env=_env([str(Path(__file__).parents[2])]), check=True)
    ids = proc.stdout.decode().split()
    with CostLedger(url) as ledger:
        assert list(ledger.spool_dir.glob("journal-*")) == []  # finished at exit, not replayed
        assert sorted(e.id for e in ledger.entries()) == sorted(ids)



def test_a_loop_committing_inline_leaves_the_wal_checkpointed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from holysheep.ledger import _writer

    monkeypatch.setattr(_writer, "_PATIENT_S", 0.0)  # every record due at once: a batch each
    db = tmp_path / "ledger.db"
    ledger = CostLedger(f"sqlite:///{db}")
    wal = Path(f"{db}-wal")

    async def settle_many() -> int:
        biggest = 0
        for _ in range(1500):  # one commit each, on the loop's own connection
            assert ledger._settle_soon(None, call())
            if wal.exists():
                biggest = max(biggest, wal.stat().st_size)
        return biggest

    biggest = asyncio.run(settle_many())
    assert ledger.flush(timeout=60) and len(ledger.entries()) == 1500
    # ~3 pages a commit: unchecked, 1,500 commits grow the WAL past 16 MB
    assert biggest < 4 << 20, f"the WAL grew to {biggest >> 20} MB"
    ledger.close()


def test_work_run_on_the_writer_leaves_patient_records_to_their_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lease refills and give-backs run on the writer thread; records nobody waits for are not
    committed early along with them (one transaction each), but in their own bigger batch."""
    commits = [0]
    for name in ("commit_many", "try_commit_many"):
        real = getattr(SQLiteBackend, name)

        def counted(self: SQLiteBackend, *args: object, _real: object = real) -> object:
            commits[0] += 1
            return _real(self, *args)  # type: ignore[operator]

        monkeypatch.setattr(SQLiteBackend, name, counted)

    def batches(ledger: CostLedger, with_calls: bool) -> int:
        ledger.flush()
        before = commits[0]
        for _ in range(20):
            assert ledger._settle_soon(None, call())
            if with_calls:  # what a lease refill or a give-back queues on the writer
                ledger._recorder.call(lambda: None)  # type: ignore[union-attr]
            time.sleep(0.005)
        ledger.flush()
        return commits[0] - before

    with CostLedger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        alone = batches(ledger, False)
        beside_calls = batches(ledger, True)
        assert beside_calls <= alone + 2, f"{beside_calls} commits beside writer calls, {alone}"
        assert len(ledger.entries()) == 40


def test_a_batch_across_midnight_charges_each_window(tmp_path: Path) -> None:
    """Records committed together either side of a UTC midnight (a month's end) count in the
    day and month they were billed in."""
    from datetime import datetime, timezone

    from .helpers import Clock

    clock = Clock(datetime(2025, 6, 30, 23, 59, 59, tzinfo=timezone.utc).timestamp())
    with CostLedger(f"sqlite:///{tmp_path / 'ledger.db'}", clock=clock,
                    catalog=CATALOG) as ledger:
        ledger.set_budget("100", scope="user", key="alice", period="day")
        ledger.set_budget("100", scope="user", key="alice", period="month")
        june, july = call(user="alice"), call(user="alice", prompt=3000)
        assert ledger._settle_soon(None, june)
        clock.advance(2)  # 2025-07-01 00:00:01
        assert ledger._settle_soon(None, july)
        assert ledger.flush(timeout=60)
        assert {s.budget.period: s.spent_usd for s in ledger.budget_status()} == {
            "day": usd(july), "month": usd(july)}
        clock.advance(-2)
        assert {s.budget.period: s.spent_usd for s in ledger.budget_status()} == {
            "day": usd(june), "month": usd(june)}


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
@pytest.mark.parametrize("size", [1, 9, 64, 65, 150])
def test_a_batch_of_any_size_records_each_call_once(
    backend: str, size: int, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Batches past one lookup or insert statement (the store checks and inserts in groups of
    fixed sizes): calls recorded before, and calls twice in the batch, count once wherever they
    fall."""
    ledger = CostLedger(backend_url(backend, tmp_path, request), catalog=CATALOG)
    earlier = [call() for _ in range(3)]
    for info in earlier:
        ledger.settle(None, info)
    fresh = [call() for _ in range(size)]
    batch = [*fresh, *earlier, fresh[0], fresh[-1], fresh[size // 2]]
    items = [ledger._entry(None, info) for info in batch]
    recorded = ledger._backend.commit_many(items)
    assert recorded == [True] * size + [False] * 6
    assert sorted(e.id for e in ledger.entries()) == sorted(i.id for i in [*earlier, *fresh])
    [row] = ledger.totals(group_by="user")
    assert row.calls == size + 3
    assert row.total_usd == sum((usd(i) for i in [*earlier, *fresh]), Decimal(0))
    ledger.close()


def test_an_asettle_cancelled_while_it_waits_still_records_the_call_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The caller of ``asettle`` gives up (its task is cancelled) before the batch commits: the
    billed call is committed all the same, once, and the other calls of its batch are answered."""
    ledger = CostLedger(f"sqlite:///{tmp_path / 'ledger.db'}", catalog=CATALOG)
    infos = [call() for _ in range(4)]

    async def settle_all() -> list[object]:
        tasks = [asyncio.create_task(ledger.asettle(None, info)) for info in infos]
        await asyncio.sleep(0)  # every record is posted; their batch is not committed yet
        tasks[1].cancel()
        # bounded: a batch whose answering broke on the cancelled caller never answers the rest
        return await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)

    outcomes = asyncio.run(settle_all())
    assert isinstance(outcomes[1], asyncio.CancelledError)
    assert [e.id for e in outcomes if not isinstance(e, BaseException)] == [  # type: ignore[attr-defined]
        infos[0].id, infos[2].id, infos[3].id]
    assert ledger.flush(timeout=60)
    assert sorted(e.id for e in ledger.entries()) == sorted(i.id for i in infos)
    assert "writer failed" not in caplog.text
    ledger.close()
