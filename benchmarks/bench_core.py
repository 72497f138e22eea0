"""Core client benchmark: ``HolySheepClient`` vs raw httpx vs the openai SDK, in one run.

All three talk to the same loopback server (``_server.py``, a separate process, so its CPU is
not counted). Client CPU is ``time.process_time()`` of this process; wall time is
``time.perf_counter()``. Each measurement runs ``--rounds`` times, interleaving the three
clients, and keeps the best round (lowest CPU, highest throughput): noise only ever adds.

    python benchmarks/bench_core.py            # ~1 minute
    python benchmarks/bench_core.py --quick    # ~20 s
    python benchmarks/bench_core.py --profile  # cProfile of holysheep's chat and stream paths

Results are printed as a table and written to ``benchmarks/results/core-latest.json``.
See ``benchmarks/README.md`` for what each number means.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent / "shared"
if str(SHARED) not in sys.path:  # run from the source tree without installing
    sys.path.insert(0, str(SHARED))

NAMES = ("httpx", "holysheep", "openai")
MODEL = "gpt-4.1"
MESSAGES = [{"role": "user", "content": "Say hello in one short sentence."}]
STREAM_OPTIONS = {"include_usage": True}

# ---------------------------------------------------------------- measuring


class Stopwatch:
    """Process CPU and wall seconds spent inside a ``with`` block (works around ``await`` too)."""

    cpu: float = 0.0
    wall: float = 0.0

    def __enter__(self) -> Stopwatch:
        self.cpu, self.wall = -time.process_time(), -time.perf_counter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cpu += time.process_time()
        self.wall += time.perf_counter()


@dataclass(frozen=True)
class Sample:
    """One timed batch of ``calls`` calls."""

    calls: int
    cpu: float
    wall: float

    @property
    def cpu_us(self) -> float:
        """Client CPU microseconds per call."""
        return self.cpu / self.calls * 1e6

    @property
    def wall_us(self) -> float:
        """Wall microseconds per call."""
        return self.wall / self.calls * 1e6

    @property
    def rate(self) -> float:
        """Calls per wall second."""
        return self.calls / self.wall


def run_sync(fn: Callable[[], object], calls: int) -> Sample:
    """Time ``calls`` sequential calls of ``fn``."""
    gc.collect()  # start clean: no collection of earlier garbage billed to this batch
    with Stopwatch() as sw:
        for _ in range(calls):
            fn()
    return Sample(calls, sw.cpu, sw.wall)


async def run_async(fn: Callable[[], Awaitable[object]], calls: int, concurrency: int) -> Sample:
    """Time ``calls`` calls of ``fn`` made by ``concurrency`` worker tasks sharing one queue."""
    todo = iter(range(calls))
    gc.collect()

    async def worker() -> None:
        for _ in todo:
            await fn()

    with Stopwatch() as sw:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Sample(calls, sw.cpu, sw.wall)


def interleave(rounds: int, measure: Callable[[str], Sample]) -> dict[str, list[Sample]]:
    """``measure(name)`` for every client, ``rounds`` times, alternating clients each round."""
    samples: dict[str, list[Sample]] = {name: [] for name in NAMES}
    for _ in range(rounds):
        for name in NAMES:
            samples[name].append(measure(name))
    return samples


async def ainterleave(
    rounds: int, measure: Callable[[str], Awaitable[Sample]]
) -> dict[str, list[Sample]]:
    """The async twin of ``interleave``."""
    samples: dict[str, list[Sample]] = {name: [] for name in NAMES}
    for _ in range(rounds):
        for name in NAMES:
            samples[name].append(await measure(name))
    return samples


def best(samples: dict[str, list[Sample]], metric: Callable[[Sample], float],
         highest: bool = False) -> dict[str, float]:
    """The best round of each client by ``metric``."""
    pick = max if highest else min
    return {name: pick(metric(s) for s in runs) for name, runs in samples.items()}


# ---------------------------------------------------------------- the three clients


@dataclass
class SyncContender:
    """One client under test: a chat call, a streamed call returning its chunk count, close."""

    chat: Callable[[], object]
    stream: Callable[[], int]
    close: Callable[[], None]


@dataclass
class AsyncContender:
    """One async client under test: a chat call and close."""

    chat: Callable[[], Awaitable[object]]
    aclose: Callable[[], Awaitable[None]]


def count_sse(lines: Iterable[str]) -> int:
    """Parse ``data:`` lines as JSON until ``[DONE]``; the number of chunks parsed."""
    chunks = 0
    for line in lines:
        if not line.startswith("data: "):
            continue
        data = line[6:]
        if data == "[DONE]":
            break
        json.loads(data)
        chunks += 1
    return chunks


def sync_httpx(base_url: str) -> SyncContender:
    """Raw ``httpx.Client``: ``post(json=...)`` + ``.json()``; streams via ``iter_lines``."""
    import httpx

    client = httpx.Client(headers={"authorization": "Bearer bench"})
    url = f"{base_url}/chat/completions"
    body = {"model": MODEL, "messages": MESSAGES}
    stream_body = {**body, "stream": True, "stream_options": STREAM_OPTIONS}

    def chat() -> object:
        response = client.post(url, json=body)
        response.raise_for_status()
        return response.json()

    def stream() -> int:
        with client.stream("POST", url, json=stream_body) as response:
            response.raise_for_status()
            return count_sse(response.iter_lines())

    return SyncContender(chat, stream, client.close)


def sync_holysheep(base_url: str) -> SyncContender:
    """``HolySheepClient.chat`` and ``HolySheepClient.stream``."""
    from holysheep import HolySheepClient

    client = HolySheepClient(api_key="bench", base_url=base_url)

    def chat() -> object:
        return client.chat(model=MODEL, messages=MESSAGES)

    def stream() -> int:
        with client.stream(model=MODEL, messages=MESSAGES) as chunks:
            return sum(1 for _ in chunks)

    return SyncContender(chat, stream, client.close)


def sync_openai(base_url: str) -> SyncContender:
    """openai ``OpenAI().chat.completions.create``, with and without ``stream=True``."""
    from openai import OpenAI

    client = OpenAI(base_url=base_url, api_key="bench", max_retries=0)
    create = client.chat.completions.create

    def chat() -> object:
        return create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]

    def stream() -> int:
        with create(model=MODEL, messages=MESSAGES, stream=True,  # type: ignore[arg-type]
                    stream_options=STREAM_OPTIONS) as chunks:  # type: ignore[arg-type]
            return sum(1 for _ in chunks)

    return SyncContender(chat, stream, client.close)


async def async_httpx(base_url: str, concurrency: int) -> AsyncContender:
    """Raw ``httpx.AsyncClient`` on its default transport, pool sized to the concurrency."""
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    client = httpx.AsyncClient(headers={"authorization": "Bearer bench"}, limits=limits)
    url = f"{base_url}/chat/completions"
    body = {"model": MODEL, "messages": MESSAGES}

    async def chat() -> object:
        response = await client.post(url, json=body)
        response.raise_for_status()
        return response.json()

    return AsyncContender(chat, client.aclose)


async def async_holysheep(base_url: str, concurrency: int) -> AsyncContender:
    """``HolySheepClient.achat`` (aiohttp-backed httpx transport inside)."""
    from holysheep import HolySheepClient

    client = HolySheepClient(api_key="bench", base_url=base_url,
                             max_connections=max(100, concurrency))

    async def chat() -> object:
        return await client.achat(model=MODEL, messages=MESSAGES)

    return AsyncContender(chat, client.aclose)


async def async_openai(base_url: str, concurrency: int) -> AsyncContender:
    """openai ``AsyncOpenAI().chat.completions.create`` (default pool: 1000 connections)."""
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)
    create = client.chat.completions.create

    async def chat() -> object:
        return await create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]

    return AsyncContender(chat, client.close)


SYNC_FACTORIES = {"httpx": sync_httpx, "holysheep": sync_holysheep, "openai": sync_openai}
ASYNC_FACTORIES = {"httpx": async_httpx, "holysheep": async_holysheep, "openai": async_openai}


# ---------------------------------------------------------------- the measurements


@dataclass
class Config:
    """How much work each measurement does."""

    calls: int
    async_calls: int
    concurrency: int
    stream_calls: int
    chunks: int
    rounds: int
    import_runs: int


@contextmanager
def loopback_server(chunks: int) -> Iterator[str]:
    """Start ``_server.py`` in its own process; yield its ``/v1`` base URL; stop it after."""
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "_server.py"), "--port", "0", "--chunks", str(chunks)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the benchmark server did not start: {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def measure_sync(base_url: str, cfg: Config) -> dict[str, dict[str, float]]:
    """Sequential sync chat and stream calls: CPU/wall per call, CPU per chunk."""
    clients = {name: factory(base_url) for name, factory in SYNC_FACTORIES.items()}
    frames = cfg.chunks + 2  # content chunks + finish chunk + usage chunk
    try:
        for name, client in clients.items():  # warm up: connections, caches, lazy imports
            run_sync(client.chat, max(50, cfg.calls // 10))
            got = client.stream()
            if got != frames:
                raise RuntimeError(f"{name} streamed {got} chunks, expected {frames}")
            run_sync(client.stream, 5)
        chat = interleave(cfg.rounds, lambda n: run_sync(clients[n].chat, cfg.calls))
        stream = interleave(cfg.rounds, lambda n: run_sync(clients[n].stream, cfg.stream_calls))
    finally:
        for client in clients.values():
            client.close()
    chat_cpu = best(chat, lambda s: s.cpu_us)
    stream_cpu = best(stream, lambda s: s.cpu_us)
    return {
        "sync_cpu_us": chat_cpu,
        "sync_wall_us": best(chat, lambda s: s.wall_us),
        "stream_cpu_us_chunk": {n: v / frames for n, v in stream_cpu.items()},
        "stream_net_cpu_us_chunk": {n: (v - chat_cpu[n]) / frames for n, v in stream_cpu.items()},
        "stream_wall_ms": best(stream, lambda s: s.wall_us / 1000),
    }


async def measure_async(base_url: str, cfg: Config) -> dict[str, dict[str, float]]:
    """Non-streaming async calls at ``cfg.concurrency``: calls/s and CPU per call."""
    clients = {name: await factory(base_url, cfg.concurrency)
               for name, factory in ASYNC_FACTORIES.items()}
    try:
        for client in clients.values():  # warm up: open every connection of the pool
            await run_async(client.chat, cfg.concurrency * 4, cfg.concurrency)

        def measure(name: str) -> Awaitable[Sample]:
            return run_async(clients[name].chat, cfg.async_calls, cfg.concurrency)

        samples = await ainterleave(cfg.rounds, measure)
    finally:
        for client in clients.values():
            await client.aclose()
    return {
        "async_rate": best(samples, lambda s: s.rate, highest=True),
        "async_cpu_us": best(samples, lambda s: s.cpu_us),
    }


def import_ms(module: str, runs: int, pycache: str) -> float:
    """Median wall ms of ``import module`` in ``runs`` fresh interpreters (after one warm-up).

    Bytecode is cached under ``pycache`` (``PYTHONPYCACHEPREFIX``), as for an installed package,
    even when ``PYTHONDONTWRITEBYTECODE`` is set; the source tree is not written to.
    """
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = pycache
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SHARED), env.get("PYTHONPATH")]))
    times = []
    for _ in range(runs + 1):
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True).stdout
        times.append(float(out) * 1000)
    return statistics.median(times[1:])


def measure_imports(cfg: Config) -> dict[str, dict[str, float]]:
    """Import time of each client's package."""
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as pycache:
        return {"import_ms": {name: import_ms(name, cfg.import_runs, pycache) for name in NAMES}}


