"""Telemetry fixtures: holysheep instrumented with the OpenTelemetry SDK's in-memory exporter and
metric reader (fresh providers per test), a fast-retrying client on the emulator, both sides."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import holysheep
import pytest
from holysheep import HolySheepClient, RetryPolicy
from holysheep.testing import RelayEmulator
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from ..conftest import FAKE_KEY

FAST = RetryPolicy(max_attempts=3, initial_delay=0.0, max_delay=0.0, deadline=10.0)
HELLO = [{"role": "user", "content": "Hello there"}]


@dataclass
class Telemetry:
    """What the instrumented client exported: finished spans and collected metric points."""

    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def reinstrument(self) -> None:
        """``holysheep.instrument()`` again on the same providers (it re-reads the settings)."""
        holysheep.instrument(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
        )

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def span(self) -> ReadableSpan:
        """The one span the test made (fails when there are more or none)."""
        (span,) = self.spans()
        return span

    def points(self, name: str) -> list[Any]:
        """Every data point of metric ``name`` (empty when nothing was recorded)."""
        data = self.reader.get_metrics_data()
        found: list[Any] = []
        for resource in data.resource_metrics if data is not None else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)
        return found

    def metric(self, name: str) -> Any:
        """The metric ``name`` itself (unit, description), or None."""
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data is not None else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        return metric
        return None


@pytest.fixture
def otel(monkeypatch: pytest.MonkeyPatch) -> Iterator[Telemetry]:
    """holysheep instrumented with fresh SDK providers; uninstrumented afterwards."""
    monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", raising=False)
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    holysheep.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    try:
        yield Telemetry(exporter, reader, tracer_provider, meter_provider)
    finally:
        holysheep.uninstrument()
        meter_provider.shutdown()
        tracer_provider.shutdown()


@pytest.fixture(params=["sync", "async"])
def side(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def client(emulator: RelayEmulator) -> Iterator[HolySheepClient]:
    with HolySheepClient(api_key=FAKE_KEY, base_url=emulator.base_url, retry=FAST) as c:
        yield c


def chat(client: HolySheepClient, side: str, **params: Any) -> holysheep.ChatCompletion:
    """One chat call on the chosen side (async in its own asyncio.run, as users do)."""
    params.setdefault("model", "gpt-4.1")
    params.setdefault("messages", HELLO)
    if side == "sync":
        return client.chat(**params)
    return asyncio.run(client.achat(**params))


def stream(client: HolySheepClient, side: str, **params: Any) -> tuple[list[Any], Any]:
    """Read a whole stream; returns (chunks, the stream object)."""
    params.setdefault("model", "gpt-4.1")
    params.setdefault("messages", HELLO)
    if side == "sync":
        with client.stream(**params) as s:
            return list(s), s

    async def run() -> tuple[list[Any], Any]:
        async with client.astream(**params) as s:
            return [c async for c in s], s

    return asyncio.run(run())


def failing(fn: Any, *args: Any, **kwargs: Any) -> holysheep.HolySheepError:
    """The HolySheepError ``fn(*args, **kwargs)`` raises."""
    with pytest.raises(holysheep.HolySheepError) as caught:
        fn(*args, **kwargs)
    return caught.value
