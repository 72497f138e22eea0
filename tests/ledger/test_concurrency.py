"""Budgets hold under concurrency: many threads and many asyncio tasks against one limit.

Processes are covered by the load check (``test_load.py``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from decimal import Decimal

from holysheep.calls import Attribution
from holysheep.errors import BudgetExceededError
from holysheep.ledger import CostLedger

from .helpers import call, usd

ESTIMATE = Decimal("0.01")  # each call may cost this much ...
ACTUAL = call(completion=1000)  # ... and costs $0.008


def _one_call(ledger: CostLedger, n: int, outcomes: list[str]) -> None:
    try:
        hold = ledger.reserve("gpt-4.1", ESTIMATE, Attribution(user=f"u{n % 3}"))
    except BudgetExceededError:
        outcomes.append("refused")
        return
    if n % 7 == 0:  # some calls fail and release their hold
        ledger.release(hold)
        outcomes.append("failed")
        return
    ledger.settle(hold, call(completion=1000, user=f"u{n % 3}"))
    outcomes.append("settled")


def _check(ledger: CostLedger, limit: Decimal, outcomes: list[str]) -> None:
    [status] = ledger.budget_status()
    settled = outcomes.count("settled")
    assert status.reserved_usd == 0, "a reservation was left behind"
    assert status.spent_usd == settled * usd(ACTUAL) <= limit
    assert len(ledger.entries()) == settled
    assert outcomes.count("refused") > 0 and settled > 0


def test_threads_never_overspend(make_ledger: Callable[..., CostLedger]) -> None:
    limit = Decimal("0.50")
    make_ledger().set_budget(limit)
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def worker(index: int) -> None:
        ledger = make_ledger()  # SQLite: a connection per thread; Redis: a pool per ledger
        barrier.wait()
        for n in range(index * 25, index * 25 + 25):
            _one_call(ledger, n, outcomes)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(outcomes) == 200
    _check(make_ledger(), limit, outcomes)


def test_one_ledger_shared_by_threads(ledger: CostLedger) -> None:
    limit = Decimal("0.30")
    ledger.set_budget(limit)
    outcomes: list[str] = []
    threads = [
        threading.Thread(
            target=lambda i=i: [_one_call(ledger, n, outcomes) for n in range(i, 200, 4)]
        )
        for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    _check(ledger, limit, outcomes)


def test_asyncio_tasks_never_overspend(ledger: CostLedger) -> None:
    limit = Decimal("0.40")
    ledger.set_budget(limit)
    outcomes: list[str] = []

    async def one(n: int) -> None:
        try:
            hold = ledger.reserve("gpt-4.1", ESTIMATE, Attribution(user="u"))
        except BudgetExceededError:
            outcomes.append("refused")
            return
        await asyncio.sleep(0.001 * (n % 5))  # the "request": other tasks run meanwhile
        if n % 7 == 0:
            ledger.release(hold)
            outcomes.append("failed")
            return
        ledger.settle(hold, call(completion=1000))
        outcomes.append("settled")

    async def main() -> None:
        await asyncio.gather(*(one(n) for n in range(150)))

    asyncio.run(main())
    _check(ledger, limit, outcomes)
