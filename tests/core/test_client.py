"""HolySheepClient against the loopback emulator; one test body runs the sync and async side."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import pickle
import time
from typing import Any

import holysheep
import pytest
from holysheep import HolySheepClient, RetryPolicy
from holysheep.testing import RelayEmulator, Reply

from ..conftest import FAKE_KEY

FAST = RetryPolicy(max_attempts=3, initial_delay=0.0, max_delay=0.0, deadline=10.0)
HELLO = [{"role": "user", "content": "Hello there"}]


@pytest.fixture(params=["sync", "async"])
def side(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def client(emulator: RelayEmulator) -> HolySheepClient:
    c = HolySheepClient(api_key=FAKE_KEY, base_url=emulator.base_url, retry=FAST)
    yield c
    c.close()


def chat(client: HolySheepClient, side: str, **params: Any) -> holysheep.ChatCompletion:
    """One chat call on the chosen side (async runs in its own asyncio.run, as users do)."""
    params.setdefault("model", "gpt-4.1")
    params.setdefault("messages", HELLO)
    if side == "sync":
        return client.chat(**params)
    return asyncio.run(client.achat(**params))


def stream(client: HolySheepClient, side: str, **params: Any) -> tuple[list, Any]:
    """Collect a stream's chunks; returns (chunks, accumulated completion)."""
    params.setdefault("model", "gpt-4.1")
    params.setdefault("messages", HELLO)
    if side == "sync":
        with client.stream(**params) as s:
            return list(s), s.completion

    async def run() -> tuple[list, Any]:
        async with client.astream(**params) as s:
            return [c async for c in s], s.completion

    return asyncio.run(run())


def partial_stream(client: HolySheepClient, side: str, **params: Any) -> tuple[list, Exception]:
    """Collect chunks until the stream raises; returns (chunks received, the error)."""
    got: list = []
    params.setdefault("model", "gpt-4.1")
    params.setdefault("messages", HELLO)
    try:
        if side == "sync":
            for c in client.stream(**params):
                got.append(c)
        else:

            async def run() -> None:
                async for c in client.astream(**params):
                    got.append(c)

            asyncio.run(run())
    except holysheep.HolySheepError as exc:
        return got, exc
    raise AssertionError("the stream did not fail")


# ---------------------------------------------------------------- happy paths


def test_chat_returns_text_usage_and_served_model(client, emulator, side) -> None:
    emulator.script(Reply(content="Hi!", model="gpt-4.1-2025-04-14", cached_tokens=2))
    reply = chat(client, side)
    assert reply.text == "Hi!"
    assert reply.model == "gpt-4.1-2025-04-14"
    assert reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0
    assert reply.usage.prompt_tokens_details.cached_tokens == 2
    sent = emulator.requests[-1]
    assert sent.json == {"model": "gpt-4.1", "messages": HELLO}
    assert sent.headers["user-agent"].startswith("holysheep-python/")
    assert sent.headers["authorization"] == "***"  # it was sent; the emulator redacts its log


def test_stream_yields_chunks_and_accumulates_with_usage(client, emulator, side) -> None:
    emulator.script(Reply(content="one two three four", reasoning="thinking hard"))
    chunks, completion = stream(client, side)
    assert len(chunks) > 4
    assert completion.text == "one two three four"
    assert completion.message.reasoning_content == "thinking hard"
    assert completion.usage is not None and completion.usage.total_tokens > 0
    assert chunks[-1].usage is not None and chunks[-1].choices == []
    assert emulator.requests[-1].json["stream_options"] == {"include_usage": True}


def test_stream_usage_can_be_turned_off(client, emulator, side) -> None:
    _, completion = stream(client, side, stream_options={"include_usage": False})
    assert completion.usage is None
    assert completion.text == "Echo: Hello there"


def test_tool_calls_match_between_chat_and_stream(client, emulator, side) -> None:
    call = {"name": "get_weather", "arguments": {"city": "Paris"}}
    emulator.script(Reply(tool_calls=[call]), Reply(tool_calls=[call]))
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    direct = chat(client, side, tools=tools).message.tool_calls[0]
    _, streamed = stream(client, side, tools=tools)
    streamed_call = streamed.message.tool_calls[0]
    assert direct.function.name == streamed_call.function.name == "get_weather"
    assert json.loads(direct.function.arguments) == json.loads(streamed_call.function.arguments)
    assert streamed.choices[0].finish_reason == "tool_calls"


def test_list_models(client, emulator, side) -> None:
    models = client.list_models() if side == "sync" else asyncio.run(client.alist_models())
    assert {"gpt-4.1", "deepseek-v3.2"} <= {m.id for m in models}


