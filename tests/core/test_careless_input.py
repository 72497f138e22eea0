"""Careless input and a hostile upstream give a typed ``HolySheepError`` with a hint.

Issue #9, Hostile 13-14: bad gzip, a model list that is not one, nonsense timeouts, unencodable
bodies, broken base URLs, a plain-text 404 from a wrong path, redirects, NaN and ``max_tokens``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from holysheep import (
    APIError,
    BadRequestError,
    ConfigurationError,
    HolySheepClient,
    HolySheepError,
    ModelNotFoundError,
    RetryPolicy,
)

from ..hostile import HostileUpstream, completion, json_response, raw_response

KEY = "cr_test_0123456789abcdef"
HELLO = [{"role": "user", "content": "Hello"}]
FAST = RetryPolicy(max_attempts=3, initial_delay=0.0, max_delay=0.0, deadline=10.0)


@pytest.fixture
def up() -> Any:
    with HostileUpstream() as server:
        yield server


@pytest.fixture
def client(up: HostileUpstream) -> Any:
    c = HolySheepClient(api_key=KEY, base_url=up.base_url, retry=FAST)
    yield c
    c.close()


def run(client: HolySheepClient, side: str, **params: Any) -> Any:
    """One chat call on ``side`` (a stream is read to the end)."""
    params.setdefault("model", "gpt-4.1")
    params.setdefault("messages", HELLO)
    if side == "sync":
        return client.chat(**params)
    if side == "async":
        return asyncio.run(client.achat(**params))
    with client.stream(**params) as s:
        return list(s)


def refused(client: HolySheepClient, side: str, kind: type[HolySheepError], **params: Any) -> str:
    """The message of the ``kind`` error the call raises."""
    with pytest.raises(kind) as caught:
        run(client, side, **params)
    return str(caught.value)


# ------------------------------------------------------------------ item 13: hostile bodies


@pytest.mark.parametrize("side", ["sync", "async", "stream"])
def test_invalid_gzip_is_a_typed_error(up: HostileUpstream, client: HolySheepClient, side) -> None:
    ctype = "text/event-stream" if side == "stream" else "application/json"
    headers = {"Content-Encoding": "gzip", "Content-Type": ctype}
    up.answer(raw_response(200, b"\x1f\x8bnot gzip", headers))
    message = refused(client, side, APIError)
    assert "could not be decoded" in message and "proxy" in message


@pytest.mark.parametrize(
    "body",
    [b"<html><body>HolySheep - home</body></html>", b'{"data": [{"object": "model"}]}', b"[1, 2]"],
)
@pytest.mark.parametrize("side", ["sync", "async"])
def test_list_models_on_a_non_list_is_a_typed_error(
    up: HostileUpstream, client: HolySheepClient, side: str, body: bytes
) -> None:
    up.answer(raw_response(200, body, {"Content-Type": "text/html"}))
    with pytest.raises(APIError, match=r"not a model list.*HOLYSHEEP_BASE_URL"):
        client.list_models() if side == "sync" else asyncio.run(client.alist_models())


# ------------------------------------------------------------------ item 13: careless arguments


@pytest.mark.parametrize("timeout", [-1, 0, "5", float("nan"), float("inf"), True])
def test_nonsense_timeout_is_refused_before_sending(
    up: HostileUpstream, client: HolySheepClient, timeout: Any
) -> None:
    message = refused(client, "sync", ConfigurationError, timeout=timeout)
    assert "timeout must be a number of seconds" in message and repr(timeout) in message
    with pytest.raises(ConfigurationError, match="timeout"):
        HolySheepClient(api_key=KEY, base_url=up.base_url, timeout=timeout)
    assert not up.received
    assert run(client, "sync", timeout=5).text == "ok"  # a sane one still works


@pytest.mark.parametrize(
    "params",
    [
        {"messages": [{"role": "user", "content": "bad \ud800 half"}]},
        {"extra_body": {"metadata": {"when": object()}}},
        {"extra_body": {"when": b"\xff\xfe raw bytes"}},
        {"extra_body": ["not", "a", "dict"]},
        {"temperature": float("nan")},
        {"top_p": float("inf")},
        {"frequency_penalty": float("nan")},
        {"max_tokens": 0},
        {"max_tokens": -5},
        {"max_completion_tokens": 0},
    ],
    ids=lambda p: next(iter(p)) + "=" + repr(next(iter(p.values())))[:20],
)
@pytest.mark.parametrize("side", ["sync", "async", "stream"])
def test_bad_request_bodies_are_refused_locally(
    up: HostileUpstream, client: HolySheepClient, side: str, params: dict[str, Any]
) -> None:
    message = refused(client, side, BadRequestError, **params)
    assert next(iter(params)) in message or "JSON" in message
    assert not up.received  # nothing was sent: NaN never became null on the wire


def test_smallest_valid_max_tokens_is_sent(up: HostileUpstream, client: HolySheepClient) -> None:
    one_token = {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11}
    up.answer(json_response(completion("ok", usage=one_token)))  # usage that max_tokens allows
    assert run(client, "sync", max_tokens=1, temperature=0.0).text == "ok"
    assert up.received[0].json["max_tokens"] == 1


@pytest.mark.parametrize("url", ["http://[::1", "http://[::1]:99999/v1", "ftp://relay/v1", "http://"])
def test_broken_base_url_is_a_configuration_error(url: str, monkeypatch) -> None:
    with pytest.raises(ConfigurationError, match="HOLYSHEEP_BASE_URL"):
        HolySheepClient(api_key=KEY, base_url=url)
    monkeypatch.setenv("HOLYSHEEP_BASE_URL", url)
    with pytest.raises(ConfigurationError, match="HOLYSHEEP_BASE_URL"):
        HolySheepClient(api_key=KEY)


def test_upper_case_scheme_is_valid(up: HostileUpstream) -> None:
    with HolySheepClient(api_key=KEY, base_url=up.base_url.replace("http", "HTTP")) as client:
        assert client.base_url.startswith("http://")
        assert run(client, "sync").text == "ok"


# ------------------------------------------------------------------ item 14: wrong paths, redirects


@pytest.mark.parametrize("side", ["sync", "async", "stream"])
def test_plain_text_404_blames_the_url_not_the_model(
    up: HostileUpstream, client: HolySheepClient, side: str
) -> None:
    up.answer(raw_response(404, b"404 page not found", {"Content-Type": "text/plain"}))
    message = refused(client, side, ModelNotFoundError)
    assert "/v1/chat/completions was not found" in message and "HOLYSHEEP_BASE_URL" in message
    assert "did you mean" not in message and "unknown model" not in message
    assert len(up.received) == 1  # a 404 is not retried


def test_a_real_unknown_model_404_still_suggests(up: HostileUpstream, client) -> None:
    body = {"error": {"message": "The model `gpt4.1` does not exist", "code": "model_not_found"}}
    up.answer(json_response(body, status=404))
    message = refused(client, "sync", ModelNotFoundError, model="gpt4.1")
    assert "did you mean 'gpt-4.1'" in message


@pytest.mark.parametrize("status", [301, 302, 307, 308])
@pytest.mark.parametrize("side", ["sync", "async", "stream"])
def test_redirect_is_reported_with_its_target_and_never_followed(
    up: HostileUpstream, client: HolySheepClient, side: str, status: int
) -> None:
    target = f"http://127.0.0.1:{up.port}/elsewhere/chat/completions"
    up.answer(raw_response(status, b"", {"Location": target}))
    message = refused(client, side, APIError)
    assert f"redirected the request ({status}) to {target}" in message
    assert "HOLYSHEEP_BASE_URL" in message
    assert [r.path for r in up.received] == ["/v1/chat/completions"]  # not followed, not retried


def test_relative_redirect_of_the_model_list_names_the_full_target(
    up: HostileUpstream, client: HolySheepClient
) -> None:
    up.answer(raw_response(302, b"", {"Location": "/v2/models"}))
    with pytest.raises(APIError, match=rf"to http://127\.0\.0\.1:{up.port}/v2/models"):
        client.list_models()
    assert len(up.received) == 1
