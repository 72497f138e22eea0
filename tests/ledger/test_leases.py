"""Budget leases: one stored hold worth several calls, spent in-process, never past a limit.

Against real SQLite files and a real Redis: processes racing a budget crossed mid-run, a killed
process's lease, refusals near the limit, the day rollover, budget changes and what
``budget_status`` reports while calls hold shares of a lease.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from holysheep import HolySheepClient
from holysheep.calls import Attribution
from holysheep.errors import BudgetExceededError
from holysheep.ledger import CostLedger, Reservation
from holysheep.ledger._budgets import to_nano
from holysheep.ledger._lease import (
    LEASE_CALLS,
    LEASE_FLOOR,
    LEASE_MAX_AGE_S,
    LEASE_SHARE,
    is_lease,
)
from holysheep.testing import RelayEmulator
from holysheep.usage import Usage

from . import _lease_worker
from .conftest import backend_url
from .helpers import CATALOG, Clock, call, usd

ALICE = Attribution(user="alice", app="web", task="qa")
ESTIMATE = Decimal("0.01")


@pytest.fixture(params=["sqlite", "redis"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh shared ledger (the backends that lease)."""
    return backend_url(request.param, tmp_path, request)


def _counting(ledger: CostLedger) -> list[int]:
    """Count the ledger's reservation round trips to the store."""
    seen = [0]
    backend = ledger.backend
    real = backend.reserve_leased  # type: ignore[attr-defined]

    def counted(items: list, now: float) -> list:
        seen[0] += 1
        return real(items, now)

    backend.reserve_leased = counted  # type: ignore[attr-defined]
    return seen


def test_leases_spare_round_trips_and_status_stays_exact(url: str, clock: Clock) -> None:
    with CostLedger(url, clock=clock, catalog=CATALOG) as ledger:
        ledger.set_budget("100", scope="user", key="alice", period="day")
        trips = _counting(ledger)
        holds = [ledger.reserve("gpt-4.1", ESTIMATE, ALICE) for _ in range(100)]
        assert trips[0] <= 100 // LEASE_CALLS + 1  # one store trip per lease, not per call
        assert all(is_lease(h.id) for h in holds) and len({h.id for h in holds}) == 100
        # reserved: what calls in flight hold; this process's unused lease is given back first
        [status] = ledger.budget_status()
        assert status.reserved_usd == 100 * ESTIMATE and status.spent_usd == 0
        infos = [call(user="alice") for _ in range(60)]
        for hold, info in zip(holds, infos, strict=False):
            ledger.settle(hold, info)
            ledger.settle(hold, info)  # twice: recorded and spent once
        for hold in holds[60:]:
            ledger.release(hold)
            ledger.release(hold)
        [status] = ledger.budget_status()
        assert status.spent_usd == sum((usd(i) for i in infos), Decimal(0))
        assert status.reserved_usd == 0
        assert len(ledger.entries()) == 60


def test_a_share_of_a_lease_is_a_whole_reservation(url: str, clock: Clock) -> None:
    """A share is built by its slots (faster than the frozen dataclass's ``__init__``): it
    must still be a frozen ``Reservation`` like any other: equal to one built so, immutable."""
    with CostLedger(url, clock=clock, catalog=CATALOG) as ledger:
        ledger.set_budget("100", scope="user", key="alice", period="day")
        ledger.reserve("gpt-4.1", ESTIMATE, ALICE)  # takes the lease
        share = ledger.reserve("gpt-4.1", ESTIMATE, ALICE)
        assert is_lease(share.id) and share.held is True
        assert (share.model, share.amount_usd, share.attribution) == ("gpt-4.1", ESTIMATE, ALICE)
        assert share.expires_at > clock()
        built = Reservation(share.id, "gpt-4.1", ESTIMATE, ALICE, share.expires_at)
        assert share == built and repr(share) == repr(built)
        with pytest.raises(dataclasses.FrozenInstanceError):
            share.amount_usd = Decimal(0)  # type: ignore[misc]
        assert dataclasses.replace(share, held=False).held is False
        ledger.release(share)


