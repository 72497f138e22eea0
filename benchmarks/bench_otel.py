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
    python benchmarks/bench_otel.py --before REV   # adds a "before" column: the telemetry
                                                   # package at git REV, interleaved in the run

Besides the end-to-end rows it times telemetry's own CPU in-process (chat start and end, no
network) for each state, the SDK's floor (the same signals with no attributes) and the SDK's
floor with this call's very attributes (what any instrumentation emitting them must pay).

Results are printed and written to ``benchmarks/results/otel-latest.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
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
    """The SDK set up as a service would for tests: in-memory span exporter and metric reader.

    ``recorder`` is an ``OtelRecorder`` class to install instead of ``holysheep.instrument()``'s
    (the ``--before`` one); each instance has providers of its own, so two never share metrics.
    """

    def __init__(self, recorder: Any = None) -> None:
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
        self.recorder = recorder

    def on(self) -> None:
        import holysheep
        from holysheep import _telemetry

        if self.recorder is None:
            holysheep.instrument(tracer_provider=self.tracer_provider,
                                 meter_provider=self.meter_provider)
        else:
            _telemetry.activate(self.recorder(self.tracer_provider, self.meter_provider,
                                              capture_content=False))

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


def measure(base_url: str, cfg: Config, states: dict[str, Telemetry | None]) -> Results:
    """Interleaved rounds: every call kind in every state (``None``: off); the best round of
    each."""
    client, fns = calls(base_url)
    counts = {"sync": cfg.calls, "stream": cfg.stream_calls, "async": cfg.async_calls,
              "astream": cfg.stream_calls}
    samples: dict[str, dict[str, list[Sample]]] = {k: {s: [] for s in states} for k in fns}

    async def async_rounds(kind: str, state: str, n: int) -> None:
        samples[kind][state].append(await run_async_seq(fns[kind], n))

    def switch(state: str) -> None:
        import holysheep

        holysheep.uninstrument()
        for telemetry in states.values():  # outside the timed batches: no pile of spans
            if telemetry is not None:
                telemetry.exporter.clear()
        telemetry = states[state]
        if telemetry is not None:
            telemetry.on()

    def one(kind: str, state: str, n: int) -> None:
        if kind in ("async", "astream"):
            asyncio.run(async_rounds(kind, state, n))
        else:
            samples[kind][state].append(harness.run_sync(fns[kind], n))

    for state in states:  # warm up every path: connections, lazy imports, caches
        switch(state)
        for kind in fns:
            one(kind, state, 20)
    for kind in fns:
        samples[kind] = {s: [] for s in states}
    for _ in range(cfg.rounds):
        for kind in fns:
            for state in states:
                switch(state)
                one(kind, state, counts[kind])
    switch("off")
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


def cpu_us(fn: Callable[[], object], n: int, repeat: int, between: Callable[[], None]) -> float:
    """Best of ``repeat`` batches of ``n`` calls: this thread's CPU µs per call (``between``
    runs before each batch, untimed)."""
    times = []
    for _ in range(repeat):
        between()
        gc.collect()
        started = time.thread_time()
        for _ in range(n):
            fn()
        times.append((time.thread_time() - started) / n * 1e6)
    return min(times)


