"""HolySheepClient with model="auto": the router picks, falls back and explains."""

from __future__ import annotations

import asyncio

import holysheep
import pytest
from holysheep import HolySheepClient, RetryPolicy
from holysheep.routing import TaskRouter
from holysheep.testing import RelayEmulator, Reply

from ..conftest import FAKE_KEY

FAST = RetryPolicy(max_attempts=2, initial_delay=0.0, max_delay=0.0, deadline=5.0)
CODE = [{"role": "user", "content": "Write a Python function that reverses a linked list."}]
SUMMARY = [{"role": "user", "content": "Summarize this report in three bullet points: sales rose."}]


@pytest.fixture
def client(emulator: RelayEmulator) -> HolySheepClient:
    with HolySheepClient(FAKE_KEY, emulator.base_url, retry=FAST, router=TaskRouter()) as c:
        yield c


def test_auto_follows_the_task_label(client, emulator) -> None:
    reply = client.chat(model="auto", messages=SUMMARY)
    route = reply.call_info.route
    assert reply.model == route.model == "deepseek-v3.2"
    assert route.task == "summarization" and route.task_source == "classifier"
    assert emulator.requests[-1].json["model"] == "deepseek-v3.2"
    explicit = client.chat(model="auto", messages=SUMMARY, task="code-generation")
    assert explicit.call_info.route.model == "gpt-4.1"
    assert explicit.call_info.route.task_source == "caller"


def test_falls_back_when_a_model_is_down(client, emulator) -> None:
    emulator.fail(503, times=10, model="gpt-4.1")
    reply = client.chat(model="auto", messages=CODE)
    route = reply.call_info.route
    assert reply.model != "gpt-4.1" and route.model == reply.model
    [fallback] = route.fallbacks
    assert (fallback.from_model, fallback.to_model) == ("gpt-4.1", reply.model)
    assert fallback.status_code == 503
    sent = [r.json["model"] for r in emulator.requests]
    assert sent == ["gpt-4.1", "gpt-4.1", reply.model]  # its retries first, then the next


def test_context_length_error_moves_to_a_larger_window(client, emulator) -> None:
    emulator.fail(400, code="context_length_exceeded", model="deepseek-v3.2")
    reply = client.chat(model="auto", messages=SUMMARY)
    window = client.catalog.get
    assert window(reply.model).context_window > window("deepseek-v3.2").context_window
    assert reply.call_info.route.fallbacks[0].error_type == "ContextLengthError"


def test_caller_errors_do_not_fall_back(client, emulator) -> None:
    emulator.fail(401, model="deepseek-v3.2")
    with pytest.raises(holysheep.AuthenticationError):
        client.chat(model="auto", messages=SUMMARY)
    assert len(emulator.requests) == 1


def test_stream_falls_back_only_before_the_first_chunk(client, emulator) -> None:
    emulator.fail(429, times=5, model="gpt-4.1")
    with client.stream(model="auto", messages=CODE) as stream:
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text.startswith("Echo:")
    route = stream.call_info.route
    assert route.model != "gpt-4.1" and route.fallbacks[0].from_model == "gpt-4.1"

    emulator.reset()
    emulator.script(Reply(content="alpha beta gamma delta"))
    emulator.cut_stream(after_chunks=2)
    with pytest.raises(holysheep.StreamError):
        for _ in client.stream(model="auto", messages=CODE, task="reasoning"):
            pass
    assert len(emulator.requests) == 1  # the caller had chunks: no fallback


def test_async_auto(client, emulator) -> None:
    emulator.fail(503, times=10, model="deepseek-v3.2")

    async def run() -> holysheep.ChatCompletion:
        return await client.achat(model="auto", messages=SUMMARY)

    reply = asyncio.run(run())
    assert reply.call_info.route.fallbacks[0].from_model == "deepseek-v3.2"


def test_every_candidate_down_is_no_model_available(emulator) -> None:
    router = TaskRouter(
        {"qa": ["gemini-2.5-flash", "gpt-4.1-mini"]}, extends=False, default_task="qa"
    )
    policy = RetryPolicy(max_attempts=1, deadline=0.5)
    with HolySheepClient(FAKE_KEY, emulator.base_url, retry=policy, router=router) as client:
        emulator.fail(429, times=20, retry_after=30)
        with pytest.raises(holysheep.NoModelAvailableError) as info:
            client.chat(
                model="auto", messages=[{"role": "user", "content": "What is 2+2?"}], task="qa"
            )
    assert "gemini-2.5-flash" in str(info.value) and "gpt-4.1-mini" in str(info.value)
    assert len(emulator.requests) == 2  # each tried once, then both cooling for 30 s


def test_default_router_is_built_on_first_auto_call(emulator) -> None:
    with HolySheepClient(FAKE_KEY, emulator.base_url) as client:
        assert client.router is None
        client.chat(model="auto", messages=SUMMARY)
        assert isinstance(client.router, TaskRouter)


def test_trim_per_call_lets_a_long_chat_fit(emulator) -> None:
    """``trim=True`` on one call trims the oldest turns; without it nothing fits or is sent."""
    router = TaskRouter({"qa": ["deepseek-v3.2"]}, extends=False, default_task="qa")
    chat = [{"role": "system", "content": "Be brief."}]
    for i in range(40):
        chat += [
            {"role": "user", "content": f"question {i} " + "x " * 8000},
            {"role": "assistant", "content": "ok"},
        ]
    chat.append({"role": "user", "content": "and the last question?"})
    with HolySheepClient(FAKE_KEY, emulator.base_url, retry=FAST, router=router) as client:
        with pytest.raises(holysheep.NoModelAvailableError, match="exceed"):
            client.chat(model="auto", messages=chat, task="qa")
        assert emulator.requests == []
        reply = client.chat(model="auto", messages=chat, task="qa", trim=True)
    sent = emulator.requests[-1].json["messages"]
    assert reply.model == "deepseek-v3.2" and 2 < len(sent) < len(chat)
    assert sent[0] == chat[0] and sent[1]["role"] == "user" and sent[-1] == chat[-1]
    assert "trim" not in emulator.requests[-1].json  # a call option, never a body field


def test_a_rate_limited_candidate_is_not_waited_for_when_another_is_ready(client, emulator) -> None:
    import time

    emulator.fail(429, times=5, retry_after=20, model="gpt-4.1")
    started = time.monotonic()
    reply = client.chat(model="auto", messages=CODE)
    assert time.monotonic() - started < 10  # not the 20 s Retry-After
    assert [r.json["model"] for r in emulator.requests] == ["gpt-4.1", reply.model]
    assert reply.call_info.route.fallbacks[0].error_type == "RateLimitError"


def test_a_plain_call_still_honours_retry_after(client, emulator) -> None:
    emulator.fail(429, retry_after=0.2, model="gpt-4.1")
    reply = client.chat(model="gpt-4.1", messages=CODE)
    assert reply.call_info.attempts == 2 and reply.model == "gpt-4.1"
