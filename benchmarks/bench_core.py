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

import asyncio
import json
import time
from collections.abc import Callable, Iterable

import _harness as harness
from _harness import Config, Contender, Results, Row

NAMES = ("httpx", "holysheep", "openai")
MODEL = "gpt-4.1"
MESSAGES = [{"role": "user", "content": "Say hello in one short sentence."}]
STREAM_OPTIONS = {"include_usage": True}
QUICK = {"calls": 500, "async_calls": 1000, "stream_calls": 40, "rounds": 1, "import_runs": 3}
FULL = {"calls": 2000, "async_calls": 3000, "stream_calls": 200, "rounds": 3, "import_runs": 5}
PACKAGES = ("httpx", "httpx-aiohttp", "aiohttp", "httpx-sse", "pydantic", "openai")
FOCUS = ("holysheep", "pydantic")  # packages --profile lists separately
TABLE = harness.Table(NAMES, "httpx", "hs/httpx", (  # targets are for holysheep / raw httpx
    Row("sync_cpu_us", "sync chat, CPU µs/call", "{:.0f}", "ratio <= 1.3",
        lambda v, r: r <= 1.3),
    Row("sync_wall_us", "sync chat, wall µs/call", "{:.0f}"),
    Row("async_rate", "async chat c={c}, calls/s", "{:.0f}", "ratio >= 2.0",
        lambda v, r: r >= 2.0),
    Row("async_cpu_us", "async chat c={c}, CPU µs/call", "{:.0f}"),
    Row("stream_cpu_us_chunk", "stream, CPU µs/chunk", "{:.1f}", "ratio <= 1.0",
        lambda v, r: r <= 1.0),  # issue #14 item 3
    Row("stream_net_cpu_us_chunk", "stream, net CPU µs/chunk", "{:.1f}"),
    Row("stream_wall_ms", "stream, wall ms/call", "{:.2f}"),
    Row("import_ms", "import, wall ms", "{:.0f}", "holysheep < 150 ms",
        lambda v, r: v < 150),
))

# ---------------------------------------------------------------- the three clients


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


def sync_httpx(base_url: str) -> Contender:
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

    return Contender(chat, stream, close=client.close)


def sync_holysheep(base_url: str) -> Contender:
    """``HolySheepClient.chat`` and ``HolySheepClient.stream``."""
    from holysheep import HolySheepClient

    client = HolySheepClient(api_key="bench", base_url=base_url)

    def chat() -> object:
        return client.chat(model=MODEL, messages=MESSAGES)

    def stream() -> int:
        with client.stream(model=MODEL, messages=MESSAGES) as chunks:
            return sum(1 for _ in chunks)

    return Contender(chat, stream, close=client.close)


def sync_openai(base_url: str) -> Contender:
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

    return Contender(chat, stream, close=client.close)


def async_httpx(base_url: str, concurrency: int) -> Contender:
    """Raw ``httpx.AsyncClient`` on its default transport, pool sized to the concurrency."""
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    client = httpx.AsyncClient(headers={"authorization": "Bearer bench"}, limits=limits)
    url = f"{base_url}/chat/completions"
    body = {"model": MODEL, "messages": MESSAGES}

    async def achat() -> object:
        response = await client.post(url, json=body)
        response.raise_for_status()
        return response.json()

    return Contender(achat=achat, aclose=client.aclose)


def async_holysheep(base_url: str, concurrency: int) -> Contender:
    """``HolySheepClient.achat`` (aiohttp-backed httpx transport inside)."""
    from holysheep import HolySheepClient

    client = HolySheepClient(api_key="bench", base_url=base_url,
                             max_connections=max(100, concurrency))

    async def achat() -> object:
        return await client.achat(model=MODEL, messages=MESSAGES)

    return Contender(achat=achat, aclose=client.aclose)


def async_openai(base_url: str, concurrency: int) -> Contender:
    """openai ``AsyncOpenAI().chat.completions.create`` (default pool: 1000 connections)."""
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)
    create = client.chat.completions.create

    async def achat() -> object:
        return await create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]

    return Contender(achat=achat, aclose=client.close)


SYNC_FACTORIES: dict[str, Callable[[str], Contender]] = {
    "httpx": sync_httpx, "holysheep": sync_holysheep, "openai": sync_openai}
ASYNC_FACTORIES: dict[str, Callable[[str, int], Contender]] = {
    "httpx": async_httpx, "holysheep": async_holysheep, "openai": async_openai}

# ---------------------------------------------------------------- the measurements


def measure_sync(base_url: str, cfg: Config) -> Results:
    """Sequential sync chat and stream calls: CPU/wall per call, CPU per chunk."""
    with harness.opened({n: make(base_url) for n, make in SYNC_FACTORIES.items()}) as clients:
        return harness.measure_sync(clients, cfg, "sync", check_frames=True)


async def measure_async(base_url: str, cfg: Config) -> Results:
    """Non-streaming async calls at ``cfg.concurrency``: calls/s and CPU per call."""
    clients = {n: make(base_url, cfg.concurrency) for n, make in ASYNC_FACTORIES.items()}
    try:
        return await harness.measure_async(clients, cfg)
    finally:
        await harness.aclose_all(clients)


def measure_imports(cfg: Config) -> Results:
    """Import time of each client's package."""
    statements = {name: f"import {name}" for name in NAMES}
    return {"import_ms": harness.import_times(statements, cfg.import_runs)}


def profile(cfg: Config, top: int) -> None:
    """cProfile holysheep's sync chat, sync stream and async chat paths."""
    with harness.loopback_server(cfg.chunks) as base_url:
        harness.profile_sync(sync_holysheep(base_url), cfg, "holysheep", top, FOCUS)
        asyncio.run(profile_async(base_url, cfg, top))


async def profile_async(base_url: str, cfg: Config, top: int) -> None:
    """cProfile ``HolySheepClient.achat`` at ``cfg.concurrency``."""
    import cProfile

    client = async_holysheep(base_url, cfg.concurrency)
    await harness.run_async(client.achat, cfg.concurrency * 4, cfg.concurrency)
    profiler = cProfile.Profile()
    profiler.enable()
    await harness.run_async(client.achat, cfg.async_calls, cfg.concurrency)
    profiler.disable()
    await harness.aclose_all({"holysheep": client})
    title = f"holysheep achat, {cfg.async_calls} calls, c={cfg.concurrency}"
    harness.print_profile(profiler, title, top, FOCUS)


def main(argv: list[str] | None = None) -> None:
    """Measure, print the table, write the JSON (or only profile, with ``--profile``)."""
    args, cfg = harness.setup(__doc__, "core-latest.json", QUICK, FULL, top=25, argv=argv,
                              profile_help="only cProfile holysheep's chat and stream paths")
    if args.profile:
        return profile(cfg, args.top)
    started = time.perf_counter()
    results = harness.measure_groups(cfg, args.skip, lambda url: measure_sync(url, cfg),
                                     lambda url: measure_async(url, cfg))
    if "import" not in args.skip:
        results |= measure_imports(cfg)
    harness.finish(TABLE, results, cfg, args.json, started, PACKAGES, implementation=True,
                   digits=3)


if __name__ == "__main__":
    main()
