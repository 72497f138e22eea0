"""The journal: billed calls waiting for the group-commit writer, safe on disk before it runs.

Each record is one compact JSON line (``[row, models, hold id]``, the row as the SQLite schema
stores an entry: ``entry_row``) appended with a single ``write`` to a file only this process holds
(``journal-<pid>-<id>.jsonl`` in the spool folder, ``flock``-ed while open), so a call that
returned survives the process being killed: the page cache keeps what was written. No ``fsync``
(the SQLite ledger runs ``synchronous=NORMAL`` too: a power cut may lose the last moments, a crash
loses nothing). When the writer has finished every record of a file (committed, or moved to the
spool) the file is emptied, or deleted once a newer one took over. A journal whose process died
(its lock is free) is replayed by the spool, record by record; the ledger's dedup key makes a
record committed twice count once. Needs ``fcntl`` (POSIX); elsewhere ``Journal.available`` is
False and the ledger records each call as it settles.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no journal, calls are recorded one by one
    fcntl = None  # type: ignore[assignment]

from pydantic_core import PydanticSerializationError, to_json

from ._model import LedgerEntry
from ._sqlite_schema import entry_from_row

__all__ = ["JOURNAL_GLOB", "Journal", "has_orphan", "replay_orphans"]

logger = logging.getLogger("holysheep.ledger")

JOURNAL_GLOB = "journal-*.jsonl"
_encode = json.JSONEncoder(separators=(",", ":")).encode
_ROTATE_BYTES = 4 << 20
"""A journal file this big stops taking records; a new one starts (the old goes once done)."""


class _Segment:
    """One journal file: its descriptor, and how many of its records are written and finished."""

    __slots__ = ("done", "fd", "path", "size", "written")

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self.fd = path, fd
        self.written = self.done = self.size = 0


class Journal:
    """This process's journal files in ``directory``; records are finished in the order written."""

    available = fcntl is not None

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._segments: deque[_Segment] = deque()
        self._pid = os.getpid()

    def append(self, row: Sequence[Any], models: tuple[str, ...], hold_id: str | None) -> None:
        """Write one record (one ``write`` call); raises ``OSError`` when the disk refuses."""
        line = _line([row, models, hold_id])
        with self._lock:
            segment = self._current()
            os.write(segment.fd, line)
            segment.written += 1
            segment.size += len(line)

    def finished(self, count: int) -> None:
        """The oldest ``count`` records are committed or spooled: drop the files they emptied."""
        with self._lock:
            if os.getpid() != self._pid:
                return
            while self._segments:
                segment = self._segments[0]
                step = min(count, segment.written - segment.done)
                segment.done += step
                count -= step
                if segment.done < segment.written:
                    return
                if len(self._segments) == 1:  # the current file, fully done: empty it
                    if segment.size:
                        with contextlib.suppress(OSError):
                            os.ftruncate(segment.fd, 0)
                        segment.size = 0
                    return
                self._segments.popleft()  # an older file, fully done: delete it
                _drop(segment, unlink=True)

    def close(self) -> None:
        """Release the files: deleted when every record is finished, else left for a replay."""
        with self._lock:
            mine = os.getpid() == self._pid
            while self._segments:
                segment = self._segments.popleft()
                _drop(segment, unlink=mine and segment.done == segment.written)

    def _current(self) -> _Segment:
        """The file taking records (opened and locked on first use, or after a fork)."""
        if os.getpid() != self._pid:  # a forked child: the parent's files are not ours
            self._segments.clear()
            self._pid = os.getpid()
        if self._segments and self._segments[-1].size < _ROTATE_BYTES:
            return self._segments[-1]
        assert fcntl is not None
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"journal-{self._pid}-{uuid.uuid4().hex[:12]}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        segment = _Segment(path, fd)
        self._segments.append(segment)
        return segment


def _line(record: list[Any]) -> bytes:
    """One journal line: compact JSON by pydantic-core (Rust, ~5x the stdlib encoder's speed),
    or by ``json`` (which escapes them) when a text holds a lone surrogate."""
    try:
        return to_json(record) + b"\n"
    except PydanticSerializationError:
        return _encode(record).encode() + b"\n"


def _drop(segment: _Segment, *, unlink: bool) -> None:
    """Close a journal file (releasing its lock), deleting it first when asked."""
    if unlink:
        with contextlib.suppress(OSError):
            segment.path.unlink()
    with contextlib.suppress(OSError):
        os.close(segment.fd)


Commit = Callable[[LedgerEntry, tuple[str, ...], "str | None"], bool]


def orphans(directory: Path) -> Iterator[Path]:
    """Journal files in ``directory`` (their owners may be alive: ``replay_orphans`` checks)."""
    if fcntl is None:
        return iter(())
    try:
        return iter(sorted(directory.glob(JOURNAL_GLOB)))
    except OSError:
        return iter(())


def _free(path: Path) -> bool:
    """Whether no live process holds the journal at ``path`` (its lock can be taken)."""
    assert fcntl is not None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def has_orphan(directory: Path) -> bool:
    """Whether a journal of an ended process waits in ``directory``."""
    return any(_free(path) for path in orphans(directory))


def replay_orphans(directory: Path, commit: Commit) -> int:
    """Commit the records of every journal whose process is gone; how many were new.

    A journal still locked belongs to a live process and is skipped. Stops at the first ledger
    failure (the file stays for the next replay, the error propagates).
    """
    new = 0
    for path in orphans(directory):
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            continue  # deleted meanwhile
        try:
            assert fcntl is not None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # its process is alive: its writer will finish it
            if not path.exists():
                continue  # another replayer finished and deleted it while we waited
            with open(fd, "rb", closefd=False) as raw:
                lines = raw.read().splitlines()
            for line in lines:
                try:
                    row, models, hold = json.loads(line)
                    entry = entry_from_row(tuple(row))
                except (ValueError, KeyError, TypeError, ArithmeticError) as exc:  # a torn line
                    logger.error("holysheep: skipped an unreadable journal line in %s (%s)",
                                 path, exc)
                    continue
                if commit(entry, tuple(models), hold):
                    new += 1
            with contextlib.suppress(OSError):
                path.unlink()
        finally:
            os.close(fd)
    if new:
        logger.info("holysheep: recorded %d call(s) from the journal of an ended process", new)
    return new