# ---------------------------------------------------------------- reporting


@dataclass(frozen=True)
class Row:
    """One line of the table: a measurement, its unit and the target for holysheep/httpx."""

    key: str
    label: str
    fmt: str
    target: str = ""
    check: Callable[[float, float], bool] | None = None  # (holysheep value, ratio) -> ok


ROWS = (
    Row("sync_cpu_us", "sync chat, CPU µs/call", "{:.0f}", "ratio <= 1.3",
        lambda v, r: r <= 1.3),
    Row("sync_wall_us", "sync chat, wall µs/call", "{:.0f}"),
    Row("async_rate", "async chat c={c}, calls/s", "{:.0f}", "ratio >= 2.0",
        lambda v, r: r >= 2.0),
    Row("async_cpu_us", "async chat c={c}, CPU µs/call", "{:.0f}"),
    Row("stream_cpu_us_chunk", "stream, CPU µs/chunk", "{:.1f}", "ratio <= 1.3",
        lambda v, r: r <= 1.3),
    Row("stream_net_cpu_us_chunk", "stream, net CPU µs/chunk", "{:.1f}"),
    Row("stream_wall_ms", "stream, wall ms/call", "{:.2f}"),
    Row("import_ms", "import, wall ms", "{:.0f}", "holysheep < 150 ms",
        lambda v, r: v < 150),
)


