"""Bulk jobs: throughput against bare ``achat``, peak memory on a big input, journal cost.

Three measurements, each against the relay emulator run in its own process (so its CPU is not
charged to the client):

* throughput: ``--requests`` (10,000) requests at concurrency 64, ``client.abatch`` with a SQLite
  journal against bare ``achat`` calls by 64 workers, interleaved, best of ``--rounds``; the
  ratio is the figure (target: at least 0.80).
* peak RSS of ``holysheep batch`` on a ``--lines`` (100,000) line input (target: under 150 MB).
* journal overhead per request in microseconds (lookup, claim, commit), SQLite and Redis, with
  no relay in the loop.

    python benchmarks/bench_batch.py                     # full, ~3 min on 2 CPUs
    python benchmarks/bench_batch.py --quick             # small counts, ~30 s
    python benchmarks/bench_batch.py --redis redis://127.0.0.1:6379/15

Results are printed and written to ``benchmarks/results/batch-latest.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT / "shared"
for _path in (str(ROOT), str(SHARED)):  # run from the source tree without installing
    if _path not in sys.path:
        sys.path.insert(0, _path)

from holysheep import HolySheepClient  # noqa: E402
from holysheep.batch import open_journal  # noqa: E402
from holysheep.batch._records import encode_ok  # noqa: E402
from holysheep.wire import ChatCompletion  # noqa: E402

MODEL = "deepseek-v3.2"


def emulator() -> tuple[subprocess.Popen[str], str]:
    """Start the relay emulator in its own process; return it and its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "holysheep.testing.emulator", "--port", "0", "--quiet"],
        # --quiet: a log line per request would fill the unread pipe and stall the emulator
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(SHARED)},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if " on " not in line:
        raise RuntimeError(f"the emulator did not start: {line!r}")
    return proc, line.rsplit(" ", 1)[1].strip()


def requests(n: int, tag: str) -> list[dict[str, object]]:
    """``n`` distinct short requests (no duplicates: dedup must not flatter the batch)."""
    return [
        {"custom_id": f"{tag}-{i}", "model": MODEL, "max_tokens": 16,
         "messages": [{"role": "user", "content": f"{tag} question {i}"}]}
        for i in range(n)
    ]


async def bare(client: HolySheepClient, items: list[dict[str, object]], concurrency: int) -> None:
    """Bare ``achat`` calls by ``concurrency`` workers sharing one queue."""
    todo = iter(items)

    async def worker() -> None:
        for item in todo:
            body = {k: v for k, v in item.items() if k != "custom_id"}
            await client.achat(body)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def batched(client: HolySheepClient, items: list[dict[str, object]], concurrency: int,
                  journal: str) -> None:
    """The same requests as one job with a SQLite journal."""
    run = client.abatch(items, concurrency=concurrency, journal=journal)
    async for result in run:
        if result.error is not None:
            raise result.error
    assert run.summary.billed_calls == len(items)


def throughput(base_url: str, n: int, concurrency: int, rounds: int) -> dict[str, float]:
    """Requests per second of bare ``achat`` and of ``abatch``, best round each."""
    best = {"bare": 0.0, "batch": 0.0}

    async def main() -> None:
        async with HolySheepClient(api_key="bench", base_url=base_url) as client:
            await bare(client, requests(200, "warm"), concurrency)
            for r in range(rounds):
                with tempfile.TemporaryDirectory() as tmp:
                    for name in ("bare", "batch") if r % 2 == 0 else ("batch", "bare"):
                        items = requests(n, f"{name}{r}")
                        gc.collect()
                        start = time.perf_counter()
                        if name == "bare":
                            await bare(client, items, concurrency)
                        else:
                            await batched(client, items, concurrency, f"{tmp}/job.db")
                        rate = n / (time.perf_counter() - start)
                        best[name] = max(best[name], rate)

    asyncio.run(main())
    return {**best, "ratio": best["batch"] / best["bare"]}


