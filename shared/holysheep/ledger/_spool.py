"""The spool: billed calls a ledger could not record, kept on local disk until it answers again.

It also holds the journals of group commit (``_journal.py``): a journal left by a process that
ended before its writer finished is replayed here, with the spooled records.

One JSON file per record, written to a temporary name, flushed to disk and renamed into place, so
a crash leaves a whole record or none. Replaying claims a file by renaming it (only one process or
thread wins), commits it, then deletes it; the ledger's own dedup key (``dedup_key``: the
completion's created time, id and request id) makes a record that is committed twice count once,
so a crash between commit and delete, or two processes replaying together, never double counts.

A record the store refuses by itself while it answers others (``_refusal.py``: a constraint, a
bug) is skipped and kept, its refusals counted in the file; after ``REJECT_AFTER`` of them it is
moved to ``rejected/`` in the spool folder (never deleted: it is a billed call), with a warning
saying how to put it back. A store that is down stops the replay at once, and counts nothing.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ._journal import has_orphan, replay_orphans
from ._model import LedgerEntry
from ._refusal import refused_record

__all__ = [
    "REJECTED", "REJECT_AFTER", "LedgerSpoolWarning", "Spool", "data_home", "default_spool_dir",
    "keep",
]

logger = logging.getLogger("holysheep.ledger")

_SUFFIX = ".json"
_CLAIM = ".claim-"
_STALE_CLAIM_S = 120.0
"""A claim older than this belongs to a replayer that died: it is taken over."""
REJECTED = "rejected"
"""The folder, inside the spool, of records the store refused ``REJECT_AFTER`` times."""
REJECT_AFTER = 5
"""Replays that refuse one record (while the store answers) before it is moved aside."""

Commit = Callable[[LedgerEntry, tuple[str, ...], "str | None"], bool]
"""Records one spooled entry (entry, models, hold id); True when new, False when known."""


class LedgerSpoolWarning(UserWarning):
    """A billed call was spooled locally because the ledger did not answer; it is replayed later."""


def data_home() -> Path:
    """``$XDG_DATA_HOME/holysheep``, else ``~/.local/share/holysheep``: holysheep's own files."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "holysheep"


def default_spool_dir(url: str, sqlite_path: Path | None) -> Path:
    """Beside a SQLite file (``ledger.db.spool``), else under ``data_home()`` per ledger URL.

    The URL is hashed without its password, so a rotated password keeps the same spool.
    """
    if sqlite_path is not None:
        return sqlite_path.with_name(sqlite_path.name + ".spool")
    parts = urlsplit(url)
    if parts.password is not None:
        netloc = parts.netloc.rsplit("@", 1)[1]
        parts = parts._replace(netloc=f"{parts.username or ''}@{netloc}")
    digest = hashlib.sha256(urlunsplit(parts).encode()).hexdigest()[:16]
    return data_home() / "spool" / f"{parts.scheme or 'ledger'}-{digest}"


