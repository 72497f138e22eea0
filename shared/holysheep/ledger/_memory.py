"""The in-process ledger backend: dicts behind one lock; nothing survives the process.

The default (``HOLYSHEEP_LEDGER=memory``): free to use in tests and notebooks, and exact, since
money stays ``Decimal``. Budgets here protect one process only; use SQLite (one machine) or Redis
(many) to share them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal

from ._aggregate import Query, aggregate, matches
from ._backend import Facets
from ._budgets import Hold, find_refusal, reserved_for, window, window_start
from ._model import Budget, BudgetStatus, LedgerEntry, Refusal, Reservation, TotalsRow

__all__ = ["MemoryBackend"]

_ZERO = Decimal(0)


class MemoryBackend:
    """Entries, budgets, spending and holds in dicts guarded by a ``threading.Lock``."""

    url = "memory"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[LedgerEntry] = []
        self._keys: set[str] = set()
        self._budgets: dict[str, Budget] = {}
        self._spent: dict[tuple[str, str], Decimal] = {}
        self._holds: dict[str, Hold] = {}

    # ------------------------------------------------------------ budgets

    def put_budget(self, budget: Budget, now: float, canonical: Callable[[str], str]) -> None:
        """Add or replace a budget; recompute its current window's spending from entries."""
        since = window_start(budget.period, now)
        with self._lock:
            self._budgets[budget.id] = budget
            total = _ZERO
            for entry in self._entries:
                if entry.cost is not None and entry.ts.timestamp() >= since:
                    models = (canonical(entry.model), canonical(entry.requested_model))
                    if budget.applies(entry.user, entry.app, entry.task, models):
                        total += entry.cost.total_usd
            self._spent[(budget.id, window(budget.period, now))] = total

    def delete_budget(self, budget_id: str) -> bool:
        """Remove a budget."""
        with self._lock:
            return self._budgets.pop(budget_id, None) is not None

    def budgets(self) -> list[Budget]:
        """Every budget, ordered by id."""
        with self._lock:
            return sorted(self._budgets.values(), key=lambda b: b.id)

    def _spent_of(self, now: float) -> Callable[[Budget], Decimal]:
        spent = self._spent

        def spent_of(budget: Budget) -> Decimal:
            return spent.get((budget.id, window(budget.period, now)), _ZERO)

        return spent_of

    # ------------------------------------------------------------ holds and entries

    def reserve(self, reservation: Reservation, now: float) -> bool | Refusal:
        """Check and hold atomically; nearly free when no budget is set."""
        if not self._budgets:
            return False
        facets = Facets.of_reservation(reservation)
        with self._lock:
            applicable = facets.applicable(list(self._budgets.values()))
            if not applicable:
                return False
            for hold_id in [k for k, h in self._holds.items() if h.expires_at <= now]:
                del self._holds[hold_id]  # a crashed caller's hold: purge it
            refusal = find_refusal(
                applicable,
                self._spent_of(now),
                self._holds.values(),
                reservation.amount_usd,
                now,
            )
            if refusal is not None:
                return refusal
            self._holds[reservation.id] = Hold(
                facets.user,
                facets.app,
                facets.task,
                reservation.model,
                reservation.amount_usd,
                reservation.expires_at,
            )
            return True

    def commit(
        self, entry: LedgerEntry, models: tuple[str, ...], hold_id: str | None, now: float
    ) -> bool:
        """Record once, charge budgets, drop the hold."""
        with self._lock:
            if hold_id is not None:
                self._holds.pop(hold_id, None)
            if entry.key in self._keys:
                return False
            self._keys.add(entry.key)
            self._entries.append(entry)
            if entry.cost is not None and self._budgets:
                amount = entry.cost.total_usd
                for budget in Facets.of_entry(entry, models).applicable(
                    list(self._budgets.values())
                ):
                    slot = (budget.id, window(budget.period, now))
                    self._spent[slot] = self._spent.get(slot, _ZERO) + amount
            return True

    def release(self, hold_id: str) -> None:
        """Drop a hold."""
        with self._lock:
            self._holds.pop(hold_id, None)

    # ------------------------------------------------------------ reading

    def status(self, facets: Facets | None, now: float) -> list[BudgetStatus]:
        """Where each (applicable) budget stands."""
        with self._lock:
            budgets = sorted(self._budgets.values(), key=lambda b: b.id)
            if facets is not None:
                budgets = facets.applicable(budgets)
            spent_of = self._spent_of(now)
            holds = list(self._holds.values())
            return [
                BudgetStatus(b, window(b.period, now), spent_of(b), reserved_for(b, holds, now))
                for b in budgets
            ]

    def entries(self, query: Query, limit: int | None) -> list[LedgerEntry]:
        """Matching entries, oldest first."""
        with self._lock:
            found = [e for e in self._entries if matches(e, query)]
        found.sort(key=lambda e: e.ts)
        return found[-limit:] if limit else found

    def totals(self, query: Query) -> list[TotalsRow]:
        """Sums per group."""
        with self._lock:
            snapshot = list(self._entries)
        return aggregate(snapshot, query)

    def close(self) -> None:
        """Nothing to release."""
