"""Client settings the adapters pass through: ``default_query``, and httpx clients that stay the
user's.

Issue #11 (a true drop-in): ChatOpenAI users pass ``default_query`` (Azure-style
``api-version``) and their own httpx clients. The query must reach every request the client
makes; a client the user opened is the user's to close. Each test runs on a real loopback server.
"""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import parse_qs, urlsplit

import holysheep
import httpx
import pytest
from holysheep import ConfigurationError, HolySheepClient, RetryPolicy
from holysheep.testing import RelayEmulator
from holysheep.tokens import _encoder, estimate_tokens, token_ids

from ..conftest import FAKE_KEY

HELLO = [{"role": "user", "content": "Hello"}]
QUERY = {"api-version": "2025-01-01", "deployment": "blue"}


def _query(path: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(path).query)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------- default_query


@pytest.mark.parametrize("side", ["sync", "async"])
def test_default_query_reaches_chat_streams_and_models(emulator: RelayEmulator, side: str) -> None:
    client = HolySheepClient(FAKE_KEY, emulator.base_url, default_query=QUERY)

    def sync_calls() -> None:
        client.chat(model="gpt-4.1", messages=HELLO)
        with client.stream(model="gpt-4.1", messages=HELLO) as stream:
            assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert client.list_models()

    async def async_calls() -> None:
        await client.achat(model="gpt-4.1", messages=HELLO)
        async with client.astream(model="gpt-4.1", messages=HELLO) as stream:
            assert [c async for c in stream]
        assert await client.alist_models()
        await client.aclose()

    sync_calls() if side == "sync" else asyncio.run(async_calls())
    client.close()
    paths = [r.path for r in emulator.requests]
    assert [urlsplit(p).path for p in paths] == [
        "/v1/chat/completions",
        "/v1/chat/completions",
        "/v1/models",
    ]
    assert all(_query(p) == {"api-version": ["2025-01-01"], "deployment": ["blue"]} for p in paths)


def test_without_default_query_urls_carry_no_query(emulator: RelayEmulator) -> None:
    with HolySheepClient(FAKE_KEY, emulator.base_url) as client:
        client.chat(model="gpt-4.1", messages=HELLO)
    assert emulator.requests[-1].path == "/v1/chat/completions"


@pytest.mark.parametrize(
    "query", [["api-version", "1"], {"api-version": None}, {"n": object()}, {1: "x"}]
)
def test_a_malformed_default_query_is_refused_when_built(query: object) -> None:
    with pytest.raises(ConfigurationError, match="default_query"):
        HolySheepClient(FAKE_KEY, "http://127.0.0.1:9/v1", default_query=query)  # type: ignore[arg-type]


def test_a_credential_in_the_query_is_masked_in_error_messages() -> None:
    """A key some gateways take in the URL (``?api-key=``) never shows in an error text."""
    secret = "query-secret-0123456789"
    client = HolySheepClient(
        FAKE_KEY,
        f"http://127.0.0.1:{_free_port()}/v1",  # nothing listens: the connection is refused
        default_query={"api-key": secret, "api-version": "2025-01-01"},
        retry=RetryPolicy(max_attempts=1),
    )
    with pytest.raises(holysheep.APIConnectionError) as info:
        client.chat(model="gpt-4.1", messages=HELLO)
    message = str(info.value)
    assert secret not in message
    assert "api-key=***" in message and "api-version=2025-01-01" in message


# ---------------------------------------------------------------- clients the user owns


def test_close_leaves_a_given_http_client_open(emulator: RelayEmulator) -> None:
    with httpx.Client() as own:
        client = HolySheepClient(FAKE_KEY, emulator.base_url, http_client=own)
        client.chat(model="gpt-4.1", messages=HELLO)
        client.close()
        assert not own.is_closed
        assert own.get(f"{emulator.base_url}/models").status_code == 401  # still usable
        with pytest.raises(ConfigurationError, match="closed"):
            client.chat(model="gpt-4.1", messages=HELLO)


def test_close_releases_the_pool_it_built(emulator: RelayEmulator) -> None:
    client = HolySheepClient(FAKE_KEY, emulator.base_url)
    client.chat(model="gpt-4.1", messages=HELLO)
    built = client._http()
    client.close()
    assert built.is_closed


def test_aclose_leaves_given_sync_and_async_clients_open(emulator: RelayEmulator) -> None:
    async def run() -> tuple[bool, bool, int]:
        own_sync = httpx.Client()
        async with httpx.AsyncClient() as own_async:
            client = HolySheepClient(
                FAKE_KEY, emulator.base_url, http_client=own_sync, http_async_client=own_async
            )
            await client.achat(model="gpt-4.1", messages=HELLO)
            await client.aclose()
            status = (await own_async.get(f"{emulator.base_url}/models")).status_code
            closed = (own_sync.is_closed, own_async.is_closed)
        own_sync.close()
        return (*closed, status)

    sync_closed, async_closed, status = asyncio.run(run())
    assert (sync_closed, async_closed) == (False, False)
    assert status == 401  # the user's async client still talks to the server


# ---------------------------------------------------------------- public surface


def test_token_ids_are_none_without_cached_tiktoken_data(tmp_path, monkeypatch) -> None:
    """Offline with no tokenizer data: no ids (and no download), while counting still works."""
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    _encoder.cache_clear()
    try:
        assert token_ids("hello world") is None
        assert estimate_tokens("hello world") > 0
        assert list(tmp_path.iterdir()) == []  # nothing was fetched into the cache
    finally:
        _encoder.cache_clear()


def test_cost_tally_is_exported() -> None:
    from holysheep.tally import CostTally

    assert holysheep.CostTally is CostTally
    assert "CostTally" in holysheep.__all__