def test_refusals_near_the_limit_match_per_call_holds(url: str, clock: Clock) -> None:
    """Sequential calls from far above the lease floor to past the limit: the same calls are
    admitted and refused, with the same figures, as with one hold per call."""
    cost = usd(call())
    limit = cost * (2 * LEASE_FLOOR) + cost / 2

    def run(lease: bool) -> list[tuple[str, Decimal, Decimal]]:
        clock.advance(86_400)  # each run on a day of its own
        with CostLedger(url, clock=clock, catalog=CATALOG) as ledger:
            ledger.set_budget(limit, scope="user", key="alice", period="day")
            if not lease:
                ledger._leases = None
            outcomes = []
            for _ in range(2 * LEASE_FLOOR + 10):
                try:
                    hold = ledger.reserve("gpt-4.1", cost, ALICE)
                except BudgetExceededError as exc:
                    outcomes.append(("refused", exc.spent_usd, exc.reserved_usd))
                    continue
                ledger.settle(hold, call(user="alice"))
                ledger.flush()
                outcomes.append(("held", Decimal(0), Decimal(0)))
            served = ledger._leases.served if ledger._leases is not None else 0
            return outcomes, served

    (leased, served), (plain, _) = run(True), run(False)
    assert served > LEASE_FLOOR // 2  # the first calls did spend leases
    assert leased == plain
    assert [o[0] for o in plain].count("held") == 2 * LEASE_FLOOR


def test_a_killed_process_lease_expires(url: str) -> None:
    ttl = 60.0
    with CostLedger(url) as ledger:
        ledger.set_budget("100", scope="user", key="alice", period="day")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    with subprocess.Popen(
        [sys.executable, _lease_worker.__file__, url, str(ttl)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
    ) as child:
        try:
            hold_id, expires = child.stdout.readline().split()  # type: ignore[union-attr]
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=60)
    assert is_lease(hold_id)
    leased = LEASE_CALLS * ESTIMATE
    with CostLedger(url) as ledger:
        [status] = ledger.budget_status()
        assert status.reserved_usd == leased  # the dead process's lease still counts ...
        with pytest.raises(BudgetExceededError):
            ledger._leases = None
            ledger.reserve("gpt-4.1", Decimal(100) - leased + Decimal("0.000001"), ALICE)
    late = Clock(float(expires) + 1)
    assert float(expires) >= late.now - 1 - ttl - LEASE_MAX_AGE_S
    with CostLedger(url, clock=late) as ledger:
        [status] = ledger.budget_status()
        assert status.reserved_usd == 0  # ... until its expiry, then nowhere
        ledger.reserve("gpt-4.1", Decimal(100), ALICE)  # the whole limit fits again


def test_no_lease_pays_across_midnight(url: str, clock: Clock) -> None:
    from datetime import datetime, timezone

    clock.set(datetime(2025, 6, 15, 23, 59, 59, 500000, tzinfo=timezone.utc))
    with CostLedger(url, clock=clock, catalog=CATALOG) as ledger:
        ledger.set_budget("100", scope="user", key="alice", period="day")
        first = ledger.reserve("gpt-4.1", ESTIMATE, ALICE)
        second = ledger.reserve("gpt-4.1", ESTIMATE, ALICE)
        assert first.id.partition(".")[0] == second.id.partition(".")[0]
        clock.advance(1)  # 00:00:00.5 the next day
        third = ledger.reserve("gpt-4.1", ESTIMATE, ALICE)
        assert is_lease(third.id) and third.id.partition(".")[0] != first.id.partition(".")[0]