def test_async_client_survives_successive_event_loops(client, emulator) -> None:
    for _ in range(3):
        assert asyncio.run(client.achat(model="gpt-4.1", messages=HELLO)).text
    gc.collect()  # no unclosed-session warnings (filterwarnings = error)


# ---------------------------------------------------------------- retries


def test_retries_5xx_then_succeeds(client, emulator, side) -> None:
    emulator.fail(503, times=2)
    assert chat(client, side).text == "Echo: Hello there"
    assert len(emulator.requests) == 3


def test_honours_retry_after(client, emulator, side) -> None:
    emulator.fail(429, retry_after=0.3)
    start = time.monotonic()
    chat(client, side)
    assert time.monotonic() - start >= 0.3
    assert len(emulator.requests) == 2


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, holysheep.BadRequestError),
        (401, holysheep.AuthenticationError),
        (402, holysheep.InsufficientCreditError),
        (403, holysheep.AuthenticationError),
    ],
)
def test_never_retries_caller_errors(client, emulator, side, status, error) -> None:
    emulator.fail(status, times=3)
    with pytest.raises(error) as info:
        chat(client, side)
    assert info.value.status_code == status
    assert info.value.request_id.startswith("req_")
    assert len(emulator.requests) == 1


def test_gives_up_after_max_attempts(client, emulator, side) -> None:
    emulator.fail(500, times=5)
    with pytest.raises(holysheep.UpstreamError):
        chat(client, side)
    assert len(emulator.requests) == FAST.max_attempts


def test_total_deadline_bounds_the_retries(client, emulator, side) -> None:
    emulator.fail(503, times=50, retry_after=0.2)
    policy = RetryPolicy(max_attempts=50, deadline=0.5)
    start = time.monotonic()
    with pytest.raises(holysheep.UpstreamError):
        chat(client, side, retry=policy)
    assert time.monotonic() - start < 1.0
    assert 2 <= len(emulator.requests) <= 3


def test_stream_retried_before_first_chunk(client, emulator, side) -> None:
    emulator.fail(429, retry_after=0.0)
    emulator.cut_stream(after_chunks=0)
    _, completion = stream(client, side)
    assert completion.text == "Echo: Hello there"
    assert len(emulator.requests) == 3


def test_stream_cut_after_chunks_reached_caller_is_not_retried(client, emulator, side) -> None:
    emulator.script(Reply(content="alpha beta gamma delta epsilon"))
    emulator.cut_stream(after_chunks=3)
    got, error = partial_stream(client, side)
    assert isinstance(error, holysheep.StreamError)
    assert len(got) == 3
    assert error.text == "".join(c.choices[0].delta.content or "" for c in got)
    assert "alpha" in error.text and "epsilon" not in error.text
    assert len(emulator.requests) == 1


def test_error_inside_200_stream(client, emulator, side) -> None:
    emulator.script(Reply(content="alpha beta gamma delta"))
    emulator.error_in_stream(after_chunks=2, message="provider overloaded", code="overloaded")
    got, error = partial_stream(client, side)
    assert isinstance(error, holysheep.StreamError)
    assert error.code == "overloaded"
    assert "provider overloaded" in str(error)
    assert len(got) == 2


# ---------------------------------------------------------------- errors and configuration


def test_unknown_model_suggests_close_names(client, emulator, side) -> None:
    with pytest.raises(holysheep.ModelNotFoundError) as info:
        chat(client, side, model="gpt4.1")
    assert "did you mean 'gpt-4.1'" in str(info.value)


def test_missing_key_names_the_variable_and_sends_nothing(emulator, side) -> None:
    client = HolySheepClient(base_url=emulator.base_url)
    with pytest.raises(holysheep.AuthenticationError, match="HOLYSHEEP_API_KEY"):
        chat(client, side)
    assert emulator.requests == []


def test_settings_from_environment(emulator, monkeypatch, side) -> None:
    monkeypatch.setenv("HOLYSHEEP_API_KEY", FAKE_KEY)
    monkeypatch.setenv("HOLYSHEEP_BASE_URL", emulator.base_url + "/")
    with HolySheepClient() as client:
        assert client.base_url == emulator.base_url
        assert chat(client, side).text


def test_wrong_key_is_an_authentication_error(side) -> None:
    with RelayEmulator(api_key="the-right-key") as relay:
        client = HolySheepClient(api_key="the-wrong-key", base_url=relay.base_url)
        with pytest.raises(holysheep.AuthenticationError) as info:
            chat(client, side)
        assert "the-wrong-key" not in str(info.value)
        assert "the-wrong-key" not in repr(info.value.__dict__)
        client.close()


