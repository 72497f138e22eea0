"""Ledger overhead per call: ``reserve`` + ``settle`` on memory, SQLite and Redis, in microseconds.

One process, one thread, calls made back to back (no relay in the loop: only the ledger's own
time is measured). Three cases per backend: no budget set (reserve is nearly free), one global
budget, and four budgets that all apply (global, user, app, model). Each case runs ``--rounds``
times and keeps the best round (noise only ever adds).

    python benchmarks/bench_ledger.py                      # memory and SQLite
    python benchmarks/bench_ledger.py --redis redis://127.0.0.1:6379/15

Redis keys go under a fresh prefix and are deleted afterwards (the database is not flushed).
Results are printed and written to ``benchmarks/results/ledger-latest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent / "shared"
if str(SHARED) not in sys.path:  # run from the source tree without installing
    sys.path.insert(0, str(SHARED))

from holysheep.calls import Attribution, CallInfo  # noqa: E402
from holysheep.catalog import ModelCatalog  # noqa: E402
from holysheep.ledger import CostLedger  # noqa: E402
from holysheep.usage import Usage  # noqa: E402

CATALOG = ModelCatalog.shipped()
ATTRIBUTION = Attribution(task="qa", user="alice", app="web")
CASES: dict[str, list[dict[str, str]]] = {
    "no budget": [],
    "1 budget": [{}],
    "4 budgets": [
        {},
        {"scope": "user", "key": "alice", "period": "day"},
        {"scope": "app", "key": "web"},
        {"scope": "model", "key": "gpt-4.1", "period": "all"},
    ],
}
"""Budgets set per case (all far above what the run spends, so nothing is refused)."""


def calls(n: int) -> list[CallInfo]:
    """``n`` distinct billed calls, built before timing starts."""
    usage = Usage(1200, 300, 1500, 200, 0)
    cost = CATALOG.cost("gpt-4.1", usage)
    run = uuid.uuid4().hex[:8]
    return [
        CallInfo(
            id=f"chatcmpl-{run}-{i}",
            requested_model="gpt-4.1",
            model="gpt-4.1",
            usage=usage,
            cost=cost,
            attribution=ATTRIBUTION,
            latency_s=0.5,
            attempts=1,
            streamed=False,
            request_id=f"req_{i}",
        )
        for i in range(n)
    ]


def measure(url: str, case: str, n: int, rounds: int) -> dict[str, float]:
    """Best-round microseconds per reserve, per settle and per call (both) for one case."""
    best = {"reserve_us": float("inf"), "settle_us": float("inf"), "call_us": float("inf")}
    for _ in range(rounds):
        infos = calls(n)
        with CostLedger(url, catalog=CATALOG) as ledger:
            for budget in CASES[case]:
                ledger.set_budget("1000000", **budget)  # type: ignore[arg-type]
            reserve_ns = settle_ns = 0
            for info in infos:
                t0 = time.perf_counter_ns()
                hold = ledger.reserve("gpt-4.1", Decimal("0.01"), ATTRIBUTION)
                t1 = time.perf_counter_ns()
                ledger.settle(hold, info)
                settle_ns += time.perf_counter_ns() - t1
                reserve_ns += t1 - t0
        best["reserve_us"] = min(best["reserve_us"], reserve_ns / n / 1000)
        best["settle_us"] = min(best["settle_us"], settle_ns / n / 1000)
        best["call_us"] = min(best["call_us"], (reserve_ns + settle_ns) / n / 1000)
    return best


def redis_url(base: str) -> tuple[str, Callable[[], None]]:
    """``base`` with a fresh key prefix, and a cleanup deleting that prefix's keys."""
    import redis

    prefix = f"holysheep-bench-{uuid.uuid4().hex[:8]}:{{ledger}}:"
    sep = "&" if "?" in base else "?"

    def cleanup() -> None:
        client = redis.Redis.from_url(base)
        try:
            for key in client.scan_iter(match=f"{prefix}*"):
                client.delete(key)
        finally:
            client.close()

    return f"{base}{sep}prefix={prefix}", cleanup


def main(argv: list[str] | None = None) -> int:
    """Run every case on every backend asked for, print a table, write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--redis", default=os.environ.get("HOLYSHEEP_TEST_REDIS"), help="a Redis URL to include"
    )
    parser.add_argument("--out", default=str(HERE / "results" / "ledger-latest.json"))
    args = parser.parse_args(argv)
    results: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        backends = {"memory": "memory", "sqlite": f"sqlite:///{Path(tmp) / 'bench.db'}"}
        cleanup = None
        if args.redis:
            backends["redis"], cleanup = redis_url(args.redis)
        try:
            for name, url in backends.items():
                results[name] = {c: measure(url, c, args.calls, args.rounds) for c in CASES}
        finally:
            if cleanup is not None:
                cleanup()
    print(f"{'backend':8} {'case':10} {'reserve us':>11} {'settle us':>10} {'per call us':>12}")
    for name, cases in results.items():
        for case, r in cases.items():
            print(
                f"{name:8} {case:10} {r['reserve_us']:>11.1f} {r['settle_us']:>10.1f} "
                f"{r['call_us']:>12.1f}"
            )
    meta = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "calls_per_round": args.calls,
        "rounds": args.rounds,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
