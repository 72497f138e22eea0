"""One process of the lease checks: concurrent ``achat`` calls through a client with a ledger.

Kept out of the test modules so spawned children import only this and holysheep.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

MODEL = "gpt-4.1"


def run_async(ledger_url: str, base_url: str, calls: int, concurrency: int, barrier: Any,
              results: Any) -> None:
    """``calls`` achat calls, ``concurrency`` at a time, spread over 4 users; put the outcomes."""
    from holysheep import BudgetExceededError, HolySheepClient, RetryPolicy
    from holysheep.ledger import CostLedger

    stats: dict[str, Any] = {"ids": [], "refused": 0, "served": 0}

    async def main(ledger: CostLedger) -> None:
        todo = iter(range(calls))
        async with HolySheepClient(api_key="hs-lease-test", base_url=base_url,
                                        ledger=ledger, retry=RetryPolicy(max_attempts=1)) as c:
            async def worker() -> None:
                for n in todo:
                    try:
                        reply = await c.achat(
                            model=MODEL, messages=[{"role": "user", "content": f"call {n}"}],
                            max_tokens=16, user=f"user-{n % 4}",
                        )
                    except BudgetExceededError:
                        stats["refused"] += 1
                    else:
                        stats["ids"].append(reply.id)

            barrier.wait(timeout=120)  # all processes ready, clients open: start together
            await asyncio.gather(*(worker() for _ in range(concurrency)))

    with CostLedger(ledger_url) as ledger:
        asyncio.run(main(ledger))
        stats["served"] = ledger._leases.served if ledger._leases is not None else 0
    results.put(stats)


def hold_a_lease(ledger_url: str, ttl_s: float) -> None:
    """Take a lease, say so on stdout, then wait to be killed (a crashed process)."""
    from holysheep.calls import Attribution
    from holysheep.ledger import CostLedger

    ledger = CostLedger(ledger_url, reservation_ttl_s=ttl_s)
    hold = ledger.reserve(MODEL, "0.01", Attribution(user="alice"))
    print(hold.id, hold.expires_at, flush=True)
    sys.stdin.read()  # killed before this returns
    os._exit(3)


if __name__ == "__main__":
    hold_a_lease(sys.argv[1], float(sys.argv[2]))
