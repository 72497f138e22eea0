"""The ledger journal's file (issue #14): records copied into a mapped, preallocated file.

A process killed after its journal was emptied and reused leaves only the records not yet
finished for the next process (never the finished ones again, never a torn zero tail); a forked
child journals in a file of its own, so it never overwrites its parent's records; and on a file
system that cannot map files the journal writes its records instead, with the same outcome.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from holysheep import HolySheepClient
from holysheep.ledger import CostLedger, _journal
from holysheep.ledger._journal import Journal, replay_orphans
from holysheep.ledger._model import LedgerEntry
from holysheep.ledger._sqlite_schema import entry_row

from .helpers import call
from .test_wire_speed import HELLO, _unique_upstream


def _row(n: int) -> tuple[object, ...]:
    """An entry row whose call id names ``n``."""
    info = call()
    entry = LedgerEntry.from_call(info, 1_750_000_000.0 + n, f"call-{n}|req-{n}")
    return entry_row(entry)


def _replayed(directory: Path) -> list[str]:
    """The dedup keys the records of every unlocked journal in ``directory`` replay."""
    keys: list[str] = []

    def commit(entry: LedgerEntry, models: tuple[str, ...], hold: str | None) -> bool:
        keys.append(entry.key)
        return True

    replay_orphans(directory, commit)
    return keys


_KILLED = """
import os, signal, sys
from pathlib import Path
from typing import Any
from holysheep.ledger._journal import Journal
from tests.ledger.test_journal_file import _row

journal = Journal(Path(sys.argv[1]))
for n in range(40):  # a batch committed: its lines are finished and the file's space reused
    journal.append(_row(n), ("gpt-4.1", "gpt-4.1"), None)
journal.finished(40)
for n in (100, 101):  # then two calls return before their batch commits
    journal.append(_row(n), ("gpt-4.1", "gpt-4.1"), "hold-%d" % n)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _env() -> dict[str, str]:
    root = str(Path(__file__).parents[2])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([root, *(p for p in sys.path if p)])}


