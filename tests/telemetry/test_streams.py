"""Streams: one span from the request to the last chunk, with time to first chunk; a cut or an
error frame ends it as an error with what was billed; a caller who stops early ends it cleanly."""

from __future__ import annotations

import asyncio

from holysheep import HolySheepClient
from holysheep.errors import StreamError
from holysheep.routing import TaskRouter
from holysheep.testing import RelayEmulator, Reply
from opentelemetry.trace import StatusCode

from ..conftest import FAKE_KEY
from ..hostile import HostileUpstream, Pause, chunk, sse_response, usage_chunk
from .conftest import Telemetry, failing, stream


def test_a_stream_is_one_span_covering_every_chunk(
    client: HolySheepClient, emulator: RelayEmulator, otel: Telemetry, side: str
) -> None:
    emulator.script(Reply(content="one two three four five"))
    chunks, s = stream(client, side, task="qa")
    span = otel.span()
    a = span.attributes
    assert span.name == "chat gpt-4.1" and a["gen_ai.request.stream"] is True
    assert a["gen_ai.response.id"] == s.completion.id
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    assert a["gen_ai.usage.output_tokens"] == s.call_info.usage.completion_tokens > 0
    assert a["holysheep.cost.usd"] > 0 and a["holysheep.task"] == "qa"
    ttfc = a["gen_ai.response.time_to_first_chunk"]
    assert 0 < ttfc <= (span.end_time - span.start_time) / 1e9
    assert [e.name for e in span.events] == ["holysheep.first_chunk"]
    assert len(chunks) > 2


def test_the_span_lasts_until_the_last_chunk_not_the_first(otel: Telemetry, side: str) -> None:
    """The answer trickles: the first chunk comes at once, the rest after a pause. The span's
    length is measured against its own time to first chunk (a ratio, not a clock)."""
    events = [chunk("a"), Pause(0.3), chunk("b", finish="stop"), usage_chunk(5, 2)]
    with HostileUpstream() as up:
        up.answer(sse_response(events))
        with HolySheepClient(api_key=FAKE_KEY, base_url=up.base_url) as client:
            stream(client, side)
    span = otel.span()
    duration = (span.end_time - span.start_time) / 1e9
    assert duration >= 0.3 > span.attributes["gen_ai.response.time_to_first_chunk"]


def test_a_stream_cut_mid_way_is_an_error_span_with_the_estimated_cost(
    client: HolySheepClient, emulator: RelayEmulator, otel: Telemetry, side: str
) -> None:
    emulator.script(Reply(content="a long answer that will not arrive whole " * 5))
    emulator.cut_stream(after_chunks=3)
    error = failing(stream, client, side)
    assert isinstance(error, StreamError)
    span = otel.span()
    a = span.attributes
    assert span.status.status_code is StatusCode.ERROR and a["error.type"] == "StreamError"
    assert a["holysheep.cost.estimated"] is True and a["holysheep.cost.usd"] > 0
    assert "gen_ai.response.time_to_first_chunk" in a


def test_an_error_frame_inside_a_200_stream_is_an_error_span(
    client: HolySheepClient, emulator: RelayEmulator, otel: Telemetry, side: str
) -> None:
    emulator.script(Reply(content="partial answer here and more"))
    emulator.error_in_stream(after_chunks=2)
    failing(stream, client, side)
    span = otel.span()
    assert span.attributes["error.type"] == "StreamError"
    assert span.status.status_code is StatusCode.ERROR


def test_a_retry_before_the_first_chunk_is_an_event_of_the_stream_span(
    client: HolySheepClient, emulator: RelayEmulator, otel: Telemetry, side: str
) -> None:
    emulator.fail(502)
    stream(client, side)
    span = otel.span()
    assert [e.name for e in span.events] == ["holysheep.retry", "holysheep.first_chunk"]
    assert span.attributes["holysheep.attempts"] == 2


def test_a_routed_stream_falls_back_inside_its_span(
    client: HolySheepClient, emulator: RelayEmulator, otel: Telemetry, side: str
) -> None:
    client.router = TaskRouter()
    emulator.fail(503, times=5, model="gemini-2.5-flash")
    _, s = stream(client, side, model="auto",
                  messages=[{"role": "user", "content": "What is the capital of Peru?"}])
    span = otel.span()
    assert span.name == "chat auto"
    assert span.attributes["gen_ai.response.model"] == s.call_info.model == "gpt-4.1-mini"
    assert span.attributes["holysheep.route.fallbacks"] == 1
    assert "holysheep.fallback" in [e.name for e in span.events]


def test_a_caller_who_stops_reading_ends_the_span_without_an_error(
    client: HolySheepClient, emulator: RelayEmulator, otel: Telemetry, side: str
) -> None:
    emulator.script(Reply(content="many words in this answer " * 10))
    if side == "sync":
        with client.stream(model="gpt-4.1", messages=[{"role": "user", "content": "Hi"}]) as s:
            next(iter(s))
    else:

        async def run() -> None:
            async with client.astream(model="gpt-4.1",
                                      messages=[{"role": "user", "content": "Hi"}]) as s:
                await s.__anext__()

        asyncio.run(run())
    span = otel.span()
    assert span.status.status_code is StatusCode.UNSET
    assert "error.type" not in span.attributes
    assert "gen_ai.response.time_to_first_chunk" in span.attributes
    # what was billed up to the stop is on the span, as the ledger records it
    assert span.attributes["gen_ai.response.id"] and span.attributes["holysheep.cost.usd"] > 0


def test_a_stream_never_read_makes_no_span(client: HolySheepClient, otel: Telemetry) -> None:
    s = client.stream(model="gpt-4.1", messages=[{"role": "user", "content": "Hi"}])
    s.close()
    assert otel.spans() == []


def test_no_span_stays_current_after_a_stream(
    client: HolySheepClient, otel: Telemetry, side: str
) -> None:
    """The stream's span is current only while it opens: the caller's code between chunks, and
    after, runs in the caller's own context."""
    from opentelemetry import trace

    seen = []
    if side == "sync":
        with client.stream(model="gpt-4.1", messages=[{"role": "user", "content": "Hi"}]) as s:
            for _ in s:
                seen.append(trace.get_current_span().get_span_context().is_valid)
    else:

        async def run() -> None:
            async with client.astream(model="gpt-4.1",
                                      messages=[{"role": "user", "content": "Hi"}]) as s:
                async for _ in s:
                    seen.append(trace.get_current_span().get_span_context().is_valid)

        asyncio.run(run())
    assert seen and not any(seen)
    assert not trace.get_current_span().get_span_context().is_valid
