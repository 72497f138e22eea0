"""Leases of budget headroom: one stored hold worth several calls, spent locally by this process.

When the budgets a call counts against have plenty of room, the store takes ONE hold (a lease)
in the transaction or script that checks them, and the next calls under the same budgets are
served from it in-process: no round trip, no writer-thread hand-off. A lease is only a hold:
the store's spent + holds (leases included) never passes a limit, a lease is at most
``1/LEASE_SHARE`` of the headroom left and ``LEASE_CALLS`` calls' worth, and below
``LEASE_FLOOR`` calls of headroom there is none (per-call holds, exactly as without leases).

Money is integer nano-dollars, rounded as the store rounds it, so this book and the stored row
agree to the nano-dollar: row = available + shares of calls in flight + costs settled and not yet
committed (each commit lowers the row by its call's cost: ``_lease_store.spend_nano``). A call's
share is ``<lease id>.<n>``, so a share settled or released twice is counted once. A call queued
for group commit settles its share when its batch is written (``settled_many``), unless it spent
more than the share held: until then the lease lends less, never more.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ._budgets import window_start
from ._model import Budget, Reservation, lease_share
from ._process import pid

if TYPE_CHECKING:
    from holysheep.calls import Attribution

__all__ = [
    "LEASE_CALLS",
    "LEASE_FLOOR",
    "LEASE_IDLE_S",
    "LEASE_PREFIX",
    "LEASE_SHARE",
    "Lease",
    "LeaseBook",
    "is_lease",
    "lease_key",
    "lease_of",
]

logger = logging.getLogger("holysheep.ledger")

LEASE_PREFIX = "lease-"
"""Stored lease rows have ids ``lease-<hex>``; a call's share of one is ``lease-<hex>.<n>``
(``<n>`` counts in hex in shares written by earlier versions)."""
LEASE_SHARE = 16
"""A lease is at most this fraction (1/16) of the tightest budget's headroom when taken."""
LEASE_CALLS = 128
"""A lease is at most this many of its largest call's reservations."""
LEASE_FLOOR = 64
"""No lease when the headroom is below this many reservations of the call asking for one."""
LEASE_MAX_AGE_S = 5.0
"""New calls are served from a lease for this long at most after it was taken (its stored
expiry is the reservation TTL after that, so every call it serves is held a full TTL)."""
LEASE_IDLE_S = 1.0
"""A lease that served no call for this long is given back to the store."""

Key = str
"""What a lease is for: the budgets that apply, limits included (a changed limit: a new key),
as text (``lease_key``): a str caches its hash, a tuple of ``Budget`` dataclasses was hashed
field by field on every call served."""


def lease_key(budgets: tuple[Budget, ...]) -> Key:
    """The book's key for a lease on ``budgets`` (each one's id and limit)."""
    return "\n".join(f"{budget.id}\t{budget.limit_usd}" for budget in budgets)


def is_lease(hold_id: str | None) -> bool:
    """Whether a hold id names a call's share of a lease (not a hold of its own)."""
    return hold_id is not None and hold_id.startswith(LEASE_PREFIX)


def lease_of(hold_id: str) -> str:
    """The stored lease row a share ``lease-<hex>.<n>`` is drawn from."""
    return hold_id.partition(".")[0]


def serve_until(budgets: tuple[Budget, ...], taken_at: float, max_age_s: float) -> float:
    """When a lease stops serving new calls: its age limit, or the next day/month rollover of
    any of its budgets (a lease of the old window never pays for the new one)."""
    until = taken_at + max_age_s
    for budget in budgets:
        if budget.period != "all":
            until = min(until, _next_window(budget.period, taken_at))
    return until


def _next_window(period: str, now: float) -> float:
    start = window_start(period, now)
    if period == "day":
        return start + 86_400
    return window_start(period, start + 32 * 86_400)


