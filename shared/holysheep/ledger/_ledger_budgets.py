"""The budget side of ``CostLedger``: setting budgets, reading where they stand, the cached list.

A layer of the façade: budgets are validated here and stored by the backend; this process keeps
the budget list for ``budget_cache_s`` (so a call no budget applies to costs no round trip) and
drops its budget leases whenever the list changes.
"""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import TimeoutError as FutureTimeout
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from holysheep.calls import Attribution

from ._backend import Facets
from ._ledger_spool import SpoolMixin
from ._ledger_state import CLOSE_WAIT_S, NO_ATTRIBUTION, decimal_arg
from ._model import PERIODS, SCOPES, Budget, BudgetStatus
from ._text import clean, clean_attribution

if TYPE_CHECKING:
    from ._model import Period, Scope

__all__ = ["BudgetsMixin"]


class BudgetsMixin(SpoolMixin):
    """Budgets of ``CostLedger``: set, removed, read, and this process's copy of the list."""

    def set_budget(
        self,
        limit_usd: Decimal | str | float,
        *,
        scope: Scope = "global",
        key: str | None = None,
        period: Period = "month",
    ) -> Budget:
        """Add or replace the budget for ``scope``/``key``/``period`` (shared by the backend).

        Spending in the current window is recomputed from the recorded calls, so a budget set
        mid-month already counts what the month has cost.

        Args:
            limit_usd: The most calls in one window may cost, in USD at list price.
            scope: ``global``, ``user``, ``app``, ``task`` or ``model``.
            key: The user, app, task label or model (any alias) the budget is for; none for
                ``global``.
            period: ``day`` or ``month`` (UTC calendar windows) or ``all``.

        Raises:
            ValueError: a bad scope, period, key or limit.
        """
        budget = self._budget(limit_usd, scope, key, period)
        self.flush()  # the window's spending is recomputed from entries: include the queued
        self._budgets_changed_here()
        self._drop_leases()
        self._backend.put_budget(budget, self._clock(), self.canonical_model)
        self._budgets_changed_here()
        return budget

    def remove_budget(
        self, *, scope: Scope = "global", key: str | None = None, period: Period = "month"
    ) -> bool:
        """Remove a budget; False when there was none."""
        self._budgets_changed_here()
        self._drop_leases()
        removed = self._backend.delete_budget(self._budget(0, scope, key, period).id)
        self._budgets_changed_here()
        return removed

    def _budget(self, limit: Any, scope: str, key: str | None, period: str) -> Budget:
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
        if period not in PERIODS:
            raise ValueError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")
        if scope == "global":
            if key is not None:
                raise ValueError("a global budget takes no key")
        elif not isinstance(key, str) or not key.strip():
            raise ValueError(f"a {scope} budget needs key=<the {scope} it is for>")
        elif scope == "model":
            key = self.canonical_model(key)
        else:
            key = clean(key)
        return Budget(scope, key, period, decimal_arg(limit, "limit_usd"))  # type: ignore[arg-type]

    def budgets(self) -> list[Budget]:
        """Every budget, ordered by id."""
        return self._backend.budgets()

    def budget_status(
        self, attribution: Attribution | None = None, model: str | None = None
    ) -> list[BudgetStatus]:
        """Spent, reserved and remaining per budget in its current window.

        With neither argument, every budget; otherwise those a call with this attribution (and
        model) would count against. "Reserved" is what live holds add up to: calls in flight
        (their estimates) and other processes' budget leases; this process's unused leases are
        given back first, so they are not counted.
        """
        self.flush()  # spent as committed, not still held by calls queued for the writer
        self._drop_leases(now=True)  # "reserved": calls in flight, not this process's leases
        return self._status(attribution, model)

    def _status(self, attribution: Attribution | None, model: str | None) -> list[BudgetStatus]:
        facets = None
        if attribution is not None or model is not None:
            att = clean_attribution(attribution or NO_ATTRIBUTION)
            models = (self.canonical_model(model),) if model else ()
            facets = Facets(att.user, att.app, att.task, models)
        return self._backend.status(facets, self._clock())

    def remaining_usd(self, attribution: Attribution, model: str | None = None) -> Decimal | None:
        """The tightest remaining budget for such a call; ``None`` when no budget applies.

        Calls still queued for the writer count as held (their estimate), never as free, and
        so does the unused part of this process's budget leases (it is not given back here).
        """
        status = self._status(attribution or NO_ATTRIBUTION, model)
        return min((s.remaining_usd for s in status), default=None)

    def _read_budgets(self) -> list[Budget]:
        """Read the budget list from the store and keep it for ``budget_cache_s`` (unless a
        budget was set or removed here meanwhile: then the next call reads it again)."""
        generation = self._budget_generation
        budgets = self._backend.budgets()
        if generation == self._budget_generation:
            old, self._budget_view = self._budget_view, (
                time.monotonic() + self._budget_cache_s, budgets)
            if old is not None and old[1] != budgets:  # a budget changed elsewhere: leases go
                self._drop_leases()
        return budgets

    def _budgets_changed_here(self) -> None:
        """A budget was set or removed by this process: no list read before counts any more."""
        self._budget_generation += 1
        self._budget_view = None

    def _drop_leases(self, *, now: bool = False) -> None:
        """Stop serving calls from leases and give their headroom back (``now``: before
        returning, so a read that follows does not count it)."""
        leases = self._leases
        if leases is None:
            return
        leases.drop_all()
        if now:
            leases.sweep()  # the give-backs queued on the writer thread are done after this:
            recorder = self._recorder
            if recorder is not None:  # a writer stuck that long: read with the leases counted
                with contextlib.suppress(TimeoutError, FutureTimeout):
                    recorder.call(lambda: None).result(CLOSE_WAIT_S)
