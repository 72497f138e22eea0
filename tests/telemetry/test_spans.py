"""One GenAI span per relay call: name, kind, request and response attributes, cost, errors,
retries and fallbacks as events; both sides, through the emulator."""

from __future__ import annotations

import dataclasses

import pytest
from holysheep import HolySheepClient, RetryPolicy
from holysheep.errors import RateLimitError, UpstreamError
from holysheep.routing import TaskRouter
from holysheep.testing import RelayEmulator, Reply
from opentelemetry.trace import SpanKind, StatusCode

from ..conftest import FAKE_KEY
from ..hostile import HostileUpstream, completion, json_response
from .conftest import Telemetry, chat, failing


def test_a_chat_call_is_one_client_span_with_the_genai_attributes(
    client: HolySheepClient, emulator: RelayEmulator, otel: Telemetry, side: str
) -> None:
    emulator.script(Reply(content="Hi!", cached_tokens=4))
    reply = chat(client, side, max_tokens=50, temperature=0.2, top_p=0.9, stop=["END"],
                 task="qa", app="web", user="alice")
    span = otel.span()
    a = span.attributes
    assert span.name == "chat gpt-4.1" and span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == "holysheep"
    assert a["gen_ai.request.model"] == "gpt-4.1"
    assert (a["gen_ai.request.max_tokens"], a["gen_ai.request.temperature"],
            a["gen_ai.request.top_p"]) == (50, 0.2, 0.9)
    assert a["gen_ai.request.stop_sequences"] == ("END",)
    assert a["gen_ai.response.model"] == reply.model == "gpt-4.1"
    assert a["gen_ai.response.id"] == reply.id
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    usage = reply.call_info.usage
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (
        usage.prompt_tokens, usage.completion_tokens)
    assert a["gen_ai.usage.cache_read.input_tokens"] == 4
    assert a["server.address"] == "127.0.0.1" and a["server.port"] == emulator.port
    assert "error.type" not in a


def test_cost_attribution_and_attempts_are_holysheep_attributes(
    client: HolySheepClient, otel: Telemetry, side: str
) -> None:
    reply = chat(client, side, task="summarization", app="crm", user="u-7")
    a = otel.span().attributes
    cost = reply.call_info.cost
    assert a["holysheep.cost.usd"] == pytest.approx(float(cost.total_usd))
    assert a["holysheep.cost.relay_cny"] == pytest.approx(float(cost.relay_cny))
    assert a["holysheep.cost.direct_cny"] == pytest.approx(float(cost.direct_cny))
    assert a["holysheep.cost.direct_cny"] > a["holysheep.cost.relay_cny"] > 0
    assert a["holysheep.cost.estimated"] is False
    assert (a["holysheep.task"], a["holysheep.app"], a["holysheep.user"]) == (
        "summarization", "crm", "u-7")
    assert a["holysheep.attempts"] == 1
    assert a["holysheep.request_id"] == reply.call_info.request_id


def test_retries_are_span_events_on_the_one_span(
    client: HolySheepClient, emulator: RelayEmulator, otel: Telemetry, side: str
) -> None:
    emulator.fail(503, times=2)
    chat(client, side)
    span = otel.span()
    retries = [e for e in span.events if e.name == "holysheep.retry"]
    assert [e.attributes["holysheep.retry.attempt"] for e in retries] == [1, 2]
    assert {e.attributes["error.type"] for e in retries} == {"UpstreamError"}
    assert {e.attributes["http.response.status_code"] for e in retries} == {503}
    assert span.attributes["holysheep.attempts"] == 3
    assert span.status.status_code is StatusCode.UNSET


def test_a_failed_call_sets_error_type_and_an_error_status(
    client: HolySheepClient, emulator: RelayEmulator, otel: Telemetry, side: str
) -> None:
    emulator.fail(429, times=3, retry_after=0)
    error = failing(chat, client, side)
    assert isinstance(error, RateLimitError)
    span = otel.span()
    assert span.attributes["error.type"] == "RateLimitError"
    assert span.attributes["http.response.status_code"] == 429
    assert span.status.status_code is StatusCode.ERROR
    assert "429" in span.status.description or "rate" in span.status.description.lower()
    assert [e.name for e in span.events].count("holysheep.retry") == 2
    assert any(e.name == "exception" for e in span.events)
    assert "gen_ai.response.model" not in span.attributes


def test_a_routed_call_carries_the_decision_and_its_fallbacks(
    client: HolySheepClient, emulator: RelayEmulator, otel: Telemetry, side: str
) -> None:
    client.router = TaskRouter()
    client.retry = dataclasses.replace(client.retry, max_attempts=1)
    emulator.fail(503, times=5, model="gemini-2.5-flash")
    reply = chat(client, side, model="auto",
                 messages=[{"role": "user", "content": "What is the capital of Peru?"}])
    span = otel.span()
    a = span.attributes
    assert span.name == "chat auto" and a["gen_ai.request.model"] == "auto"
    assert a["gen_ai.response.model"] == reply.model == "gpt-4.1-mini"
    assert (a["holysheep.route.task"], a["holysheep.route.task_source"]) == ("qa", "classifier")
    assert a["holysheep.task"] == "qa"  # the classified label, as the ledger bills it
    assert a["holysheep.route.model"] == "gpt-4.1-mini"
    assert a["holysheep.route.fallbacks"] == 1
    assert a["holysheep.route.failed_models"] == ("gemini-2.5-flash",)
    assert "gemini-2.5-flash" in a["holysheep.route.candidates"]
    (fallback,) = [e for e in span.events if e.name == "holysheep.fallback"]
    assert fallback.attributes["holysheep.fallback.from_model"] == "gemini-2.5-flash"
    assert fallback.attributes["error.type"] == "UpstreamError"


def test_a_call_that_no_model_can_serve_ends_the_span_with_the_error(
    client: HolySheepClient, emulator: RelayEmulator, otel: Telemetry, side: str
) -> None:
    client.router = TaskRouter()
    client.retry = RetryPolicy(max_attempts=1, deadline=0.5)
    emulator.fail(503, times=20)
    failing(chat, client, side, model="auto", task="qa")
    span = otel.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] in ("NoModelAvailableError", "UpstreamError")
    assert len([e for e in span.events if e.name == "holysheep.fallback"]) >= 2


def test_a_200_without_choices_is_an_error_span(otel: Telemetry, side: str) -> None:
    with HostileUpstream() as up:
        body = completion("unused")
        body["choices"] = []
        up.answer(json_response(body))
        with HolySheepClient(api_key=FAKE_KEY, base_url=up.base_url) as client:
            error = failing(chat, client, side)
    assert isinstance(error, UpstreamError)
    span = otel.span()
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes["error.type"], span.attributes["http.response.status_code"]) == (
        "UpstreamError", 200)


def test_the_span_is_current_during_the_call_so_http_spans_nest(
    client: HolySheepClient, emulator: RelayEmulator, otel: Telemetry
) -> None:
    """Anything traced inside the call (an httpx instrumentation, a ledger) gets it as parent;
    the caller's own span is the relay span's parent, and is current again afterwards."""
    from opentelemetry import trace

    tracer = otel.tracer_provider.get_tracer("the application")
    with tracer.start_as_current_span("request handler") as outer:
        chat(client, "sync")
        assert trace.get_current_span() is outer
    relay, handler = otel.spans()
    assert relay.parent is not None and relay.parent.span_id == handler.context.span_id
    assert relay.context.trace_id == handler.context.trace_id
