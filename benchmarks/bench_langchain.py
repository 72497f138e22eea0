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

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import _harness as harness
from _harness import Config, Contender, Contenders, Results, Row

NAMES = ("httpx", "core-floor", "holysheep", "openai")
MODEL = "gpt-4.1"
PROMPT = "Say hello in one short sentence."
QUICK = {"calls": 300, "async_calls": 640, "stream_calls": 20, "rounds": 1, "import_runs": 3}
FULL = {"calls": 1000, "async_calls": 2000, "stream_calls": 60, "rounds": 3, "import_runs": 5}
PACKAGES = ("httpx", "pydantic", "langchain-core", "langchain-openai", "openai")
TABLE = harness.Table(NAMES, "openai", "hs/openai", (  # targets: holysheep / ChatOpenAI
    Row("invoke_cpu_us", "invoke, CPU µs/call", "{:.0f}", "ratio <= 0.5", lambda v, r: r <= 0.5),
    Row("stream_cpu_us_chunk", "stream, CPU µs/chunk", "{:.1f}", "ratio <= 0.4",
        lambda v, r: r <= 0.4),
    Row("stream_net_cpu_us_chunk", "stream, net CPU µs/chunk", "{:.1f}"),
    Row("async_rate", "ainvoke c={c}, calls/s", "{:.0f}", "ratio >= 1.5", lambda v, r: r >= 1.5),
    Row("async_cpu_us", "ainvoke c={c}, CPU µs/call", "{:.0f}"),
    Row("import_extra_ms", "import over BaseChatModel, ms", "{:.0f}", "holysheep <= 150 ms",
        lambda v, r: v <= 150),
    Row("import_init_extra_ms", "import + 1st init over BaseChatModel", "{:.0f}"),
    Row("import_bare_extra_ms", "import over lc_core.language_models, ms", "{:.0f}"),
))

# ---------------------------------------------------------------- the clients


def httpx_client(base_url: str, concurrency: int) -> Contender:
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

    return Contender(invoke, stream, ainvoke, sync.close)


def floor_client(chunks: int) -> Contender:
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

    return chat_model(Floor())


def chat_model(model: Any, close: Callable[[], object] | None = None) -> Contender:
    """A LangChain chat model's ``invoke``, ``stream`` (chunks counted) and ``ainvoke``."""
    return Contender(
        lambda: model.invoke(PROMPT),
        lambda: sum(1 for _ in model.stream(PROMPT)),
        lambda: model.ainvoke(PROMPT),
        close or (lambda: None),
    )


def holysheep_client(base_url: str) -> Contender:
    """ChatHolySheep over the holysheep core."""
    from langchain_holysheep import ChatHolySheep

    model = ChatHolySheep(model=MODEL, api_key="bench", base_url=base_url, max_retries=0)
    return chat_model(model, lambda: model.client.close())


def openai_client(base_url: str) -> Contender:
    """ChatOpenAI on the same base URL, with usage on streams asked for (as ChatHolySheep does)."""
    from langchain_openai import ChatOpenAI

    return chat_model(ChatOpenAI(
        model=MODEL, api_key="bench", base_url=base_url, stream_usage=True, max_retries=0
    ))


def clients(base_url: str, cfg: Config) -> Contenders:
    """Every client under test, built once."""
    return {
        "httpx": httpx_client(base_url, cfg.concurrency),
        "core-floor": floor_client(cfg.chunks),
        "holysheep": holysheep_client(base_url),
        "openai": openai_client(base_url),
    }


# ---------------------------------------------------------------- the measurements


def measure_imports(cfg: Config) -> Results:
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
    times = harness.import_times({
        "bare": package,
        "core": base,
        "ours": f"{base}; {ours}",
        "theirs": f"{base}; {theirs}",
        "ours_init": f"{base}; {ours}{init_ours}",
        "theirs_init": f"{base}; {theirs}{init_theirs}",
        "ours_bare": f"{package}; {ours}",
        "theirs_bare": f"{package}; {theirs}",
    }, cfg.import_runs)

    def over(suffix: str, reference: str) -> dict[str, float]:
        return {"httpx": 0.0, "core-floor": 0.0,
                "holysheep": times[f"ours{suffix}"] - times[reference],
                "openai": times[f"theirs{suffix}"] - times[reference]}

    return {
        "import_extra_ms": over("", "core"),
        "import_init_extra_ms": over("_init", "core"),
        "import_bare_extra_ms": over("_bare", "bare"),
    }


def profile(cfg: Config, top: int) -> None:
    """cProfile ChatHolySheep's invoke and stream paths (self time, top ``top`` rows)."""
    with harness.loopback_server(cfg.chunks) as base_url:
        harness.profile_sync(holysheep_client(base_url), cfg, "ChatHolySheep", top,
                             chat_label="invoke")


def main(argv: list[str] | None = None) -> None:
    """Measure, print the table, write the JSON (or only profile, with ``--profile``)."""
    args, cfg = harness.setup(__doc__, "langchain-latest.json", QUICK, FULL, noun="invokes",
                              profile_help="only cProfile ChatHolySheep", argv=argv)
    if args.profile:
        return profile(cfg, args.top)
    started = time.perf_counter()
    results: Results = {}
    with harness.loopback_server(cfg.chunks) as base_url, \
            harness.opened(clients(base_url, cfg)) as all_clients:
        if "sync" not in args.skip:
            results |= harness.measure_sync(all_clients, cfg, "invoke")
        if "async" not in args.skip:
            results |= asyncio.run(harness.measure_async(all_clients, cfg))
    if "import" not in args.skip:
        results |= measure_imports(cfg)
    harness.finish(TABLE, results, cfg, args.json, started, PACKAGES)


if __name__ == "__main__":
    main()
