"""The client's main paths replayed from cassettes (recorded against the emulator; see
cassettes/README.md to re-record against the real relay)."""

from __future__ import annotations

import asyncio
import json

import holysheep
import httpx
import pytest
from holysheep import HolySheepClient, RetryPolicy

from ..cassette_support import make_vcr, recording, relay_for_recording

vcr = make_vcr("core")
HELLO = [{"role": "user", "content": "Say hello in five words."}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


@pytest.fixture
def relay() -> tuple[str, str]:
    with relay_for_recording() as (key, url):
        yield key, url


def test_chat(relay) -> None:
    key, url = relay
    with vcr.use_cassette("chat.yaml") as cassette, HolySheepClient(key, url) as client:
        reply = client.chat(model="deepseek-v3.2", messages=HELLO, max_tokens=50)
    assert cassette.all_played or recording()
    assert reply.text
    assert reply.call_info.usage.total_tokens > 0
    assert reply.call_info.cost.total_usd > 0


def test_stream_with_usage(relay) -> None:
    key, url = relay
    with vcr.use_cassette("stream.yaml") as cassette, HolySheepClient(key, url) as client:
        stream = client.stream(model="gemini-2.5-flash", messages=HELLO, max_tokens=50)
        chunks = list(stream)
    assert cassette.all_played or recording()
    assert len(chunks) > 2
    assert stream.completion.text
    assert stream.call_info.usage.completion_tokens > 0


def test_forced_tool_call(relay) -> None:
    key, url = relay
    choice = {"type": "function", "function": {"name": "get_weather"}}
    with vcr.use_cassette("tool_call.yaml") as cassette, HolySheepClient(key, url) as client:
        reply = client.chat(
            model="gpt-4.1",
            messages=[{"role": "user", "content": "Paris?"}],
            tools=TOOLS,
            tool_choice=choice,
        )
    assert cassette.all_played or recording()
    call = reply.message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert "city" in json.loads(call.function.arguments)


def test_unknown_model_error(relay) -> None:
    key, url = relay
    with vcr.use_cassette("unknown_model.yaml") as cassette, HolySheepClient(key, url) as client:
        try:
            client.chat(model="gpt4.1", messages=HELLO, retry=RetryPolicy(max_attempts=1))
        except holysheep.ModelNotFoundError as exc:
            error = exc
    assert cassette.all_played or recording()
    assert "did you mean 'gpt-4.1'" in str(error)
    assert error.status_code == 404 and error.request_id


def test_list_models_async(relay) -> None:
    key, url = relay

    async def run() -> list[str]:
        # vcrpy patches httpx's own async transport, so this test hands the client one.
        async with (
            httpx.AsyncClient() as http,
            HolySheepClient(key, url, http_async_client=http) as client,
        ):
            return [m.id for m in await client.alist_models()]

    with vcr.use_cassette("models.yaml") as cassette:
        ids = asyncio.run(run())
    assert cassette.all_played or recording()
    assert {"gpt-4.1", "claude-sonnet-4.5", "gemini-2.5-flash", "deepseek-v3.2"} <= set(ids)
