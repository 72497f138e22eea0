"""Soak: does every dollar the relay billed reach the ledger, and the budget hold, under faults?

Several processes share one SQLite ledger with a global budget and call one loopback
``RelayEmulator`` (in this process) that fails at random: 429s, 503s, streams cut mid-way and
error frames inside 200 streams. The emulator bills like a real relay (a cut or errored stream
for its prompt plus what it generated before the cut), so at the end its bill is compared with
what the ledger recorded: calls, dollars, the gap in %, and how far the relay-billed spend went
past the budget (in dollars and in reservations of the largest call).

    python benchmarks/soak.py              # 3,000 calls, 4 processes x 4 in flight, < 1 min
    python benchmarks/soak.py --calls 10000 --processes 8 --concurrency 64   # the #9 soak
    python benchmarks/soak.py --help       # fault rates, budget share, stream share, seed

Bounded in count (``--calls``) and time (``--max-seconds``: no new call starts after it).
Loopback only. Results are printed and written to ``benchmarks/results/soak-latest.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import random
import sys
import tempfile
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent / "shared"
if str(SHARED) not in sys.path:  # run from the source tree without installing
    sys.path.insert(0, str(SHARED))

MODELS = ("deepseek-v3.2", "gemini-2.5-flash", "gpt-4.1", "claude-sonnet-4.5")
MAX_TOKENS = 200
_VOCABULARY = (
    "ledger budget relay stream token usage answer model price window cache reasoning tool "
    "call spool retry fault cut error chunk finish reserve settle record estimate report"
)
LOREM = tuple(_VOCABULARY.split(" "))


def messages_for(worker: int, n: int, words: int) -> list[dict[str, str]]:
    """The prompt of call ``n`` of ``worker``: ``words`` words (the emulator echoes them)."""
    rng = random.Random(worker * 1_000_003 + n)
    text = " ".join(rng.choice(LOREM) for _ in range(words))
    return [{"role": "user", "content": f"Worker {worker}, call {n}: {text}"}]


# ---------------------------------------------------------------- one worker process


def work(config: dict[str, Any], worker: int, barrier: Any, results: Any) -> None:
    """Run this worker's share of the calls with its share of the concurrency; report counts."""
    stats = asyncio.run(_work(config, worker, barrier))
    results.put(stats)


async def _work(config: dict[str, Any], worker: int, barrier: Any) -> dict[str, Any]:
    from holysheep import HolySheepClient, RetryPolicy
    from holysheep.ledger import CostLedger

    retry = RetryPolicy(max_attempts=8, initial_delay=0.005, max_delay=0.05, deadline=30.0)
    outcomes: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    processes, tasks = config["processes"], config["tasks_per_process"]
    mine = list(range(worker, config["calls"], processes))
    deadline = time.monotonic() + config["max_seconds"]
    with CostLedger(config["ledger"]) as ledger:
        client = HolySheepClient(
            api_key="hs-soak-not-a-secret", base_url=config["base_url"], retry=retry, ledger=ledger
        )
        barrier.wait(timeout=120)

        async def one_task(slot: int) -> None:
            for n in mine[slot::tasks]:
                if time.monotonic() > deadline:
                    outcomes["not started (time)"] += 1
                    continue
                await _one_call(client, config, worker, n, outcomes, errors)

        try:
            await asyncio.gather(*(one_task(i) for i in range(tasks)))
        finally:
            await client.aclose()
    return {"outcomes": dict(outcomes), "errors": dict(errors)}


async def _one_call(
    client: Any, config: dict[str, Any], worker: int, n: int, outcomes: Counter, errors: Counter
) -> None:
    """One call (a stream or a chat, as the share says); counts what the caller got."""
    from holysheep import BudgetExceededError, HolySheepError, StreamError

    params = {
        "model": MODELS[n % len(MODELS)],
        "messages": messages_for(worker, n, config["words"]),
        "max_tokens": MAX_TOKENS,
        "app": "soak",
    }
    streamed = random.Random(n).random() < config["stream_share"]
    stream = None
    try:
        if streamed:
            stream = client.astream(**params)
            async with stream:
                async for _ in stream:
                    pass
            info = stream.call_info
        else:
            info = (await client.achat(**params)).call_info
        outcomes["answered, usage estimated" if info.estimated else "answered"] += 1
    except BudgetExceededError:
        outcomes["refused by the budget"] += 1
    except StreamError as exc:
        lost = stream is not None and stream.finished
        outcomes["stream error after the finish (answer lost)" if lost else "stream error"] += 1
        if stream is not None and stream.call_info is not None and stream.call_info.estimated:
            outcomes["stream error, usage estimated"] += 1
        errors[str(exc).split(";")[0][:70]] += 1
    except HolySheepError as exc:
        outcomes[f"failed: {type(exc).__name__}"] += 1
    except Exception as exc:  # a raw dependency error is a bug: count it, keep soaking
        outcomes[f"RAW {type(exc).__name__}"] += 1


# ---------------------------------------------------------------- the run


def probe_cost(base_url: str, words: int) -> Decimal:
    """The mean cost of one answered call (one per model, no faults), for sizing the budget."""
    from holysheep import HolySheepClient

    with HolySheepClient(api_key="hs-soak-not-a-secret", base_url=base_url) as client:
        costs = [
            client.chat(
                model=m, messages=messages_for(0, i, words), max_tokens=MAX_TOKENS
            ).call_info.cost.total_usd
            for i, m in enumerate(MODELS)
        ]
    return sum(costs, Decimal(0)) / len(costs)


