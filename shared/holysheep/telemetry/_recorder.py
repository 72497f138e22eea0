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

from .. import _telemetry
from .._secrets import scrub
from ._attributes import error_attributes, outcome_attributes, request_attributes
from ._content import output_messages

if TYPE_CHECKING:
    import httpx

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


class _Record:
    """One call in flight: its span, clock, metric attributes and context tokens."""

    __slots__ = ("metric_attrs", "otel_token", "own_token", "span", "started", "ttfc")

    def __init__(self, span: Any, metric_attrs: dict[str, Any]) -> None:
        self.span = span
        self.metric_attrs = metric_attrs
        self.started = time.perf_counter()
        self.ttfc: float | None = None
        self.own_token: Any = None
        self.otel_token: Any = None


class OtelRecorder:
    """Spans through a tracer, GenAI histograms and the cost counter through a meter."""

    def __init__(
        self, tracer_provider: Any = None, meter_provider: Any = None, *, capture_content: bool
    ) -> None:
        from .. import __version__

        self.capture_content = capture_content
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
        self._cost = meter.create_counter(
            "holysheep.cost", unit="USD",
            description="List-price cost of billed relay calls, in USD.",
        )
        self._servers: dict[int, tuple[Any, str, int]] = {}

    # ------------------------------------------------------------ the hooks' targets

    def start(self, call: _Call, *, attach: bool = True) -> _Record:
        """Open the call's span; with ``attach``, make it current until ``end``/``fail``."""
        host, port = self._server(call.url)
        metric_attrs = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "holysheep",
            "gen_ai.request.model": call.model,
            "server.address": host,
            "server.port": port,
        }
        attrs = request_attributes(metric_attrs, call, self.capture_content)
        span = self._tracer.start_span(f"chat {call.model}", kind=SpanKind.CLIENT,
                                       attributes=attrs)
        record = _Record(span, metric_attrs)
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
        if record is None:  # telemetry failed to start: the chunks, untraced
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

    def _attach(self, record: _Record) -> None:
        record.own_token = _telemetry.current.set(record)
        record.otel_token = otel_context.attach(trace.set_span_in_context(record.span))

    @staticmethod
    def _detach(record: _Record) -> None:
        if record.own_token is not None:
            otel_context.detach(record.otel_token)
            _telemetry.current.reset(record.own_token)
            record.own_token = record.otel_token = None

    def _first_chunk(self, record: _Record) -> None:
        record.ttfc = time.perf_counter() - record.started
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
        """Outcome attributes on the span, every metric recorded, the span ended."""
        span, elapsed = record.span, time.perf_counter() - record.started
        info: CallInfo | None = completion.call_info if completion is not None else None
        attrs: dict[str, Any] = {}
        metric_attrs = record.metric_attrs
        if completion is not None:
            attrs = outcome_attributes(completion, info)
            metric_attrs = {**metric_attrs, "gen_ai.response.model": attrs["gen_ai.response.model"]}
            if self.capture_content:
                attrs["gen_ai.output.messages"] = output_messages(completion)
        if record.ttfc is not None:
            attrs["gen_ai.response.time_to_first_chunk"] = record.ttfc
            self._ttfc.record(record.ttfc, metric_attrs)
        if info is not None:
            self._record_usage(info, metric_attrs)
        if error is not None:
            error_attrs = error_attributes(error)
            attrs.update(error_attrs)
            metric_attrs = {**metric_attrs, "error.type": error_attrs["error.type"]}
            span.set_status(Status(StatusCode.ERROR, scrub(str(error))[:500]))
            span.record_exception(error, escaped=True)
        span.set_attributes(attrs)
        self._duration.record(elapsed, metric_attrs)
        span.end()

    def _record_usage(self, info: CallInfo, metric_attrs: dict[str, Any]) -> None:
        usage, cost = info.usage, info.cost
        if usage is not None:
            self._tokens.record(usage.prompt_tokens, {**metric_attrs, "gen_ai.token.type": "input"})
            self._tokens.record(
                usage.completion_tokens, {**metric_attrs, "gen_ai.token.type": "output"}
            )
        if cost is not None:
            who = info.attribution
            cost_attrs = {"gen_ai.response.model": info.model}
            for key, value in (("task", who.task), ("user", who.user), ("app", who.app)):
                if value:
                    cost_attrs[f"holysheep.{key}"] = value
            self._cost.add(float(cost.total_usd), cost_attrs)

    def _server(self, url: httpx.URL) -> tuple[str, int]:
        """``server.address`` and ``server.port`` of a client's URL (cached per URL object)."""
        found = self._servers.get(id(url))
        if found is None or found[0] is not url:
            port = url.port or (443 if url.scheme == "https" else 80)
            if len(self._servers) > 64:
                self._servers.clear()
            found = self._servers[id(url)] = (url, url.host, port)
        return found[1], found[2]
