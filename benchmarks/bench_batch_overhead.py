"""The bulk-job machinery's own CPU per request, with no network: ``abatch`` over a stub
``achat`` that returns a parsed completion, against the same stub called bare at the same
concurrency (issue #10; the figures in benchmarks/README.md, "bench_batch.py" section).

    python benchmarks/bench_batch_overhead.py                 # bare, memory, sqlite; best of 7
    python benchmarks/bench_batch_overhead.py --requests 20000 --rounds 9 --profile sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "shared")]

from holysheep import HolySheepClient  # noqa: E402
from holysheep.calls import Attribution, CallInfo  # noqa: E402
from holysheep.costs import Cost  # noqa: E402
from holysheep.usage import Usage  # noqa: E402
from holysheep.wire import ChatCompletion  # noqa: E402

RAW = (b'{"id":"chatcmpl-%d","object":"chat.completion","created":1700000000,'
       b'"model":"deepseek-v3.2","choices":[{"index":0,"finish_reason":"stop","message":'
       b'{"role":"assistant","content":"An answer of some length, as the emulator gives."}}],'
       b'"usage":{"prompt_tokens":12,"completion_tokens":9,"total_tokens":21}}')
COST = Cost("deepseek-v3.2", Decimal("0.0000034"), Decimal(0), Decimal("0.0000038"),
            Decimal("0.0000072"), Decimal("0.0000526"))
CONCURRENCY = 64


class StubRelay:
    """``achat`` as the client's would return it, with its call info, and no network."""

    def __init__(self) -> None:
        self.calls = 0

    async def achat(self, body: Any = None, **options: Any) -> ChatCompletion:
        await asyncio.sleep(0)
        self.calls += 1
        completion = ChatCompletion.model_validate_json(RAW % self.calls)
        completion.__pydantic_private__["_call_info"] = CallInfo(  # type: ignore[index]
            id=completion.id, requested_model="deepseek-v3.2", model="deepseek-v3.2",
            usage=Usage(12, 9, 21), cost=COST, attribution=Attribution(task=options.get("task")),
            latency_s=0.01, attempts=1, streamed=False, request_id=f"req-{self.calls}")
        return completion


def requests(n: int, tag: str) -> list[dict[str, Any]]:
    """``n`` distinct short-form requests (no two bodies alike: nothing is deduplicated)."""
    return [{"custom_id": f"{tag}-{i}", "model": "deepseek-v3.2", "max_tokens": 16,
             "messages": [{"role": "user", "content": f"{tag} question {i}"}]} for i in range(n)]


async def bare(stub: StubRelay, items: list[dict[str, Any]]) -> None:
    todo = iter(items)

    async def worker() -> None:
        for item in todo:
            await stub.achat({k: v for k, v in item.items() if k != "custom_id"})

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


async def batched(client: HolySheepClient, items: list[dict[str, Any]], journal: str | None
                  ) -> None:
    run = client.abatch(items, concurrency=CONCURRENCY, journal=journal)
    async for result in run:
        if result.error is not None:
            raise result.error


def cpu_us(mode: str, n: int, round_no: int) -> float:
    """CPU of the whole process (the journal's threads count) per request, one round."""
    stub = StubRelay()
    client = HolySheepClient(api_key="stub", base_url="http://127.0.0.1:9")
    client.achat = stub.achat  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as tmp:
        items = requests(n, f"{mode}{round_no}")
        journal = None if mode == "memory" else f"{tmp}/journal.db"
        gc.collect()
        started = time.process_time()
        asyncio.run(bare(stub, items) if mode == "bare" else batched(client, items, journal))
        spent = time.process_time() - started
    client.close()
    return spent / n * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--profile", choices=("memory", "sqlite"), help="cProfile one round")
    args = parser.parse_args(argv)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(cpu_us, args.profile, args.requests, 0)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        return
    best = {mode: float("inf") for mode in ("bare", "memory", "sqlite")}
    for round_no in range(args.rounds):  # interleaved: a busy moment hits every mode alike
        for mode in best:
            best[mode] = min(best[mode], cpu_us(mode, args.requests, round_no))
    print(f"CPU µs per request, best of {args.rounds}, {args.requests:,} requests at "
          f"{CONCURRENCY}:")
    for mode, value in best.items():
        extra = "" if mode == "bare" else f"  (job overhead {value - best['bare']:.1f})"
        print(f"  {mode:7} {value:6.1f}{extra}")


if __name__ == "__main__":
    main()
