"""Telemetry overhead: client CPU per call with telemetry off and on, in one run.

One ``HolySheepClient`` talks to the loopback server (``_server.py``, its own process). Each round
times the same calls twice, first uninstrumented, then after ``holysheep.instrument()`` with the
OpenTelemetry SDK (``SimpleSpanProcessor`` into an ``InMemorySpanExporter``, an
``InMemoryMetricReader``), and keeps the best round of each (noise only ever adds). The
difference is telemetry's cost per call. Off, the only extra work is the client's hooks testing a
module-level ``None``; their cost is timed directly (``hooks off``), since removing them to get a
baseline would mean another build of the client.

    python benchmarks/bench_otel.py            # ~40 s
    python benchmarks/bench_otel.py --quick    # ~10 s
    python benchmarks/bench_otel.py --profile  # cProfile of instrumented chat and stream calls

Results are printed and written to ``benchmarks/results/otel-latest.json``.
"""

from __future__ import annotations

import asyncio
import time
import timeit
from collections.abc import Callable
from typing import Any

import _harness as harness
from _harness import Config, Results, Row, Sample

NAMES = ("off", "on")
MODEL = "gpt-4.1"
MESSAGES = [{"role": "user", "content": "Say hello in one short sentence."}]
QUICK = {"calls": 500, "async_calls": 500, "stream_calls": 100, "rounds": 2,
         "import_runs": 0}
FULL = {"calls": 2000, "async_calls": 2000, "stream_calls": 400, "rounds": 5,
        "import_runs": 0}
PACKAGES = ("httpx", "pydantic", "opentelemetry-api", "opentelemetry-sdk")
TARGET_ON_US = 25.0
TARGET_OFF_US = 1.0
TABLE = harness.Table(NAMES, "off", "on/off", (
    Row("sync_cpu_us", "sync chat, CPU µs/call", "{:.1f}"),
    Row("async_cpu_us", "async chat, CPU µs/call", "{:.1f}"),
    Row("stream_cpu_us", "sync stream, CPU µs/call", "{:.1f}"),
    Row("astream_cpu_us", "async stream, CPU µs/call", "{:.1f}"),
))


class Telemetry:
    """The SDK set up as a service would for tests: in-memory span exporter and metric reader."""

    def __init__(self) -> None:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def on(self) -> None:
        import holysheep

        holysheep.instrument(tracer_provider=self.tracer_provider,
                             meter_provider=self.meter_provider)

    def off(self) -> None:
        import holysheep

        holysheep.uninstrument()
        self.exporter.clear()  # outside the timed batches: spans do not pile up across rounds


def calls(base_url: str) -> tuple[Any, dict[str, Callable[[], Any]]]:
    """The client and one callable per measured call kind."""
    from holysheep import HolySheepClient

    client = HolySheepClient(api_key="bench", base_url=base_url)

    def chat() -> object:
        return client.chat(model=MODEL, messages=MESSAGES)

    def stream() -> int:
        with client.stream(model=MODEL, messages=MESSAGES) as chunks:
            return sum(1 for _ in chunks)

    async def achat() -> object:
        return await client.achat(model=MODEL, messages=MESSAGES)

    async def astream() -> int:
        async with client.astream(model=MODEL, messages=MESSAGES) as chunks:
            return sum([1 async for _ in chunks])

    return client, {"sync": chat, "stream": stream, "async": achat, "astream": astream}


async def run_async_seq(fn: Callable[[], Any], n: int) -> Sample:
    """``n`` awaited calls, one after another (no concurrency: CPU per call is what we want)."""
    import gc

    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n):
        await fn()
    return Sample(n, time.process_time() - cpu, time.perf_counter() - wall)


