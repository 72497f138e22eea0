"""The job journal: which requests are finished, their answers, who is working on what.

It is what makes a job resumable and exactly-once per ``custom_id``: a request's answer is
committed here before the caller sees it, so a re-run (after a crash, Ctrl-C or SIGKILL) finds
it and pays nothing again. Backends: memory (no resume; the default of the API), SQLite (one
machine; the default of the command line, beside the output) and Redis (a fleet of workers,
with leases). ``open_journal`` chooses one from a path or URL.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Protocol

from holysheep.errors import ConfigurationError, HolySheepError

__all__ = [
    "Claim",
    "Commit",
    "Journal",
    "JournalError",
    "Mark",
    "MemoryJournal",
    "default_journal_path",
    "open_journal",
]

Claim = tuple[Literal["mine", "done", "failed", "busy"], str | None]
"""``("mine", None)``: this worker holds the work now; ``("done", record)``: answered already;
``("failed", record)``: failed during the current run of the job; ``("busy", None)``: another
worker holds a live lease on it."""
Mark = tuple[str, str, bool]
"""``(custom_id, body hash, ok)``: one request's outcome, for status and changed-body checks."""
Commit = tuple[str, str, Decimal, list[Mark]]
"""``(key, record, usd, marks)``: one answer to commit, with the requests it answers."""


class JournalError(HolySheepError):
    """The job journal cannot be opened, read or written (names the journal and what to do)."""


class Journal(Protocol):
    """What the runner needs from a journal backend (all calls are short and blocking)."""

    url: str

    def done_hash(self, custom_id: str) -> str | None:
        """The body hash ``custom_id`` was answered with, or None when it has no answer."""
        ...

    def claim(self, key: str, since: float) -> Claim:
        """Take the work ``key`` unless it is answered, failed after ``since`` or held."""
        ...

    def lookup(self, custom_id: str, key: str, since: float) -> tuple[str | None, Claim]:
        """``done_hash(custom_id)`` and ``claim(key, since)`` in one step (per admitted request)."""
        ...

    def lookup_many(self, pairs: list[tuple[str, str]], since: float
                    ) -> list[tuple[str | None, Claim]]:
        """``lookup`` of each ``(custom_id, key)`` (distinct keys), in one round trip."""
        ...

    def renew(self, keys: Iterable[str]) -> None:
        """Extend this worker's leases on ``keys`` (a no-op without leases)."""
        ...

    def release(self, key: str) -> None:
        """Give up the work ``key`` unanswered (left unsent)."""
        ...

    def finish(self, commits: list[Commit]) -> list[str | None]:
        """Commit answers at once; per answer None, or the record another worker committed."""
        ...

    def fail(self, key: str, record: str, marks: list[Mark]) -> None:
        """Commit a failure (retried by a later run of the job) and drop the lease."""
        ...

    def mark(self, marks: list[Mark]) -> None:
        """Record the outcome of requests answered by an existing record."""
        ...

    def spent_usd(self) -> Decimal:
        """USD of every answer the job has paid for, across runs and workers."""
        ...

    def set_total(self, total: int) -> None:
        """How many requests the input has (for ``holysheep batch --status``)."""
        ...

    def progress(self) -> dict[str, Any]:
        """Counts for a status line: total, succeeded, failed, spent_usd, updated."""
        ...

    def close(self) -> None:
        """Release connections; safe to call twice."""
        ...


def default_journal_path(output: str | os.PathLike[str]) -> Path:
    """Where the command line keeps a job's journal: beside its output file."""
    out = Path(output)
    return out.with_name(out.name + ".journal.db")


def open_journal(
    journal: str | os.PathLike[str] | Journal | None,
    job: str | None,
    *,
    lease_s: float = 30.0,
    exclusive: bool = False,
) -> Journal:
    """The journal a path or URL names: a file path or ``sqlite:///path``, ``redis://...``
    (with ``job``), a journal object, or None (memory: the job cannot be resumed).

    ``exclusive`` (a run, not ``--status``) refuses a SQLite journal whose job another
    process is running: SQLite has no leases, so two runners would pay for the same requests."""
    if journal is None or journal == "memory":
        return MemoryJournal()
    if not isinstance(journal, (str, os.PathLike)):
        return journal
    text = os.fspath(journal).strip()
    if text.startswith(("redis://", "rediss://", "unix://")):
        if not job:
            raise ConfigurationError(
                "a Redis journal is shared by many workers: name the job with job='NAME' "
                "(--job NAME), the same name in every worker"
            )
        try:
            from ._journal_redis import RedisJournal
        except ImportError as exc:  # pragma: no cover - the redis extra is missing
            raise ConfigurationError(
                "a Redis journal needs the redis package: pip install 'holysheep[redis]'"
            ) from exc
        return RedisJournal(text, job, lease_s=lease_s)
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///") :]
    elif "://" in text:
        raise ConfigurationError(
            f"unknown journal {text!r}: give a file path, 'sqlite:///path.db' or "
            "'redis://host:port/db' (with a job name)"
        )
    from ._journal_sqlite import SQLiteJournal

    return SQLiteJournal(text, job or "default", exclusive=exclusive)


class MemoryJournal:
    """A journal in this process only: dedup and status within one run, no resume."""

    url = "memory"

    def __init__(self) -> None:
        self._answers: dict[str, str] = {}
        self._failures: dict[str, tuple[float, str]] = {}
        self._marks: dict[str, tuple[str, bool]] = {}
        self._spent = Decimal(0)
        self._total: int | None = None

    def done_hash(self, custom_id: str) -> str | None:
        mark = self._marks.get(custom_id)
        return mark[0] if mark is not None and mark[1] else None

    def claim(self, key: str, since: float) -> Claim:
        answer = self._answers.get(key)
        if answer is not None:
            return "done", answer
        failure = self._failures.get(key)
        if failure is not None and failure[0] >= since:
            return "failed", failure[1]
        return "mine", None

    def lookup(self, custom_id: str, key: str, since: float) -> tuple[str | None, Claim]:
        return self.done_hash(custom_id), self.claim(key, since)

    def lookup_many(self, pairs: list[tuple[str, str]], since: float
                    ) -> list[tuple[str | None, Claim]]:
        return [self.lookup(custom_id, key, since) for custom_id, key in pairs]

    def renew(self, keys: Iterable[str]) -> None:
        return None

    def release(self, key: str) -> None:
        return None

    def finish(self, commits: list[Commit]) -> list[str | None]:
        for key, record, usd, marks in commits:
            self._answers[key] = record
            self._failures.pop(key, None)
            self._spent += usd
            self.mark(marks)
        return [None] * len(commits)

    def fail(self, key: str, record: str, marks: list[Mark]) -> None:
        self._failures[key] = (time.time(), record)
        self.mark(marks)

    def mark(self, marks: list[Mark]) -> None:
        for custom_id, body, ok in marks:
            self._marks[custom_id] = (body, ok)

    def spent_usd(self) -> Decimal:
        return self._spent

    def set_total(self, total: int) -> None:
        self._total = total

    def progress(self) -> dict[str, Any]:
        ok = sum(1 for _, good in self._marks.values() if good)
        return {"total": self._total, "succeeded": ok, "failed": len(self._marks) - ok,
                "spent_usd": self._spent, "updated": None}

    def close(self) -> None:
        return None
