"""Group commit for one ledger: billed calls journaled at once, written in batches.

``Recorder.post`` appends the record to this process's journal (one ``write``: durable against
a crash) and queues it; the writer thread hands each batch to the backend's ``commit_many`` (one
SQLite transaction, one Redis script) and then marks the journal lines finished. A caller may
commit a due batch itself with the backend's ``try_commit_many``, which never waits (it gives up
at once when the store is busy, leaving the batch to the thread), so even an event loop may; the
upkeep it must not do (a WAL checkpoint, which syncs the disk, and the spool replay) runs on the
writer thread every ``_UPKEEP_EVERY`` inline batches. A batch the store refuses is moved to the
spool (``LedgerSpoolWarning``) and replayed exactly once later, like any billed call the ledger
could not record; when the store answers but refuses the batch, its records are committed one by
one first, so only a record it refuses alone is spooled (``_refusal.py``). Reservations stay
held until their settle is committed, so a budget never counts less than it should meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from holysheep.errors import ConfigurationError

from ._backend import CommitItem
from ._journal import Journal, record_line
from ._lease import LEASE_PREFIX
from ._model import LedgerEntry
from ._refusal import refused_record
from ._sqlite_schema import entry_row
from ._writer import GroupWriter

__all__ = ["Recorder"]

logger = logging.getLogger("holysheep.ledger")

Item = tuple[
    LedgerEntry, tuple[str, ...], "str | None", float, "Future[Any] | None", tuple[Any, ...], bool
]
"""A posted record: entry, models, hold id, now, a future for whoever waits on its outcome, the
entry as a row (``entry_row``: the journal's form, and the SQLite backend's), and whether its
journal line was written."""
Spooler = Callable[[LedgerEntry, tuple[str, ...], "str | None", BaseException], None]
_UPKEEP_EVERY = 32
"""Inline batches between two upkeep runs on the writer thread."""
CommitMany = Callable[[list[CommitItem], list[tuple[Any, ...]]], "list[bool] | None"]
"""A backend's ``commit_many`` (or ``try_commit_many``: None when the store was busy)."""