class Spool:
    """A folder of records waiting for their ledger; safe for many threads and processes."""

    look_every_s = 30.0
    """How often a process looks for records other processes spooled (its own: at once)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._dirty = False
        self._next_look = 0.0  # the first check looks: a previous run may have left records
        self._replaying = threading.Lock()

    def put(self, entry: LedgerEntry, models: tuple[str, ...], hold_id: str | None) -> Path:
        """Write one record durably; raises ``OSError`` when the disk refuses."""
        self.directory.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(entry.key.encode()).hexdigest()[:32] + _SUFFIX
        record = {"entry": entry.as_dict(), "models": list(models), "hold": hold_id}
        path = self.directory / name
        _write_durably(path, record)  # the same call spooled twice is one file
        self._dirty = True
        return path

    @property
    def rejected_dir(self) -> Path:
        """Where records the store refused ``REJECT_AFTER`` times wait for a person."""
        return self.directory / REJECTED

    def pending(self) -> bool:
        """Whether records may be waiting (cheap: the folder is read at most every few s)."""
        if self._dirty:
            return True
        now = time.monotonic()
        if now < self._next_look:
            return False
        self._next_look = now + self.look_every_s
        self._dirty = bool(self._waiting(limit=1)) or has_orphan(self.directory)
        return self._dirty

    def count(self) -> int:
        """How many records wait (claimed ones included)."""
        return len(self._waiting(limit=None, claimed=True))

    def _waiting(self, limit: int | None, claimed: bool = False) -> list[Path]:
        """Records to replay, oldest first: unclaimed ones and stale claims."""
        found: list[tuple[float, Path]] = []
        cutoff = time.time() - _STALE_CLAIM_S
        try:
            with os.scandir(self.directory) as it:
                for item in it:
                    name = item.name
                    waiting = name.endswith(_SUFFIX) and not name.startswith(".")
                    stale = _CLAIM in name and (claimed or _claimed_at(name) < cutoff)
                    if not (waiting or stale):
                        continue
                    try:
                        found.append((item.stat().st_mtime, Path(item.path)))
                    except FileNotFoundError:  # another replayer took it meanwhile
                        continue
                    if limit is not None and len(found) >= limit:
                        break
        except FileNotFoundError:
            return []
        return [p for _, p in sorted(found, key=lambda f: f[0])]

    def replay(self, commit: Commit, *, limit: int | None = None) -> int:
        """Commit waiting records, oldest first; returns how many left the spool.

        Stops at the first failure of the store itself (the record goes back, the error
        propagates); a record the store refuses alone is skipped and kept (moved to
        ``rejected/`` after ``REJECT_AFTER`` refusals, with a ``LedgerSpoolWarning``). Another
        thread of this process already replaying: returns 0 at once.

        Raises:
            LedgerError: the ledger failed again; the remaining records stay spooled.
        """
        if not self._replaying.acquire(blocking=False):
            return 0
        rejected: list[tuple[Path, str]] = []
        try:
            # journals of ended processes; a line the store refuses waits in the spool instead
            done = replay_orphans(self.directory, functools.partial(self._commit_or_put, commit))
            for path in self._waiting(limit):
                if self._replay_one(path, commit, rejected):
                    done += 1
            if limit is None or done < limit:
                self._dirty = bool(self._waiting(limit=1))
            if done:
                logger.info("holysheep: replayed %d spooled ledger record(s)", done)
            return done
        finally:
            self._replaying.release()
            for moved, reason in rejected:  # after the loop: warnings-as-errors stop nothing
                _warn_rejected(moved, reason, self.directory)

    def _commit_or_put(
        self, commit: Commit, entry: LedgerEntry, models: tuple[str, ...], hold: str | None
    ) -> bool:
        """``commit`` a journal line; one the store refuses alone is spooled (False)."""
        try:
            return commit(entry, models, hold)
        except Exception as exc:
            if not refused_record(exc):
                raise
            logger.warning("holysheep: the ledger refused a journaled billed call (%s); it "
                           "was spooled", _reason(exc))
            self.put(entry, models, hold)
            return False

    def _replay_one(
        self, path: Path, commit: Commit, rejected: list[tuple[Path, str]] | None = None
    ) -> bool:
        """Claim, commit and delete one record; False when another replayer took it first, or
        the store refused this record (kept, or moved aside: appended to ``rejected``)."""
        stem = path.name.split(_CLAIM, 1)[0]
        claim = path.with_name(f"{stem}{_CLAIM}{time.time():.0f}-{uuid.uuid4().hex[:8]}")
        try:
            os.rename(path, claim)
        except FileNotFoundError:
            return False
        try:
            record = json.loads(claim.read_bytes())
            entry = LedgerEntry.from_dict(record["entry"])
            models = tuple(record["models"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            bad = path.with_name(stem + ".bad")
            os.replace(claim, bad)
            logger.error("holysheep: unreadable spooled ledger record moved to %s (%s)", bad, exc)
            return False
        try:
            commit(entry, models, record.get("hold"))
        except BaseException as exc:
            if not refused_record(exc):
                with contextlib.suppress(OSError):
                    os.rename(claim, path.with_name(stem))  # back in line for the next replay
                raise
            moved = self._refused(claim, path.with_name(stem), record)
            if moved is not None and rejected is not None:
                rejected.append((moved, _reason(exc)))
            logger.warning("holysheep: the ledger refused the spooled record %s (%s)",
                           moved or path.with_name(stem), _reason(exc))
            return False
        with contextlib.suppress(FileNotFoundError):
            claim.unlink()
        return True

    def _refused(self, claim: Path, path: Path, record: dict[str, Any]) -> Path | None:
        """Count a refusal in a claimed record: back in line (its place kept), or moved to
        ``rejected/`` after ``REJECT_AFTER`` refusals (the path it has there returned)."""
        record["refusals"] = int(record.get("refusals") or 0) + 1
        try:
            mtime = claim.stat().st_mtime
            if record["refusals"] < REJECT_AFTER:
                _write_durably(path, record, mtime)
                claim.unlink()
                return None
            target = self.rejected_dir / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_durably(target, record, mtime)
            claim.unlink()
            return target
        except OSError as err:  # the claim stays: a later replay takes it over (stale claim)
            logger.error("holysheep: could not count a refusal of %s (%s)", claim, err)
            return None


def keep(
    spool: Spool | None,
    entry: LedgerEntry,
    models: tuple[str, ...],
    hold_id: str | None,
    where: str,
    reason: str,
    *,
    refused: bool = False,
) -> None:
    """Spool a billed call the ledger at ``where`` refused, and warn; never raises.

    ``refused``: the store answered but refused this record alone (``refused_record``).

    When even the spool fails (disk full, no permission), the record goes to the error log
    (it holds no secret), so it can still be entered by hand.
    """
    try:
        if spool is None:
            raise OSError("this ledger has no spool")
        spool.put(entry, models, hold_id)
    except OSError as err:
        logger.error(
            "holysheep: the ledger at %s could not record a billed call and it could not be "
            "spooled (%s); the record, for manual entry: %s",
            where,
            err,
            json.dumps(entry.as_dict()),
        )
        warnings.warn(
            f"the ledger at {where} could not record a billed call ({reason}) and the local "
            f"spool failed too ({err}); the record is in the error log. Free disk space or pass "
            "CostLedger(spool_dir=...).",
            LedgerSpoolWarning,
            stacklevel=4,
        )
        return
    later = (
        f"replays retry it; after {REJECT_AFTER} refusals it moves to {spool.rejected_dir}"
        if refused else "it will be recorded once the ledger answers again"
    )
    warnings.warn(
        f"the ledger at {where} could not record a billed call ({reason}); it was spooled to "
        f"{spool.directory} and {later}",
        LedgerSpoolWarning,
        stacklevel=4,
    )


def _write_durably(path: Path, record: dict[str, Any], mtime: float | None = None) -> None:
    """Write ``record`` to ``path`` whole or not at all (a temporary file, synced, renamed);
    ``mtime``: the modification time it keeps (a record's place in the replay order)."""
    data = json.dumps(record, separators=(",", ":")).encode()
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    if mtime is not None:
        os.utime(tmp, (mtime, mtime))
    os.replace(tmp, path)


def _reason(exc: BaseException) -> str:
    """What a failure says, for a log line or a warning (no secret: errors are scrubbed)."""
    return getattr(exc, "reason", None) or str(exc) or type(exc).__name__


def _warn_rejected(moved: Path, reason: str, spool_dir: Path) -> None:
    """Say that a billed call's record was set aside, and how to record it once fixed."""
    logger.error("holysheep: a billed call's record was refused %d times and moved to %s (%s)",
                 REJECT_AFTER, moved, reason)
    warnings.warn(
        f"the ledger refused a billed call's record {REJECT_AFTER} times ({reason}); it was "
        f"moved to {moved} and is no longer replayed. Fix what the store refuses, then move "
        f"the file back into {spool_dir} to record it (it counts once), or enter it by hand.",
        LedgerSpoolWarning,
        stacklevel=3,
    )


def _claimed_at(name: str) -> float:
    """Epoch seconds a claim file was taken (0 when the name does not say)."""
    try:
        return float(name.split(_CLAIM, 1)[1].split("-", 1)[0])
    except (IndexError, ValueError):
        return 0.0
