"""What a ledger failure tells the user: ``LedgerError`` messages that name the store and the fix.

The backends catch their driver's exceptions (``sqlite3.Error``, ``redis.RedisError``) and build
the error here, so every message reads the same, names the URL with its password redacted and
never carries a raw driver exception to the caller (it stays chained as ``__cause__``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from holysheep.errors import LedgerError

__all__ = ["ALLOW_HINT", "ledger_error", "redis_error", "scrub", "sqlite_error"]

ALLOW_HINT = (
    "To keep sending calls while the ledger is down (budgets unchecked, records spooled and "
    "replayed later), pass on_ledger_error='allow' to HolySheepClient."
)


def scrub(text: str, url: str) -> str:
    """``text`` with the URL's password (if any) replaced by ``***``."""
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    return text.replace(password, "***") if password else text


def ledger_error(url: str, what: str, cause: BaseException | str, hint: str) -> LedgerError:
    """A ``LedgerError`` for ``url``: what failed, the driver's reason, what to do."""
    from ._ledger import redact_url

    reason = scrub(str(cause) or type(cause).__name__, url)
    shown = redact_url(url)
    return LedgerError(f"{what} {shown} ({reason}). {hint}", url=shown, reason=reason)


def sqlite_error(url: str, exc: BaseException, waited_s: float) -> LedgerError:
    """The ``LedgerError`` for a ``sqlite3.Error`` on the ledger file at ``url``."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return ledger_error(
            url,
            f"the SQLite ledger is locked by another connection (waited {waited_s:g} s):",
            exc,
            "A long transaction elsewhere (a sqlite3 shell, a backup, a stuck process) holds the "
            f"write lock; end it, or give the backend a longer busy_timeout_s. {ALLOW_HINT}",
        )
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return ledger_error(
            url,
            "the SQLite ledger file is not a usable database:",
            exc,
            "Move the file aside (a new ledger is created at that path on next use), restore it "
            "from a backup, or point HOLYSHEEP_LEDGER at another file.",
        )
    if type(exc).__name__ == "IntegrityError":  # a constraint said no: this record, not the file
        return ledger_error(
            url,
            "the SQLite ledger refused a record",
            exc,
            "The record is kept in the spool and set aside under its rejected/ folder after "
            "repeated refusals; look for a constraint or trigger added to the file, fix it, and "
            "move the record back to be counted once.",
        )
    return ledger_error(
        url,
        "cannot read or write the SQLite ledger",
        exc,
        "Check that the file and its folder are writable and the disk has room. " + ALLOW_HINT,
    )


def redis_error(url: str, exc: BaseException) -> LedgerError:
    """The ``LedgerError`` for a ``redis.RedisError`` on the ledger at ``url``."""
    name = type(exc).__name__
    if "Authentication" in name or "NOAUTH" in str(exc) or "WRONGPASS" in str(exc):
        hint = "Check the user and password in the ledger URL (HOLYSHEEP_LEDGER)."
    elif "Connection" in name or "Timeout" in name:
        hint = f"Start Redis or fix the URL (HOLYSHEEP_LEDGER). {ALLOW_HINT}"
    else:
        hint = f"The server refused the command; check its memory and the key prefix. {ALLOW_HINT}"
    return ledger_error(url, "the Redis ledger failed at", exc, hint)