def test_a_killed_process_leaves_only_its_unfinished_records(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    proc = subprocess.run([sys.executable, "-c", _KILLED, str(tmp_path)], env=_env(),
                          capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    [path] = tmp_path.glob("journal-*")
    assert _replayed(tmp_path) == ["call-100|req-100", "call-101|req-101"]
    assert not path.exists()  # replayed, then deleted
    assert "unreadable" not in caplog.text  # the file's unused zeros are not a torn record


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_forked_child_journals_in_a_file_of_its_own(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append(_row(1), ("gpt-4.1", "gpt-4.1"), None)
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child, which never returns
        code = 0
        try:
            journal.append(_row(2), ("gpt-4.1", "gpt-4.1"), None)
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    journal.append(_row(3), ("gpt-4.1", "gpt-4.1"), None)
    files = {path: _lines(path) for path in tmp_path.glob("journal-*")}
    assert sorted(files.values()) == [["call-1|req-1", "call-3|req-3"], ["call-2|req-2"]]
    journal.close()


def _lines(path: Path) -> list[str]:
    """The dedup keys of the records in a journal file, in order."""
    return [json.loads(line)[0][0] for line in _journal._records(path.read_bytes())]


def _number(key: str) -> int:
    return int(key.split("|")[0].removeprefix("call-"))


def _no_mmap(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENODEV, "No such device")  # mmap on a file system without it

    monkeypatch.setattr(_journal.mmap, "mmap", refuse)


def _no_fallocate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(_journal.os, "posix_fallocate", raising=False)  # as on macOS


def _fallocate_unsupported(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    monkeypatch.setattr(_journal.os, "posix_fallocate", refuse)


@pytest.mark.parametrize("system", [_no_mmap, _no_fallocate, _fallocate_unsupported])
def test_where_a_file_cannot_be_mapped_the_journal_writes_its_records(
    system: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system(monkeypatch)
    journal = Journal(tmp_path)
    for n in range(3):
        journal.append(_row(n), ("gpt-4.1", "gpt-4.1"), None)
    journal.finished(3)  # emptied for reuse
    journal.append(_row(7), ("gpt-4.1", "gpt-4.1"), None)
    journal.close()  # one record unfinished: the file stays for a replay
    assert _replayed(tmp_path) == ["call-7|req-7"]
    assert list(tmp_path.glob("journal-*")) == []


def test_a_full_disk_refuses_the_journal_and_the_call_is_still_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """No room for a journal file: the ledger says so once and records each call directly (the
    mapping is never made over space the disk does not have)."""
    def full(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_journal.os, "posix_fallocate", full)
    ledger = CostLedger(f"sqlite:///{tmp_path / 'ledger.db'}")
    with _unique_upstream() as up, HolySheepClient("hs-test-key", up.base_url,
                                                   ledger=ledger) as client:
        ids = [client.chat(model="gpt-4.1", messages=HELLO).id for _ in range(3)]
        ids.append(asyncio.run(client.achat(model="gpt-4.1", messages=HELLO)).id)
    ledger.flush()
    assert sorted(e.id for e in ledger.entries()) == sorted(ids)
    assert caplog.text.count("cannot write the ledger journal") == 1
    assert list(ledger.spool_dir.glob("journal-*")) == []
    ledger.close()


def test_records_past_a_file_start_a_new_one_and_the_old_goes_once_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_journal, "_SEGMENT_BYTES", 4096)  # a few records a file
    journal = Journal(tmp_path)
    for n in range(40):
        journal.append(_row(n), ("gpt-4.1", "gpt-4.1"), None)
    files = sorted(tmp_path.glob("journal-*"), key=lambda p: _number(_lines(p)[0]))
    assert len(files) > 2
    assert [key for p in files for key in _lines(p)] == [f"call-{n}|req-{n}" for n in range(40)]
    journal.finished(39)
    [left] = tmp_path.glob("journal-*")  # the finished files are deleted
    assert left == files[-1]
    journal.close()  # the last file holds an unfinished record: it stays, whole, for a replay
    replayed = _replayed(tmp_path)  # (its finished records count once: the dedup key)
    assert replayed == [f"call-{n}|req-{n}" for n in range(40 - len(replayed), 40)]


def test_without_a_journal_a_loop_that_ends_right_after_a_call_keeps_its_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No journal at all (no ``fcntl``, as on Windows): ``asyncio.run`` returning right after
    ``achat`` must not cancel the call's settle before it ran."""
    monkeypatch.setattr(Journal, "available", False)
    ledger = CostLedger(f"sqlite:///{tmp_path / 'ledger.db'}")
    with _unique_upstream() as up, HolySheepClient("hs-test-key", up.base_url,
                                                   ledger=ledger) as client:
        ids = [asyncio.run(client.achat(model="gpt-4.1", messages=HELLO)).id for _ in range(3)]
    assert sorted(e.id for e in ledger.entries()) == sorted(ids)
    ledger.close()


def test_a_disk_that_fills_and_frees_mid_run_loses_nothing_and_leaves_no_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some records of a batch have a journal line, some do not (the disk refused it): each
    call is recorded once and the journal counts only its own lines as finished, so nothing is
    left behind for a replay and nothing is replayed twice."""
    real_put = Journal.put
    refused = {"left": 0}

    def put(self: Journal, line: bytes) -> None:
        if refused["left"]:
            refused["left"] -= 1
            raise OSError(errno.ENOSPC, "No space left on device")
        real_put(self, line)

    monkeypatch.setattr(Journal, "put", put)
    ledger = CostLedger(f"sqlite:///{tmp_path / 'ledger.db'}")
    infos = [call() for _ in range(9)]

    async def settle_all() -> None:  # on the loop, within one batch's window: none committed
        for n, info in enumerate(infos):
            if n in (2, 6):
                refused["left"] = 2  # this call and the next find the disk full
            assert ledger._settle_soon(None, info, on_loop=True)

    asyncio.run(settle_all())
    [journal] = ledger.spool_dir.glob("journal-*")
    pending = [json.loads(line)[0][1] for line in _journal._records(journal.read_bytes())]
    assert pending == [i.id for n, i in enumerate(infos) if n not in (2, 3, 6, 7)]
    assert ledger.flush(timeout=60)
    assert sorted(e.id for e in ledger.entries()) == sorted(i.id for i in infos)
    assert _journal._records(journal.read_bytes()) == []  # every line finished, none left
    ledger.close()
    assert list(ledger.spool_dir.glob("journal-*")) == []