def tabulate(results: dict[str, dict[str, float]], cfg: Config) -> list[dict[str, Any]]:
    """The table rows as plain dicts (also what goes into the JSON file)."""
    rows = []
    for row in ROWS:
        values = results.get(row.key)
        if values is None:
            continue
        ratio = values["holysheep"] / values["httpx"]
        ok = row.check(values["holysheep"], ratio) if row.check else None
        label = row.label.format(c=cfg.concurrency)
        rows.append({"key": row.key, "label": label, **values, "ratio": ratio,
                     "target": row.target, "ok": ok, "fmt": row.fmt})
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    """A fixed-width text table."""
    header = ("measurement", *NAMES, "hs/httpx", "target", "")
    lines = [header]
    for row in rows:
        cells = [row["fmt"].format(row[name]) for name in NAMES]
        mark = {True: "ok", False: "MISS", None: ""}[row["ok"]]
        lines.append((row["label"], *cells, f"{row['ratio']:.2f}x", row["target"], mark))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for i, line in enumerate(lines):
        out.append("  ".join(cell.ljust(w) if j in (0, 5) else cell.rjust(w)
                             for j, (cell, w) in enumerate(zip(line, widths, strict=True))))
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def machine_info() -> dict[str, Any]:
    """Where the numbers come from."""
    from importlib.metadata import version

    packages = ("httpx", "httpx-aiohttp", "aiohttp", "httpx-sse", "pydantic", "openai")
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "packages": {name: version(name) for name in packages},
    }


