"""The spool side of ``CostLedger``: billed calls the store did not take, kept and replayed.

A layer of the façade (``_ledger_state.py``): where records wait (``_spool.py``), what a refusal
spools, how a spooled record is committed again, and the replay after each successful call.
"""

from __future__ import annotations

import logging
from pathlib import Path

from holysheep.errors import LedgerError

from ._ledger_state import LedgerState, redact_url
from ._model import LedgerEntry
from ._refusal import refused_record
from ._spool import Spool, default_spool_dir, keep
from ._text import clean, clean_entry

__all__ = ["SpoolMixin"]

_REPLAY_BATCH = 32
"""Spooled records replayed after one successful call (the rest after the next ones)."""
logger = logging.getLogger("holysheep.ledger")


class SpoolMixin(LedgerState):
    """Spooling and replaying billed calls for ``CostLedger``."""

    def _open_spool(self) -> Spool | None:
        """The spool of this ledger (none for ``memory``, which cannot fail)."""
        url = self._backend.url
        if url == "memory" and self._spool_dir is None:
            return None
        sqlite_path = getattr(self._backend, "path", None) if url.startswith("sqlite:") else None
        return Spool(self._spool_dir or default_spool_dir(url, sqlite_path))

    @property
    def spool_dir(self) -> Path | None:
        """Where billed calls wait while the ledger cannot record them (None for ``memory``)."""
        return None if self._spool is None else self._spool.directory

    def replay_spool(self) -> int:
        """Record every spooled call now (each exactly once); returns how many were replayed.

        Runs on its own after any successful ledger call and before reports, so calling it is
        only needed to drain the spool at a moment of your choosing. A record the ledger refuses
        by itself is skipped and kept; after 5 refusals it moves to ``rejected/`` in the spool
        folder (``LedgerSpoolWarning``).

        Raises:
            LedgerError: the ledger still cannot be reached; the records stay spooled.
        """
        if self._spool is None:
            return 0
        self.flush()
        return self._spool.replay(self._replay_commit)

    def _spool_failed(
        self, entry: LedgerEntry, models: tuple[str, ...], hold: str | None, exc: BaseException
    ) -> None:
        """Keep a billed call the store refused; never raises (the caller keeps its answer)."""
        reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
        where = getattr(exc, "url", None) or redact_url(self._backend.url)
        keep(self._spool, entry, models, hold, where, reason, refused=refused_record(exc))

    def _replay_commit(self, entry: LedgerEntry, models: tuple[str, ...], hold: str | None) -> bool:
        """Commit a spooled record, charged to the budget windows of when it was billed (its
        names cleaned: a record spooled by an older version may hold a lone surrogate)."""
        models = tuple(clean(m) or "" for m in models)
        return self._backend.commit(clean_entry(entry), models, hold, entry.ts.timestamp())

    def _drain(self, *, force: bool = False) -> None:
        """After a ledger call succeeded: replay a batch of spooled records, if any wait."""
        spool = self._spool
        if spool is None or not (spool.pending() or force):
            return
        try:
            spool.replay(self._replay_commit, limit=None if force else _REPLAY_BATCH)
        except LedgerError as exc:  # down again: the records wait for the next success
            logger.debug("holysheep: spool replay stopped: %s", exc)