def direct_us(base_url: str, chunks: int, states: dict[str, Telemetry]) -> dict[str, dict[str,
                                                                                          float]]:
    """Telemetry's own CPU per call, timed in-process without the network (far less noisy than
    the end-to-end difference), per state: a chat's start and end, and a stream of ``chunks``
    chunks read through the telemetry wrapper minus the same chunks read bare. States take
    turns, round after round; the best round of each is kept."""
    from holysheep import HolySheepClient, _telemetry

    with HolySheepClient(api_key="bench", base_url=base_url) as client:
        completion = client.chat(model=MODEL, messages=MESSAGES, task="qa")
        call = client._prepare(None, {"model": MODEL, "messages": MESSAGES, "task": "qa"},
                               stream=False)
        with client.stream(model=MODEL, messages=MESSAGES, task="qa") as chat_stream:
            pieces = list(chat_stream)[:chunks]
        owner = chat_stream._core  # what the stream hook is given: the reading state
    recorders = {}
    for name, telemetry in states.items():
        telemetry.on()
        recorders[name] = _telemetry._recorder
    _telemetry.activate(None)
    n = 2_000
    best: dict[str, dict[str, float]] = {name: {} for name in states}

    def keep(name: str, key: str, value: float) -> None:
        best[name][key] = min(best[name].get(key, value), value)

    def bare() -> None:
        for _ in iter(pieces):
            pass

    for _ in range(5):
        for name, telemetry in states.items():
            recorder = recorders[name]
            clear = telemetry.exporter.clear

            def chat(recorder: Any = recorder) -> None:
                recorder.end(recorder.start(call), completion)

            def wrapped(recorder: Any = recorder) -> None:
                for _ in recorder.stream(owner, iter(pieces)):
                    pass

            keep(name, "chat", cpu_us(chat, n, 3, clear))
            keep(name, "stream", cpu_us(wrapped, n // 10, 3, clear)
                 - cpu_us(bare, n // 10, 3, clear))
    return best


def sdk_floors_us(base_url: str) -> dict[str, float]:
    """Microseconds the SDK itself takes for one call's signals, as a floor for telemetry.

    ``bare``: one span started and ended, three histogram points (duration, input and output
    tokens) and one counter add, no attributes at all. ``attributed``: the span and the three
    histogram points with the very attributes an instrumented chat gives them (no counter: the
    cost counter is observed at collection now). No instrumentation emitting the same
    attributes through the SDK can go below ``attributed``.
    """
    from holysheep import HolySheepClient
    from opentelemetry.trace import SpanKind

    telemetry = Telemetry()
    telemetry.on()
    with HolySheepClient(api_key="bench", base_url=base_url) as client:
        client.chat(model=MODEL, messages=MESSAGES, task="qa")
    (span,) = telemetry.exporter.get_finished_spans()
    telemetry.off()
    span_attrs = dict(span.attributes or {})
    points: dict[str, Any] = {}
    for rm in telemetry.reader.get_metrics_data().resource_metrics:  # type: ignore[union-attr]
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for point in metric.data.data_points:
                    kind = point.attributes.get("gen_ai.token.type", "")
                    points[f"{metric.name}/{kind}"] = dict(point.attributes)
    duration_attrs = points["gen_ai.client.operation.duration/"]
    input_attrs = points["gen_ai.client.token.usage/input"]
    output_attrs = points["gen_ai.client.token.usage/output"]

    tracer = telemetry.tracer_provider.get_tracer("floor")
    meter = telemetry.meter_provider.get_meter("floor")
    duration, tokens = meter.create_histogram("floor.duration"), meter.create_histogram("floor.t")
    cost = meter.create_counter("floor.cost")

    def bare() -> None:
        tracer.start_span("chat").end()
        duration.record(0.5)
        tokens.record(10)
        tokens.record(20)
        cost.add(0.001)

    def attributed() -> None:
        tracer.start_span(span.name, kind=SpanKind.CLIENT, attributes=span_attrs).end()
        duration.record(0.5, duration_attrs)
        tokens.record(10, input_attrs)
        tokens.record(20, output_attrs)

    required = ("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model",
                "gen_ai.token.type")  # Required and Conditionally Required on GenAI metrics
    least = [{k: v for k, v in attrs.items() if k in required}
             for attrs in (duration_attrs, input_attrs, output_attrs)]

    def least_attributed() -> None:
        tracer.start_span(span.name, kind=SpanKind.CLIENT, attributes=span_attrs).end()
        duration.record(0.5, least[0])
        tokens.record(10, least[1])
        tokens.record(20, least[2])

    best: dict[str, float] = {}
    for _ in range(5):
        for name, fn in (("bare", bare), ("attributed", attributed),
                         ("least", least_attributed)):
            value = cpu_us(fn, 2_000, 3, telemetry.exporter.clear)
            best[name] = min(best.get(name, value), value)
    return best


def load_before(rev: str) -> Any:
    """The ``OtelRecorder`` class of the telemetry package at git ``rev``, loaded beside the
    current one as ``holysheep._telemetry_before`` (it uses the current hooks module)."""
    harness.load_package_at(rev, "shared/holysheep/telemetry", "_telemetry_before")
    return importlib.import_module("holysheep._telemetry_before._recorder").OtelRecorder


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
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--before", metavar="REV",
                     help="also time the telemetry package at git REV (column 'before')")
    known, rest = pre.parse_known_args(argv)
    args, cfg = harness.setup(__doc__, "otel-latest.json", QUICK, FULL, argv=rest,
                              profile_help="only cProfile the instrumented calls")
    started = time.perf_counter()
    states: dict[str, Telemetry | None] = {"off": None}
    if known.before:
        states["before"] = Telemetry(load_before(known.before))
    states["on"] = Telemetry()
    names = tuple(states)
    with harness.loopback_server(cfg.chunks) as base_url:
        if args.profile:
            return profile(base_url, cfg, args.top)
        results = measure(base_url, cfg, states)
        hooks = hooks_off_us()
        floors = sdk_floors_us(base_url)
        live = {name: Telemetry(t.recorder) for name, t in states.items() if t is not None}
        direct = direct_us(base_url, cfg.chunks + 2, live)
    table = []
    for row in TABLE.rows:
        values = results[row.key]
        delta = values["on"] - values["off"]
        chat = row.key in ("sync_cpu_us", "async_cpu_us")
        table.append({"key": row.key, "label": row.label, **values,
                      "ratio": values["on"] / values["off"], "on_minus_off": delta,
                      **({"before_minus_off": values["before"] - values["off"]}
                         if "before" in values else {}),
                      "target": f"+{TARGET_ON_US:.0f} µs" if chat else "",
                      "ok": (delta <= TARGET_ON_US) if chat else None, "fmt": row.fmt})
    print(harness.render(table, names, TABLE.ratio_header))
    for state in names[1:]:
        print(f"\n{state} minus off, CPU µs/call: " + ", ".join(
            f"{row['label'].split(',')[0]} {row[state] - row['off']:.1f}" for row in table))
    frames = cfg.chunks + 2
    for state, values in direct.items():
        print(f"telemetry's own CPU, timed in-process ({state}): chat {values['chat']:.1f} "
              f"µs/call, stream {values['stream']:.1f} µs/call ({frames} chunks; target <= "
              f"{TARGET_ON_US:.0f} µs: {'ok' if values['chat'] <= TARGET_ON_US else 'MISS'})")
    if "before" in direct:
        print(f"in-process chat, on/before: {direct['on']['chat'] / direct['before']['chat']:.2f}x")
    print(f"OpenTelemetry SDK floor, the same signals with no attributes: {floors['bare']:.1f} "
          f"µs/call; with this call's attributes (span + 3 histogram points): "
          f"{floors['attributed']:.1f} µs/call; with only the attributes the conventions "
          f"require on the metric points: {floors['least']:.1f} µs/call")
    print(f"hooks while off, µs/call: chat {hooks['chat']:.3f}, stream {hooks['stream']:.3f} "
          f"(target < {TARGET_OFF_US:.0f} µs: "
          f"{'ok' if max(hooks.values()) < TARGET_OFF_US else 'MISS'})")
    print(f"\n{cfg}\nran in {time.perf_counter() - started:.1f} s; JSON: {args.json}")
    harness.write_json(args.json, cfg, table, harness.machine_info(PACKAGES), 3,
                       before=known.before, hooks_off_us=hooks, sdk_floor_us=floors["bare"],
                       sdk_floor_attributed_us=floors["attributed"],
                       sdk_floor_least_us=floors["least"], direct_us=direct)


if __name__ == "__main__":
    main()
