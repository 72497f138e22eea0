"""The SQLite journal: one file beside the output, for a job run on one machine.

WAL mode with ``synchronous=NORMAL``: each answer is committed before the caller sees it, and a
committed answer survives the process being killed (SIGKILL included). Commits run on the
caller's thread (no fsync: tens of microseconds); checkpoints, which fsync, run on a thread of
their own. Several jobs may share a file under different names. There are no leases: a run
holds an exclusive lock on its job (a lock file beside the journal, released by the kernel
however the process ends), so a second process running the same job is refused with a pointer
to Redis, which serves fleets.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, one process per job is on the user
    fcntl = None  # type: ignore[assignment]

from ._journal import Claim, Commit, JournalError, Mark
from ._seen import KeyRows

__all__ = ["SQLiteJournal"]

# answers is a log: its ~600-byte records go in append order, with no key index while a job
# runs for the first time (each answer's random hash key dirtied a page of the index of its
# own: ~5 us of an answer's ~10 us commit). A run looks up the answers it wrote by rowid
# (KeyRows, in memory); a run that finds its job already started (a resume) builds the
# (job, key) index once (_INDEX) and uses it. Journals of earlier versions, whose answers are
# keyed by (job, key) (a PRIMARY KEY, WITHOUT ROWID or not), are used as they are.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (job TEXT NOT NULL, key TEXT NOT NULL, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS failures (job TEXT, key TEXT, at REAL NOT NULL, record TEXT NOT NULL,
    PRIMARY KEY (job, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS marks (job TEXT, custom_id TEXT, hash TEXT NOT NULL, ok INTEGER,
    PRIMARY KEY (job, custom_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (job TEXT, name TEXT, value TEXT,
    PRIMARY KEY (job, name)) WITHOUT ROWID;
"""


_INDEX = "CREATE INDEX IF NOT EXISTS answers_key ON answers (job, key)"

_LOOKUP = """
SELECT (SELECT hash FROM marks WHERE job=? AND custom_id=? AND ok=1),
       (SELECT record FROM answers WHERE job=? AND key=?),
       (SELECT at FROM failures WHERE job=? AND key=?),
       (SELECT record FROM failures WHERE job=? AND key=?)
"""

_LOOKUP_ANSWERS = """
SELECT (SELECT hash FROM marks WHERE job=? AND custom_id=? AND ok=1),
       (SELECT record FROM answers WHERE job=? AND key=?)
"""


_IN = "?" + ",?" * 63  # placeholders for a block of up to 64 keys, padded with ''

_ANSWER = "SELECT record FROM answers WHERE job=? AND key=? ORDER BY rowid DESC LIMIT 1"
"""A key's answer in a log (the last, should a key ever be answered twice)."""

_CHECKPOINT_PAGES = 4096
"""WAL pages (4 KB) written, by estimate, before a checkpoint thread copies them into the file."""


