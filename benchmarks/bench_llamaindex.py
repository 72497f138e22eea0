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

import asyncio
import time
from collections.abc import Callable
from typing import Any

import _harness as harness
from _harness import Config, Contender, Results, Row

MODEL = "gpt-4.1"
NAMES = ("holysheep", "openai_like", "core", "floor")
ASYNC_NAMES = ("holysheep", "openai_like", "core")
QUICK = {"calls": 300, "async_calls": 600, "stream_calls": 15, "rounds": 1, "import_runs": 3}
FULL = {"calls": 1000, "async_calls": 2000, "stream_calls": 60, "rounds": 3, "import_runs": 5}
PACKAGES = ("llama-index-core", "llama-index-llms-openai-like", "openai", "httpx", "pydantic")
TABLE = harness.Table(NAMES, "openai_like", "hs/oai", (  # targets: holysheep / openai_like
    Row("chat_cpu_us", "sync chat, CPU µs/call", target="ratio <= 0.5",
        check=lambda v, r: r <= 0.5),
    Row("chat_wall_us", "sync chat, wall µs/call"),
    Row("stream_cpu_us_chunk", "stream, CPU µs/chunk", target="ratio <= 0.5",
        check=lambda v, r: r <= 0.5),
    Row("stream_wall_ms", "stream, wall ms/call"),
    Row("async_rate", "async chat c={c}, calls/s", target="ratio >= 1.5",
        check=lambda v, r: r >= 1.5),
    Row("async_cpu_us", "async chat c={c}, CPU µs/call"),
))
IMPORTED_FIRST = "import llama_index.core.llms"
IMPORTS = ("llamaindex_holysheep", "llama_index.llms.openai_like")
IMPORT_TARGET_MS = 150  # llamaindex_holysheep, over llama_index.core.llms

# ---------------------------------------------------------------- the subjects


def messages() -> list[Any]:
    """The one user message every subject sends."""
    from llama_index.core.base.llms.types import ChatMessage

    return [ChatMessage(role="user", content="Say hello in one short sentence.")]


def llm_subject(llm: Any, close: Callable[[], object] | None = None) -> Contender:
    """A LlamaIndex LLM's ``chat``, ``stream_chat`` (responses counted) and ``achat``."""
    msgs = messages()
    return Contender(
        lambda: llm.chat(msgs),
        lambda: sum(1 for _ in llm.stream_chat(msgs)),
        lambda: llm.achat(msgs),
        close or (lambda: None),
    )


def holysheep(base_url: str, concurrency: int) -> Contender:
    """``llamaindex_holysheep.HolySheep``."""
    from llamaindex_holysheep import HolySheep

    llm = HolySheep(model=MODEL, api_key="bench", base_url=base_url)
    return llm_subject(llm, llm.close)


def openai_like(base_url: str, concurrency: int) -> Contender:
    """``OpenAILike(api_base=..., is_chat_model=True)``, as the LlamaIndex docs set up a relay."""
    from llama_index.llms.openai_like import OpenAILike

    return llm_subject(
        OpenAILike(model=MODEL, api_key="bench", api_base=base_url, is_chat_model=True)
    )


def core(base_url: str, concurrency: int) -> Contender:
    """``HolySheepClient`` alone: the part of HolySheep's cost that is not the adapter's."""
    from holysheep import HolySheepClient

    client = HolySheepClient(api_key="bench", base_url=base_url)
    wire = [{"role": "user", "content": "Say hello in one short sentence."}]

    def stream() -> int:
        with client.stream(model=MODEL, messages=wire) as chunks:
            return sum(1 for _ in chunks)

    return Contender(
        lambda: client.chat(model=MODEL, messages=wire),
        stream,
        lambda: client.achat(model=MODEL, messages=wire),
        client.close,
    )


def floor(base_url: str, concurrency: int, frames: int = 202) -> Contender:
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

    return llm_subject(Floor())


FACTORIES: dict[str, Callable[[str, int], Contender]] = {
    "holysheep": holysheep, "openai_like": openai_like, "core": core, "floor": floor}

# ---------------------------------------------------------------- the measurements


def measure_sync(base_url: str, cfg: Config) -> Results:
    """Sequential chat and stream calls of every subject, interleaved, best round kept."""
    subjects = {name: make(base_url, cfg.concurrency) for name, make in FACTORIES.items()}
    with harness.opened(subjects):
        return harness.measure_sync(subjects, cfg, "chat")


async def measure_async(base_url: str, cfg: Config) -> Results:
    """Async chat throughput and CPU at ``cfg.concurrency`` (no floor: it does no I/O)."""
    subjects = {name: FACTORIES[name](base_url, cfg.concurrency) for name in ASYNC_NAMES}
    try:
        return await harness.measure_async(subjects, cfg)
    finally:
        await harness.aclose_all(subjects)


def import_note(imports: dict[str, float]) -> str:
    """The line under the table: import times once ``llama_index.core.llms`` is imported."""
    if not imports:
        return ""
    hs, oai = (imports[module] for module in IMPORTS)
    mark = "ok" if hs <= IMPORT_TARGET_MS else "MISS"
    return (f"\n\nimport after llama_index.core.llms, wall ms: {IMPORTS[0]} {hs:.0f} "
            f"(target <= {IMPORT_TARGET_MS}: {mark}), {IMPORTS[1]} {oai:.0f}")


def profile(cfg: Config, top: int) -> None:
    """cProfile HolySheep's sync chat and stream paths (self time, top ``top`` functions)."""
    with harness.loopback_server(cfg.chunks) as base_url:
        harness.profile_sync(holysheep(base_url, cfg.concurrency), cfg, "HolySheep", top)


def main(argv: list[str] | None = None) -> None:
    """Measure, print the table, write the JSON (or only profile, with ``--profile``)."""
    args, cfg = harness.setup(__doc__, "llamaindex-latest.json", QUICK, FULL,
                              profile_help="only cProfile HolySheep", argv=argv)
    if args.profile:
        return profile(cfg, args.top)
    started = time.perf_counter()
    results = harness.measure_groups(cfg, args.skip, lambda url: measure_sync(url, cfg),
                                     lambda url: measure_async(url, cfg))
    imports: dict[str, float] = {}
    if "import" not in args.skip:
        statements = {module: f"import {module}" for module in IMPORTS}
        imports = harness.import_times(statements, cfg.import_runs, setup=IMPORTED_FIRST)
    harness.finish(TABLE, results, cfg, args.json, started, PACKAGES, note=import_note(imports),
                   import_ms_after_llama_index_core_llms=imports)


if __name__ == "__main__":
    main()
