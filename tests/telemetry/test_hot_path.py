"""What the per-call fast path must keep: a user's span as parent and the relay span as parent
of HTTP spans, cost totals across ``instrument()`` calls, attributes right past the shape cache,
and whole signals when the other signal's provider is a no-op."""

from __future__ import annotations

import asyncio

import holysheep
import httpx
import pytest
from holysheep import HolySheepClient
from holysheep.testing import RelayEmulator
from opentelemetry import trace
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.trace import NoOpTracerProvider, SpanKind

from ..conftest import FAKE_KEY
from .conftest import FAST, Telemetry, chat, stream
from .test_switch import run_python


def test_a_span_the_user_started_is_the_parent_and_current_again_after(
    client: HolySheepClient, otel: Telemetry, side: str
) -> None:
    tracer = otel.tracer_provider.get_tracer("the application")
    with tracer.start_as_current_span("request handler") as outer:
        chat(client, side)
        stream(client, side)
        assert trace.get_current_span() is outer
    *relays, handler = otel.spans()
    assert [r.name for r in relays] == ["chat gpt-4.1", "chat gpt-4.1"]
    for relay in relays:
        assert relay.parent is not None and relay.parent.span_id == handler.context.span_id
        assert relay.context.trace_id == handler.context.trace_id


def test_without_a_user_span_each_call_is_a_root_span(
    client: HolySheepClient, otel: Telemetry, side: str
) -> None:
    chat(client, side)
    chat(client, side)
    first, second = otel.spans()
    assert first.parent is None and second.parent is None
    assert first.context.trace_id != second.context.trace_id


def test_an_http_span_made_during_the_call_nests_under_the_relay_span(
    emulator: RelayEmulator, otel: Telemetry, side: str
) -> None:
    """What an HTTP instrumentation does: a span from a request hook gets the relay span as
    parent."""
    tracer = otel.tracer_provider.get_tracer("an http instrumentation")

    def hook(request: httpx.Request) -> None:
        tracer.start_span(f"POST {request.url.path}", kind=SpanKind.CLIENT).end()

    async def ahook(request: httpx.Request) -> None:
        hook(request)

    if side == "sync":
        http = httpx.Client(event_hooks={"request": [hook]})
        with http, HolySheepClient(api_key=FAKE_KEY, base_url=emulator.base_url,
                                   http_client=http) as client:
            client.chat(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}])
    else:
        async def run() -> None:
            async with httpx.AsyncClient(event_hooks={"request": [ahook]}) as http:
                client = HolySheepClient(api_key=FAKE_KEY, base_url=emulator.base_url,
                                         http_async_client=http)
                await client.achat(model="gpt-4.1",
                                   messages=[{"role": "user", "content": "hi"}])
                await client.aclose()

        asyncio.run(run())
    http_span, relay = otel.spans()
    assert relay.name == "chat gpt-4.1" and http_span.name.startswith("POST ")
    assert http_span.parent is not None and http_span.parent.span_id == relay.context.span_id


def test_the_cost_counter_keeps_counting_across_instrument_calls(
    client: HolySheepClient, otel: Telemetry, side: str
) -> None:
    """The counter is cumulative: a second ``instrument()`` on the same provider adds to it."""
    first = chat(client, side, task="qa")
    (point,) = otel.points("holysheep.cost")
    assert point.value == pytest.approx(float(first.call_info.cost.total_usd))
    otel.reinstrument()
    second = chat(client, side, task="qa")
    holysheep.uninstrument()
    chat(client, side, task="qa")  # uninstrumented: not counted
    (point,) = otel.points("holysheep.cost")
    assert point.value == pytest.approx(
        float(first.call_info.cost.total_usd + second.call_info.cost.total_usd))
    assert otel.metric("holysheep.cost").data.is_monotonic


def test_fresh_providers_start_their_cost_from_zero(
    client: HolySheepClient, otel: Telemetry
) -> None:
    chat(client, "sync", task="qa")
    reader = InMemoryMetricReader()
    again = Telemetry(otel.exporter, reader, otel.tracer_provider,
                      MeterProvider(metric_readers=[reader]))
    again.reinstrument()
    try:
        reply = chat(client, "sync", task="qa")
        (point,) = again.points("holysheep.cost")
        assert point.value == pytest.approx(float(reply.call_info.cost.total_usd))
    finally:
        again.meter_provider.shutdown()