class SQLiteJournal:
    """A job's journal in a SQLite file (created with its folder when missing).

    Answers are committed on a connection of their own (``finish``) on the caller's thread:
    handing each group to a writer thread cost milliseconds of GIL hand-offs while its answers
    held their call slots. The WAL is checkpointed (the only step that fsyncs) on a thread."""

    offload = False
    """``finish`` runs on the runner's own thread: a commit without a checkpoint does not block."""

    def __init__(self, path: str, job: str, *, exclusive: bool = False) -> None:
        self.path = Path(path).expanduser()
        self.url = f"sqlite:///{self.path}"
        self.job = job
        self._lock: IO[bytes] | None = None
        with self._errors("open"):
            if self.path.is_dir():
                raise JournalError(f"the journal {self.path} is a folder; give a file path")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._conn = conn
            conn.execute("PRAGMA busy_timeout=5000")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA wal_autocheckpoint=0")  # see the writer's below
            conn.executescript(_SCHEMA)
            self._writer = writer = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False)
            writer.execute("PRAGMA busy_timeout=5000")
            writer.execute("PRAGMA synchronous=NORMAL")
            # no checkpoint inside a commit (it would fsync with the answers' call slots held):
            # _checkpoint does it on a thread, and the last connection's close ends the WAL
            writer.execute("PRAGMA wal_autocheckpoint=0")
            self._pages = 0  # WAL pages written since the last checkpoint, by estimate
            self._checkpointer: threading.Thread | None = None
            self._finish_checkpoint = False  # a thread's checkpoint ended: the writer completes it
            self._spent = Decimal(self._meta("spent_usd") or 0)
            # most jobs never fail a request: skip the failures table until one does
            self._failures = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM failures WHERE job=?)", (job,)
            ).fetchone()[0] == 1
            try:
                if exclusive:
                    self._lock = self._take_lock()
                self._rows = self._answer_rows(exclusive)  # under the job's lock
            except BaseException:
                self.close()
                raise

    def _take_lock(self) -> IO[bytes] | None:
        """Hold this job's lock file, or refuse: another process is running the same job."""
        if fcntl is None:  # pragma: no cover
            return None
        suffix = "" if self.job == "default" else "." + hashlib.sha256(
            self.job.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        handle = open(f"{self.path}{suffix}.lock", "ab")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise JournalError(
                f"the job {self.job!r} of the journal {self.path} is being run by another "
                "process; a SQLite journal serves one process per job: wait for it to end (its "
                "finished requests are kept), give another --job, or share the job between "
                "workers with a Redis journal (--journal redis://HOST:6379/0 --job NAME)"
            ) from None
        except BaseException:
            handle.close()
            raise
        return handle

    def _answer_rows(self, exclusive: bool) -> KeyRows | None:
        """How this run finds answers by key: a table of the rowids it writes (None: by SQL).

        A log's job seen for the first time needs no key index (its answers are all this
        run's); a job started before, in a run (``exclusive``), gets the index, built once."""
        conn = self._conn
        sql = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type='table' AND name='answers'").fetchone()[0]
        self._keyed = "PRIMARY KEY" in sql.upper()  # an earlier version's journal
        if self._keyed or conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type='index' AND name='answers_key'"
        ).fetchone() is not None:
            return None
        if conn.execute("SELECT EXISTS (SELECT 1 FROM marks WHERE job=?)",
                        (self.job,)).fetchone()[0] == 0:
            return KeyRows()  # every answer of the job is written by this run (under its lock)
        if exclusive:
            conn.execute(_INDEX)
        return None

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise JournalError(
                f"the job journal {self.path} could not {doing} ({exc}); check the disk and that "
                "the file is a holysheep journal, or give another --journal"
            ) from None
        except OSError as exc:
            raise JournalError(
                f"the job journal {self.path} could not {doing} ({exc.strerror or exc}); "
                "check the path and its permissions"
            ) from None

    def _meta(self, name: str) -> str | None:
        row = self._conn.execute(
            "SELECT value FROM meta WHERE job=? AND name=?", (self.job, name)
        ).fetchone()
        return None if row is None else row[0]

    def done_hash(self, custom_id: str) -> str | None:
        with self._errors("read"):
            row = self._conn.execute(
                "SELECT hash FROM marks WHERE job=? AND custom_id=? AND ok=1", (self.job, custom_id)
            ).fetchone()
        return None if row is None else row[0]

    def claim(self, key: str, since: float) -> Claim:
        return self.lookup("", key, since)[1]

    def lookup(self, custom_id: str, key: str, since: float) -> tuple[str | None, Claim]:
        job = self.job
        with self._errors("read"):
            if not self._keyed:
                return self._lookup_log(custom_id, key, since)
            if self._failures:
                answered, record, at, failure = self._conn.execute(_LOOKUP, (
                    job, custom_id, job, key, job, key, job, key
                )).fetchone()
            else:
                answered, record = self._conn.execute(_LOOKUP_ANSWERS, (
                    job, custom_id, job, key
                )).fetchone()
                at = failure = None
        if record is not None:
            return answered, ("done", record)
        if failure is not None and at >= since:
            return answered, ("failed", failure)
        return answered, ("mine", None)

    def _lookup_log(self, custom_id: str, key: str, since: float) -> tuple[str | None, Claim]:
        """``lookup`` in a log (answers without a key constraint)."""
        conn = self._conn
        row = conn.execute("SELECT hash FROM marks WHERE job=? AND custom_id=? AND ok=1",
                           (self.job, custom_id)).fetchone()
        answered = None if row is None else row[0]
        record = self._records([key]).get(key)
        if record is not None:
            return answered, ("done", record)
        if self._failures:
            failure = conn.execute("SELECT at, record FROM failures WHERE job=? AND key=?",
                                   (self.job, key)).fetchone()
            if failure is not None and failure[0] >= since:
                return answered, ("failed", failure[1])
        return answered, ("mine", None)

    def _records(self, keys: list[str]) -> dict[str, str]:
        """The answers of up to 64 distinct ``keys`` in a log: by the rowids this run wrote, or
        by the (job, key) index (a resumed job), or (``--status``) by a scan."""
        conn, job, rows = self._conn, self.job, self._rows
        if rows is None:
            pad = [""] * (64 - len(keys))
            return dict(conn.execute(  # in rowid order: the last answer of a key wins
                f"SELECT key, record FROM answers WHERE job=? AND key IN ({_IN}) ORDER BY rowid",
                (job, *keys, *pad)).fetchall())
        found = [rowid for rowid in map(rows.get, keys) if rowid is not None]
        if not found:  # the usual case: no key of the block was answered yet
            return {}
        wanted = set(keys)
        records: dict[str, str] = {}
        for key, record in conn.execute(
                f"SELECT key, record FROM answers WHERE rowid IN ({','.join('?' * len(found))})",
                found).fetchall():
            if key in wanted:  # a 64-bit clash of two keys points one of them at the other's row
                records[key] = record
        for key in keys:
            if key not in records and rows.get(key) is not None:  # the clash: ask SQLite
                row = conn.execute(_ANSWER, (job, key)).fetchone()
                if row is not None:
                    records[key] = row[0]
        return records

    def lookup_many(self, pairs: list[tuple[str, str]], since: float
                    ) -> list[tuple[str | None, Claim]]:
        """Up to 64 lookups in two or three queries (the keys are distinct)."""
        if len(pairs) > 64:
            return [claim for start in range(0, len(pairs), 64)
                    for claim in self.lookup_many(pairs[start : start + 64], since)]
        job, pad = self.job, [""] * (64 - len(pairs))
        ids = [custom_id for custom_id, _ in pairs] + pad
        keys = [key for _, key in pairs] + pad
        conn = self._conn
        with self._errors("read"):
            answered = dict(conn.execute(
                f"SELECT custom_id, hash FROM marks WHERE job=? AND ok=1 AND custom_id IN ({_IN})",
                (job, *ids)).fetchall())
            if self._keyed:
                records = dict(conn.execute(
                    f"SELECT key, record FROM answers WHERE job=? AND key IN ({_IN})",
                    (job, *keys)).fetchall())
            else:
                records = self._records(keys[: len(pairs)])
            failures: dict[str, tuple[float, str]] = {}
            if self._failures:
                failures = {key: (at, record) for key, at, record in conn.execute(
                    f"SELECT key, at, record FROM failures WHERE job=? AND key IN ({_IN})",
                    (job, *keys)).fetchall()}
        out: list[tuple[str | None, Claim]] = []
        for custom_id, key in pairs:
            record = records.get(key)
            failure = failures.get(key)
            if record is not None:
                claim: Claim = ("done", record)
            elif failure is not None and failure[0] >= since:
                claim = ("failed", failure[1])
            else:
                claim = ("mine", None)
            out.append((answered.get(custom_id), claim))
        return out

    def renew(self, keys: Iterable[str]) -> None:
        return None

    def release(self, key: str) -> None:
        return None

    def finish(self, commits: list[Commit]) -> list[str | None]:
        job = self.job
        spent = self._spent + sum((usd for _, _, usd, _ in commits), Decimal(0))
        with self._errors("write"):
            conn = self._writer
            checkpointer = self._checkpointer
            if self._finish_checkpoint and checkpointer is not None and not checkpointer.is_alive():
                # the thread copied the log while commits went on; copying the few pages written
                # since lets this commit start the log over (a log is reused once fully copied)
                self._finish_checkpoint = False
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            rows, first = self._rows, 0
            conn.execute("BEGIN IMMEDIATE")
            try:
                if self._keyed:
                    conn.executemany("INSERT OR REPLACE INTO answers VALUES (?, ?, ?)",
                                     [(job, key, record) for key, record, _, _ in commits])
                elif rows is None:
                    conn.executemany("INSERT INTO answers VALUES (?, ?, ?)",
                                     [(job, key, record) for key, record, _, _ in commits])
                else:  # rowids of our own choosing (the next ones), for KeyRows
                    first = conn.execute(
                        "SELECT coalesce(max(rowid), 0) + 1 FROM answers").fetchone()[0]
                    conn.executemany(
                        "INSERT INTO answers (rowid, job, key, record) VALUES (?, ?, ?, ?)",
                        [(first + i, job, key, record)
                         for i, (key, record, _, _) in enumerate(commits)])
                if self._failures:
                    conn.executemany("DELETE FROM failures WHERE job=? AND key=?",
                                     [(job, key) for key, _, _, _ in commits])
                self._put_marks([mark for *_, marks in commits for mark in marks], conn)
                if spent != self._spent:
                    conn.execute("INSERT OR REPLACE INTO meta VALUES (?, 'spent_usd', ?)",
                                 (job, str(spent)))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        self._spent = spent
        if rows is not None:
            for i, (key, _, _, _) in enumerate(commits):
                rows.put(key, first + i)
        # a commit writes a page of the key index per answer when there is one (random keys),
        # one per 4 KB of records, and the pages of marks, meta and the tree above them
        self._wrote(4 + (len(commits) if rows is None else 0)
                    + sum(len(record) for _, record, _, _ in commits) // 4000)
        return [None] * len(commits)

    def _wrote(self, pages: int) -> None:
        """Count WAL pages written; past ``_CHECKPOINT_PAGES``, checkpoint on a thread (PASSIVE:
        commits go on meanwhile), one checkpoint at a time."""
        self._pages += pages
        if self._pages < _CHECKPOINT_PAGES or (
                self._checkpointer is not None and self._checkpointer.is_alive()):
            return
        self._pages = 0
        self._finish_checkpoint = True
        self._checkpointer = threading.Thread(
            target=_checkpoint, args=(self.path,), name="holysheep-batch-checkpoint", daemon=True)
        self._checkpointer.start()

    def fail(self, key: str, record: str, marks: list[Mark]) -> None:
        self._failures = True
        with self._errors("write"):
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?)",
                    (self.job, key, time.time(), record),
                )
                self._put_marks(marks)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        self._wrote(3)

    def mark(self, marks: list[Mark]) -> None:
        with self._errors("write"):
            self._put_marks(marks)
        self._wrote(1)

    def _put_marks(self, marks: list[Mark], conn: sqlite3.Connection | None = None) -> None:
        (conn or self._conn).executemany(
            "INSERT OR REPLACE INTO marks VALUES (?, ?, ?, ?)",
            [(self.job, cid, body, int(ok)) for cid, body, ok in marks],
        )

    def spent_usd(self) -> Decimal:
        return self._spent

    def set_total(self, total: int) -> None:
        with self._errors("write"):
            self._conn.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, 'total', ?)", (self.job, str(total))
            )

    def progress(self) -> dict[str, Any]:
        with self._errors("read"):
            rows = dict(self._conn.execute(
                "SELECT ok, COUNT(*) FROM marks WHERE job=? GROUP BY ok", (self.job,)
            ).fetchall())
            total = self._meta("total")
            spent = Decimal(self._meta("spent_usd") or 0)
        return {"total": None if total is None else int(total), "succeeded": rows.get(1, 0),
                "failed": rows.get(0, 0), "spent_usd": spent}

    def close(self) -> None:
        checkpointer = getattr(self, "_checkpointer", None)
        if checkpointer is not None:  # let it end before the last connection checkpoints
            checkpointer.join()
            self._checkpointer = None
        for name in ("_writer", "_conn"):
            conn = getattr(self, name, None)
            if conn is not None:
                conn.close()
                setattr(self, name, None)
        lock = getattr(self, "_lock", None)
        if lock is not None:  # closing the file drops the lock
            lock.close()
            self._lock = None


def _checkpoint(path: Path) -> None:
    """PASSIVE checkpoints on a connection of its own, again while commits made meanwhile left
    many pages uncopied (the writer copies the rest); a failure leaves the WAL to the next."""
    try:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            for _ in range(4):
                _, logged, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                if logged - copied < 256:
                    break
        finally:
            conn.close()
    except sqlite3.Error:  # the WAL stays valid and keeps every commit; close() checkpoints it
        return
