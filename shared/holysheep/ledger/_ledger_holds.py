"""The reservation side of ``CostLedger``: a call's estimate held against its budgets, or refused.

A layer of the façade: which budgets a call counts against (remembered by its names, ``_ask``), a
share of a budget lease when one serves (no round trip), else what to hold in the store
(``_Ask``), several at once when queued together (one transaction or script), and the refusal
raised when a budget would be crossed.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, NamedTuple

from holysheep.calls import Attribution
from holysheep.errors import LedgerError

from ._backend import Facets
from ._budgets import exceeded_error, to_nano, unpriced_error
from ._lease import LEASE_PREFIX, LeaseBook, lease_key
from ._ledger_budgets import BudgetsMixin
from ._ledger_state import NO_ATTRIBUTION, Applicable, decimal_arg
from ._model import Budget, Reservation
from ._process import pid
from ._text import clean_attribution

__all__ = ["HoldsMixin"]

_APPLICABLE_CACHE = 4096
"""Attributions whose applicable budgets are remembered per budget list."""
_NANO: dict[Decimal, int] = {}
"""Estimates in nano-dollars (rounded up), by amount: calls repeat a few estimates."""
logger = logging.getLogger("holysheep.ledger")


class _Ask(NamedTuple):
    """A call a budget applies to that no lease served: what to ask the store to hold."""

    model: str
    amount: Decimal
    attribution: Attribution
    now: float


_ids: tuple[int, str, Iterator[int]] = (0, "", itertools.count())


def _hold_id() -> str:
    """A reservation id unique across processes: a random per-process prefix and a counter
    (no ``os.urandom`` per call: a syscall there hands the GIL to the writer thread)."""
    global _ids
    owner, prefix, counter = _ids
    if owner != pid():
        _ids = owner, prefix, counter = pid(), uuid.uuid4().hex[:20], itertools.count()
    return f"{prefix}{next(counter):012x}"


class HoldsMixin(BudgetsMixin):
    """Reservations of ``CostLedger``: held in the store, served from leases, or refused."""

    def reserve(
        self,
        model: str,
        estimated_usd: Decimal | str | float | Callable[[], Decimal | None] | None,
        attribution: Attribution | None = None,
    ) -> Reservation:
        """Hold ``estimated_usd`` against every budget that applies, or refuse the call.

        A call no budget applies to costs no round trip to the store (the budget list is
        cached for ``budget_cache_s``) and its reservation holds nothing.

        Args:
            model: The model about to be called (for ``model`` budgets).
            estimated_usd: What the call may cost at most (``estimate_call_usd``); ``None``
                when it cannot be priced (a model without catalogue prices). A callable
                returning either is called only when a budget applies.
            attribution: Task, user, app and tags of the call.

        Returns:
            The reservation to pass to ``settle`` (or ``release`` if the call fails).

        Raises:
            BudgetExceededError: the call could cross a budget, or it cannot be priced and a
                budget applies (fail closed); nothing should be sent.
            LedgerError: the ledger cannot be reached; nothing should be sent.
        """
        held = self._hold(model, estimated_usd, attribution)
        return held if held is not None else self._nothing_held(model, estimated_usd, attribution)

    def _hold(
        self, model: str, estimated_usd: Any, attribution: Attribution | None
    ) -> Reservation | None:
        """The reservation for a call, or None when no budget applies (no store round trip)."""
        view = self._budget_view  # the list read less than budget_cache_s ago, else read now
        budgets = view[1] if view is not None and view[0] > time.monotonic() else (
            self._read_budgets())
        if not budgets:
            return None
        ask = self._ask(model, estimated_usd, attribution, budgets)
        if ask is None or type(ask) is not _Ask:  # nothing applies, or a share of a lease
            return ask
        reservation = self._reservation_of(ask)
        if self._leases is None:
            return self._reserved(reservation, self._store_hold(reservation))
        return self._reserved(reservation, self._store_holds([reservation])[0])

    def _nothing_held(
        self, model: str, estimated_usd: Any, attribution: Attribution | None
    ) -> Reservation:
        """The reservation of a call no budget applies to: it holds nothing."""
        amount = (
            Decimal(0) if estimated_usd is None or callable(estimated_usd)
            else decimal_arg(estimated_usd, "estimated_usd")
        )
        return Reservation(
            uuid.uuid4().hex, self.canonical_model(model), amount,
            clean_attribution(attribution or NO_ATTRIBUTION),
            self._clock() + self.reservation_ttl_s, False,
        )

    def _ask(
        self,
        model: str,
        estimated_usd: Any,
        attribution: Attribution | None,
        budgets: list[Budget],
    ) -> Reservation | _Ask | None:
        """A share of a lease when one serves the call (no store round trip, no hold id); else
        what it asks the store to hold (``_Ask``); None when no (cached) budget applies to the
        call. Each amount is converted once here.

        The budgets that apply are remembered by the call's names as given (user, app, task,
        model), with the model's catalogue id and whether the names need cleaning: a call like
        an earlier one neither cleans nor resolves anything again.

        Raises ``BudgetExceededError`` for an unpriced call a budget applies to (fail closed).
        """
        att = attribution or NO_ATTRIBUTION
        cache = self._applicable
        if cache[0] is not budgets:  # a new list: what applies to whom is worked out again
            cache = self._applicable = (budgets, {})
        names = (att.user, att.app, att.task, model)
        known = cache[1].get(names)
        if known is None:
            known = self._applicable_to(att, model, budgets)
            if len(cache[1]) < _APPLICABLE_CACHE:
                cache[1][names] = known
        applicable, key, canonical, clean_names = known
        if not applicable:
            return None
        if not clean_names:
            att = clean_attribution(att)
        if callable(estimated_usd):
            estimated_usd = estimated_usd()
        if estimated_usd is None:
            raise unpriced_error(applicable[0], model)
        nano = (_NANO.get(estimated_usd)  # a signalling NaN cannot even be hashed
                if type(estimated_usd) is Decimal and estimated_usd.is_finite() else None)
        amount = estimated_usd  # an amount found there was checked when it was put there
        if nano is None:
            amount = decimal_arg(estimated_usd, "estimated_usd")
            nano = to_nano(amount, up=True)
            if len(_NANO) >= _APPLICABLE_CACHE:
                _NANO.clear()
            _NANO[amount] = nano
        now = self._clock()
        leases = self._leases
        if leases is not None:
            served = leases.serve(key, canonical, amount, att, nano, now)
            if served is not None:
                return served
        return _Ask(canonical, amount, att, now)

    def _applicable_to(self, att: Attribution, model: str, budgets: list[Budget]) -> Applicable:
        """The budgets a call counts against, the key of their leases, its model's catalogue id,
        and whether its names are clean as given (``_ask`` remembers all four)."""
        cleaned = clean_attribution(att)
        canonical = self.canonical_model(model)
        applicable = tuple(Facets(cleaned.user, cleaned.app, cleaned.task, (canonical,))
                           .applicable(budgets))
        return applicable, lease_key(applicable), canonical, cleaned is att

    def _reservation_of(self, ask: _Ask) -> Reservation:
        """The reservation to store for a call no lease served (its own hold id)."""
        return Reservation(_hold_id(), ask.model, ask.amount, ask.attribution,
                           ask.now + self.reservation_ttl_s)

    def _store_hold(self, reservation: Reservation) -> Any:
        """Check and hold in the store (True, False when no budget applies, or a refusal)."""
        outcome = self._backend.reserve(reservation, self._clock())
        self._drain()
        return outcome

    def _store_holds(self, reservations: list[Reservation]) -> list[Any]:
        """``_store_hold`` for reservations queued together: one transaction or pipeline."""
        if self._leases is not None:
            outcomes = self._store_leased(self._leases, reservations)
            self._drain()
            return outcomes
        many = getattr(self._backend, "reserve_many", None)
        now = self._clock()
        if many is None:
            outcomes = [self._backend.reserve(r, now) for r in reservations]
        else:
            outcomes = many(reservations, now)
        self._drain()
        return outcomes

    def _store_leased(self, leases: LeaseBook, reservations: list[Reservation]) -> list[Any]:
        """Reservations by budget set: served from a lease taken meanwhile, or one lease asked
        for each set (covering all its calls here), each call judged alone if none is granted.

        Outcomes as ``_store_holds``, a share of a lease in place of ``True``.
        """
        now = self._clock()
        view = self._budget_view
        budgets = view[1] if view is not None else self._backend.budgets()
        out: list[Any] = [None] * len(reservations)
        groups: dict[tuple[Budget, ...], list[int]] = {}
        for i, reservation in enumerate(reservations):
            key = tuple(Facets.of_reservation(reservation).applicable(budgets))
            served = leases.serve(
                lease_key(key), reservation.model, reservation.amount_usd, reservation.attribution,
                to_nano(reservation.amount_usd, up=True), now,
            ) if key else None
            if served is not None:
                out[i] = served
            else:
                groups.setdefault(key, []).append(i)
        if not groups:
            return out
        items: list[tuple[str, Any, int, int]] = [
            ("G", lease_id, nano, 0)
            for lease_id, nano in leases.due([lease_key(k) for k in groups if k])
        ]
        asks: list[tuple[Reservation | None, tuple[Budget, ...], list[int], list[int]]] = []
        expires = now + self.reservation_ttl_s + leases.max_age_s
        for key, at in groups.items():
            members = [reservations[i] for i in at]
            if not key:
                asks.append((None, key, at, []))
                items += [("h", m, 0, 0) for m in members]
                continue
            nanos = [to_nano(m.amount_usd, up=True) for m in members]
            first = members[0]
            ask = Reservation(LEASE_PREFIX + _hold_id(), first.model, Decimal(0),
                              first.attribution, expires)
            asks.append((ask, key, at, nanos))
            items.append(("L", ask, sum(nanos), max(nanos)))
            items += [("m", m, 0, 0) for m in members]
        outcomes = self._backend.reserve_leased(items, now)  # type: ignore[attr-defined]
        pos = sum(1 for item in items if item[0] == "G")
        for ask, key, at, nanos in asks:
            grant = 0
            if ask is not None:
                grant, pos = outcomes[pos], pos + 1
            if grant:
                members = [reservations[i] for i in at]
                shares = leases.granted(ask.id, key, grant, members, nanos, now, expires)
                for i, share in zip(at, shares, strict=True):
                    out[i] = share
            else:
                for i, outcome in zip(at, outcomes[pos : pos + len(at)], strict=True):
                    out[i] = outcome
            pos += len(at)
        return out

    def _store_hold_batches(self, batches: list[list[Reservation]]) -> list[list[Any]]:
        """``_store_holds`` for batches queued together (from several loops or passes)."""
        outcomes = self._store_holds([r for batch in batches for r in batch])
        out, at = [], 0
        for batch in batches:
            out.append(outcomes[at : at + len(batch)])
            at += len(batch)
        return out

    def _reserved(self, reservation: Reservation, outcome: Any) -> Reservation:
        """The reservation the store's ``outcome`` gives, or the refusal raised."""
        if outcome is True:
            return reservation
        if isinstance(outcome, Reservation):  # a share of a lease taken for it
            return outcome
        if outcome is False:  # the budget went away meanwhile: nothing held
            return dataclasses.replace(reservation, held=False)
        raise exceeded_error(outcome, reservation.model, reservation.amount_usd, self._clock())

    def _give_back(self, returns: list[tuple[str, int]]) -> None:
        """Lower stored leases (one transaction or pipeline for all): on the writer thread
        while there is one, else right here."""
        recorder = self._recorder
        if recorder is None:
            self._give_back_all(returns)
        else:
            recorder.call(self._quiet_give_back, returns)

    def _give_back_all(self, returns: list[tuple[str, int]]) -> None:
        many = getattr(self._backend, "give_back_many", None)
        if many is not None:
            many(returns)
            return
        for lease_id, nano in returns:
            self._backend.give_back(lease_id, nano)  # type: ignore[attr-defined]

    def _quiet_give_back(self, returns: list[tuple[str, int]]) -> None:
        try:
            self._give_back_all(returns)
        except LedgerError as exc:  # the leases expire on their own
            logger.warning("holysheep: could not give back a budget lease (%s)", exc)