def test_a_budget_changed_drops_leases(url: str, clock: Clock) -> None:
    with CostLedger(url, clock=clock, catalog=CATALOG) as ledger:
        ledger.set_budget("100", scope="user", key="alice", period="day")
        first = ledger.reserve("gpt-4.1", ESTIMATE, ALICE)
        ledger.set_budget("0.05", scope="user", key="alice", period="day")
        # the old lease ($0.32) no longer serves: the store judges the new limit
        with pytest.raises(BudgetExceededError):
            for _ in range(5):
                ledger.reserve("gpt-4.1", ESTIMATE, ALICE)
        ledger.release(first)


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_processes_race_a_budget_crossed_mid_run(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    processes, calls, concurrency = 3, 400, 16
    url = backend_url(backend, tmp_path, request)
    with RelayEmulator(latency=0) as relay:
        with HolySheepClient(api_key="hs-lease-test", base_url=relay.base_url) as client:
            one = client.chat(model=_lease_worker.MODEL, messages=[
                {"role": "user", "content": "call 100"}], max_tokens=16).call_info.cost.total_usd
        relay.reset()
        limit = (one * processes * calls * Decimal("0.6")).quantize(Decimal("0.000001"))
        with CostLedger(url) as ledger:
            ledger.set_budget(limit, scope="global", period="day")
        ctx = multiprocessing.get_context("spawn")
        barrier, results = ctx.Barrier(processes), ctx.Queue()
        procs = [ctx.Process(target=_lease_worker.run_async,
                             args=(url, relay.base_url, calls, concurrency, barrier, results))
                 for _ in range(processes)]
        for proc in procs:
            proc.start()
        try:
            stats = [results.get(timeout=240) for _ in procs]
        finally:
            for proc in procs:
                proc.join(timeout=60)
                if proc.is_alive():
                    proc.kill()
        billed = sum((CATALOG.cost(m, Usage.from_wire(u)).total_usd for m, u in relay.billed),
                     Decimal(0))
        returned = [i for s in stats for i in s["ids"]]
        with CostLedger(url) as ledger:
            [total] = ledger.totals([])
            [status] = ledger.budget_status()
            keys = [e.id for e in ledger.entries()]
    assert billed <= limit  # relay-billed spend never above the limit
    assert total.total_usd == billed and status.spent_usd == billed
    assert sorted(keys) == sorted(returned) and len(set(keys)) == len(relay.billed)
    assert sum(s["refused"] for s in stats) > 0  # the budget was crossed mid-run ...
    served = [s["served"] for s in stats]
    assert sum(n > 0 for n in served) >= 2, served  # ... by processes spending leases
    assert status.reserved_usd == 0


def test_an_idle_lease_goes_back_to_the_store(url: str) -> None:
    """Another process near the limit is refused for this one's unused lease only while this
    one is using it: idle for a moment, it is given back."""
    with CostLedger(url, catalog=CATALOG) as mine, CostLedger(url, catalog=CATALOG) as other:
        mine.set_budget("1", scope="user", key="alice", period="day")
        mine.settle(mine.reserve("gpt-4.1", ESTIMATE, ALICE), call(user="alice"))
        mine.flush()
        spent = usd(call())
        rest = Decimal(1) - spent
        other._leases = None
        with pytest.raises(BudgetExceededError) as refused:
            other.reserve("gpt-4.1", rest, ALICE)
        assert refused.value.reserved_usd == Decimal(1) / LEASE_SHARE - spent  # the lease, spent
        assert _eventually(lambda: _fits(other, rest))  # the sweeper runs every half second


def _fits(ledger: CostLedger, amount: Decimal) -> bool:
    try:
        ledger.release(ledger.reserve("gpt-4.1", amount, ALICE))
    except BudgetExceededError:
        return False
    return True


def _eventually(check: Callable[[], bool], within_s: float = 30.0) -> bool:
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_forked_child_never_spends_its_parents_lease(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with CostLedger(url, catalog=CATALOG) as ledger:
        ledger.set_budget("100", scope="user", key="alice", period="day")
        parent = ledger.reserve("gpt-4.1", ESTIMATE, ALICE).id.partition(".")[0]
        ctx = multiprocessing.get_context("fork")
        results = ctx.Queue()
        child = ctx.Process(target=_child_reserves, args=(ledger, results))
        child.start()
        try:
            child_lease = results.get(timeout=120)
        finally:
            child.join(timeout=60)
        assert is_lease(child_lease) and child_lease.partition(".")[0] != parent


def _child_reserves(ledger: CostLedger, results: multiprocessing.Queue) -> None:
    results.put(ledger.reserve("gpt-4.1", ESTIMATE, ALICE).id)


def test_a_budget_lowered_elsewhere_stops_this_process_leases(url: str) -> None:
    """Another process lowers the limit: once this one's budget view is refreshed, its lease
    serves nothing more and the store judges each call against the new limit."""
    with CostLedger(url, catalog=CATALOG, budget_cache_s=0.05) as mine, \
            CostLedger(url, catalog=CATALOG) as other:
        mine.set_budget("100", scope="user", key="alice", period="day")
        mine.release(mine.reserve("gpt-4.1", ESTIMATE, ALICE))  # a lease of $0.32, unused
        other.set_budget("0.005", scope="user", key="alice", period="day")  # < one call

        def refused() -> bool:
            return not _fits(mine, ESTIMATE)

        assert _eventually(refused)
        before = mine._leases.served  # type: ignore[union-attr]
        with pytest.raises(BudgetExceededError):
            mine.reserve("gpt-4.1", ESTIMATE, ALICE)
        assert mine._leases.served == before  # type: ignore[union-attr]


@pytest.mark.parametrize("many", [False, True], ids=["commit", "commit_many"])
def test_a_replayed_settle_lowers_its_lease_once(url: str, clock: Clock, many: bool) -> None:
    """A journal replayed after a crash between commit and marking commits its entries again:
    recorded once, and the lease they were served from is lowered by their cost once, or the
    store would hold less than the lease's owner may still spend."""
    with CostLedger(url, clock=clock, catalog=CATALOG) as owner, CostLedger(
        url, clock=clock, catalog=CATALOG
    ) as other:
        owner.set_budget("100", scope="user", key="alice", period="day")
        holds = [owner.reserve("gpt-4.1", ESTIMATE, ALICE) for _ in range(3)]
        assert all(is_lease(h.id) for h in holds)
        infos = [call(user="alice") for _ in holds]
        for hold, info in zip(holds, infos, strict=True):
            owner.settle(hold, info)
        owner.flush()
        [seen] = other.budget_status()  # the owner's lease, less what its calls spent
        entries = {e.id: e for e in owner.entries()}
        items = [(entries[i.id], ("gpt-4.1",), h.id, clock()) for h, i in zip(holds, infos,
                                                                             strict=True)]
        if many:
            assert owner.backend.commit_many(items) == [False] * 3  # type: ignore[attr-defined]
        else:
            assert [owner.backend.commit(*item) for item in items] == [False] * 3
        [again] = other.budget_status()
        assert again.spent_usd == seen.spent_usd == sum((usd(i) for i in infos), Decimal(0))
        assert again.reserved_usd == seen.reserved_usd > 0


def test_calls_on_a_lease_are_committed_in_batches_as_big_as_unbudgeted_ones(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call's share of a lease is not a hold of its own, so its record waits for others like
    an unbudgeted call's (fewer, bigger transactions), and the budget still counts it meanwhile."""
    from holysheep.ledger._redis import RedisBackend
    from holysheep.ledger._sqlite import SQLiteBackend

    commits = [0]
    for cls in (SQLiteBackend, RedisBackend):
        for name in ("commit_many", "try_commit_many"):
            real = getattr(cls, name, None)
            if real is None:
                continue

            def counted(self: object, *args: object, _real: Callable = real) -> object:
                commits[0] += 1
                return _real(self, *args)

            monkeypatch.setattr(cls, name, counted)

    def batches(ledger: CostLedger, user: str) -> int:
        ledger.flush()
        before = commits[0]
        for _ in range(20):
            hold = ledger.reserve("gpt-4.1", ESTIMATE, Attribution(user=user))
            assert is_lease(hold.id) == (user == "alice")
            ledger._settle_soon(hold, call(user=user))
            time.sleep(0.01)  # longer than the 8 ms window of a call holding its own hold
        ledger.flush()  # every record committed
        return commits[0] - before

    with CostLedger(url) as ledger:
        ledger.set_budget("1000", scope="user", key="alice", period="day")
        plain = batches(ledger, "bob")
        leased = batches(ledger, "alice")
        assert leased <= plain + 2, f"{leased} commits for 20 calls on a lease, {plain} without"
        assert len(ledger.entries()) == 40
        [status] = ledger.budget_status()
        assert status.spent_usd > 0 and status.reserved_usd == 0


def test_leases_of_many_budgets_go_back_in_one_round_trip(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several leases are given back together (one transaction or pipeline, on the writer
    thread), and every budget's headroom is whole again afterwards."""
    from holysheep.ledger._redis import RedisBackend
    from holysheep.ledger._sqlite import SQLiteBackend

    trips: list[int] = []
    for cls in (SQLiteBackend, RedisBackend):
        for name in ("give_back", "give_back_many"):
            real = getattr(cls, name, None)
            if real is None:
                continue

            def counted(self: object, *args: object, _real: Callable = real) -> object:
                trips.append(len(args[0]) if isinstance(args[0], list) else 1)
                return _real(self, *args)

            monkeypatch.setattr(cls, name, counted)
    users = [f"user-{i}" for i in range(6)]
    with CostLedger(url, catalog=CATALOG) as mine, CostLedger(url, catalog=CATALOG) as other:
        assert mine._leases is not None
        mine._leases.idle_s = 600.0  # given back by budget_status below, not by the sweeper
        for user in users:
            mine.set_budget("1", scope="user", key=user, period="day")
        for user in users:
            held = mine.reserve("gpt-4.1", ESTIMATE, Attribution(user=user))
            assert is_lease(held.id)
            mine.settle(held, call(user=user))
        statuses = mine.budget_status()  # this process's unused leases go back first
        assert trips == [len(users)]
        assert all(s.reserved_usd == 0 for s in statuses)
        other._leases = None
        spent = usd(call())
        for user in users:  # nothing of this process's leases is still held
            other.release(other.reserve("gpt-4.1", Decimal(1) - spent,
                                        Attribution(user=user)))


def _only_lease(ledger: CostLedger) -> object:
    [lease] = ledger._leases._by_id.values()  # type: ignore[union-attr]
    return lease


def test_a_queued_call_gives_back_what_it_did_not_spend_once_written(
    url: str, clock: Clock
) -> None:
    """Group commit settles lease shares when their batch is written (warm, under one lock):
    the unspent part comes back then, exactly once, whoever commits the batch."""
    with CostLedger(url, clock=clock, catalog=CATALOG) as ledger:
        ledger.set_budget("100", scope="user", key="alice", period="day")
        first = ledger.reserve("gpt-4.1", ESTIMATE, ALICE)
        lease = _only_lease(ledger)
        holds = [first] + [ledger.reserve("gpt-4.1", ESTIMATE, ALICE) for _ in range(4)]
        lent = lease.available  # type: ignore[attr-defined]
        infos = [call(user="alice") for _ in holds]
        assert all(usd(i) < ESTIMATE for i in infos)
        for hold, info in zip(holds, infos, strict=True):
            assert ledger._settle_soon(hold, info)
            ledger._settle_soon(hold, info)  # twice: written once, given back once
        ledger.flush()
        unspent = sum(to_nano(ESTIMATE, up=True) - to_nano(usd(i), up=True) for i in infos)
        assert lease.available == lent + unspent  # type: ignore[attr-defined]
        [status] = ledger.budget_status()
        assert status.spent_usd == sum((usd(i) for i in infos), Decimal(0))
        assert status.reserved_usd == 0


def test_a_queued_call_that_cost_more_than_it_held_is_taken_from_its_lease_at_once(
    url: str, clock: Clock
) -> None:
    """Settling later only ever lends less meanwhile: a call that spent more than its share held
    is taken from the lease before the caller returns, so no later share counts on it."""
    tiny = Decimal("0.000001")
    with CostLedger(url, clock=clock, catalog=CATALOG) as ledger:
        ledger.set_budget("100", scope="user", key="alice", period="day")
        hold = ledger.reserve("gpt-4.1", tiny, ALICE)
        lease = _only_lease(ledger)
        lent = lease.available  # type: ignore[attr-defined]
        info = call(user="alice")
        assert ledger._settle_soon(hold, info)
        over = to_nano(usd(info), up=True) - to_nano(tiny, up=True)
        assert lease.available == lent - over  # type: ignore[attr-defined]
        ledger.flush()
        assert lease.available == lent - over  # type: ignore[attr-defined]
        [status] = ledger.budget_status()
        assert status.spent_usd == usd(info) and status.reserved_usd == 0
