"""LangChain benchmark: ChatHolySheep vs ChatOpenAI(base_url=..., stream_usage=True), in one run.

Both talk to the same loopback server (``_server.py``, a separate process, so its CPU is not
counted). Two references frame the numbers: raw ``httpx`` (the floor of any HTTP client) and
``core-floor``, a BaseChatModel that returns canned messages without I/O (what langchain-core's
own machinery costs per invoke and per chunk). Client CPU is ``time.process_time()``; each
measurement runs ``--rounds`` times, interleaving the clients, and keeps the best round.

    python benchmarks/bench_langchain.py            # ~1 minute
    python benchmarks/bench_langchain.py --quick    # ~20 s
    python benchmarks/bench_langchain.py --profile  # cProfile of ChatHolySheep's invoke and stream

Targets (issue 3): ChatHolySheep at most 0.5x ChatOpenAI's CPU per invoke and 0.4x per streamed
chunk, at least 1.5x its async throughput at concurrency 64, and ``import langchain_holysheep``
within 150 ms of importing ``langchain_core.language_models``. Results go to
``benchmarks/results/langchain-latest.json``.
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
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for path in (ROOT / "shared", ROOT):  # run from the source tree without installing
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

NAMES = ("httpx", "core-floor", "holysheep", "openai")
MODEL = "gpt-4.1"
PROMPT = "Say hello in one short sentence."

# ---------------------------------------------------------------- measuring


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
    def rate(self) -> float:
        """Calls per wall second."""
        return self.calls / self.wall


def run_sync(fn: Callable[[], object], calls: int) -> Sample:
    """Time ``calls`` sequential calls of ``fn``."""
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        fn()
    return Sample(calls, time.process_time() - cpu, time.perf_counter() - wall)


async def run_async(fn: Callable[[], Awaitable[object]], calls: int, concurrency: int) -> Sample:
    """Time ``calls`` calls of ``fn`` made by ``concurrency`` workers sharing one queue."""
    todo = iter(range(calls))
    gc.collect()

    async def worker() -> None:
        for _ in todo:
            await fn()

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Sample(calls, time.process_time() - cpu, time.perf_counter() - wall)


def best(runs: dict[str, list[Sample]], metric: Callable[[Sample], float], highest: bool = False):
    """The best round of each client by ``metric``."""
    pick = max if highest else min
    return {name: pick(metric(s) for s in samples) for name, samples in runs.items()}


# ---------------------------------------------------------------- the clients


@dataclass
class Client:
    """One client under test: invoke, stream (returns chunks seen), ainvoke, close."""

    invoke: Callable[[], object]
    stream: Callable[[], int]
    ainvoke: Callable[[], Awaitable[object]]
    close: Callable[[], None]


def httpx_client(base_url: str, concurrency: int) -> Client:
    """Raw httpx: post JSON, parse JSON; streams parsed line by line."""
    import httpx

    url = f"{base_url}/chat/completions"
    body = {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}]}
    stream_body = {**body, "stream": True, "stream_options": {"include_usage": True}}
    sync = httpx.Client(headers={"authorization": "Bearer bench"})
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    holder: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}

    def invoke() -> object:
        return sync.post(url, json=body).json()

    def stream() -> int:
        chunks = 0
        with sync.stream("POST", url, json=stream_body) as response:
            for line in response.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    json.loads(line[6:])
                    chunks += 1
        return chunks

    async def ainvoke() -> object:
        loop = asyncio.get_running_loop()
        client = holder.get(loop)
        if client is None:
            client = holder[loop] = httpx.AsyncClient(
                headers={"authorization": "Bearer bench"}, limits=limits
            )
        return (await client.post(url, json=body)).json()

    return Client(invoke, stream, ainvoke, sync.close)


def floor_client(chunks: int) -> Client:
    """langchain-core's own cost: a BaseChatModel answering canned messages, no I/O at all."""
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

    usage = {"input_tokens": 12, "output_tokens": 9, "total_tokens": 21}
    pieces = [f"tok{i} " for i in range(chunks)]

    class Floor(BaseChatModel):
        @property
        def _llm_type(self) -> str:
            return "floor"

        def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any):
            message = AIMessage(
                "Hello!", usage_metadata=usage, response_metadata={"model_name": MODEL}
            )
            return ChatResult(generations=[ChatGeneration(message=message)])

        def _stream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any):
            for piece in pieces:
                yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
            last = AIMessageChunk(content="", usage_metadata=usage, chunk_position="last")
            yield ChatGenerationChunk(message=last)

    model = Floor()
    return Client(
        lambda: model.invoke(PROMPT),
        lambda: sum(1 for _ in model.stream(PROMPT)),
        lambda: model.ainvoke(PROMPT),
        lambda: None,
    )


