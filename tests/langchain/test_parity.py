"""ChatHolySheep is a drop-in for ChatOpenAI: each of its parameters lands where ChatOpenAI puts it.

Both models are built with the same argument and invoked against the same loopback emulator (one
that accepts only its own key, so a key that went missing or elsewhere fails the call); the test
compares what each request carried. ``max_completion_tokens`` is the one deliberate difference:
ChatOpenAI renames it for OpenAI's reasoning models, ChatHolySheep sends ``max_tokens``, which
every provider behind the relay takes.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from holysheep.errors import ConfigurationError
from holysheep.testing import RelayEmulator
from holysheep.testing._emulator_wire import RecordedRequest
from langchain_openai import ChatOpenAI

from langchain_holysheep import ChatHolySheep

KEY = "hs-parity-key-0123456789"
_CLIENT_HEADER = {"x-parity-client": "own-httpx-client"}

# parameter, value, where it lands (body: the request body; query; header; client: the given
# httpx client sends the request; key: the Authorization header; url: the request's server)
PARITY: list[tuple[str, Any, str]] = [
    ("top_p", 0.4, "body"),
    ("seed", 7, "body"),
    ("n", 2, "body"),
    ("logprobs", True, "body"),
    ("top_logprobs", 3, "body"),
    ("reasoning_effort", "low", "body"),
    ("frequency_penalty", 0.5, "body"),
    ("presence_penalty", -0.5, "body"),
    ("logit_bias", {50256: -100}, "body"),
    ("service_tier", "flex", "body"),
    ("max_tokens", 40, "body"),
    ("max_completion_tokens", 40, "body"),
    ("default_query", {"api-version": "2025-01-01"}, "query"),
    ("default_headers", {"X-Team": "search"}, "header"),
    ("http_client", _CLIENT_HEADER, "client"),
    ("http_async_client", _CLIENT_HEADER, "client"),
    ("api_key", KEY, "key"),
    ("openai_api_key", KEY, "key"),
    ("base_url", None, "url"),
    ("openai_api_base", None, "url"),
]


@pytest.fixture(scope="module")
def keyed() -> Iterator[RelayEmulator]:
    """An emulator that answers 401 to any key but ``KEY``."""
    with RelayEmulator(api_key=KEY) as emulator:
        yield emulator


def _send(cls: type, name: str, value: Any, emulator: RelayEmulator) -> RecordedRequest:
    """Build ``cls`` with the parameter, invoke it once (async for the async client), and return
    the request the emulator recorded."""
    kwargs: dict[str, Any] = {"model": "gpt-4.1", "api_key": KEY, "base_url": emulator.base_url}
    clients: list[Any] = []
    if name == "openai_api_key":
        kwargs["openai_api_key"] = kwargs.pop("api_key")
    elif name in ("base_url", "openai_api_base"):
        kwargs[name] = kwargs.pop("base_url")
    elif name == "http_client":
        kwargs[name] = httpx.Client(headers=value)
        clients.append(kwargs[name])
    elif name == "http_async_client":
        kwargs[name] = httpx.AsyncClient(headers=value)
        clients.append(kwargs[name])
    else:
        kwargs[name] = value
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. langchain-core's "transferred to model_kwargs"
        model = cls(**kwargs)
    emulator.requests.clear()
    try:
        if name == "http_async_client":

            async def call() -> Any:
                try:
                    return await model.ainvoke("Hello")
                finally:
                    await clients[0].aclose()

            reply = asyncio.run(call())
        else:
            reply = model.invoke("Hello")
    finally:
        for client in clients:
            if isinstance(client, httpx.Client):
                client.close()
    assert reply.text.startswith("Echo: Hello")
    (request,) = emulator.requests
    return request


def _body(request: RecordedRequest) -> dict[str, Any]:
    """The body less what every request carries (ChatOpenAI also always sends ``stream``)."""
    skip = {"model", "messages", "stream"}
    return {k: v for k, v in request.json.items() if k not in skip}


@pytest.mark.parametrize(("name", "value", "lands"), PARITY, ids=[row[0] for row in PARITY])
def test_a_chatopenai_parameter_lands_where_chatopenai_puts_it(
    keyed: RelayEmulator, name: str, value: Any, lands: str
) -> None:
    peer = _send(ChatOpenAI, name, value, keyed)
    ours = _send(ChatHolySheep, name, value, keyed)
    if lands == "body":
        sent = _body(peer)
        if "max_completion_tokens" in sent:  # ChatOpenAI's rename, for OpenAI reasoning models
            sent["max_tokens"] = sent.pop("max_completion_tokens")
        assert len(sent) == 1  # the parameter, and nothing else
        assert _body(ours) == sent
    elif lands == "query":
        assert parse_qs(urlsplit(ours.path).query) == parse_qs(urlsplit(peer.path).query)
        assert parse_qs(urlsplit(ours.path).query) == {"api-version": ["2025-01-01"]}
        assert urlsplit(ours.path).path == urlsplit(peer.path).path == "/v1/chat/completions"
    elif lands == "header":
        assert ours.headers["x-team"] == peer.headers["x-team"] == "search"
    elif lands == "client":
        assert ours.headers["x-parity-client"] == peer.headers["x-parity-client"]
    elif lands == "key":  # the keyed emulator answered, so the key went in Authorization
        assert ours.headers["authorization"] == peer.headers["authorization"] == "***"
    assert KEY not in str(ours.json)
    if lands != "body":
        assert _body(ours) == _body(peer) == {}


@pytest.mark.parametrize(
    "name",
    ["organization", "openai_organization", "openai_proxy", "use_responses_api", "reasoning"],
)
def test_client_settings_are_refused_with_what_to_do(name: str) -> None:
    with pytest.raises(ConfigurationError, match=f"does not take {name}=: .+"):
        ChatHolySheep(model="gpt-4.1", api_key=KEY, **{name: "x"})


def test_credential_like_arguments_are_refused_rather_than_sent_in_the_body() -> None:
    with pytest.raises(ConfigurationError, match="would otherwise send it to the relay") as err:
        ChatHolySheep(model="gpt-4.1", api_key=KEY, anthropic_api_key="sk-ant-secret")
    assert "sk-ant-secret" not in str(err.value)
    with pytest.raises(ConfigurationError, match="either api_key= or openai_api_key="):
        ChatHolySheep(model="gpt-4.1", api_key=KEY, openai_api_key=KEY)
