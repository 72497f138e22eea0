"""Telling a refused record from a store that is down, so one bad record never holds back others.

A store that cannot be reached (refused connection, timeout, a locked or unreadable SQLite file,
a Redis server loading or out of memory) fails every record alike: the records wait in order and
are replayed as they were. A store that answers but refuses one record (a constraint or trigger,
a value a script rejects) or a bug on that record's path fails it alone, every time: that record
is spooled by itself, skipped by replay and, after a few refusals, moved aside (``_spool.py``).
An error this module does not recognise counts as the store being down: nothing is set aside
for a reason that might pass.
"""

from __future__ import annotations

import sys

from holysheep.errors import HolySheepError

__all__ = ["refused_record"]

_SQLITE_REFUSALS = ("IntegrityError", "DataError", "ProgrammingError", "InterfaceError")
"""``sqlite3`` errors about the statement's values, not the file (``OperationalError`` such as
"database is locked" or "disk I/O error", and "not a database", are the file's)."""
_REDIS_TRANSIENT = ("BUSY", "LOADING", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "OOM",
                    "READONLY", "NOSCRIPT", "NOPERM", "NOAUTH", "WRONGPASS", "WRONGTYPE")
"""Reply prefixes of a Redis server that cannot take any record now (or is misconfigured for
every record alike)."""


def refused_record(exc: BaseException) -> bool:
    """Whether ``exc`` says the store refused this record (it would fail alone, again), rather
    than that the store could not be reached (every record would fail until it is back)."""
    if not isinstance(exc, HolySheepError):
        return isinstance(exc, Exception)  # a bug on this record's path, not the store's state
    cause = exc.__cause__
    if cause is None:
        return False
    sqlite3 = sys.modules.get("sqlite3")
    if sqlite3 is not None and isinstance(cause, sqlite3.Error):
        return type(cause).__name__ in _SQLITE_REFUSALS
    redis = sys.modules.get("redis.exceptions")
    if redis is not None and isinstance(cause, redis.RedisError):
        if isinstance(cause, redis.DataError):
            return True  # a value redis-py cannot send
        if type(cause) is not redis.ResponseError:  # its subclasses are the server's state
            return False
        return not str(cause).lstrip().upper().startswith(_REDIS_TRANSIENT)
    return False
