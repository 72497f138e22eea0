"""Journal commits in groups and lookups in blocks; a custom_id reused within one input; one
process per SQLite job (a fleet goes through Redis)."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
import tracemalloc
from pathlib import Path

import pytest
from holysheep import BadRequestError, HolySheepClient
from holysheep.batch import BatchResult, JournalError, _journal_sqlite
from holysheep.batch._journal_sqlite import SQLiteJournal
from holysheep.batch._seen import SeenIds
from holysheep.cli import main
from holysheep.testing import RelayEmulator

from .conftest import KEY, Runner, cli, requests


def _answered(journal: Path) -> set[str]:
    try:
        with sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5) as conn:
            return {row[0] for row in conn.execute("SELECT custom_id FROM marks WHERE ok=1")}
    except sqlite3.Error:  # not created yet
        return set()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_every_answer_is_in_the_journal_before_it_is_handed_out(
    client: HolySheepClient, emulator: RelayEmulator, tmp_path: Path, mode: str
) -> None:
    emulator.latency = 0.005
    journal = tmp_path / "job.db"
    uncommitted: list[str] = []

    def check(result: BatchResult) -> None:
        assert result.ok, result.error
        if result.custom_id not in _answered(journal):
            uncommitted.append(result.custom_id)

    if mode == "sync":
        for result in client.batch(requests(120), journal=journal, concurrency=16):
            check(result)
    else:
        async def go() -> None:
            async for result in client.abatch(requests(120), journal=journal, concurrency=16):
                check(result)

        asyncio.run(go())
    assert uncommitted == []
    assert len(_answered(journal)) == 120


class _Recording(SQLiteJournal):
    """A SQLite journal noting how many answers each commit carried."""

    def __init__(self, path: Path) -> None:
        super().__init__(str(path), "default")
        self.groups: list[int] = []

    def finish(self, commits: list) -> list[str | None]:
        self.groups.append(len(commits))
        return super().finish(commits)


def test_answers_share_commits_and_never_outnumber_the_call_slots(
    client: HolySheepClient, emulator: RelayEmulator, run_batch: Runner, tmp_path: Path
) -> None:
    emulator.latency = 0.01
    journal = _Recording(tmp_path / "job.db")
    _, summary = run_batch(client, requests(300), journal=journal, concurrency=48)
    assert summary.succeeded == 300 and sum(journal.groups) == 300
    assert len(_answered(tmp_path / "job.db")) == 300
    # an answer keeps its call's slot until committed: a group never exceeds the concurrency,
    # so a SIGKILL loses at most that many paid answers
    assert max(journal.groups) <= 48
    # answers that end while one commit is written share the next (how many share depends on
    # the machine's load, so only that sharing happens is asserted, not a count)
    assert max(journal.groups) > 1 and len(journal.groups) < 300


def test_a_rerun_in_blocks_answers_done_work_from_the_journal_and_pays_nothing_again(
    client: HolySheepClient, emulator: RelayEmulator, run_batch: Runner, tmp_path: Path
) -> None:
    journal = tmp_path / "job.db"
    _, first = run_batch(client, requests(100, distinct=80), journal=journal)
    billed = len(emulator.billed)
    assert first.billed_calls == billed == 80
    results, again = run_batch(client, requests(150, distinct=80), journal=journal)
    assert len(emulator.billed) == billed  # r100..r149 repeat bodies answered in the first run
    assert again.succeeded == 150 and again.from_journal == 100 and again.deduplicated == 50
    by_id = {r.custom_id: r for r in results}
    assert by_id["r149"].completion.text == "Echo: question 69" == by_id["r69"].completion.text


def test_a_custom_id_reused_with_another_body_in_one_input_is_refused(
    client: HolySheepClient, emulator: RelayEmulator, run_batch: Runner
) -> None:
    items = requests(4)
    items.append({**items[1], "messages": [{"role": "user", "content": "another question"}]})
    items.append(dict(items[2]))  # the same custom_id and body again: answered, not refused
    results, summary = run_batch(client, items)
    assert len(results) == 6 and summary.succeeded == 5 and summary.failed == 1
    assert len(emulator.billed) == 4  # neither the refused line nor the repeat was sent
    refused = [r for r in results if r.error is not None]
    assert [r.custom_id for r in refused] == ["r1"] and refused[0].seq == 4
    error = refused[0].error
    assert isinstance(error, BadRequestError) and error.code == "duplicate_custom_id"
    assert "request 4" in str(error) and "its own custom_id" in str(error)
    first = next(r for r in results if r.custom_id == "r1" and r.ok)
    assert first.completion.text == "Echo: question 1"


def test_a_reused_custom_id_in_a_file_names_its_line(
    relay_env: RelayEmulator, tmp_path: Path
) -> None:
    items = requests(3)
    lines = [json.dumps(item) for item in items]
    clash = {**items[0], "messages": [{"role": "user", "content": "changed"}]}
    lines += ["", json.dumps(clash)]  # a blank line: the clash is on line 5
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("\n".join(lines) + "\n")
    assert main(["batch", str(source), "-o", str(out)]) == 1
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    failed = [row for row in rows if row["error"] is not None]
    assert len(rows) == 4 and len(failed) == 1
    assert failed[0]["custom_id"] == "r0" and failed[0]["error"]["code"] == "duplicate_custom_id"
    assert failed[0]["error"]["message"].startswith("line 5: custom_id 'r0'")


@pytest.fixture
def relay_env(emulator: RelayEmulator, monkeypatch: pytest.MonkeyPatch) -> RelayEmulator:
    monkeypatch.setenv("HOLYSHEEP_API_KEY", KEY)
    monkeypatch.setenv("HOLYSHEEP_BASE_URL", emulator.base_url)
    return emulator


def test_a_second_process_on_a_running_sqlite_job_is_refused_and_pointed_at_redis(
    relay_env: RelayEmulator, client: HolySheepClient, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    relay_env.latency = 0.05
    items = requests(60)
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps(item) + "\n" for item in items))
    journal = tmp_path / "out.jsonl.journal.db"
    worker = cli(relay_env, str(source), "-o", str(out), "--concurrency", "2")
    try:
        deadline = time.monotonic() + 60
        while not _answered(journal):
            assert worker.poll() is None, worker.communicate()
            assert time.monotonic() < deadline, "the job made no progress"
            time.sleep(0.02)
        billed = len(relay_env.billed)
        with pytest.raises(JournalError) as caught:
            list(client.batch(items, journal=journal))
        message = str(caught.value)
        assert "another process" in message and "redis://" in message and "--job" in message
        assert len(relay_env.billed) - billed <= 4  # the refused run sent nothing of its own
        assert main(["batch", "--status", "-o", str(out)]) == 0  # reading progress is fine
        assert "requests answered" in capsys.readouterr().out
        other, _ = list(client.batch(requests(2, prefix="o"), journal=journal, job="other")), 0
        assert all(r.ok for r in other)  # another job in the same file runs alongside
    finally:
        _, err = worker.communicate(timeout=90)
    assert worker.returncode == 0, err
    results = list(client.batch(items, journal=journal))  # the job is free again once it ended
    assert all(r.ok and r.from_journal for r in results)


class _WalWatch(SQLiteJournal):
    """A SQLite journal noting the size of its write-ahead log after each commit."""

    def __init__(self, path: Path) -> None:
        super().__init__(str(path), "default")
        self.wal: list[int] = []

    def finish(self, commits: list) -> list[str | None]:
        firsts = super().finish(commits)
        self.wal.append(os.path.getsize(f"{self.path}-wal"))
        return firsts


def test_a_long_job_checkpoints_its_journal_on_the_side_so_the_log_stays_small(
    client: HolySheepClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # commits run on the job's own thread and never checkpoint; a thread of the journal copies
    # the log into the file every _CHECKPOINT_PAGES pages: without it the log would only grow
    def largest_log(pages: int, name: str) -> int:
        monkeypatch.setattr(_journal_sqlite, "_CHECKPOINT_PAGES", pages)
        journal = _WalWatch(tmp_path / f"{name}.db")
        results = list(client.batch(requests(300, prefix=name), journal=journal, concurrency=1))
        assert all(r.ok for r in results) and len(journal.wal) == 300
        assert len(_answered(tmp_path / f"{name}.db")) == 300  # every answer is kept
        return max(journal.wal)

    unchecked = largest_log(10**9, "never")
    assert largest_log(32, "often") * 3 < unchecked  # ~10x in practice


def test_the_custom_id_check_of_a_big_input_costs_tens_of_bytes_a_line_and_still_refuses() -> None:
    ids = [f"request-{i}" for i in range(60_000)]
    body, other = "ab12" * 10, "cd34" * 10  # body hashes, as body_hash gives them
    tracemalloc.start()
    try:
        seen = SeenIds()
        assert all(seen.first_body(custom_id, body) for custom_id in ids)
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept / len(ids) < 40 and peak / len(ids) < 64  # a dict of the ids: ~150 a line
    sample = ids[::997]
    assert all(seen.first_body(custom_id, body) for custom_id in sample)  # the same body again
    assert not any(seen.first_body(custom_id, other) for custom_id in sample)  # another body
    assert seen.first_body("request-new", other) and len(seen) == len(ids) + 1
