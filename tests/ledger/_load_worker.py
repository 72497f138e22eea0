"""One process of the load check: estimate -> reserve -> chat -> settle (or release), N times.

Kept out of the test module so spawned children import only this and holysheep. It drives the
ledger by hand (the client gets no ledger) so the ledger's own time can be measured per call.
"""

from __future__ import annotations

import time
from typing import Any

MODELS = ("deepseek-v3.2", "gemini-2.5-flash", "gpt-4.1", "claude-sonnet-4.5")
MAX_TOKENS = 32


def messages_for(worker: int, n: int) -> list[dict[str, str]]:
    """The prompt of call ``n`` of ``worker`` (the emulator echoes it back)."""
    return [{"role": "user", "content": f"Worker {worker}, call {n}: summarise today's notes."}]


def run(
    ledger_url: str, base_url: str, worker: int, calls: int, barrier: Any, results: Any
) -> None:
    """Make ``calls`` calls; put counts and the nanoseconds spent in reserve + settle/release."""
    from holysheep import BudgetExceededError, HolySheepClient, HolySheepError, RetryPolicy
    from holysheep.calls import Attribution
    from holysheep.ledger import CostLedger, estimate_call_usd

    stats = {"worker": worker, "settled": 0, "refused": 0, "failed": 0, "ledger_ns": 0, "ops": 0}
    attribution = Attribution(task="load", user=f"w{worker}", app="load-check")
    once = RetryPolicy(max_attempts=1)
    with (
        HolySheepClient(api_key="hs-load-test", base_url=base_url, retry=once) as client,
        CostLedger(ledger_url) as ledger,
    ):
        catalog = client.catalog
        barrier.wait(timeout=120)
        for n in range(calls):
            model = MODELS[n % len(MODELS)]
            messages = messages_for(worker, n)
            estimate = estimate_call_usd(catalog.find(model), messages, MAX_TOKENS)
            t0 = time.perf_counter_ns()
            try:
                hold = ledger.reserve(model, estimate, attribution)
            except BudgetExceededError:
                stats["ledger_ns"] += time.perf_counter_ns() - t0
                stats["refused"] += 1
                continue
            t1 = time.perf_counter_ns()
            try:
                reply = client.chat(
                    model=model,
                    messages=messages,
                    max_tokens=MAX_TOKENS,
                    user=attribution.user,
                    task=attribution.task,
                    app=attribution.app,
                )
            except HolySheepError:
                t2 = time.perf_counter_ns()
                ledger.release(hold)
                stats["failed"] += 1
            else:
                t2 = time.perf_counter_ns()
                if ledger.settle(hold, reply.call_info) is None:
                    raise AssertionError(f"call {reply.id} was recorded twice")
                stats["settled"] += 1
            stats["ledger_ns"] += (t1 - t0) + (time.perf_counter_ns() - t2)
            stats["ops"] += 1
    results.put(stats)


def run_client(ledger_url: str, base_url: str, calls: int, barrier: Any, results: Any) -> None:
    """Make ``calls`` sync chat calls through a client that owns the ledger; put the outcomes."""
    from holysheep import BudgetExceededError, HolySheepClient, RetryPolicy
    from holysheep.ledger import CostLedger

    stats = {"ids": [], "refused": 0}
    with (
        CostLedger(ledger_url) as ledger,
        HolySheepClient(api_key="hs-load-test", base_url=base_url, ledger=ledger,
                        retry=RetryPolicy(max_attempts=1)) as client,
    ):
        barrier.wait(timeout=120)
        for n in range(calls):
            try:
                reply = client.chat(model=MODELS[n % len(MODELS)], messages=messages_for(99, n),
                                    max_tokens=MAX_TOKENS, user=f"user-{n % 8}")
            except BudgetExceededError:
                stats["refused"] += 1
            else:
                stats["ids"].append(reply.id)
    results.put(stats)
