"""The journal: billed calls waiting for the group-commit writer, safe on disk before it runs.

Each record is one compact JSON line (``[row, models, hold id]``, the row as the SQLite schema
stores an entry: ``entry_row``) copied into a file only this process holds
(``journal-<pid>-<id>.jsonl`` in the spool folder, ``flock``-ed while open), so a call that
returned survives the process being killed: the page cache keeps what was written. The file is
sized up front and mapped into memory (``mmap``, shared with the page cache), so a record costs a
copy, not a ``write`` system call (which costs several microseconds amid a real call's work); the
unused rest of the file is zeros, where a reader stops. No ``fsync`` (the SQLite ledger runs
``synchronous=NORMAL`` too: a power cut may lose the last moments, a crash loses nothing). When
the writer has finished every record of a file (committed, or moved to the spool) its used part
is zeroed for reuse, or the file is deleted once a newer one took over. A journal whose process
died (its lock is free) is replayed by the spool, record by record; the ledger's dedup key makes
a record committed twice count once. Needs ``fcntl`` (POSIX); elsewhere ``Journal.available`` is
False and the ledger records each call as it settles. Where a file cannot be mapped, records are
written with ``pwrite`` instead.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import mmap
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
from ._process import pid
from ._sqlite_schema import entry_from_row

__all__ = ["JOURNAL_GLOB", "Journal", "has_orphan", "record_line", "replay_orphans"]

logger = logging.getLogger("holysheep.ledger")

JOURNAL_GLOB = "journal-*.jsonl"
_encode = json.JSONEncoder(separators=(",", ":")).encode
_SEGMENT_BYTES = 1 << 20
"""A journal file's size, allocated on disk when it is created (a full disk refuses the file
then, not a record later: a mapped page the disk has no room for would kill the process); a
record that no longer fits starts a new file (the old goes once done)."""


class _Segment:
    """One journal file: its descriptor and mapping, how many bytes and records it holds, and
    how many of those records are finished."""

    __slots__ = ("done", "fd", "map", "path", "size", "space", "written")

    def __init__(self, path: Path, fd: int, space: int, *, mapped: bool) -> None:
        self.path, self.fd, self.space = path, fd, space
        self.written = self.done = self.size = 0
        self.map: mmap.mmap | None = None
        if mapped:
            with contextlib.suppress(OSError, ValueError):  # cannot map files: pwrite instead
                self.map = mmap.mmap(fd, space)

    def put(self, line: bytes) -> None:
        """Copy ``line`` in after the records already there."""
        start = self.size
        end = start + len(line)
        if self.map is not None:
            self.map[start:end] = line
        elif os.pwrite(self.fd, line, start) != len(line):
            raise OSError("short write to the ledger journal")
        self.size = end
        self.written += 1

    def empty(self) -> None:
        """Every record is finished: zero the used part (a reader stops at the first zero)."""
        if self.map is not None:
            self.map[: self.size] = bytes(self.size)
        else:
            os.pwrite(self.fd, bytes(self.size), 0)
        self.size = 0


class Journal:
    """This process's journal files in ``directory``; records are finished in the order written."""

    available = fcntl is not None

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.lock = threading.Lock()
        """Held while a record is put in (and while records are finished): a caller that keeps
        its own queue in journal order puts records in with ``put`` under it."""
        self._segments: deque[_Segment] = deque()
        self._pid = pid()

    def append(self, row: Sequence[Any], models: tuple[str, ...], hold_id: str | None) -> None:
        """Write one record; raises ``OSError`` when the disk refuses a new file."""
        line = record_line(row, models, hold_id)
        with self.lock:
            self.put(line)

    def put(self, line: bytes) -> None:
        """Write one ``record_line`` (a copy into the mapped file), ``lock`` held; raises
        ``OSError`` when the disk refuses a new file."""
        self._current(len(line)).put(line)

    def finished(self, count: int) -> None:
        """The oldest ``count`` records are committed or spooled: drop the files they emptied."""
        with self.lock:
            if pid() != self._pid:
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
                            segment.empty()
                    return
                self._segments.popleft()  # an older file, fully done: delete it
                _drop(segment, unlink=True)

    def close(self) -> None:
        """Release the files: deleted when every record is finished, else left for a replay."""
        with self.lock:
            mine = pid() == self._pid
            while self._segments:
                segment = self._segments.popleft()
                _drop(segment, unlink=mine and segment.done == segment.written, trim=mine)

    def _current(self, room: int) -> _Segment:
        """The file taking a record of ``room`` bytes: a new one when the last is full (opened,
        locked and mapped), or after a fork (the parent's files are not the child's)."""
        if pid() != self._pid:  # a forked child: the parent's files are not ours
            self._segments.clear()
            self._pid = pid()
        if self._segments and self._segments[-1].size + room <= self._segments[-1].space:
            return self._segments[-1]
        assert fcntl is not None
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"journal-{self._pid}-{uuid.uuid4().hex[:12]}.jsonl"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            space = max(_SEGMENT_BYTES, room)
            segment = _Segment(path, fd, space, mapped=_allocated(fd, space))
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                path.unlink()
            raise
        self._segments.append(segment)
        return segment


def _allocated(fd: int, space: int) -> bool:
    """Reserve ``space`` bytes of disk for a new journal file. True: it may be mapped; False where
    the system cannot reserve space ahead (no ``posix_fallocate``, as on macOS, or a file system
    without it): its records are then written with ``pwrite``, which reports a full disk as an
    error, where a store into a mapped page the disk has no room for would kill the process.
    Raises ``OSError`` when the disk is full."""
    allocate = getattr(os, "posix_fallocate", None)
    if allocate is None:
        return False
    try:
        allocate(fd, 0, space)
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            return False
        raise
    return True


def record_line(row: Sequence[Any], models: tuple[str, ...], hold_id: str | None) -> bytes:
    """One journal line: compact JSON by pydantic-core (Rust, ~5x the stdlib encoder's speed),
    or by ``json`` (which escapes them) when a text holds a lone surrogate."""
    record = [row, models, hold_id]
    try:
        return to_json(record) + b"\n"
    except PydanticSerializationError:
        return _encode(record).encode() + b"\n"


def _records(data: bytes) -> list[bytes]:
    """A journal file's record lines: those before the zeros of its unused part."""
    end = data.find(b"\0")
    return (data if end < 0 else data[:end]).splitlines()


def _drop(segment: _Segment, *, unlink: bool, trim: bool = False) -> None:
    """Close a journal file (releasing its lock), deleting it first when asked; ``trim``: a file
    left for a replay is cut to its records (no zeros left behind)."""
    if segment.map is not None:
        with contextlib.suppress(BufferError, OSError, ValueError):
            segment.map.close()
    if unlink:
        with contextlib.suppress(OSError):
            segment.path.unlink()
    elif trim:
        with contextlib.suppress(OSError):
            os.ftruncate(segment.fd, segment.size)
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
                lines = _records(raw.read())
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
