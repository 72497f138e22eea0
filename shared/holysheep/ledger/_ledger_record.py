"""The recording side of ``CostLedger``: a billed call settled once, or a failed call released.

A layer of the façade: the entry a call becomes (its dedup key, canonical models, the hold it
drops), committed by the backend at once or queued for group commit (``_recorder.py``), and
spooled when the store does not take it, so ``settle`` never loses a billed call.
"""

from __future__ import annotations

import logging
from typing import Any

from holysheep.calls import CallInfo
from holysheep.errors import LedgerError

from ._lease import LEASE_PREFIX, is_lease
from ._lease_store import spend_nano
from ._ledger_holds import HoldsMixin
from ._model import LedgerEntry, Reservation, dedup_key
from ._text import clean_entry

__all__ = ["RecordMixin"]

logger = logging.getLogger("holysheep.ledger")


class RecordMixin(HoldsMixin):
    """Settling, recording and releasing calls for ``CostLedger`` (the sync side)."""

    def settle(self, reservation: Reservation | None, info: CallInfo) -> LedgerEntry | None:
        """Record the call once, charge its budgets and release its reservation, atomically.

        When the ledger cannot be reached the record is spooled to local disk instead (a
        ``LedgerSpoolWarning`` says where) and replayed once the ledger answers again; this
        method never raises ``LedgerError``, so a billed call's answer is never lost.

        Returns:
            The new (or spooled) entry, or ``None`` when this call (``dedup_key``: its
            created time, id and request id) was recorded before.
        """
        entry, models, hold, now = self._entry(reservation, info)
        try:
            recorded = self._backend.commit(entry, models, hold, now)
        except LedgerError as exc:
            self._spool_failed(entry, models, hold, exc)
            return entry
        self._drain()
        return entry if recorded else None

    def _settle_soon(
        self, reservation: Reservation | None, info: CallInfo, *, on_loop: bool = False
    ) -> bool:
        """Group commit: journal the record and queue it for the writer; False when this
        ledger has no writer (record it with ``settle``/``asettle``), or the journal cannot be
        written and the caller is not ``on_loop`` (an event loop's call is queued all the same).
        Never waits on the store: the caller commits a due batch itself only if the store's
        lock is free right now (``try_commit_many``), sparing the writer thread's GIL hand-offs.
        """
        recorder = self._recorder
        return recorder is not None and recorder.post(
            *self._entry(reservation, info, queued=True), inline=True, unjournaled=on_loop
        )

    def _entry(
        self, reservation: Reservation | None, info: CallInfo, *, queued: bool = False
    ) -> tuple[LedgerEntry, tuple[str, ...], str | None, float]:
        """What the store records for a billed call: entry, models, hold id, now.

        A share of a lease gives back what it held and did not spend: at once, or, for a record
        ``queued`` for group commit that spent no more than it held, when its batch is written
        (``_shares_written``, warm and under one lock; until then the lease only lends less).
        """
        now = self._clock()
        key = dedup_key(info)
        entry = clean_entry(LedgerEntry.from_call(info, now, key))
        models = (self.canonical_model(info.model), self.canonical_model(info.requested_model))
        hold = reservation.id if reservation is not None and reservation.held else None
        if hold is not None and hold.startswith(LEASE_PREFIX) and self._leases is not None:
            cost = entry.cost
            if not queued or (cost is not None and cost.total_usd > reservation.amount_usd):
                self._leases.settled(hold, spend_nano(entry, keep=True))
        return entry, models, hold, now

    def _shares_written(self, items: list[Any]) -> None:
        """The recorder wrote (or spooled) a batch: its lease shares settle in the local book."""
        leases = self._leases
        if leases is None:
            return
        shares = [(item[2], spend_nano(item[0])) for item in items
                  if item[2] is not None and item[2].startswith(LEASE_PREFIX)]
        if shares:
            leases.settled_many(shares)

    def record(self, info: CallInfo) -> LedgerEntry | None:
        """Record a call made without a reservation (callbacks, other clients); idempotent."""
        return self.settle(None, info)

    def release(self, reservation: Reservation | None) -> None:
        """Drop the reservation of a call that failed (nothing was billed).

        Raises:
            LedgerError: the ledger cannot be reached (the hold expires on its own).
        """
        if reservation is not None and reservation.held and not self._released_share(reservation):
            self._backend.release(reservation.id)

    def _released_share(self, reservation: Reservation) -> bool:
        """A failed call's share of a lease goes back to the lease (no store round trip)."""
        if not is_lease(reservation.id):
            return False
        if self._leases is not None:
            self._leases.released(reservation.id)
        return True  # a lease this process no longer serves from: given back already

    def _release_soon(self, reservation: Reservation | None) -> bool:
        """Drop a hold on the writer thread, not waiting; False when there is no writer."""
        recorder = self._recorder
        if recorder is None:
            return False
        if reservation is not None and reservation.held and not self._released_share(reservation):
            recorder.call(self._quiet_release, reservation.id)
        return True

    def _quiet_release(self, hold_id: str) -> None:
        try:
            self._backend.release(hold_id)
        except LedgerError as exc:  # the hold expires on its own
            logger.warning("holysheep: could not release a reservation (%s)", exc)