@dataclass(slots=True, eq=False)
class Lease:
    """One stored lease as this process spends it."""

    id: str
    key: Key
    available: int
    """Nano-dollars not promised to any call (may dip below 0 when calls cost more than held)."""
    serve_until: float
    expires_at: float
    shares: dict[str, int]
    """The calls in flight on this lease: share id -> nano-dollars it holds."""
    last_used: float
    counter: int = 0
    retired: bool = False


class LeaseBook:
    """This process's leases, by budget set; thread-safe; unused headroom goes back on its own.

    ``give_back([(lease_id, nano), ...])`` lowers stored leases, all at once (on the ledger's
    writer thread when it has one); it is called from the book's sweeper thread or from ``close``.
    """

    def __init__(self, give_back: Callable[[list[tuple[str, int]]], Any], *,
                 idle_s: float = LEASE_IDLE_S, max_age_s: float = LEASE_MAX_AGE_S) -> None:
        self._give_back = give_back
        self.idle_s = idle_s
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._by_key: dict[Key, list[Lease]] = {}
        self._by_id: dict[str, Lease] = {}
        self._returns: dict[str, int] = {}
        self._sweeper: threading.Timer | None = None
        self._closed = False
        self._pid = pid()
        self.served = 0
        """Calls served as shares of a lease so far (diagnostics and tests)."""
        ref = weakref.ref(self)
        if hasattr(os, "register_at_fork"):  # a child must never spend its parent's leases
            os.register_at_fork(after_in_child=lambda: (book := ref()) and book._forget())

    def _forget(self) -> None:
        """In a forked child: the parent's leases are the parent's (its exit returns them)."""
        self._lock = threading.Lock()
        self._by_key, self._by_id, self._returns = {}, {}, {}
        self._sweeper = None
        self._pid = pid()

    # ------------------------------------------------------------ serving

    def serve(self, key: Key, model: str, amount: Decimal, attribution: Attribution, nano: int,
              now: float) -> Reservation | None:
        """A call (``amount`` USD, ``nano`` as ``to_nano`` rounds it up) as a share of a lease
        on ``key``, or None (ask the store)."""
        leases = self._by_key.get(key)
        if not leases:
            return None
        with self._lock:
            lease = leases[-1]  # the newest, nearly always the only one
            if lease.available < nano or now >= lease.serve_until or lease.retired:
                for lease in reversed(leases):
                    if lease.available >= nano and now < lease.serve_until and not lease.retired:
                        break
                else:
                    return None
            lease.available -= nano
            lease.counter = counter = lease.counter + 1
            share = f"{lease.id}.{counter}"
            lease.shares[share] = nano
            lease.last_used = time.monotonic()
            self.served += 1
        return lease_share(share, model, amount, attribution, lease.expires_at)

    def granted(self, lease_id: str, budgets: tuple[Budget, ...], granted_nano: int,
                members: list[Reservation], nanos: list[int], now: float,
                expires_at: float) -> list[Reservation]:
        """The store granted a lease on ``budgets`` covering ``members`` (holding ``nanos``
        each): record it; their shares, in order."""
        key = lease_key(budgets)
        lease = Lease(lease_id, key, granted_nano, serve_until(budgets, now, self.max_age_s),
                      expires_at, {}, time.monotonic())
        out = []
        for member, nano in zip(members, nanos, strict=True):
            lease.available -= nano
            lease.counter += 1
            share = f"{lease_id}.{lease.counter}"
            lease.shares[share] = nano
            out.append(Reservation(share, member.model, member.amount_usd, member.attribution,
                                   expires_at))
        with self._lock:
            if self._closed or pid() != self._pid:
                lease.retired = True
                self._returns[lease_id] = self._returns.get(lease_id, 0) + max(0, lease.available)
                lease.available = 0
            else:
                self._by_key.setdefault(key, []).append(lease)
            self._by_id[lease_id] = lease
        self._arm()
        return out

    def settled(self, share: str, spent: int) -> None:
        """A call on a lease was billed ``spent`` nano-dollars: what it held and did not spend
        comes back."""
        self.settled_many([(share, spent)])

    def settled_many(self, shares: list[tuple[str, int]]) -> None:
        """``settled`` for several shares (a written batch's) under one lock; a share settled
        before, or of a lease this process no longer tracks, is skipped."""
        retired = False
        with self._lock:
            by_id = self._by_id
            for share, spent in shares:
                lease = by_id.get(share.partition(".")[0])  # lease_of, inline
                held = None if lease is None else lease.shares.pop(share, None)
                if lease is None or held is None:
                    continue
                if lease.retired:
                    retired = True
                    self._returns[lease.id] = self._returns.get(lease.id, 0) + max(0, held - spent)
                    if not lease.shares:
                        del by_id[lease.id]
                else:
                    lease.available += held - spent
        if retired:
            self._arm()

    def released(self, share: str) -> None:
        """A call on a lease failed (nothing billed): all it held comes back."""
        self.settled(share, 0)

    # ------------------------------------------------------------ giving back

    def due(self, keys: list[Key]) -> list[tuple[str, int]]:
        """Before asking the store for ``keys``: retire their leases (none could serve the
        calls) and hand over everything due back, to give back in that same transaction."""
        with self._lock:
            for key in keys:
                for lease in self._by_key.pop(key, ()):
                    self._retire(lease)
            returns, self._returns = self._returns, {}
        return [(lease_id, nano) for lease_id, nano in returns.items() if nano > 0]

    def drop_all(self) -> None:
        """Stop serving every lease (budgets changed, or closing); their headroom goes back."""
        with self._lock:
            for lease in list(self._by_id.values()):
                self._retire(lease)
            self._by_key = {}
        self._arm()

    def _retire(self, lease: Lease) -> None:
        """Under the lock: no more calls from ``lease``; what it has left is due back."""
        if not lease.retired:
            lease.retired = True
            if lease.available > 0:
                self._returns[lease.id] = self._returns.get(lease.id, 0) + lease.available
            lease.available = 0
        if not lease.shares:
            self._by_id.pop(lease.id, None)

    def sweep(self) -> None:
        """Retire idle or spent leases (an aged one serves nothing, so it idles) and give back
        what is due."""
        now = time.monotonic()
        with self._lock:
            for key, leases in list(self._by_key.items()):
                keep = []
                for lease in leases:
                    if now - lease.last_used >= self.idle_s or lease.available <= 0:
                        self._retire(lease)
                    else:
                        keep.append(lease)
                if keep:
                    self._by_key[key] = keep
                else:
                    del self._by_key[key]
            returns, self._returns = self._returns, {}
        due = [(lease_id, nano) for lease_id, nano in returns.items() if nano > 0]
        if due:  # all of them in one store transaction or pipeline
            try:
                self._give_back(due)
            except Exception as exc:  # the lease expires on its own
                logger.warning("holysheep: could not give back a budget lease (%s)", exc)

    def close(self) -> None:
        """Give every lease's unused headroom back now; the book serves nothing after this."""
        with self._lock:
            self._closed = True
            sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            sweeper.cancel()
        self.drop_all()
        self.sweep()

    def _arm(self) -> None:
        """Make sure a sweep is coming while there are leases or returns."""
        with self._lock:
            if self._sweeper is not None or not (self._by_id or self._returns):
                return
            if self._closed and not self._returns:
                return
            timer = threading.Timer(self.idle_s / 2, self._tick)
            timer.daemon = True
            self._sweeper = timer
        with contextlib.suppress(RuntimeError):  # interpreter shutting down
            timer.start()

    def _tick(self) -> None:
        with self._lock:
            self._sweeper = None
        self.sweep()
        self._arm()

    def active(self) -> int:
        """How many leases serve calls now (tests and diagnostics)."""
        return sum(len(v) for v in self._by_key.values())
