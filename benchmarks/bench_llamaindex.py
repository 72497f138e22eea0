"""LlamaIndex adapter benchmark: ``HolySheep`` vs ``OpenAILike`` on one loopback server, one run.

Both LLMs talk to ``_server.py`` (its own process, so its CPU is not counted): a canned chat
completion, or a canned stream of ``--chunks`` content chunks plus a finish and a usage chunk.
Two more rows explain the numbers: ``core`` is ``HolySheepClient`` alone (what the adapter
builds on) and ``floor`` is a no-I/O LLM with LlamaIndex's own callback machinery (decorators,
events, spans), which every LlamaIndex LLM pays. Client CPU is ``time.process_time()``; each
measurement runs ``--rounds`` times, interleaving the clients, and keeps the best round.

    python benchmarks/bench_llamaindex.py            # ~1 minute
    python benchmarks/bench_llamaindex.py --quick    # ~15 s
    python benchmarks/bench_llamaindex.py --profile  # cProfile of HolySheep's chat and stream

Results are printed as a table and written to ``benchmarks/results/llamaindex-latest.json``.
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
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for path in (ROOT, ROOT / "shared"):  # run from the source tree without installing
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

MODEL = "gpt-4.1"
NAMES = ("holysheep", "openai_like", "core", "floor")
TARGETS = {  # measurement -> (check on holysheep / openai_like, wording)
    "chat_cpu_us": (lambda r: r <= 0.5, "ratio <= 0.5"),
    "stream_cpu_us_chunk": (lambda r: r <= 0.5, "ratio <= 0.5"),
    "async_rate": (lambda r: r >= 1.5, "ratio >= 1.5"),
}
LABELS = {
    "chat_cpu_us": "sync chat, CPU µs/call",
    "chat_wall_us": "sync chat, wall µs/call",
    "stream_cpu_us_chunk": "stream, CPU µs/chunk",
    "stream_wall_ms": "stream, wall ms/call",
    "async_rate": "async chat c={c}, calls/s",
    "async_cpu_us": "async chat c={c}, CPU µs/call",
}


@dataclass(frozen=True)
class Config:
    """How much work each measurement does."""

    calls: int
    async_calls: int
    concurrency: int
    stream_calls: int
    chunks: int
    rounds: int
    import_runs: int


@dataclass(frozen=True)
class Sample:
    """One timed batch of ``calls`` calls."""

    calls: int
    cpu: float
    wall: float


@dataclass
class Subject:
    """One LLM under test: sync chat, sync stream (returns responses seen), async chat, close."""

    chat: Callable[[], object]
    stream: Callable[[], int]
    achat: Callable[[], Awaitable[object]]
    close: Callable[[], None]


# ---------------------------------------------------------------- the subjects


def messages() -> list[Any]:
    from llama_index.core.base.llms.types import ChatMessage

    return [ChatMessage(role="user", content="Say hello in one short sentence.")]


def holysheep(base_url: str, concurrency: int) -> Subject:
    """``llamaindex_holysheep.HolySheep``."""
    from llamaindex_holysheep import HolySheep

    llm = HolySheep(model=MODEL, api_key="bench", base_url=base_url)
    msgs = messages()
    return Subject(
        lambda: llm.chat(msgs),
        lambda: sum(1 for _ in llm.stream_chat(msgs)),
        lambda: llm.achat(msgs),
        llm.close,
    )


def openai_like(base_url: str, concurrency: int) -> Subject:
    """``OpenAILike(api_base=..., is_chat_model=True)``, as the LlamaIndex docs set up a relay."""
    from llama_index.llms.openai_like import OpenAILike

    llm = OpenAILike(model=MODEL, api_key="bench", api_base=base_url, is_chat_model=True)
    msgs = messages()
    return Subject(
        lambda: llm.chat(msgs),
        lambda: sum(1 for _ in llm.stream_chat(msgs)),
        lambda: llm.achat(msgs),
        lambda: None,
    )


def core(base_url: str, concurrency: int) -> Subject:
    """``HolySheepClient`` alone: the part of HolySheep's cost that is not the adapter's."""
    from holysheep import HolySheepClient

    client = HolySheepClient(api_key="bench", base_url=base_url)
    wire = [{"role": "user", "content": "Say hello in one short sentence."}]

    def stream() -> int:
        with client.stream(model=MODEL, messages=wire) as chunks:
            return sum(1 for _ in chunks)

    return Subject(
        lambda: client.chat(model=MODEL, messages=wire),
        stream,
        lambda: client.achat(model=MODEL, messages=wire),
        client.close,
    )


def floor(base_url: str, concurrency: int, frames: int = 202) -> Subject:
    """A no-I/O LLM returning canned responses through LlamaIndex's callback decorators."""
    from llama_index.core.base.llms.types import ChatResponse, LLMMetadata
    from llama_index.core.llms.callbacks import llm_chat_callback
    from llama_index.core.llms.custom import CustomLLM

    reply = ChatResponse(message=messages()[0], raw={}, delta="tok ")
    canned = [reply] * frames

    class Floor(CustomLLM):
        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(is_chat_model=True)

        def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
            raise NotImplementedError

        def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
            raise NotImplementedError

        @llm_chat_callback()
        def chat(self, messages: Any, **kwargs: Any) -> ChatResponse:
            return reply

        @llm_chat_callback()
        def stream_chat(self, messages: Any, **kwargs: Any) -> Any:
            return (r for r in canned)

        @llm_chat_callback()
        async def achat(self, messages: Any, **kwargs: Any) -> ChatResponse:
            await asyncio.sleep(0)
            return reply

    llm, msgs = Floor(), messages()
    return Subject(
        lambda: llm.chat(msgs),
        lambda: sum(1 for _ in llm.stream_chat(msgs)),
        lambda: llm.achat(msgs),
        lambda: None,
    )