def holysheep_client(base_url: str, concurrency: int) -> Client:
    """ChatHolySheep over the holysheep core."""
    from langchain_holysheep import ChatHolySheep

    model = ChatHolySheep(model=MODEL, api_key="bench", base_url=base_url, max_retries=0)
    return Client(
        lambda: model.invoke(PROMPT),
        lambda: sum(1 for _ in model.stream(PROMPT)),
        lambda: model.ainvoke(PROMPT),
        lambda: model.client.close(),
    )


def openai_client(base_url: str, concurrency: int) -> Client:
    """ChatOpenAI on the same base URL, with usage on streams asked for (as ChatHolySheep does)."""
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(
        model=MODEL, api_key="bench", base_url=base_url, stream_usage=True, max_retries=0
    )
    return Client(
        lambda: model.invoke(PROMPT),
        lambda: sum(1 for _ in model.stream(PROMPT)),
        lambda: model.ainvoke(PROMPT),
        lambda: None,
    )


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
        stdout=subprocess.PIPE,
        text=True,
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


def clients(base_url: str, cfg: Config) -> dict[str, Client]:
    """Every client under test, built once."""
    return {
        "httpx": httpx_client(base_url, cfg.concurrency),
        "core-floor": floor_client(cfg.chunks),
        "holysheep": holysheep_client(base_url, cfg.concurrency),
        "openai": openai_client(base_url, cfg.concurrency),
    }


