"""The SQLite journal's answers as a log: no key index while a job first runs, the index built
once when a job is resumed, and journals of the earlier keyed schema resumed as they are."""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from holysheep import HolySheepClient
from holysheep.batch._api import AsyncBatchRun, _Settings
from holysheep.batch._journal_sqlite import SQLiteJournal
from holysheep.batch._seen import KeyRows
from holysheep.testing import RelayEmulator

from .conftest import Runner, requests

# the answers table of the two earlier schemas, as they created it
_KEYED = {
    "rowid": "CREATE TABLE answers (job TEXT, key TEXT, record TEXT NOT NULL, "
             "PRIMARY KEY (job, key))",
    "without rowid": "CREATE TABLE answers (job TEXT, key TEXT, record TEXT NOT NULL, "
                     "PRIMARY KEY (job, key)) WITHOUT ROWID",
}


def _schema(journal: Path) -> tuple[str, list[str]]:
    """The answers table's SQL and the names of its explicit indexes."""
    with sqlite3.connect(journal) as conn:
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name='answers'").fetchone()[0]
        names = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='answers' "
            "AND sql IS NOT NULL")]
    return sql, names


def test_a_first_run_writes_no_key_index_and_answers_late_repeats_from_its_own_answers(
    client: HolySheepClient, emulator: RelayEmulator, tmp_path: Path
) -> None:
    """Requests 60-69 repeat bodies 0-9 and are read (window 4) long after those were
    committed: they are found by key among the run's own answers, not paid again."""
    journal = tmp_path / "job.db"
    settings = _Settings(
        client, requests(70, distinct=60), concurrency=2, budget=None, journal=str(journal),
        job=None, dedup=True, ordered=False, model=None, lease_s=30.0, window=4,
    )

    async def go() -> list:
        run = AsyncBatchRun(settings)
        return [result async for result in run], run.summary

    results, summary = asyncio.run(go())
    assert all(r.ok for r in results) and len(emulator.billed) == 60
    assert summary.billed_calls == 60 and summary.deduplicated == 10
    by_id = {r.custom_id: r for r in results}
    assert by_id["r65"].completion.text == "Echo: question 5" == by_id["r5"].completion.text
    sql, indexes = _schema(journal)
    assert "PRIMARY KEY" not in sql.upper() and indexes == []


def test_a_resumed_job_builds_the_key_index_once_and_pays_nothing_again(
    client: HolySheepClient, emulator: RelayEmulator, run_batch: Runner, tmp_path: Path
) -> None:
    journal = tmp_path / "job.db"
    run_batch(client, requests(30), journal=journal)
    assert _schema(journal)[1] == []
    _, again = run_batch(client, requests(50), journal=journal)
    assert len(emulator.billed) == 50 and again.from_journal == 30 and again.billed_calls == 20
    assert _schema(journal)[1] == ["answers_key"]
    _, third = run_batch(client, requests(50), journal=journal)
    assert third.from_journal == 50 and third.billed_calls == 0 and len(emulator.billed) == 50
    # another job of the same file: answers are per job, found by the index now in place
    _, other = run_batch(client, requests(10), journal=journal, job="other")
    assert other.billed_calls == 10 and other.from_journal == 0
    _, other = run_batch(client, requests(10), journal=journal, job="other")
    assert other.billed_calls == 0 and other.from_journal == 10 and len(emulator.billed) == 60


@pytest.mark.parametrize("table", sorted(_KEYED))
def test_a_journal_of_the_keyed_schema_resumes_as_it_is(
    client: HolySheepClient, emulator: RelayEmulator, run_batch: Runner, tmp_path: Path,
    table: str,
) -> None:
    journal = tmp_path / "old.db"
    with sqlite3.connect(journal) as conn:
        conn.execute(_KEYED[table])
    _, first = run_batch(client, requests(20), journal=journal)
    assert first.billed_calls == 20
    results, again = run_batch(client, requests(30), journal=journal)
    assert again.from_journal == 20 and again.billed_calls == 10 and len(emulator.billed) == 30
    assert all(r.ok for r in results)
    sql, indexes = _schema(journal)
    assert sql == _KEYED[table] and indexes == []  # used as it is: no log, no second index


def test_a_key_hash_clash_never_hands_out_another_requests_answer(tmp_path: Path) -> None:
    journal = SQLiteJournal(str(tmp_path / "job.db"), "default", exclusive=True)
    try:
        journal.finish([("k1", '{"answer":1}', Decimal(0), [("c1", "k1", True)])])
        rows = journal._rows
        assert rows is not None
        rowid = rows.get("k1")
        assert rowid is not None
        rows.put("k2", rowid)  # as if k2's 64-bit hash were k1's
        assert journal.lookup_many([("c2", "k2"), ("c1", "k1")], 0.0) == [
            (None, ("mine", None)), ("k1", ("done", '{"answer":1}'))]
        assert journal.lookup("c2", "k2", 0.0) == (None, ("mine", None))
        journal.finish([("k2", '{"answer":2}', Decimal(0), [("c2", "k2", True)])])
        assert journal.lookup_many([("c2", "k2")], 0.0) == [("k2", ("done", '{"answer":2}'))]
    finally:
        journal.close()


def test_key_rows_keep_the_last_rowid_of_many_keys() -> None:
    rows = KeyRows(capacity=16)
    for i in range(5000):  # grows many times
        rows.put(f"key-{i}", i)
    rows.put("key-7", 99999)
    assert len(rows) == 5000
    assert rows.get("key-7") == 99999 and rows.get("key-4999") == 4999
    assert rows.get("key-5000") is None