def measure(base_url: str, cfg: Config) -> Results:
    """Interleaved rounds: every call kind off, then on; the best round of each."""
    telemetry = Telemetry()
    client, fns = calls(base_url)
    counts = {"sync": cfg.calls, "stream": cfg.stream_calls, "async": cfg.async_calls,
              "astream": cfg.stream_calls}
    samples: dict[str, dict[str, list[Sample]]] = {k: {"off": [], "on": []} for k in fns}

    async def async_rounds(kind: str, state: str, n: int) -> None:
        samples[kind][state].append(await run_async_seq(fns[kind], n))

    def one(kind: str, state: str, n: int) -> None:
        if kind in ("async", "astream"):
            asyncio.run(async_rounds(kind, state, n))
        else:
            samples[kind][state].append(harness.run_sync(fns[kind], n))

    for state in ("on", "off"):  # warm up both paths: connections, lazy imports, caches
        telemetry.on() if state == "on" else telemetry.off()
        for kind in fns:
            one(kind, state, 20)
    for kind in fns:
        samples[kind] = {"off": [], "on": []}
    for _ in range(cfg.rounds):
        for kind in fns:
            for state in ("off", "on"):
                telemetry.on() if state == "on" else telemetry.off()
                one(kind, state, counts[kind])
    telemetry.off()
    client.close()
    return {f"{kind}_cpu_us": harness.best(by_state, lambda s: s.cpu_us)
            for kind, by_state in samples.items()}


def hooks_off_us() -> dict[str, float]:
    """Microseconds the client's hooks add per call while telemetry is off (timed directly)."""
    from holysheep import _telemetry as telemetry
    from holysheep import uninstrument
    from holysheep._base import _ClientBase

    uninstrument()
    call = _ClientBase(api_key="bench")._prepare(None, {"model": MODEL, "messages": MESSAGES},
                                                  stream=False)
    chunks = iter(())
    n = 1_000_000

    def chat_hooks() -> None:  # what chat()/achat() run: start, then end
        span = telemetry.start(call)
        telemetry.end(span, None)  # type: ignore[arg-type]

    def stream_hook() -> None:  # what ChatStream.__init__ runs
        telemetry.stream(None, chunks)

    return {
        "chat": min(timeit.repeat(chat_hooks, number=n, repeat=5)) / n * 1e6,
        "stream": min(timeit.repeat(stream_hook, number=n, repeat=5)) / n * 1e6,
    }


def direct_us(base_url: str, chunks: int) -> dict[str, float]:
    """Telemetry's own CPU per call, timed in-process without the network (far less noisy than
    the end-to-end difference): a chat's start and end, and a stream of ``chunks`` chunks read
    through the telemetry wrapper minus the same chunks read bare."""
    from holysheep import HolySheepClient, _telemetry

    telemetry = Telemetry()
    with HolySheepClient(api_key="bench", base_url=base_url) as client:
        completion = client.chat(model=MODEL, messages=MESSAGES, task="qa")
        call = client._prepare(None, {"model": MODEL, "messages": MESSAGES, "task": "qa"},
                               stream=False)
        with client.stream(model=MODEL, messages=MESSAGES, task="qa") as owner:
            pieces = list(owner)[:chunks]
    telemetry.on()
    recorder = _telemetry._recorder
    assert recorder is not None
    n = 5_000

    def chat() -> None:
        recorder.end(recorder.start(call), completion)

    def wrapped() -> None:
        for _ in recorder.stream(owner, iter(pieces)):
            pass

    def bare() -> None:
        for _ in iter(pieces):
            pass

    def best(fn: Callable[[], None]) -> float:
        value = min(timeit.repeat(fn, number=n, repeat=5)) / n * 1e6
        telemetry.exporter.clear()
        return value

    result = {"chat": best(chat), "stream": best(wrapped) - best(bare)}
    telemetry.off()
    return result