def test_timeout(client, emulator, side) -> None:
    emulator.latency = 0.5
    with pytest.raises(holysheep.APITimeoutError):
        chat(client, side, timeout=0.1, retry=RetryPolicy(max_attempts=1))


def test_connection_refused(side) -> None:
    relay = RelayEmulator().start()
    url = relay.base_url
    relay.stop()
    client = HolySheepClient(api_key=FAKE_KEY, base_url=url, retry=RetryPolicy(max_attempts=1))
    with pytest.raises((holysheep.APIConnectionError, holysheep.APITimeoutError)):
        chat(client, side)
    client.close()


def test_bad_request_shape_is_explained_locally(client, emulator) -> None:
    with pytest.raises(holysheep.BadRequestError, match="messages"):
        client.chat(model="gpt-4.1")
    assert emulator.requests == []


def test_close_is_idempotent_and_final(emulator) -> None:
    client = HolySheepClient(api_key=FAKE_KEY, base_url=emulator.base_url)
    client.chat(model="gpt-4.1", messages=HELLO)
    client.close()
    client.close()
    with pytest.raises(holysheep.ConfigurationError, match="closed"):
        client.chat(model="gpt-4.1", messages=HELLO)


def test_key_never_leaks(client, emulator, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    emulator.fail(503)
    client.chat(model="gpt-4.1", messages=HELLO)
    assert FAKE_KEY not in repr(client)
    assert FAKE_KEY not in caplog.text
    assert "retrying" in caplog.text
    with pytest.raises(TypeError):
        pickle.dumps(client)


# ------------------------------------------------------- call info: usage, cost, attribution


def test_call_info_prices_the_served_model_once(client, emulator, side) -> None:
    emulator.fail(503)
    emulator.script(Reply(content="priced", model="gpt-4.1-2025-04-14", cached_tokens=4))
    reply = chat(client, side, task="qa", user="u-42", app="docs-bot", tags={"team": "search"})
    info = reply.call_info
    assert (info.requested_model, info.model) == ("gpt-4.1", "gpt-4.1-2025-04-14")
    assert info.attempts == 2
    assert info.request_id.startswith("req_")
    assert (info.attribution.task, info.attribution.user, info.attribution.app) == (
        "qa",
        "u-42",
        "docs-bot",
    )
    assert info.attribution.tags["team"] == "search"
    assert info.created == reply.created > 0  # the relay's stamp: it leads the ledger's key
    assert info.usage.cached_tokens == 4
    spec = client.catalog.get("gpt-4.1")
    expected = client.catalog.cost("gpt-4.1", info.usage)
    assert info.cost.total_usd == expected.total_usd > 0
    assert info.cost.output_usd == info.usage.completion_tokens * spec.output_usd_per_mtok / 10**6
    # The user goes to the relay in its own field; task/app/tags stay local.
    assert emulator.requests[-1].json["user"] == "u-42"
    assert "task" not in emulator.requests[-1].json


def test_stream_call_info_after_exhaustion(client, emulator, side) -> None:
    emulator.fail(429, retry_after=0)
    _, completion = stream(client, side, task="summarization")
    info = completion.call_info
    assert info.streamed and info.attempts == 2
    assert info.created == completion.created > 0
    assert info.usage.total_tokens == completion.usage.total_tokens
    assert info.cost is not None and info.attribution.task == "summarization"


def test_unknown_model_cost_is_none_with_a_warning(side) -> None:
    with RelayEmulator(models=["mystery-model-1"]) as relay:
        client = HolySheepClient(api_key=FAKE_KEY, base_url=relay.base_url)
        with pytest.warns(holysheep.UnknownModelPriceWarning, match="mystery-model-1"):
            reply = chat(client, side, model="mystery-model-1")
        assert reply.call_info.usage.total_tokens > 0
        assert reply.call_info.cost is None
        client.close()


def test_stream_progress_exposes_pieces_without_rebuilding(client, emulator) -> None:
    emulator.script(Reply(content="one two", tool_calls=[{"name": "f", "arguments": {"a": 1}}]))
    with client.stream(model="gpt-4.1", messages=HELLO) as s:
        assert s.progress() is None  # nothing received yet
        seen = []
        for _ in s:
            progress = s.progress()
            seen.append(("".join(progress.content), len(progress.tool_calls)))
    assert seen[-1] == ("one two", 1)
    call = s.progress().tool_calls[0]
    assert call.name == "f" and json.loads("".join(call.arguments)) == {"a": 1}