class Recorder:
    """A journal and a writer thread over a backend's ``commit_many``."""

    def __init__(
        self,
        commit_many: CommitMany,
        journal: Journal,
        spool: Spooler,
        after: Callable[[], None],
        *,
        window_s: float,
        try_commit_many: CommitMany | None = None,
        checkpoint: Callable[[], None] | None = None,
        written: Callable[[list[Item]], None] | None = None,
    ) -> None:
        self._commit_many = commit_many
        self._written = written
        self._try_commit_many = try_commit_many
        self._checkpoint = checkpoint
        self._inline_batches = 0
        self._journal = journal
        self._spool = spool
        self._after = after
        self._warned_journal = False
        self.writer: GroupWriter[Item] = GroupWriter(
            self._write, window_s=window_s, name="holysheep-ledger-writer",
            write_inline=None if try_commit_many is None else self._write_inline,
        )

    def post(
        self,
        entry: LedgerEntry,
        models: tuple[str, ...],
        hold: str | None,
        now: float,
        future: Future[Any] | None = None,
        *,
        inline: bool = False,
        unjournaled: bool = False,
    ) -> bool:
        """Journal the record and queue it for the next batch; returns at once. ``inline``:
        if a batch is due and the store's lock is free, this caller commits it (never waiting).

        When the journal cannot be written: with ``unjournaled`` (an event loop's caller, which
        must not wait on the store) the record is queued all the same, held in memory until its
        batch commits (flushed at ``close()`` and at exit; a crash before then loses it);
        otherwise False, nothing queued: the caller records the call directly.
        """
        row = entry_row(entry)
        line = record_line(row, models, hold)
        journal = self._journal
        with journal.lock:  # journal lines and the writer's queue in the same order
            try:
                journal.put(line)
                journaled = True
            except OSError as exc:  # no crash safety
                if not self._warned_journal:
                    self._warned_journal = True
                    logger.warning(
                        "holysheep: cannot write the ledger journal in %s (%s); billed calls "
                        "are recorded one by one, or on an event loop held in memory until "
                        "their batch commits (a crash before then loses them)",
                        journal.directory, exc,
                    )
                if not unjournaled:
                    return False
                journaled = False
            self.writer.post((entry, models, hold, now, future, row, journaled), inline=inline,
                             patient=future is None and (
                                 hold is None or hold.startswith(LEASE_PREFIX)))
        if inline:
            self.writer.write_due()
        return True

    def call(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run ``fn(*args)`` on the writer thread (a reservation, a release, a budget read)."""
        return self.writer.call(fn, *args)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything posted so far is committed or spooled."""
        return self.writer.flush(timeout)

    def close(self, timeout: float) -> None:
        """Flush (``timeout`` at most), stop the thread, release the journal files."""
        self.writer.close(timeout)
        self._journal.close()

    def _write(self, items: list[Item]) -> None:
        """On the writer thread: commit one batch, or spool it; never raises."""
        try:
            recorded = self._commit_many(*_split(items))
        except Exception as exc:  # LedgerError, or a backend's own bug: keep every record
            self._one_by_one(items, exc)
            self._journal.finished(_journaled(items))
            self._after_written(items)
            return
        assert recorded is not None
        self._finished(items, recorded)
        self._replay()

    def _one_by_one(self, items: list[Item], exc: Exception) -> None:
        """A batch that failed: when the store answers (``refused_record``), each record is
        committed alone, so only those the store refuses are spooled; when it is down, all are
        spooled at once (in order, without a wait per record)."""
        down: Exception | None = exc if len(items) == 1 or not refused_record(exc) else None
        for item in items:
            if down is not None:
                self._keep(item, down)
                continue
            try:
                [new] = self._commit_many(*_split([item]))
            except Exception as err:
                if not refused_record(err):  # down meanwhile: the rest waits in the spool too
                    down = err
                self._keep(item, err)
                continue
            if item[4] is not None:
                item[4].set_result(item[0] if new else None)

    def _keep(self, item: Item, exc: BaseException) -> None:
        """Spool one record the store did not take, and answer whoever waits on it."""
        entry, models, hold, _now, future, _row, _journaled = item
        try:
            self._spool(entry, models, hold, exc)
        except Exception:  # the warning itself, under warnings-as-errors
            logger.warning("holysheep: spooled a billed call", exc_info=True)
        if future is not None:
            future.set_result(entry)

    def _write_inline(self, items: list[Item]) -> bool:
        """On a caller's thread: commit one batch unless the store is busy or fails (False: the
        writer thread takes it, waiting and spooling as it may); never raises, never waits."""
        assert self._try_commit_many is not None
        try:
            recorded = self._try_commit_many(*_split(items))
        except Exception:
            return False
        if recorded is None:
            return False
        self._finished(items, recorded)
        self._inline_batches += 1  # one inline writer at a time (the writer's busy flag)
        if self._inline_batches % _UPKEEP_EVERY == 0:
            # closed meanwhile: nothing to keep up (its last flush ran on the thread)
            with contextlib.suppress(ConfigurationError):
                self.writer.call(self._upkeep)
        return True

    def _finished(self, items: list[Item], recorded: list[bool]) -> None:
        """A batch is committed: answer whoever waits, drop its journal lines."""
        for (entry, _m, _h, _n, future, _r, _j), new in zip(items, recorded, strict=True):
            if future is not None:
                future.set_result(entry if new else None)
        self._journal.finished(_journaled(items))
        self._after_written(items)

    def _after_written(self, items: list[Item]) -> None:
        """Once a batch is committed or spooled: the ledger's ``written`` hook (lease shares
        settled in the local book); never raises."""
        if self._written is not None:
            try:
                self._written(items)
            except Exception:
                logger.warning("holysheep: settling lease shares failed", exc_info=True)

    def _replay(self) -> None:
        """After a commit on the writer thread: replay spooled records, if any wait."""
        try:
            self._after()
        except Exception:
            logger.warning("holysheep: replaying the spool failed", exc_info=True)

    def _upkeep(self) -> None:
        """On the writer thread, after inline batches: checkpoint the WAL, replay the spool."""
        if self._checkpoint is not None:
            try:
                self._checkpoint()
            except Exception as exc:  # the next checkpoint (or any connection's) catches up
                logger.debug("holysheep: ledger checkpoint failed: %s", exc)
        self._replay()


def _split(items: list[Item]) -> tuple[list[CommitItem], list[tuple[Any, ...]]]:
    """A batch as ``commit_many`` takes it: the commit items and the entries' rows."""
    return [(e, m, h, n) for e, m, h, n, _f, _r, _j in items], [item[5] for item in items]


def _journaled(items: list[Item]) -> int:
    """How many of ``items`` have a journal line (all of them unless the disk refused one)."""
    return sum(1 for item in items if item[6])