def sdk_floor_us(telemetry: Telemetry) -> float:
    """Microseconds the SDK itself takes for one call's telemetry with no attributes at all:
    one span started and ended, three histogram points (duration, input and output tokens)
    and one counter add. No instrumentation can go below this with the same signals."""
    tracer = telemetry.tracer_provider.get_tracer("floor")
    meter = telemetry.meter_provider.get_meter("floor")
    duration, tokens = meter.create_histogram("floor.duration"), meter.create_histogram("floor.t")
    cost = meter.create_counter("floor.cost")
    n = 20_000

    def one_call() -> None:
        tracer.start_span("chat").end()
        duration.record(0.5)
        tokens.record(10)
        tokens.record(20)
        cost.add(0.001)

    best = min(timeit.repeat(one_call, number=n, repeat=5)) / n * 1e6
    telemetry.exporter.clear()
    return best


def profile(base_url: str, cfg: Config, top: int) -> None:
    """cProfile the instrumented chat and stream calls."""
    import cProfile

    telemetry = Telemetry()
    client, fns = calls(base_url)
    telemetry.on()
    for kind in ("sync", "stream"):
        harness.run_sync(fns[kind], 20)
        profiler = cProfile.Profile()
        profiler.runcall(harness.run_sync, fns[kind], cfg.calls if kind == "sync" else
                         cfg.stream_calls)
        harness.print_profile(profiler, f"instrumented {kind}", top,
                              ("holysheep", "opentelemetry"))
    telemetry.off()
    client.close()


def main(argv: list[str] | None = None) -> None:
    """Measure, print the table and the verdicts, write the JSON."""
    args, cfg = harness.setup(__doc__, "otel-latest.json", QUICK, FULL, argv=argv,
                              profile_help="only cProfile the instrumented calls")
    started = time.perf_counter()
    with harness.loopback_server(cfg.chunks) as base_url:
        if args.profile:
            return profile(base_url, cfg, args.top)
        results = measure(base_url, cfg)
    hooks = hooks_off_us()
    floor = sdk_floor_us(Telemetry())
    with harness.loopback_server(cfg.chunks) as base_url:
        direct = direct_us(base_url, cfg.chunks + 2)
    deltas = {key: values["on"] - values["off"] for key, values in results.items()}
    table = []
    for row in TABLE.rows:
        values = results[row.key]
        delta = deltas[row.key]
        chat = row.key in ("sync_cpu_us", "async_cpu_us")
        table.append({"key": row.key, "label": row.label, **values,
                      "ratio": values["on"] / values["off"], "on_minus_off": delta,
                      "target": f"+{TARGET_ON_US:.0f} µs" if chat else "",
                      "ok": (delta <= TARGET_ON_US) if chat else None, "fmt": row.fmt})
    print(harness.render(table, NAMES, TABLE.ratio_header))
    print("\non minus off, CPU µs/call: " + ", ".join(
        f"{row.label.split(',')[0]} {deltas[row.key]:.1f}" for row in TABLE.rows))
    print(f"telemetry's own CPU, timed in-process: chat {direct['chat']:.1f} µs/call, stream "
          f"{direct['stream']:.1f} µs/call ({cfg.chunks + 2} chunks; target <= "
          f"{TARGET_ON_US:.0f} µs: {'ok' if direct['chat'] <= TARGET_ON_US else 'MISS'})")
    print(f"OpenTelemetry SDK floor, the same signals with no attributes: {floor:.1f} µs/call")
    frames = cfg.chunks + 2
    print(f"stream, on minus off per chunk: sync {deltas['stream_cpu_us'] / frames:.2f} µs, "
          f"async {deltas['astream_cpu_us'] / frames:.2f} µs ({frames} chunks a stream)")
    print(f"hooks while off, µs/call: chat {hooks['chat']:.3f}, stream {hooks['stream']:.3f} "
          f"(target < {TARGET_OFF_US:.0f} µs: "
          f"{'ok' if max(hooks.values()) < TARGET_OFF_US else 'MISS'})")
    print(f"\n{cfg}\nran in {time.perf_counter() - started:.1f} s; JSON: {args.json}")
    harness.write_json(args.json, cfg, table, harness.machine_info(PACKAGES), 3,
                       hooks_off_us=hooks, sdk_floor_us=floor, direct_us=direct)

if __name__ == "__main__":
    main()