def measure_sync(all_clients: dict[str, Client], cfg: Config) -> dict[str, dict[str, float]]:
    """Sequential invoke and stream calls: CPU per invoke, CPU per streamed chunk."""
    for client in all_clients.values():  # warm up: connections, caches, lazy imports
        run_sync(client.invoke, max(50, cfg.calls // 10))
        run_sync(client.stream, 5)
    invoke: dict[str, list[Sample]] = {name: [] for name in all_clients}
    stream: dict[str, list[Sample]] = {name: [] for name in all_clients}
    for _ in range(cfg.rounds):
        for name, client in all_clients.items():
            invoke[name].append(run_sync(client.invoke, cfg.calls))
        for name, client in all_clients.items():
            stream[name].append(run_sync(client.stream, cfg.stream_calls))
    invoke_cpu = best(invoke, lambda s: s.cpu_us)
    stream_cpu = best(stream, lambda s: s.cpu_us)
    frames = cfg.chunks + 2  # content chunks + finish chunk + usage chunk on the wire
    return {
        "invoke_cpu_us": invoke_cpu,
        "stream_cpu_us_chunk": {n: v / frames for n, v in stream_cpu.items()},
        "stream_net_cpu_us_chunk": {n: (v - invoke_cpu[n]) / frames for n, v in stream_cpu.items()},
    }


def measure_async(all_clients: dict[str, Client], cfg: Config) -> dict[str, dict[str, float]]:
    """``ainvoke`` at ``cfg.concurrency`` in one event loop: calls per second."""

    async def measure() -> dict[str, list[Sample]]:
        runs: dict[str, list[Sample]] = {name: [] for name in all_clients}
        for client in all_clients.values():
            await run_async(client.ainvoke, cfg.concurrency * 4, cfg.concurrency)
        for _ in range(cfg.rounds):
            for name, client in all_clients.items():
                runs[name].append(await run_async(client.ainvoke, cfg.async_calls, cfg.concurrency))
        return runs

    runs = asyncio.run(measure())
    return {
        "async_rate": best(runs, lambda s: s.rate, highest=True),
        "async_cpu_us": best(runs, lambda s: s.cpu_us),
    }


def import_ms(statement: str, runs: int, pycache: str) -> float:
    """Median wall ms of ``statement`` in ``runs`` fresh interpreters (after one warm-up)."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = pycache
    extra = [str(ROOT / "shared"), str(ROOT), env.get("PYTHONPATH")]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, extra))
    times = []
    for _ in range(runs + 1):
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        ).stdout
        times.append(float(out) * 1000)
    return statistics.median(times[1:])


def measure_imports(cfg: Config) -> dict[str, dict[str, float]]:
    """Import (and first construction) time over langchain-core, ours and langchain_openai's.

    ``import langchain_core.language_models`` is lazy: it loads no model class. Every chat
    integration pays for ``BaseChatModel`` (langsmith included), so the target is measured over
    that import; the figure over the bare package is reported beside it.
    """
    package = "import langchain_core.language_models"
    base = "from langchain_core.language_models import BaseChatModel"
    ours = "from langchain_holysheep import ChatHolySheep"
    theirs = "from langchain_openai import ChatOpenAI"
    init_ours = "; ChatHolySheep(model='gpt-4.1', api_key='k')"
    init_theirs = "; ChatOpenAI(model='gpt-4.1', api_key='k')"
    runs = cfg.import_runs
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as pycache:
        bare = import_ms(package, runs, pycache)
        core = import_ms(base, runs, pycache)
        times = {
            "ours": import_ms(f"{base}; {ours}", runs, pycache),
            "theirs": import_ms(f"{base}; {theirs}", runs, pycache),
            "ours_init": import_ms(f"{base}; {ours}{init_ours}", runs, pycache),
            "theirs_init": import_ms(f"{base}; {theirs}{init_theirs}", runs, pycache),
            "ours_bare": import_ms(f"{package}; {ours}", runs, pycache),
            "theirs_bare": import_ms(f"{package}; {theirs}", runs, pycache),
        }
    zero = {"httpx": 0.0, "core-floor": 0.0}
    return {
        "import_extra_ms": {
            **zero,
            "holysheep": times["ours"] - core,
            "openai": times["theirs"] - core,
        },
        "import_init_extra_ms": {
            **zero,
            "holysheep": times["ours_init"] - core,
            "openai": times["theirs_init"] - core,
        },
        "import_bare_extra_ms": {
            **zero,
            "holysheep": times["ours_bare"] - bare,
            "openai": times["theirs_bare"] - bare,
        },
    }


# ---------------------------------------------------------------- reporting


@dataclass(frozen=True)
class Row:
    """One line of the table: a measurement, its unit and the target for holysheep/openai."""

    key: str
    label: str
    fmt: str
    target: str
    check: Callable[[float, float], bool]  # (holysheep value, holysheep/openai ratio) -> ok


ROWS = (
    Row("invoke_cpu_us", "invoke, CPU µs/call", "{:.0f}", "ratio <= 0.5", lambda v, r: r <= 0.5),
    Row(
        "stream_cpu_us_chunk",
        "stream, CPU µs/chunk",
        "{:.1f}",
        "ratio <= 0.4",
        lambda v, r: r <= 0.4,
    ),
    Row("stream_net_cpu_us_chunk", "stream, net CPU µs/chunk", "{:.1f}", "", lambda v, r: True),
    Row("async_rate", "ainvoke c={c}, calls/s", "{:.0f}", "ratio >= 1.5", lambda v, r: r >= 1.5),
    Row("async_cpu_us", "ainvoke c={c}, CPU µs/call", "{:.0f}", "", lambda v, r: True),
    Row(
        "import_extra_ms",
        "import over BaseChatModel, ms",
        "{:.0f}",
        "holysheep <= 150 ms",
        lambda v, r: v <= 150,
    ),
    Row(
        "import_init_extra_ms",
        "import + 1st init over BaseChatModel",
        "{:.0f}",
        "",
        lambda v, r: True,
    ),
    Row(
        "import_bare_extra_ms",
        "import over lc_core.language_models, ms",
        "{:.0f}",
        "",
        lambda v, r: True,
    ),
)


def tabulate(results: dict[str, dict[str, float]], cfg: Config) -> list[dict[str, Any]]:
    """The table rows as plain dicts (also what goes into the JSON file)."""
    rows = []
    for row in ROWS:
        values = results.get(row.key)
        if values is None:
            continue
        ratio = values["holysheep"] / values["openai"] if values["openai"] else float("nan")
        ok = row.check(values["holysheep"], ratio) if row.target else None
        rows.append(
            {
                "key": row.key,
                "label": row.label.format(c=cfg.concurrency),
                **values,
                "ratio": ratio,
                "target": row.target,
                "ok": ok,
                "fmt": row.fmt,
            }
        )
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    """A fixed-width text table."""
    header = ("measurement", *NAMES, "hs/openai", "target", "")
    lines = [header]
    for row in rows:
        cells = [row["fmt"].format(row[name]) for name in NAMES]
        mark = {True: "ok", False: "MISS", None: ""}[row["ok"]]
        lines.append((row["label"], *cells, f"{row['ratio']:.2f}x", row["target"], mark))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for i, line in enumerate(lines):
        out.append(
            "  ".join(
                cell.ljust(w) if j in (0, len(header) - 2) else cell.rjust(w)
                for j, (cell, w) in enumerate(zip(line, widths, strict=True))
            )
        )
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def write_json(path: Path, cfg: Config, rows: list[dict[str, Any]]) -> None:
    """Save the run as JSON."""
    from importlib.metadata import version

    packages = ("httpx", "pydantic", "langchain-core", "langchain-openai", "openai")
    doc = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "packages": {name: version(name) for name in packages},
        },
        "config": asdict(cfg),
        "results": [{k: v for k, v in row.items() if k != "fmt"} for row in rows],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- profiling


def profile(cfg: Config, top: int) -> None:
    """cProfile ChatHolySheep's invoke and stream paths (self time, top ``top`` rows)."""
    import cProfile
    import pstats

    with loopback_server(cfg.chunks) as base_url:
        client = holysheep_client(base_url, cfg.concurrency)
        run_sync(client.invoke, 50)
        run_sync(client.stream, 5)
        for label, fn, calls in (
            ("invoke", client.invoke, cfg.calls),
            ("stream", client.stream, cfg.stream_calls),
        ):
            profiler = cProfile.Profile()
            profiler.runcall(run_sync, fn, calls)
            print(f"\n=== ChatHolySheep {label}, {calls} calls: top {top} by self time ===")
            pstats.Stats(profiler).sort_stats("tottime").print_stats(top)
        client.close()


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts, one round (~20 s)")
    parser.add_argument("--calls", type=int, help="sync invokes per round (1000)")
    parser.add_argument("--async-calls", type=int, help="async invokes per round (2000)")
    parser.add_argument("--concurrency", type=int, default=64, help="async concurrency (64)")
    parser.add_argument("--stream-calls", type=int, help="streamed calls per round (60)")
    parser.add_argument("--chunks", type=int, default=200, help="content chunks per stream")
    parser.add_argument("--rounds", type=int, help="rounds per measurement, best kept (3)")
    parser.add_argument("--import-runs", type=int, help="fresh interpreters per import (5)")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=("sync", "async", "import"),
        help="leave a group out",
    )
    parser.add_argument("--json", type=Path, default=HERE / "results" / "langchain-latest.json")
    parser.add_argument("--profile", action="store_true", help="only cProfile ChatHolySheep")
    parser.add_argument("--top", type=int, default=30, help="rows of --profile output")
    return parser.parse_args(argv)


def config(args: argparse.Namespace) -> Config:
    quick = {"calls": 300, "async_calls": 640, "stream_calls": 20, "rounds": 1, "import_runs": 3}
    full = {"calls": 1000, "async_calls": 2000, "stream_calls": 60, "rounds": 3, "import_runs": 5}
    defaults = quick if args.quick else full
    picked = {
        k: getattr(args, k) if getattr(args, k) is not None else v for k, v in defaults.items()
    }
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
        all_clients = clients(base_url, cfg)
        try:
            if "sync" not in args.skip:
                results |= measure_sync(all_clients, cfg)
            if "async" not in args.skip:
                results |= measure_async(all_clients, cfg)
        finally:
            for client in all_clients.values():
                client.close()
    if "import" not in args.skip:
        results |= measure_imports(cfg)
    rows = tabulate(results, cfg)
    print(render(rows))
    print(
        f"\n{cfg}\nran in {time.perf_counter() - started:.1f} s; python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs; JSON: {args.json}"
    )
    write_json(args.json, cfg, rows)


if __name__ == "__main__":
    main()