FACTORIES = {"holysheep": holysheep, "openai_like": openai_like, "core": core, "floor": floor}


# ---------------------------------------------------------------- measuring


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


def measure_sync(base_url: str, cfg: Config) -> dict[str, dict[str, float]]:
    """Sequential chat and stream calls of every subject, interleaved, best round kept."""
    frames = cfg.chunks + 2  # content chunks + finish chunk + usage chunk
    subjects = {name: make(base_url, cfg.concurrency) for name, make in FACTORIES.items()}
    chat: dict[str, list[Sample]] = {name: [] for name in subjects}
    stream: dict[str, list[Sample]] = {name: [] for name in subjects}
    try:
        for subject in subjects.values():  # warm up: connections, caches, lazy imports
            run_sync(subject.chat, max(50, cfg.calls // 10))
            run_sync(subject.stream, 5)
        for _ in range(cfg.rounds):
            for name, subject in subjects.items():
                chat[name].append(run_sync(subject.chat, cfg.calls))
                stream[name].append(run_sync(subject.stream, cfg.stream_calls))
    finally:
        for subject in subjects.values():
            subject.close()
    return {
        "chat_cpu_us": {n: min(s.cpu / s.calls for s in v) * 1e6 for n, v in chat.items()},
        "chat_wall_us": {n: min(s.wall / s.calls for s in v) * 1e6 for n, v in chat.items()},
        "stream_cpu_us_chunk": {
            n: min(s.cpu / s.calls for s in v) * 1e6 / frames for n, v in stream.items()
        },
        "stream_wall_ms": {n: min(s.wall / s.calls for s in v) * 1e3 for n, v in stream.items()},
    }


async def measure_async(base_url: str, cfg: Config) -> dict[str, dict[str, float]]:
    """Async chat throughput and CPU at ``cfg.concurrency``."""
    names = ("holysheep", "openai_like", "core")
    subjects = {name: FACTORIES[name](base_url, cfg.concurrency) for name in names}
    samples: dict[str, list[Sample]] = {name: [] for name in names}
    for subject in subjects.values():  # warm up: open every connection of the pool
        await run_async(subject.achat, cfg.concurrency * 4, cfg.concurrency)
    for _ in range(cfg.rounds):
        for name, subject in subjects.items():
            samples[name].append(await run_async(subject.achat, cfg.async_calls, cfg.concurrency))
    for subject in subjects.values():
        subject.close()
    return {
        "async_rate": {n: max(s.calls / s.wall for s in v) for n, v in samples.items()},
        "async_cpu_us": {n: min(s.cpu / s.calls for s in v) * 1e6 for n, v in samples.items()},
    }


def import_ms(module: str, runs: int) -> float:
    """Median wall ms of ``import module`` once ``llama_index.core.llms`` is already imported."""
    code = (
        "import time, llama_index.core.llms; t = time.perf_counter(); "
        f"import {module}; print(time.perf_counter() - t)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "shared")])}
    times = []
    for _ in range(runs + 1):
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        ).stdout
        times.append(float(out) * 1000)
    return statistics.median(times[1:])  # the first run warms the bytecode cache


# ---------------------------------------------------------------- reporting


def tabulate(results: dict[str, dict[str, float]], cfg: Config) -> list[dict[str, Any]]:
    """One row per measurement, with the holysheep/openai_like ratio and its target."""
    rows = []
    for key, values in results.items():
        ratio = values["holysheep"] / values["openai_like"]
        check, target = TARGETS.get(key, (None, ""))
        rows.append(
            {
                "key": key,
                "label": LABELS[key].format(c=cfg.concurrency),
                **values,
                "ratio": ratio,
                "target": target,
                "ok": check(ratio) if check else None,
            }
        )
    return rows


def render(rows: list[dict[str, Any]], imports: dict[str, float]) -> str:
    """A fixed-width text table."""
    header = ("measurement", *NAMES, "hs/oai", "target", "")
    lines = [header]
    for row in rows:
        cells = [f"{row[n]:.1f}" if n in row else "-" for n in NAMES]
        mark = {True: "ok", False: "MISS", None: ""}[row["ok"]]
        lines.append((row["label"], *cells, f"{row['ratio']:.2f}x", row["target"], mark))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = [
        "  ".join(
            c.ljust(w) if i in (0, 6) else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    ]
    out.insert(1, "  ".join("-" * w for w in widths))
    if imports:
        hs, oai = imports["llamaindex_holysheep"], imports["llama_index.llms.openai_like"]
        mark = "ok" if hs <= 150 else "MISS"
        out.append(
            f"\nimport after llama_index.core.llms, wall ms: llamaindex_holysheep {hs:.0f} "
            f"(target <= 150: {mark}), llama_index.llms.openai_like {oai:.0f}"
        )
    return "\n".join(out)


def write_json(path: Path, cfg: Config, rows: list[dict[str, Any]], imports: dict) -> None:
    """Save the run as JSON."""
    from importlib.metadata import version

    packages = ("llama-index-core", "llama-index-llms-openai-like", "openai", "httpx", "pydantic")
    doc = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "packages": {name: version(name) for name in packages},
        },
        "config": asdict(cfg),
        "results": rows,
        "import_ms_after_llama_index_core_llms": imports,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- profiling and main


def profile(cfg: Config, top: int) -> None:
    """cProfile HolySheep's sync chat and stream paths (self time, top ``top`` functions)."""
    import cProfile
    import pstats

    with loopback_server(cfg.chunks) as base_url:
        subject = holysheep(base_url, cfg.concurrency)
        run_sync(subject.chat, 50)
        run_sync(subject.stream, 5)
        for label, fn, calls in (
            ("chat", subject.chat, cfg.calls),
            ("stream", subject.stream, cfg.stream_calls),
        ):
            profiler = cProfile.Profile()
            profiler.runcall(run_sync, fn, calls)
            print(f"\n=== HolySheep {label}, {calls} calls: top {top} by self time ===")
            pstats.Stats(profiler).sort_stats("tottime").print_stats(top)
        subject.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts, one round")
    parser.add_argument("--calls", type=int, help="sync chat calls per round (1000)")
    parser.add_argument("--async-calls", type=int, help="async chat calls per round (2000)")
    parser.add_argument("--concurrency", type=int, default=64, help="async concurrency (64)")
    parser.add_argument("--stream-calls", type=int, help="streamed calls per round (60)")
    parser.add_argument("--chunks", type=int, default=200, help="content chunks per stream")
    parser.add_argument("--rounds", type=int, help="rounds per measurement, best kept (3)")
    parser.add_argument("--import-runs", type=int, help="fresh interpreters per import (5)")
    parser.add_argument("--skip", action="append", default=[], choices=("sync", "async", "import"))
    parser.add_argument("--json", type=Path, default=HERE / "results" / "llamaindex-latest.json")
    parser.add_argument("--profile", action="store_true", help="only cProfile HolySheep")
    parser.add_argument("--top", type=int, default=30, help="rows of --profile output")
    return parser.parse_args(argv)


def config(args: argparse.Namespace) -> Config:
    quick = {"calls": 300, "async_calls": 600, "stream_calls": 15, "rounds": 1, "import_runs": 3}
    full = {"calls": 1000, "async_calls": 2000, "stream_calls": 60, "rounds": 3, "import_runs": 5}
    defaults = quick if args.quick else full
    picked = {k: v if getattr(args, k) is None else getattr(args, k) for k, v in defaults.items()}
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
    imports: dict[str, float] = {}
    if "import" not in args.skip:
        for module in ("llamaindex_holysheep", "llama_index.llms.openai_like"):
            imports[module] = import_ms(module, cfg.import_runs)
    rows = tabulate(results, cfg)
    print(render(rows, imports))
    print(
        f"\n{cfg}\nran in {time.perf_counter() - started:.1f} s; python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs; JSON: {args.json}"
    )
    write_json(args.json, cfg, rows, imports)


if __name__ == "__main__":
    main()
