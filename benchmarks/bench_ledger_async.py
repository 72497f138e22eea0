"""What the ledger costs a real call: ``achat`` at 64 concurrent and sync ``chat``, per ledger.

One run against one loopback upstream (``_server.py``, in its own process, answering each call
with a new completion id so every call is a new ledger entry): ledger none / memory / SQLite /
SQLite with one budget per user (8 users, each call under one of them) / Redis / Redis with the
same budgets. Async: calls/s and client CPU per call (all threads of this process, so a ledger's
writer thread is counted), and the ratio of calls/s to the no-ledger client. Sync: CPU per call
and what each ledger adds to the no-ledger client. Rounds interleave the clients; the best round
of each is kept (noise only ever adds). Each timed batch ends with the ledger's pending records
committed (``flush()``), so deferred work is inside the measurement. A store's share of the
no-ledger calls/s is judged paired (the median over rounds of each round's ratio); a budget
case's gap below its plain case from the two paired with each other (``budget_gaps``; the gap
from the two medians over ``none``, noisier, is printed beside it and kept in the JSON).

    python benchmarks/bench_ledger_async.py --redis redis://127.0.0.1:6379/15
    python benchmarks/bench_ledger_async.py --quick
    python benchmarks/bench_ledger_async.py --before REV   # adds "<case>@before" rows: the
        # ledger package at git REV, loaded beside this one, in the same rounds
    python benchmarks/bench_ledger_async.py --random-ids --prefill 300000   # a ledger in use:
        # random completion ids (as relays send) into SQLite files holding 300,000 entries

By default the upstream numbers its completion ids (``chatcmpl-1``, ``-2``, ...) and every ledger
starts empty: the dedup index then takes each new key near the last one. Real ids are random, so
in a ledger that holds many entries each new key lands on an index page of its own, and SQLite
writes that page at commit: ``--random-ids --prefill N`` measures that case.

Redis keys go under a fresh prefix and are deleted afterwards (the database is not flushed).
Results are printed and written to ``benchmarks/results/ledger-async-latest.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import _harness as harness
from _harness import Sample
from bench_ledger import redis_url

MODEL = "gpt-4.1"
MESSAGES = [{"role": "user", "content": "Say hello in one short sentence."}]
USERS = tuple(f"user-{i}" for i in range(8))
TARGETS = {"sqlite": 0.85, "redis": 0.80}
"""Async calls/s of each ledger as a share of the no-ledger client (issue #14)."""

_SERVER = r"""
import itertools, sys, time
sys.path.insert(0, sys.argv[1])
import _server

class UniqueRoutes(_server.Routes):
    # every chat answer gets a new completion id and the current second as its "created", as a
    # relay's do (together they make the ledger's dedup key)
    def __init__(self, *args):
        super().__init__(*args)
        body = _server.completion_body()
        self._head, tail = body.split(b"chatcmpl-bench", 1)
        self._mid, self._tail = tail.split(b'"created":%d' % _server.CREATED, 1)
        self._ids = itertools.count(1)

    def answer(self, request_line, body):
        if request_line.startswith(b"POST /v1/chat/completions ") and b'"stream"' not in body:
            n = next(self._ids)
            return _server._response(self._head + b"chatcmpl-%d" % n + self._mid
                                     + b'"created":%d' % time.time() + self._tail)
        return super().answer(request_line, body)

_server.Routes = UniqueRoutes
sys.argv = [sys.argv[0], "--port", "0"]
_server.main()
"""


_RANDOM_IDS = ('b"chatcmpl-%d" % n', 'b"chatcmpl-" + os.urandom(14).hex().encode()')


@contextlib.contextmanager
def unique_server(random_ids: bool = False) -> Iterator[str]:
    """``_server.py`` answering every chat call with a new id (numbered, or ``random_ids`` as a
    relay's are); yields its base URL."""
    code = _SERVER.replace(*_RANDOM_IDS).replace("import itertools", "import itertools, os") \
        if random_ids else _SERVER
    with harness.server_process(["-c", code, str(harness.HERE)]) as base_url:
        yield base_url


def prefill(path: Path, count: int, created_first: bool = True) -> None:
    """Give the SQLite ledger file at ``path`` ``count`` entries with random ids, spread over the
    year before now (outside any budget window), as a ledger in use for a while holds; their keys
    are led by their time (``dedup_key``), or are the ids alone (``created_first=False``, as the
    ledger at ``--before`` revisions older than that key wrote them)."""
    import secrets
    import sqlite3

    from holysheep.ledger import CostLedger
    from holysheep.ledger._sqlite_schema import INSERT_ENTRY

    CostLedger(f"sqlite:///{path}").close()  # the schema
    start = int(time.time()) - 365 * 86_400
    step = 365 * 86_400 / max(count, 1)
    row = ("", "", "req", 0, MODEL, MODEL, None, USERS[0], None, "{}", 12, 9, 21, 0, 0, MODEL,
           "0.000024", "0", "0.000072", "0.000096", "0.000096", "0.0007008", 0.01, 1, 0, None, 0)

    def rows() -> Iterator[tuple[Any, ...]]:
        for n in range(count):
            created, call_id = int(start + n * step), f"chatcmpl-{secrets.token_hex(14)}"
            key = f"{created:010d}|{call_id}|req" if created_first else f"{call_id}|req"
            yield (key, call_id, *row[2:3], created * 1_000_000, *row[4:])

    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("BEGIN")
        conn.executemany(INSERT_ENTRY, rows())
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def load_ledger_at(rev: str) -> Any:
    """The ``CostLedger`` class of the ledger package at git ``rev``, loaded beside the current
    one as ``holysheep._ledger_before`` (it shares the rest of the current core)."""
    return harness.load_package_at(rev, "shared/holysheep/ledger", "_ledger_before").CostLedger


def ledgers(
    tmp: Path, redis: str | None, cleanups: list[Callable[[], None]], before: Any = None,
    no_lease: bool = False, entries: int = 0,
) -> dict[str, Callable[[], Any]]:
    """Ledger factories by case name (``None``: no ledger); Redis cleanups go to ``cleanups``.
    ``before``: an older ``CostLedger`` class, for a ``<case>@before`` twin of each store case;
    ``entries``: each SQLite file starts with that many (``prefill``)."""
    from holysheep.ledger import CostLedger


    def sqlite(make: Callable[[str], Any], name: str) -> Callable[[], Any]:
        path = tmp / f"{name}.db"

        def open_filled() -> Any:
            if entries:
                prefill(path, entries, created_first=not name.endswith("@before"))
            return make(f"sqlite:///{path}")

        return open_filled

    def budgeted(cls: Any, lease: bool = True) -> Callable[[str], Any]:
        def make(url: str) -> Any:
            ledger = cls(url)
            for user in USERS:
                ledger.set_budget("1000000", scope="user", key=user, period="day")
            if not lease:  # one hold per call, as before budget leases
                ledger._close_local()
                ledger._leases = None
                ledger._open_local()
                ledger._leases = None
            return ledger

        return make

    cases: dict[str, Callable[[], Any]] = {
        "none": lambda: None,
        "memory": lambda: CostLedger("memory"),
    }
    for cls, tag in ((CostLedger, ""), (before, "@before")):
        if cls is None:
            continue
        cases[f"sqlite{tag}"] = sqlite(cls, f"plain{tag}")
        cases[f"sqlite+budgets{tag}"] = sqlite(budgeted(cls), f"budgets{tag}")
        if no_lease and not tag:
            cases["sqlite+budgets-nolease"] = sqlite(budgeted(cls, False), "nolease")
        if redis:
            plain, drop = redis_url(redis)
            with_budgets, drop_budgets = redis_url(redis)
            cleanups += [drop, drop_budgets]
            cases[f"redis{tag}"] = functools.partial(cls, plain)
            cases[f"redis+budgets{tag}"] = functools.partial(budgeted(cls), with_budgets)
            if no_lease and not tag:
                without, drop_without = redis_url(redis)
                cleanups.append(drop_without)
                cases["redis+budgets-nolease"] = functools.partial(budgeted(cls, False), without)
    order = ("none", "memory", "sqlite", "sqlite@before", "sqlite+budgets",
             "sqlite+budgets@before", "sqlite+budgets-nolease", "redis", "redis@before",
             "redis+budgets", "redis+budgets@before", "redis+budgets-nolease")
    return {name: cases[name] for name in order if name in cases}


def flush(ledger: Any) -> None:
    """Commit what the ledger deferred (group commit), so it is inside the timed batch."""
    if ledger is not None and hasattr(ledger, "flush"):
        ledger.flush()


async def aflush(ledger: Any) -> None:
    """``flush`` without blocking the loop, when the ledger has the async twin."""
    if ledger is not None and hasattr(ledger, "aflush"):
        await ledger.aflush()
    else:
        flush(ledger)


async def run_async(
    client: Any, ledger: Any, calls: int, concurrency: int
) -> Sample:
    """``calls`` achat calls by ``concurrency`` workers, each call under one of ``USERS``."""
    import gc

    todo = iter(range(calls))
    gc.collect()

    async def worker() -> None:
        for i in todo:
            await client.achat(
                model=MODEL, messages=MESSAGES, max_tokens=50, user=USERS[i % len(USERS)]
            )

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await aflush(ledger)
    return Sample(calls, time.process_time() - cpu, time.perf_counter() - wall)


def run_sync(client: Any, ledger: Any, calls: int) -> Sample:
    """``calls`` sequential chat calls, each under one of ``USERS``."""
    import gc

    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(calls):
        client.chat(model=MODEL, messages=MESSAGES, max_tokens=50, user=USERS[i % len(USERS)])
    flush(ledger)
    return Sample(calls, time.process_time() - cpu, time.perf_counter() - wall)


async def measure_async(
    base_url: str, cases: dict[str, Callable[[], Any]], args: argparse.Namespace
) -> dict[str, list[Sample]]:
    """Every case's async rounds, interleaved."""
    from holysheep import HolySheepClient

    opened = {}
    for name, make in cases.items():
        ledger = make()
        client = HolySheepClient("bench", base_url, ledger=ledger, max_connections=100)
        opened[name] = (client, ledger)
        await run_async(client, ledger, args.concurrency * 4, args.concurrency)  # warm up
    samples: dict[str, list[Sample]] = {name: [] for name in cases}
    try:
        for _ in range(args.rounds):
            for name, (client, ledger) in opened.items():
                samples[name].append(
                    await run_async(client, ledger, args.async_calls, args.concurrency)
                )
    finally:
        for client, ledger in opened.values():
            await client.aclose()
            if ledger is not None:
                ledger.close()
    return samples


def measure_sync(
    base_url: str, cases: dict[str, Callable[[], Any]], args: argparse.Namespace
) -> dict[str, list[Sample]]:
    """Every case's sync rounds, interleaved."""
    from holysheep import HolySheepClient

    opened = {}
    for name, make in cases.items():
        ledger = make()
        client = HolySheepClient("bench", base_url, ledger=ledger)
        opened[name] = (client, ledger)
        run_sync(client, ledger, 200)  # warm up
    samples: dict[str, list[Sample]] = {name: [] for name in cases}
    try:
        for _ in range(args.rounds):
            for name, (client, ledger) in opened.items():
                samples[name].append(run_sync(client, ledger, args.calls))
    finally:
        for client, ledger in opened.values():
            client.close()
            if ledger is not None:
                ledger.close()
    return samples


def paired_shares(found: dict[str, list[Sample]]) -> dict[str, float]:
    """Each case's calls/s over the no-ledger client's in the SAME round, median over rounds.

    Rounds interleave the cases, so a round's ``none`` ran seconds before the case: a machine
    that speeds up or slows down between rounds (a shared VM does) moves both alike, which the
    best-of-rounds share does not cancel (its best ``none`` and best case may come from
    different rounds).
    """
    base = found.get("none")
    if not base:
        return {}
    return {name: statistics.median(s.rate / b.rate for s, b in zip(runs, base, strict=True))
            for name, runs in found.items()}


def budget_gaps(found: dict[str, list[Sample]], paired: dict[str, float]) -> dict[str, float]:
    """Each budget case's points below its plain case, from the two paired with each other.

    A budget case runs right after its plain case in every round, so its calls/s over the
    plain case's in the same round cancels the machine's drift better than the difference of
    two medians over ``none`` (each of which carries ``none``'s own noise): the gap is the plain
    case's paired share times (1 - that ratio's median over rounds).
    """
    gaps = {}
    for name, runs in found.items():
        plain = name.replace("+budgets", "")
        if plain == name or plain not in found or plain not in paired:
            continue
        ratio = statistics.median(
            b.rate / p.rate for b, p in zip(runs, found[plain], strict=True))
        gaps[name] = paired[plain] * (1 - ratio) * 100
    return gaps


def table(
    async_best: dict[str, tuple[float, float]], sync_best: dict[str, float],
    paired: dict[str, float] | None = None, gaps: dict[str, float] | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """The printed table and its rows; targets are judged on the paired share (``paired``)
    when there is one, else on the best-of-rounds share; a budget case on its gap below its
    plain case (``gaps``: ``budget_gaps``) when there is one, else on the paired shares."""
    base_rate = async_best["none"][0] if "none" in async_best else float("nan")
    base_cpu = sync_best.get("none", float("nan"))
    paired = paired or {}
    gaps = gaps or {}
    rows = []
    lines = [
        f"{'ledger':22} {'async calls/s':>14} {'vs none':>8} {'paired':>7} {'budgets':>8} "
        f"{'async CPU µs':>13} {'sync CPU µs':>12} {'sync added µs':>14}  target"
    ]
    for name in dict.fromkeys([*async_best, *sync_best]):
        rate, acpu = async_best.get(name, (float("nan"), float("nan")))
        scpu = sync_best.get(name, float("nan"))
        share = rate / base_rate
        judged = paired.get(name, share)
        plain = name.replace("+budgets", "")
        medians = (paired[plain] - judged) * 100 if plain != name and plain in paired else None
        points = gaps.get(name, medians)
        # the share targets are for the stores alone; a budget case is judged by its gap
        target = None if "+budgets" in name else TARGETS.get(name.split("@")[0])
        verdict = "" if target is None or judged != judged else (
            f">= {target:.2f} {'ok' if judged >= target else 'MISS'}")
        if points is not None:
            verdict += f"{points:.1f} pts below {plain}: <= 5 {'ok' if points <= 5 else 'MISS'}"
            if medians is not None and points is not medians:
                verdict += f" (from medians: {medians:.1f})"
        lines.append(
            f"{name:22} {rate:>14.0f} {share:>7.2f}x {judged:>6.2f}x "
            f"{'' if points is None else f'-{points:.1f}':>8} {acpu:>13.0f} {scpu:>12.0f} "
            f"{scpu - base_cpu:>14.0f}  {verdict}"
        )
        rows.append({"ledger": name, "async_rate": rate, "async_vs_none": share,
                     "async_vs_none_paired": judged, "budget_points_below": points,
                     "budget_points_below_from_medians": medians,
                     "async_cpu_us": acpu, "sync_cpu_us": scpu, "sync_added_us": scpu - base_cpu})
    return "\n".join(lines), rows


def main(argv: list[str] | None = None) -> int:
    """Run every case, print the table, write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--async-calls", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=2000, help="sync calls per round")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="500 calls, one round")
    parser.add_argument("--skip", action="append", default=[], choices=("sync", "async"))
    parser.add_argument("--no-lease", action="store_true",
                        help="also run the budget cases with one hold per call (no leases)")
    parser.add_argument("--only", action="append", default=[], metavar="CASE",
                        help="run only these cases (repeat; 'none' is always run)")
    parser.add_argument("--before", metavar="REV",
                        help="also run each store case with the ledger package at git REV")
    parser.add_argument(
        "--redis", default=os.environ.get("HOLYSHEEP_TEST_REDIS"), help="a Redis URL to include"
    )
    parser.add_argument("--random-ids", action="store_true",
                        help="the upstream's completion ids are random, as a relay's are")
    parser.add_argument("--prefill", type=int, default=0, metavar="N",
                        help="each SQLite ledger starts with N entries of random ids")
    parser.add_argument("--json", type=Path, default=harness.HERE / "results" /
                        "ledger-async-latest.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.async_calls, args.calls, args.rounds = 500, 500, 1
    started = time.perf_counter()
    async_best: dict[str, tuple[float, float]] = {}
    sync_best: dict[str, float] = {}
    paired: dict[str, float] = {}
    gaps: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, unique_server(args.random_ids) as base_url:
        cleanups: list[Callable[[], None]] = []
        before = load_ledger_at(args.before) if args.before else None
        cases = ledgers(Path(tmp), args.redis, cleanups, before, args.no_lease, args.prefill)
        if args.only:
            cases = {n: make for n, make in cases.items() if n == "none" or n in args.only}
        try:
            if "async" not in args.skip:
                found = asyncio.run(measure_async(base_url, cases, args))
                async_best = {n: (max(s.rate for s in runs), min(s.cpu_us for s in runs))
                              for n, runs in found.items()}
                paired = paired_shares(found)
                gaps = budget_gaps(found, paired)
            if "sync" not in args.skip:
                done = measure_sync(base_url, cases, args)
                sync_best = {n: min(s.cpu_us for s in runs) for n, runs in done.items()}
        finally:
            for cleanup in cleanups:
                cleanup()
    text, rows = table(async_best, sync_best, paired, gaps)
    print(text)
    print(f"\nasync {args.async_calls} calls at {args.concurrency}, sync {args.calls} calls, "
          f"best of {args.rounds}; ran in {time.perf_counter() - started:.1f} s")
    meta = harness.machine_info(("httpx", "redis"))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                     "machine": meta, "rows": rows,
                                     "config": {k: v for k, v in vars(args).items()
                                                if k not in ("json", "redis")}},
                                    indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
