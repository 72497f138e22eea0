"""Fallbacks end to end through the relay emulator: a model down, a 429 storm, a context error.

Everything goes through the client's own routed path (``model="auto"``), which walks the
router's ``RoutePlan``: ask it for a model, call it, report the outcome, sleep ``wait_s()`` when
every candidate is cooling. Streams fall back only before their first chunk reached the caller.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest
from holysheep import HolySheepClient
from holysheep.errors import HolySheepError, NoModelAvailableError, StreamError
from holysheep.routing import RouteDecision, TaskRouter
from holysheep.testing import RelayEmulator

from tests.routing.conftest import user

QA = user("What is the capital of Peru?")  # qa: gemini-2.5-flash, gpt-4.1-mini, deepseek-v3.2
SUMMARY = user("Summarize: the quarterly numbers were fine.")  # deepseek-v3.2 first


def routed_chat(
    client: HolySheepClient, router: TaskRouter, messages: Any, *, deadline: float = 5.0
) -> tuple[str, RouteDecision]:
    """``client.chat(model="auto")`` with ``router``; returns ``(text, decision)``."""
    client.router = router
    retry = dataclasses.replace(client.retry, deadline=deadline)
    reply = client.chat(model="auto", messages=messages, retry=retry)
    return reply.text, reply.call_info.route


def routed_stream(
    client: HolySheepClient, router: TaskRouter, messages: Any
) -> tuple[str, RouteDecision]:
    """``client.stream(model="auto")`` with ``router``; returns ``(text, decision)``."""
    client.router = router
    with client.stream(model="auto", messages=messages) as stream:
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    return text, stream.call_info.route


def models_asked(emulator: RelayEmulator) -> list[str]:
    return [r.json["model"] for r in emulator.requests if r.path.endswith("/chat/completions")]


def test_a_model_down_falls_back(client: HolySheepClient, emulator: RelayEmulator) -> None:
    emulator.fail(503, times=5, model="gemini-2.5-flash")
    text, decision = routed_chat(client, TaskRouter(), QA)
    assert "Peru" in text
    assert models_asked(emulator) == ["gemini-2.5-flash", "gpt-4.1-mini"]
    assert decision.model == "gpt-4.1-mini" and decision.task == "qa"
    (fallback,) = decision.fallbacks
    assert (fallback.from_model, fallback.to_model, fallback.status_code) == (
        "gemini-2.5-flash",
        "gpt-4.1-mini",
        503,
    )


def test_a_dead_model_opens_its_circuit(client: HolySheepClient, emulator: RelayEmulator) -> None:
    router = TaskRouter()
    emulator.fail(503, times=10, model="gemini-2.5-flash")
    for _ in range(3):
        routed_chat(client, router, QA)
    emulator.requests.clear()
    _, decision = routed_chat(client, router, QA)
    assert models_asked(emulator) == ["gpt-4.1-mini"]  # not even tried: the circuit is open
    assert decision.verdict("gemini-2.5-flash").status == "cooling"


def test_a_429_storm_waits_for_retry_after(
    client: HolySheepClient, emulator: RelayEmulator
) -> None:
    emulator.fail(429, times=3, retry_after=0.3)  # every candidate, once each
    started = time.monotonic()
    text, decision = routed_chat(client, TaskRouter(), QA)
    assert time.monotonic() - started >= 0.25  # it waited rather than failing (LiteLLM #3646)
    assert "Peru" in text
    assert models_asked(emulator) == [
        "gemini-2.5-flash",
        "gpt-4.1-mini",
        "deepseek-v3.2",
        "gemini-2.5-flash",
    ]
    assert [f.error_type for f in decision.fallbacks] == ["RateLimitError"] * 3
    assert decision.model == "gemini-2.5-flash"


def test_a_429_storm_past_the_deadline_gives_up(
    client: HolySheepClient, emulator: RelayEmulator
) -> None:
    emulator.fail(429, times=3, retry_after=30)
    with pytest.raises(NoModelAvailableError, match="rate limited") as raised:
        routed_chat(client, TaskRouter(), QA, deadline=1.0)
    assert len(models_asked(emulator)) == 3
    assert isinstance(raised.value.decision, RouteDecision)


def test_context_length_moves_to_a_larger_window(
    client: HolySheepClient, emulator: RelayEmulator
) -> None:
    emulator.fail(400, code="context_length_exceeded", model="deepseek-v3.2")
    _, decision = routed_chat(client, TaskRouter(), SUMMARY)
    assert models_asked(emulator) == ["deepseek-v3.2", "gemini-2.5-flash"]
    assert decision.fallbacks[0].error_type == "ContextLengthError"
    assert "only larger windows remain" in decision.fallbacks[0].reason


def test_a_bad_request_is_not_retried_elsewhere(
    client: HolySheepClient, emulator: RelayEmulator
) -> None:
    emulator.fail(400, model="gemini-2.5-flash")
    with pytest.raises(HolySheepError, match="rejected the request"):
        routed_chat(client, TaskRouter(), QA)
    assert models_asked(emulator) == ["gemini-2.5-flash"]


def test_stream_falls_back_before_the_first_chunk(
    client: HolySheepClient, emulator: RelayEmulator
) -> None:
    emulator.fail(502, model="gemini-2.5-flash")
    emulator.error_in_stream(after_chunks=0)  # the next stream (gpt-4.1-mini) dies at once
    text, decision = routed_stream(client, TaskRouter(), QA)
    assert "Peru" in text
    assert models_asked(emulator) == ["gemini-2.5-flash", "gpt-4.1-mini", "deepseek-v3.2"]
    assert [f.error_type for f in decision.fallbacks] == ["UpstreamError", "StreamError"]
    assert decision.model == "deepseek-v3.2"


def test_stream_does_not_fall_back_after_the_first_chunk(
    client: HolySheepClient, emulator: RelayEmulator
) -> None:
    emulator.script("Lima is the capital of Peru, on the Pacific coast.")
    emulator.error_in_stream(after_chunks=2)
    with pytest.raises(StreamError):
        routed_stream(client, TaskRouter(), QA)
    assert models_asked(emulator) == ["gemini-2.5-flash"]


async def test_async_invoke_and_stream_fall_back(
    client: HolySheepClient, emulator: RelayEmulator
) -> None:
    client.router = TaskRouter()
    emulator.fail(503, times=2, model="gemini-2.5-flash")
    reply = await client.achat(model="auto", messages=QA)
    async with client.astream(model="auto", messages=QA) as stream:
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    for decision in (reply.call_info.route, stream.call_info.route):
        assert decision.model == "gpt-4.1-mini"
        assert decision.fallbacks[0].from_model == "gemini-2.5-flash"
    assert "Peru" in reply.text and "Peru" in text
