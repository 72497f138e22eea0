"""The OpenTelemetry side of the hooks: one GenAI span per relay call and the GenAI metrics.

Names follow the OpenTelemetry GenAI semantic conventions (``gen_ai.*``); what they do not
cover (cost, task, route, attempts) is under ``holysheep.*``. Built per ``instrument()`` call.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

try:  # the global meter provider before the application sets one (the API's own placeholder)
    from opentelemetry.metrics._internal import _ProxyMeterProvider
except ImportError:  # pragma: no cover - a future API that moved it: treat it as live
    _ProxyMeterProvider = metrics.NoOpMeterProvider

from .. import _telemetry
from .._secrets import scrub
from ._attributes import error_attributes, outcome_attributes, request_attributes
from ._content import output_messages
from ._shapes import Answered, Shape, Shapes
from ._totals import totals_for

if TYPE_CHECKING:
    from decimal import Decimal

    from .._base import _Call
    from ..calls import CallInfo
    from ..wire import ChatCompletion

__all__ = ["OtelRecorder"]

T = TypeVar("T")
SCOPE = "holysheep"
SCHEMA_URL = "https://opentelemetry.io/schemas/1.37.0"
# the conventions' advisory bucket boundaries for these two histograms
_DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48,
                     40.96, 81.92)
_TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
                  16777216, 67108864)
_NOTHING: Any = object()
_IDLE_TRACERS: tuple[type, ...] = (trace.NoOpTracerProvider, trace.ProxyTracerProvider)
_IDLE_METERS: tuple[type, ...] = (metrics.NoOpMeterProvider, _ProxyMeterProvider)


class _Switch:
    """Whether a signal's provider does anything. A given provider decides once; the global one
    is idle until the application sets a real provider, which it can do only once."""

    __slots__ = ("_get", "_idle", "live")

    def __init__(self, given: Any, get_global: Any, idle: tuple[type, ...]) -> None:
        self._idle = idle
        self._get = None if given is not None else get_global
        self.live = given is not None and not isinstance(given, idle)

    def __call__(self) -> bool:
        if self.live:
            return True
        if self._get is not None:
            self.live = not isinstance(self._get(), self._idle)
        return self.live


class _Record:
    """One call in flight: its span (``None`` while tracing is idle), shape, clock and tokens."""

    __slots__ = ("otel_token", "own_token", "shape", "span", "started", "ttfc")

    def __init__(self, span: Any, shape: Shape) -> None:
        self.span = span
        self.shape = shape
        self.started = time.perf_counter()
        self.ttfc: float | None = None
        self.own_token: Any = None
        self.otel_token: Any = None


class OtelRecorder:
    """Spans through a tracer, GenAI histograms through a meter, the cost counter observed."""

    def __init__(
        self, tracer_provider: Any = None, meter_provider: Any = None, *, capture_content: bool
    ) -> None:
        from .. import __version__

        self.capture_content = capture_content
        self._tracing = _Switch(tracer_provider, trace.get_tracer_provider, _IDLE_TRACERS)
        self._metering = _Switch(meter_provider, metrics.get_meter_provider, _IDLE_METERS)
        self._tracer = trace.get_tracer(SCOPE, __version__, tracer_provider, schema_url=SCHEMA_URL)
        meter = metrics.get_meter(SCOPE, __version__, meter_provider, schema_url=SCHEMA_URL)
        self._tokens = meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=list(_TOKEN_BUCKETS),
        )
        self._duration = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=list(_DURATION_BUCKETS),
        )
        self._ttfc = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk", unit="s",
            description="Time to receive the first chunk of a streamed response.",
            explicit_bucket_boundaries_advisory=list(_DURATION_BUCKETS),
        )
        self._totals = totals_for(meter_provider)
        meter.create_observable_counter(
            "holysheep.cost", callbacks=[self._totals.observe], unit="USD",
            description="List-price cost of billed relay calls, in USD.",
        )
        self._shapes = Shapes()

    # ------------------------------------------------------------ the hooks' targets

    def start(self, call: _Call, *, attach: bool = True) -> _Record | None:
        """Open the call's span; with ``attach``, make it current until ``end``/``fail``.

        ``None`` (nothing to do for this call) while both the tracer and the meter are no-ops.
        """
        tracing = self._tracing()
        if not tracing and not self._metering():
            return None
        shape = self._shapes.get(call)
        if not tracing:
            return _Record(None, shape)
        attrs = request_attributes(shape.span, call, self.capture_content)
        record = _Record(
            self._tracer.start_span(shape.name, kind=SpanKind.CLIENT, attributes=attrs), shape
        )
        if attach:
            self._attach(record)
        return record

    def end(self, record: _Record, completion: ChatCompletion) -> None:
        """The call answered: response, usage and cost on the span and in the metrics."""
        self._detach(record)
        self._finish(record, completion, None)

    def fail(self, record: _Record, error: BaseException) -> None:
        """The call gave up: ``error.type`` and an error status on the span and duration."""
        self._detach(record)
        self._finish(record, None, error)

    def event(self, record: _Record, name: str, error: BaseException, **fields: Any) -> None:
        """A span event (retry, fallback) with the error that caused it."""
        attrs = error_attributes(error)
        for key, value in fields.items():
            attrs[f"{name}.{key}"] = value
        record.span.add_event(name, attrs)

    def stream(self, owner: Any, chunks: Iterator[T]) -> Iterator[T]:
        """Yield ``chunks`` inside one span from the request to the last chunk."""
        record = self._safe_start(owner._call)
        if record is None:  # nothing to record, or telemetry failed to start: the bare chunks
            yield from chunks
            return
        try:
            try:  # current only while opening (retries, fallbacks); never across a yield
                first = next(chunks, _NOTHING)
            finally:
                self._detach(record)
            if first is _NOTHING:
                self._finish_stream(record, owner, None)
                return
            self._first_chunk(record)
            yield first
            yield from chunks
        except GeneratorExit:  # the caller stopped reading: the call still ends, no error
            chunks.close()  # type: ignore[attr-defined]
            self._finish_stream(record, owner, None)
            raise
        except BaseException as exc:
            self._finish_stream(record, owner, exc)
            raise
        self._finish_stream(record, owner, None)

    async def astream(self, owner: Any, chunks: AsyncIterator[T]) -> AsyncIterator[T]:
        """Yield ``chunks`` inside one span from the request to the last chunk (async twin)."""
        record = self._safe_start(owner._call)
        if record is None:
            async for chunk in chunks:
                yield chunk
            return
        try:
            try:
                first = await chunks.__anext__()
            except StopAsyncIteration:
                self._finish_stream(record, owner, None)
                return
            finally:
                self._detach(record)
            self._first_chunk(record)
            yield first
            async for chunk in chunks:
                yield chunk
        except GeneratorExit:
            await chunks.aclose()  # type: ignore[attr-defined]
            self._finish_stream(record, owner, None)
            raise
        except BaseException as exc:
            self._finish_stream(record, owner, exc)
            raise
        self._finish_stream(record, owner, None)

    # ------------------------------------------------------------ shared steps

    def _safe_start(self, call: _Call) -> _Record | None:
        try:
            return self.start(call)
        except Exception:  # telemetry never costs the caller a stream
            _telemetry.broken("stream start")
            return None

    @staticmethod
    def _attach(record: _Record) -> None:
        record.own_token = _telemetry.current.set(record)
        record.otel_token = otel_context.attach(trace.set_span_in_context(record.span))

    @staticmethod
    def _detach(record: _Record) -> None:
        if record.own_token is not None:  # only a span is ever made current
            otel_context.detach(record.otel_token)
            _telemetry.current.reset(record.own_token)
            record.own_token = record.otel_token = None

    def _first_chunk(self, record: _Record) -> None:
        record.ttfc = time.perf_counter() - record.started
        if record.span is not None:
            record.span.add_event("holysheep.first_chunk")

    def _finish_stream(self, record: _Record, owner: Any, error: BaseException | None) -> None:
        try:
            self._detach(record)
            info = owner.call_info
            self._finish(record, owner.completion if info is not None else None, error)
        except Exception:  # telemetry never costs the caller a stream
            _telemetry.broken("stream end")

    def _finish(
        self, record: _Record, completion: ChatCompletion | None, error: BaseException | None
    ) -> None:
        """Outcome attributes on the span, every metric recorded, the span ended.

        Metric attributes come ready-made from the call's shape; the span's outcome attributes
        are built only when the span records.
        """
        elapsed = time.perf_counter() - record.started
        span, shape = record.span, record.shape
        info: CallInfo | None = None
        usd: Decimal | None = None
        if completion is not None:
            info = completion.call_info
            response_model = completion.model or (info.model if info is not None else "")
            answered = shape.answered(response_model)
            metric_attrs = answered[0]
            if info is not None and info.cost is not None:
                usd = info.cost.total_usd
        else:
            response_model, answered, metric_attrs = "", None, shape.metric
        error_attrs = error_attributes(error) if error is not None else None
        if span is not None and span.is_recording():
            attrs = (outcome_attributes(completion, info, response_model, usd)
                     if completion is not None else {})
            if completion is not None and self.capture_content:
                attrs["gen_ai.output.messages"] = output_messages(completion)
            if record.ttfc is not None:
                attrs["gen_ai.response.time_to_first_chunk"] = record.ttfc
            if error is not None and error_attrs is not None:
                attrs.update(error_attrs)
                span.set_status(Status(StatusCode.ERROR, scrub(str(error))[:500]))
                span.record_exception(error, escaped=True)
            span.set_attributes(attrs)
        if self._metering():
            if record.ttfc is not None:
                self._ttfc.record(record.ttfc, metric_attrs)
            if info is not None and answered is not None:
                self._record_usage(info, answered, usd)
            if error_attrs is not None:
                metric_attrs = {**metric_attrs, "error.type": error_attrs["error.type"]}
            self._duration.record(elapsed, metric_attrs)
        if span is not None:
            span.end()

    def _record_usage(
        self, info: CallInfo, answered: Answered, usd: Decimal | None
    ) -> None:
        usage = info.usage
        if usage is not None:
            self._tokens.record(usage.prompt_tokens, answered[1])
            self._tokens.record(usage.completion_tokens, answered[2])
        if usd is not None:
            who = info.attribution
            self._totals.add(usd, info.model, who.task, who.user, who.app)