def write_json(path: Path, cfg: Config, rows: list[dict[str, Any]]) -> None:
    """Save the run as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine_info(),
        "config": asdict(cfg),
        "results": [{k: round(v, 3) if isinstance(v, float) else v
                     for k, v in row.items() if k != "fmt"} for row in rows],
    }
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- profiling


def print_profile(profiler: Any, title: str, top: int) -> None:
    """The ``top`` functions by self time, overall and inside holysheep/pydantic."""
    import pstats

    stats = pstats.Stats(profiler).sort_stats("tottime")
    print(f"\n=== {title}: top {top} by self time ===")
    stats.print_stats(top)
    print(f"=== {title}: inside holysheep and pydantic ===")
    stats.print_stats(r"holysheep|pydantic", top)


def profile(cfg: Config, top: int) -> None:
    """cProfile holysheep's sync chat, sync stream and async chat paths."""
    import cProfile

    def repeat(fn: Callable[[], object], calls: int) -> None:
        for _ in range(calls):
            fn()

    with loopback_server(cfg.chunks) as base_url:
        client = sync_holysheep(base_url)
        repeat(client.chat, 50)
        repeat(client.stream, 5)
        for label, fn, calls in (("chat", client.chat, cfg.calls),
                                 ("stream", client.stream, cfg.stream_calls)):
            profiler = cProfile.Profile()
            profiler.runcall(repeat, fn, calls)
            print_profile(profiler, f"holysheep {label}, {calls} calls", top)
        client.close()
        asyncio.run(profile_async(base_url, cfg, top))


async def profile_async(base_url: str, cfg: Config, top: int) -> None:
    """cProfile ``HolySheepClient.achat`` at ``cfg.concurrency``."""
    import cProfile

    client = await async_holysheep(base_url, cfg.concurrency)
    await run_async(client.chat, cfg.concurrency * 4, cfg.concurrency)
    profiler = cProfile.Profile()
    profiler.enable()
    await run_async(client.chat, cfg.async_calls, cfg.concurrency)
    profiler.disable()
    await client.aclose()
    print_profile(profiler, f"holysheep achat, {cfg.async_calls} calls, c={cfg.concurrency}", top)


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts, one round (~20 s)")
    parser.add_argument("--calls", type=int, help="sync chat calls per round (2000)")
    parser.add_argument("--async-calls", type=int, help="async chat calls per round (3000)")
    parser.add_argument("--concurrency", type=int, default=64, help="async concurrency (64)")
    parser.add_argument("--stream-calls", type=int, help="streamed calls per round (200)")
    parser.add_argument("--chunks", type=int, default=200, help="content chunks per stream")
    parser.add_argument("--rounds", type=int, help="rounds per measurement, best kept (3)")
    parser.add_argument("--import-runs", type=int, help="fresh interpreters per import (5)")
    parser.add_argument("--skip", action="append", default=[],
                        choices=("sync", "async", "import"), help="leave a group out")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "core-latest.json")
    parser.add_argument("--profile", action="store_true",
                        help="only cProfile holysheep's chat and stream paths")
    parser.add_argument("--top", type=int, default=25, help="rows of --profile output")
    return parser.parse_args(argv)


def config(args: argparse.Namespace) -> Config:
    quick = {"calls": 500, "async_calls": 1000, "stream_calls": 40, "rounds": 1,
             "import_runs": 3}
    full = {"calls": 2000, "async_calls": 3000, "stream_calls": 200, "rounds": 3,
            "import_runs": 5}
    defaults = quick if args.quick else full
    picked = {k: getattr(args, k) if getattr(args, k) is not None else v
              for k, v in defaults.items()}
    return Config(concurrency=args.concurrency, chunks=args.chunks, **picked)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    cfg = config(args)
    if args.profile:
        profile(cfg, args.top)
        return
    started = time.perf_counter()
    results: dict[str, dict[str, float]] = {}
    with loopback_server(cfg.chunks) as base_url:
        if "sync" not in args.skip:
            results |= measure_sync(base_url, cfg)
        if "async" not in args.skip:
            results |= asyncio.run(measure_async(base_url, cfg))
    if "import" not in args.skip:
        results |= measure_imports(cfg)
    rows = tabulate(results, cfg)
    print(render(rows))
    print(f"\n{cfg}\nran in {time.perf_counter() - started:.1f} s; python "
          f"{platform.python_version()}, {os.cpu_count()} CPUs; JSON: {args.json}")
    write_json(args.json, cfg, rows)


if __name__ == "__main__":
    main()