def peak_rss(base_url: str, lines: int) -> dict[str, float]:
    """Peak RSS (MB) of ``holysheep batch`` on a ``lines``-line input, and of an idle client."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.jsonl"
        with path.open("w") as handle:
            for item in requests(lines, "rss"):
                handle.write(json.dumps(item) + "\n")
        env = {**os.environ, "PYTHONPATH": f"{SHARED}{os.pathsep}{ROOT}",
               "HOLYSHEEP_API_KEY": "bench", "HOLYSHEEP_BASE_URL": base_url}
        # VmHWM, not ru_maxrss: Linux carries the parent's peak across fork and exec
        hwm = ("print('RSS', [line.split()[1] for line in open('/proc/self/status') "
               "if line.startswith('VmHWM')][0])")
        probe = (
            f"import sys; from holysheep.cli import main; code = main(sys.argv[1:]); {hwm}; "
            "raise SystemExit(code)"
        )
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", probe, "batch", str(path), "-o", f"{tmp}/out.jsonl",
             "--concurrency", "64"],
            env=env, capture_output=True, text=True,
        )
        wall = time.perf_counter() - start
        if out.returncode != 0:
            raise RuntimeError(f"holysheep batch exited {out.returncode}: {out.stderr[-1500:]}")
        idle = subprocess.run(
            [sys.executable, "-c", f"import holysheep.cli, holysheep.batch._run; {hwm}"],
            env=env, capture_output=True, text=True, check=True,
        )
    kb = int(out.stdout.split("RSS")[-1].split()[0])
    idle_kb = int(idle.stdout.split("RSS")[-1].split()[0])
    return {"lines": lines, "peak_rss_mb": kb / 1024, "import_rss_mb": idle_kb / 1024,
            "wall_s": wall}


def journal_overhead(url: str, job: str | None, n: int) -> float:
    """Microseconds per request of the journal's work: lookup and claim, then commit."""
    completion = ChatCompletion.model_validate({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": MODEL,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "An answer of some length."}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
    })
    record = encode_ok(completion, None)
    journal = open_journal(url, job)
    try:
        keys = [uuid.uuid4().hex for _ in range(n)]
        gc.collect()
        start = time.perf_counter()
        for key in keys:  # one request at a time: no group commit flatters the figure
            journal.lookup(key, key, 0.0)
            journal.finish([(key, record, Decimal("0.00001"), [(key, key, True)])])
        return (time.perf_counter() - start) / n * 1e6
    finally:
        journal.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts, one round")
    parser.add_argument("--requests", type=int, default=None, help="throughput requests (10000)")
    parser.add_argument("--lines", type=int, default=None, help="RSS input lines (100000)")
    parser.add_argument("--rounds", type=int, default=None, help="throughput rounds (2)")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--redis", default=None, help="redis://... for the Redis journal row")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "batch-latest.json")
    args = parser.parse_args(argv)
    n = args.requests or (2000 if args.quick else 10_000)
    lines = args.lines or (10_000 if args.quick else 100_000)
    rounds = args.rounds or (1 if args.quick else 2)
    proc, base_url = emulator()
    try:
        rates = throughput(base_url, n, args.concurrency, rounds)
        print(f"throughput, {n:,} requests at concurrency {args.concurrency}: bare achat "
              f"{rates['bare']:,.0f}/s, abatch + SQLite journal {rates['batch']:,.0f}/s, "
              f"ratio {rates['ratio']:.2f} (target >= 0.80)")
        memory = peak_rss(base_url, lines)
        print(f"peak RSS, holysheep batch on {lines:,} lines: {memory['peak_rss_mb']:.0f} MB "
              f"(import alone {memory['import_rss_mb']:.0f} MB; target < 150 MB), "
              f"{memory['wall_s']:.0f} s")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    journal: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        journal["sqlite_us"] = journal_overhead(f"{tmp}/j.db", None, 2000 if args.quick else 10000)
    if args.redis:
        job = f"bench-{uuid.uuid4().hex[:8]}"
        journal["redis_us"] = journal_overhead(args.redis, job, 1000 if args.quick else 5000)
        import redis

        client = redis.Redis.from_url(args.redis)
        for key in client.scan_iter(f"holysheep:batch:{job}:*"):
            client.delete(key)
        client.close()
    print("journal overhead per request: " + ", ".join(
        f"{name[:-3]} {value:,.0f} µs" for name, value in journal.items()))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "python": platform.python_version(), "cpus": os.cpu_count(),
        "requests": n, "concurrency": args.concurrency, "throughput": rates,
        "memory": memory, "journal": journal,
    }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
