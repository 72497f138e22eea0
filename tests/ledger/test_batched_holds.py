"""Reservations taken from an event loop: checked together per loop pass, judged one by one.

``areserve`` sends the reservations of one loop pass to the ledger's writer thread as one batch
(``_holdbatch.py``); each must still be judged as if alone: no budget crossed, no hold left
behind by a task cancelled while its reservation was in flight.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
from holysheep.calls import Attribution
from holysheep.errors import BudgetExceededError, ConfigurationError
from holysheep.ledger import CostLedger, Reservation

from .helpers import call, usd

ESTIMATE = Decimal("0.01")


def test_a_burst_of_areserves_holds_exactly_what_fits(ledger: CostLedger) -> None:
    ledger.set_budget("0.25", scope="user", key="u", period="day")

    async def one() -> Reservation | None:
        try:
            return await ledger.areserve("gpt-4.1", ESTIMATE, Attribution(user="u"))
        except BudgetExceededError:
            return None

    async def main() -> list[Reservation | None]:
        return await asyncio.gather(*(one() for _ in range(64)))  # all in one loop pass

    holds = asyncio.run(main())
    held = [h for h in holds if h is not None]
    assert len(held) == 25  # 25 x $0.01 fit in $0.25; the 26th would cross it
    assert all(h.held for h in held)
    assert len({h.id for h in held}) == 25
    [status] = ledger.budget_status()
    assert status.reserved_usd == Decimal("0.25")
    for hold in held:
        ledger.settle(hold, call(completion=1000, user="u"))
    [status] = ledger.budget_status()
    assert status.reserved_usd == 0
    assert status.spent_usd == 25 * usd(call(completion=1000)) <= Decimal("0.25")


def test_other_users_budgets_in_the_same_batch_do_not_mix(ledger: CostLedger) -> None:
    for user in ("a", "b"):
        ledger.set_budget("0.03", scope="user", key=user, period="day")

    async def one(user: str) -> str:
        try:
            await ledger.areserve("gpt-4.1", ESTIMATE, Attribution(user=user))
            return user
        except BudgetExceededError as exc:
            assert exc.budget is not None and exc.budget.key == user
            return "refused"

    async def main() -> list[str]:
        return await asyncio.gather(*(one("ab"[i % 2]) for i in range(10)))

    outcomes = asyncio.run(main())
    assert outcomes.count("a") == 3 and outcomes.count("b") == 3
    assert outcomes.count("refused") == 4


def test_a_task_cancelled_while_its_hold_is_taken_leaves_nothing_held(
    ledger: CostLedger, ledger_url: str
) -> None:
    if ledger_url == "memory":
        pytest.skip("a memory ledger holds at once: nothing is in flight to cancel")
    ledger.set_budget("0.05", scope="user", key="u", period="day")
    ledger.release(ledger.reserve("gpt-4.1", ESTIMATE, Attribution(user="u")))  # budgets read

    async def main() -> None:
        tasks = [
            asyncio.ensure_future(ledger.areserve("gpt-4.1", ESTIMATE, Attribution(user="u")))
            for _ in range(5)
        ]
        await asyncio.sleep(0)  # the tasks ask; their batch is on its way to the writer
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        ledger.flush()  # the releases of holds taken for cancelled tasks are queued first
        await asyncio.sleep(0.05)

    asyncio.run(main())
    ledger.flush()
    [status] = ledger.budget_status()
    assert status.reserved_usd == 0
    # the whole budget is free again: five more calls fit
    for _ in range(5):
        ledger.reserve("gpt-4.1", ESTIMATE, Attribution(user="u"))


def test_areserve_on_a_closed_ledger_says_so(tmp_path: Path) -> None:
    ledger = CostLedger(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.set_budget("1", scope="user", key="u", period="day")
    ledger.close()

    async def main() -> None:
        await ledger.areserve("gpt-4.1", ESTIMATE, Attribution(user="u"))

    with pytest.raises(ConfigurationError, match="closed"):
        asyncio.run(main())


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_without_leases_a_burst_is_still_judged_hold_by_hold(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """``budget_cache_s=0`` (no leases): a loop pass's reservations go to the store as one
    batch (one transaction, or Redis's RESERVE_MANY) and still hold exactly what fits."""
    from .conftest import backend_url

    with CostLedger(backend_url(backend, tmp_path, request), budget_cache_s=0) as ledger:
        assert ledger._leases is None
        ledger.set_budget("0.25", scope="user", key="u", period="day")
        ledger.set_budget("0.03", scope="user", key="v", period="day")

        async def one(user: str) -> Reservation | None:
            try:
                return await ledger.areserve("gpt-4.1", ESTIMATE, Attribution(user=user))
            except BudgetExceededError as exc:
                assert exc.budget is not None and exc.budget.key == user
                return None

        async def main() -> list[Reservation | None]:
            return await asyncio.gather(*(one("uv"[i % 2]) for i in range(80)))

        holds = asyncio.run(main())
        held = [h for h in holds if h is not None]
        assert sum(1 for h in held if h.attribution.user == "u") == 25
        assert sum(1 for h in held if h.attribution.user == "v") == 3
        assert all(h.held for h in held) and len({h.id for h in held}) == 28
        status = {s.budget.key: s.reserved_usd for s in ledger.budget_status()}
        assert status == {"u": Decimal("0.25"), "v": Decimal("0.03")}