def test_attributes_stay_right_for_more_callers_than_the_cache_holds(
    emulator: RelayEmulator, otel: Telemetry
) -> None:
    users = [f"user-{i}" for i in range(300)]  # more shapes than the cache keeps
    with HolySheepClient(api_key=FAKE_KEY, base_url=emulator.base_url, retry=FAST) as client:
        replies = {}
        for user in [*users, users[0], users[-1]]:
            replies[user] = replies.get(user, 0.0) + float(client.chat(
                model="gpt-4.1", messages=[{"role": "user", "content": "hi"}], user=user,
                app="crm", max_tokens=5 + len(user) % 3,
            ).call_info.cost.total_usd)
    spans = otel.spans()
    assert [s.attributes["holysheep.user"] for s in spans] == [*users, users[0], users[-1]]
    assert all(s.attributes["gen_ai.request.max_tokens"] == 5 + len(u) % 3
               for s, u in zip(spans, [*users, users[0], users[-1]], strict=True))
    assert all(s.attributes["holysheep.app"] == "crm" for s in spans)
    costs = {p.attributes["holysheep.user"]: p.value for p in otel.points("holysheep.cost")}
    assert costs.keys() == set(users)
    assert all(costs[u] == pytest.approx(replies[u]) for u in users)
    durations = otel.points("gen_ai.client.operation.duration")
    assert sum(p.count for p in durations) == len(users) + 2
    assert {tuple(sorted(p.attributes)) for p in durations} == {(
        "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model",
        "gen_ai.response.model", "server.address", "server.port")}


def test_a_no_op_tracer_still_gets_every_metric(
    client: HolySheepClient, emulator: RelayEmulator, otel: Telemetry, side: str
) -> None:
    holysheep.instrument(tracer_provider=NoOpTracerProvider(),
                         meter_provider=otel.meter_provider)
    emulator.fail(503, times=1)  # a retry: its event has no span to go to, and that is fine
    reply = chat(client, side, task="qa")
    stream(client, side)
    assert otel.spans() == []
    tokens = otel.points("gen_ai.client.token.usage")
    assert sum(p.count for p in tokens) == 4
    (cost,) = [p for p in otel.points("holysheep.cost") if p.attributes.get("holysheep.task")]
    assert cost.value == pytest.approx(float(reply.call_info.cost.total_usd))
    assert sum(p.count for p in otel.points("gen_ai.client.operation.duration")) == 2
    assert len(otel.points("gen_ai.client.operation.time_to_first_chunk")) == 1


def test_a_no_op_meter_still_gets_whole_spans(
    client: HolySheepClient, emulator: RelayEmulator, otel: Telemetry, side: str
) -> None:
    holysheep.instrument(tracer_provider=otel.tracer_provider,
                         meter_provider=NoOpMeterProvider())
    emulator.fail(503, times=1)
    reply = chat(client, side, task="qa")
    span = otel.span()
    a = span.attributes
    assert a["holysheep.cost.usd"] == pytest.approx(float(reply.call_info.cost.total_usd))
    assert a["gen_ai.usage.output_tokens"] == reply.call_info.usage.completion_tokens
    assert a["holysheep.task"] == "qa" and a["holysheep.attempts"] == 2
    assert [e.name for e in span.events] == ["holysheep.retry"]
    assert otel.points("gen_ai.client.operation.duration") == []


def test_calls_before_the_application_sets_its_providers_cost_nothing_and_later_ones_count(
) -> None:
    """Instrumented with the global providers while they are still the API's placeholders:
    calls are neither traced nor measured (nothing to send them to), and once the application
    sets its providers the next call is traced and measured in full."""
    got = run_python("""
    import json
    import holysheep
    from holysheep import _telemetry
    from holysheep.testing import RelayEmulator
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    holysheep.instrument()
    hello = [{"role": "user", "content": "hi"}]
    with RelayEmulator() as relay, holysheep.HolySheepClient(
            api_key="k-123456789", base_url=relay.base_url) as c:
        c.chat(model="gpt-4.1", messages=hello, task="early")
        with c.stream(model="gpt-4.1", messages=hello, task="early") as s:
            list(s)
        idle = _telemetry.start(c._prepare(None, {"model": "gpt-4.1", "messages": hello},
                                           stream=False)) is None
        exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        reply = c.chat(model="gpt-4.1", messages=hello, task="late")
    costs = {p.attributes["holysheep.task"]: p.value
             for rm in reader.get_metrics_data().resource_metrics for sm in rm.scope_metrics
             for m in sm.metrics if m.name == "holysheep.cost" for p in m.data.data_points}
    print(json.dumps({"idle": idle, "spans": [s.attributes["holysheep.task"]
                                              for s in exporter.get_finished_spans()],
                      "costs": costs, "late": float(reply.call_info.cost.total_usd)}))
    """)
    assert got["idle"] is True
    assert got["spans"] == ["late"]
    assert got["costs"] == {"late": pytest.approx(got["late"])}
