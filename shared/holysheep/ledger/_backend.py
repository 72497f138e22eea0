"""The storage seam under ``CostLedger``: what a backend stores and how it must behave.

``CostLedger`` does the parts that need no storage (canonical model ids, clocks, building entries,
messages); a backend does each operation atomically: a reservation is checked against every budget
and stored in one step, and an entry is recorded, charged to its budgets and its reservation
released in one step, so no interleaving of threads, tasks or processes can overspend or count a
call twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ._aggregate import Query
from ._model import Budget, BudgetStatus, LedgerEntry, Refusal, Reservation, TotalsRow

__all__ = ["CommitItem", "Facets", "LedgerBackend"]

CommitItem = tuple[LedgerEntry, tuple[str, ...], "str | None", float]
"""What ``commit`` takes, as one tuple: entry, catalogue models, hold id, now.

A backend may also offer ``reserve_leased(items, now)``, ``give_back(lease_id, nano)`` and
``give_back_many([(lease_id, nano), ...])`` (budget leases: ``SQLiteBackend.reserve_leased``
and ``_lease.py``); its commit then lowers a lease for a hold id that is a lease share
(``_lease_store.drop_holds``).

A backend may also offer ``commit_many(items, rows) -> list[bool]`` (each item as ``commit`` would
record it, in one transaction or pipeline, raising ``LedgerError`` for the whole batch; ``rows``
are the entries as ``_sqlite_schema.entry_row`` gives them, already built); the ledger then
records billed calls in batches on a writer thread (group commit).
"""


@dataclass(frozen=True, slots=True)
class Facets:
    """What budgets are matched on: user, app, task and the catalogue ids of the models."""

    user: str | None = None
    app: str | None = None
    task: str | None = None
    models: tuple[str, ...] = ()

    @classmethod
    def of_entry(cls, entry: LedgerEntry, models: tuple[str, ...]) -> Facets:
        """The facets a recorded call is charged under."""
        return cls(entry.user, entry.app, entry.task, models)

    @classmethod
    def of_reservation(cls, reservation: Reservation) -> Facets:
        """The facets a reservation is held under."""
        att = reservation.attribution
        return cls(att.user, att.app, att.task, (reservation.model,))

    def applicable(self, budgets: list[Budget]) -> list[Budget]:
        """The budgets these facets count against."""
        return [b for b in budgets if b.applies(self.user, self.app, self.task, self.models)]


@runtime_checkable
class LedgerBackend(Protocol):
    """Where a ledger keeps entries, budgets, spending counters and reservations.

    Times are epoch seconds from the ledger's clock; money is ``Decimal`` USD at this seam
    (each backend documents its stored unit).
    """

    url: str
    """How to reach the same store again (``memory``, ``sqlite:///...``, ``redis://...``)."""

    def put_budget(self, budget: Budget, now: float, canonical: Callable[[str], str]) -> None:
        """Add or replace a budget; its current window's spending is recomputed from entries.

        ``canonical`` maps a stored model name to its catalogue id, for ``model`` budgets.
        """
        ...

    def delete_budget(self, budget_id: str) -> bool:
        """Remove a budget; False when there was none with that id."""
        ...

    def budgets(self) -> list[Budget]:
        """Every budget, ordered by id."""
        ...

    def reserve(self, reservation: Reservation, now: float) -> bool | Refusal:
        """Check every applicable budget and store the hold, atomically.

        Returns:
            True when held, False when no budget applies (nothing stored), or the ``Refusal``.
        """
        ...

    def commit(
        self, entry: LedgerEntry, models: tuple[str, ...], hold_id: str | None, now: float
    ) -> bool:
        """Record ``entry`` unless its key is known, charge its budgets, drop the hold; atomic.

        Returns:
            False when the entry was already recorded (the hold is dropped all the same).
        """
        ...

    def release(self, hold_id: str) -> None:
        """Drop a hold (a failed call); a no-op when it is gone already."""
        ...

    def status(self, facets: Facets | None, now: float) -> list[BudgetStatus]:
        """Where each budget stands (only those ``facets`` count against, unless None)."""
        ...

    def entries(self, query: Query, limit: int | None) -> list[LedgerEntry]:
        """Recorded entries matching ``query``, oldest first, at most ``limit`` (newest kept)."""
        ...

    def totals(self, query: Query) -> list[TotalsRow]:
        """Sums per group of ``query.group_by``, ordered by group keys."""
        ...

    def close(self) -> None:
        """Release connections; safe to call twice."""
        ...