def largest_reservation(catalog: Any, words: int) -> Decimal:
    """What the ledger reserves for the dearest call of the run (prompt plus max_tokens)."""
    from holysheep.ledger import estimate_call_usd

    return max(
        estimate_call_usd(catalog.find(m), messages_for(99, 99, words), MAX_TOKENS) for m in MODELS
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the soak; returns the figures."""
    from holysheep.catalog import ModelCatalog
    from holysheep.ledger import CostLedger
    from holysheep.testing import RelayEmulator
    from holysheep.usage import Usage

    catalog = ModelCatalog.default()
    tasks = max(1, args.concurrency // args.processes)
    with tempfile.TemporaryDirectory() as tmp, RelayEmulator() as relay:
        mean_cost = probe_cost(relay.base_url, args.words)
        relay.reset()
        expected = mean_cost * args.calls
        limit = Decimal(args.budget) if args.budget else expected * Decimal(str(args.budget_share))
        limit = limit.quantize(Decimal("0.000001"))
        url = f"sqlite:///{Path(tmp) / 'soak.db'}"
        with CostLedger(url) as ledger:
            ledger.set_budget(limit, period="all")
        relay.random_faults(
            rate_limited=args.rate_limited,
            unavailable=args.unavailable,
            cut=args.cut,
            stream_error=args.stream_error,
            seed=args.seed,
        )
        config = {
            "base_url": relay.base_url,
            "ledger": url,
            "calls": args.calls,
            "processes": args.processes,
            "tasks_per_process": tasks,
            "words": args.words,
            "stream_share": args.stream_share,
            "max_seconds": args.max_seconds,
        }
        started = time.perf_counter()
        stats = _spawn(config, args.processes, args.max_seconds)
        elapsed = time.perf_counter() - started
        billed = list(relay.billed)
        with CostLedger(url) as ledger:
            [total] = ledger.totals([])
            [status] = ledger.budget_status()
    billed_usd = sum(
        (catalog.cost(model, Usage.from_wire(usage)).total_usd for model, usage in billed),
        Decimal(0),
    )
    outcomes: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for s in stats:
        outcomes.update(s["outcomes"])
        errors.update(s["errors"])
    reservation = largest_reservation(catalog, args.words)
    overshoot = max(Decimal(0), billed_usd - limit)
    gap = (billed_usd - total.total_usd) / billed_usd * 100 if billed_usd else Decimal(0)
    return {
        "calls": args.calls,
        "processes": args.processes,
        "concurrency": tasks * args.processes,
        "seconds": round(elapsed, 1),
        "relay_billed_calls": len(billed),
        "ledger_recorded_calls": total.calls,
        "relay_billed_usd": str(billed_usd.quantize(Decimal("0.000001"))),
        "ledger_recorded_usd": str(total.total_usd.quantize(Decimal("0.000001"))),
        "gap_pct": float(round(gap, 4)),
        "budget_usd": str(limit),
        "ledger_spent_usd": str(status.spent_usd.quantize(Decimal("0.000001"))),
        "ledger_reserved_usd_left": str(status.reserved_usd),
        "relay_overshoot_usd": str(overshoot.quantize(Decimal("0.000001"))),
        "relay_overshoot_pct_of_budget": float(round(overshoot / limit * 100, 4)),
        "largest_reservation_usd": str(reservation.quantize(Decimal("0.000001"))),
        "overshoot_in_reservations": float(round(overshoot / reservation, 3)),
        "outcomes": dict(sorted(outcomes.items())),
        "stream_errors": dict(errors.most_common(5)),
    }


def _spawn(config: dict[str, Any], processes: int, max_seconds: float) -> list[dict[str, Any]]:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(processes), ctx.Queue()
    procs = [ctx.Process(target=work, args=(config, i, barrier, results)) for i in range(processes)]
    for proc in procs:
        proc.start()
    try:
        return [results.get(timeout=max_seconds + 180) for _ in procs]
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.terminate()
                proc.join()


def main(argv: list[str] | None = None) -> int:
    """Parse flags, run, print the figures, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000, help="calls in all (3000)")
    parser.add_argument("--processes", type=int, default=4, help="worker processes (4)")
    parser.add_argument("--concurrency", type=int, default=16, help="calls in flight, all (16)")
    parser.add_argument("--rate-limited", type=float, default=0.10, help="429 rate (0.10)")
    parser.add_argument("--unavailable", type=float, default=0.05, help="503 rate (0.05)")
    parser.add_argument("--cut", type=float, default=0.02, help="cut-stream rate (0.02)")
    parser.add_argument("--stream-error", type=float, default=0.01,
                        help="rate of error frames inside 200 streams (0.01)")
    parser.add_argument("--stream-share", type=float, default=0.8, help="streamed calls (0.8)")
    parser.add_argument("--words", type=int, default=40, help="prompt words; echoed back (40)")
    parser.add_argument("--budget", help="budget in USD (default: --budget-share of the spend)")
    parser.add_argument("--budget-share", type=float, default=0.7,
                        help="budget as a share of what all calls would cost (0.7)")
    parser.add_argument("--max-seconds", type=float, default=240.0,
                        help="no call starts after this (240)")
    parser.add_argument("--seed", type=int, default=9, help="fault generator seed (9)")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "soak-latest.json")
    args = parser.parse_args(argv)
    if args.processes < 1 or args.calls < 1 or args.concurrency < args.processes:
        parser.error("need --calls >= 1, --processes >= 1 and --concurrency >= --processes")
    figures = run(args)
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        if isinstance(value, dict):
            print(f"{key}:")
            for k, v in value.items():
                print(f"  {v:>6}  {k}")
        else:
            print(f"{key:<{width}}  {value}")
    settings = {k: v for k, v in vars(args).items() if k != "json"}
    meta = {"python": platform.python_version(), "cpus": os.cpu_count(), "args": settings}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"meta": meta, "figures": figures}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
