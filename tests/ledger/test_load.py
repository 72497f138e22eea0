"""The load check: 8 processes x 250 calls against one budget, through one emulator.

Per backend (SQLite, Redis): what the ledger recorded equals what the emulator billed, to the
last decimal; spending never crosses the limit; no reservation is left behind; every successful
call is one entry. Failed calls (injected 503s) release their holds. Run with ``-s`` to see the
figures, including the ledger's own time per call (reserve + settle or release).
"""

from __future__ import annotations

import multiprocessing
import time
from decimal import Decimal
from pathlib import Path

import pytest
from holysheep import HolySheepClient
from holysheep.ledger import CostLedger
from holysheep.testing import RelayEmulator
from holysheep.usage import Usage

from . import _load_worker
from .conftest import backend_url
from .helpers import CATALOG

pytestmark = pytest.mark.load

PROCESSES = 8
CALLS = 250
FAILURES = 20
SHARE = Decimal("0.7")  # the budget fits about this share of the calls' real cost


@pytest.fixture(scope="module")
def relay() -> RelayEmulator:
    with RelayEmulator(latency=0) as relay:
        yield relay


def _cost_of_one_round(relay: RelayEmulator) -> Decimal:
    """What one call to each model costs on the emulator (its replies echo the prompt)."""
    with HolySheepClient(api_key="hs-load-test", base_url=relay.base_url) as client:
        costs = [
            client.chat(
                model=model,
                messages=_load_worker.messages_for(0, 0),
                max_tokens=_load_worker.MAX_TOKENS,
            ).call_info.cost.total_usd
            for model in _load_worker.MODELS
        ]
    relay.reset()
    return sum(costs, Decimal(0))


def _run_workers(url: str, relay: RelayEmulator) -> list[dict]:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [
        ctx.Process(target=_load_worker.run, args=(url, relay.base_url, i, CALLS, barrier, results))
        for i in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    try:
        stats = [results.get(timeout=240) for _ in procs]
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.terminate()
                proc.join()
        results.close()
        results.join_thread()
    assert all(proc.exitcode == 0 for proc in procs)
    return stats


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_many_processes_one_budget(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, relay: RelayEmulator
) -> None:
    url = backend_url(backend, tmp_path, request)
    relay.reset()
    real_cost = _cost_of_one_round(relay) * PROCESSES * CALLS / len(_load_worker.MODELS)
    limit = (real_cost * SHARE).quantize(Decimal("0.000001"))
    with CostLedger(url) as ledger:
        ledger.set_budget(limit)
    relay.fail(503, times=FAILURES)

    started = time.perf_counter()
    stats = _run_workers(url, relay)
    elapsed = time.perf_counter() - started

    settled = sum(s["settled"] for s in stats)
    refused = sum(s["refused"] for s in stats)
    failed = sum(s["failed"] for s in stats)
    billed = sum(
        (CATALOG.cost(model, Usage.from_wire(usage)).total_usd for model, usage in relay.billed),
        Decimal(0),
    )
    with CostLedger(url) as ledger:
        [total] = ledger.totals([])
        [status] = ledger.budget_status()
        entries = len(ledger.entries())
    overhead_us = sum(s["ledger_ns"] for s in stats) / sum(s["ops"] + s["refused"] for s in stats)
    print(
        f"\n[{backend}] {PROCESSES} processes x {CALLS} calls in {elapsed:.1f} s: "
        f"{settled} settled, {refused} refused, {failed} failed (injected 503s); "
        f"recorded ${total.total_usd} vs billed ${billed}; spent ${status.spent_usd} of "
        f"${limit}; reserved ${status.reserved_usd}; ledger {overhead_us / 1000:.0f} us/call"
    )
    assert settled + refused + failed == PROCESSES * CALLS
    assert failed == FAILURES
    assert total.total_usd == billed  # exactly: to the last decimal, not just the cent
    assert total.calls == entries == settled == len(relay.billed)
    assert status.spent_usd <= limit
    assert status.reserved_usd == 0
    assert 0.6 <= settled / (PROCESSES * CALLS) <= 0.85
