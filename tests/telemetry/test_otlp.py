"""End to end: spans and metrics exported over OTLP/HTTP to a loopback receiver in this test,
decoded with the opentelemetry-proto classes, as a collector would see them."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import holysheep
import pytest
from holysheep import HolySheepClient
from holysheep.testing import RelayEmulator
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from .conftest import chat, stream


class Receiver(ThreadingHTTPServer):
    """A loopback OTLP/HTTP endpoint keeping every decoded export request."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.traces: list[ExportTraceServiceRequest] = []
        self.metrics: list[ExportMetricsServiceRequest] = []
        self.content_types: set[str] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        if self.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.content_types.add(self.headers.get("content-type", ""))
        if self.path == "/v1/traces":
            self.server.traces.append(ExportTraceServiceRequest.FromString(body))
        elif self.path == "/v1/metrics":
            self.server.metrics.append(ExportMetricsServiceRequest.FromString(body))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def value(any_value: Any) -> Any:
    """The Python value of an OTLP ``AnyValue``."""
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return tuple(value(v) for v in any_value.array_value.values)
    return getattr(any_value, kind)


def attributes(key_values: Any) -> dict[str, Any]:
    return {kv.key: value(kv.value) for kv in key_values}


def test_spans_and_metrics_arrive_over_otlp_http(
    receiver: Receiver, emulator: RelayEmulator, client: HolySheepClient
) -> None:
    resource = Resource.create({"service.name": "checkout"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{receiver.url}/v1/traces", timeout=10))
    )
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{receiver.url}/v1/metrics", timeout=10),
        export_interval_millis=3_600_000,  # exported once, at shutdown
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    holysheep.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    try:
        emulator.fail(503)
        reply = chat(client, "sync", task="qa", app="shop")
        stream(client, "async", task="qa", app="shop")
    finally:
        holysheep.uninstrument()
        tracer_provider.shutdown()
        meter_provider.shutdown()

    assert receiver.content_types == {"application/x-protobuf"}
    spans = [
        (attributes(rs.resource.attributes), scope.scope, span)
        for request in receiver.traces
        for rs in request.resource_spans
        for scope in rs.scope_spans
        for span in scope.spans
    ]
    assert len(spans) == 2
    resource_attrs, scope, first = spans[0]
    assert resource_attrs["service.name"] == "checkout"
    assert scope.name == "holysheep" and scope.version == holysheep.__version__
    assert first.name == "chat gpt-4.1" and first.kind == first.SPAN_KIND_CLIENT
    a = attributes(first.attributes)
    assert a["gen_ai.provider.name"] == "holysheep"
    assert a["gen_ai.response.id"] == reply.id
    assert a["gen_ai.usage.output_tokens"] == reply.call_info.usage.completion_tokens
    assert a["holysheep.cost.usd"] == pytest.approx(float(reply.call_info.cost.total_usd))
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    (retry,) = first.events
    assert retry.name == "holysheep.retry"
    assert attributes(retry.attributes)["http.response.status_code"] == 503
    streamed = attributes(spans[1][2].attributes)
    assert streamed["gen_ai.request.stream"] is True
    assert streamed["gen_ai.response.time_to_first_chunk"] > 0

    metrics = {
        metric.name: metric
        for request in receiver.metrics
        for rm in request.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
    }
    assert set(metrics) == {
        "gen_ai.client.token.usage",
        "gen_ai.client.operation.duration",
        "gen_ai.client.operation.time_to_first_chunk",
        "holysheep.cost",
    }
    (cost,) = metrics["holysheep.cost"].sum.data_points
    assert metrics["holysheep.cost"].unit == "USD" and metrics["holysheep.cost"].sum.is_monotonic
    assert attributes(cost.attributes) == {
        "gen_ai.response.model": "gpt-4.1", "holysheep.task": "qa", "holysheep.app": "shop"}
    assert cost.as_double == pytest.approx(2 * float(reply.call_info.cost.total_usd))
    tokens = metrics["gen_ai.client.token.usage"].histogram.data_points
    assert {attributes(p.attributes)["gen_ai.token.type"] for p in tokens} == {"input", "output"}
    assert sum(p.count for p in tokens) == 4
