"""The key stays secret under every failure: reprs, vars, traceback locals, error texts and bodies.

Issue #9, Secrets 7-9: the header is built from a ``SecretStr`` only at send time, an upstream
that echoes it is scrubbed, and a careless key (a pasted newline, non-ASCII) is handled locally.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import pickle
import socket
import traceback
from typing import Any

import pytest
from holysheep import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    ConfigurationError,
    HolySheepClient,
    HolySheepError,
    RetryPolicy,
    StreamError,
)
from holysheep.cli import main

from ..hostile import HostileUpstream, chunk, json_response, raw_response, sse_response

KEY = "cr_live_9f8e7d6c5b4a39281716abcdef"
HELLO = [{"role": "user", "content": "Hello"}]
ONCE = RetryPolicy(max_attempts=1)
SIDES = ["sync", "async", "stream", "astream"]


def run(client: HolySheepClient, side: str, **params: Any) -> Any:
    """One chat call on ``side``; a stream is read to the end."""
    params.setdefault("model", "gpt-4.1")
    params.setdefault("messages", HELLO)
    if side == "sync":
        return client.chat(**params)
    if side == "stream":
        with client.stream(**params) as s:
            return list(s)
    if side == "async":
        return asyncio.run(client.achat(**params))

    async def collect() -> list[Any]:
        async with client.astream(**params) as s:
            return [c async for c in s]

    return asyncio.run(collect())


def failure(client: HolySheepClient, side: str, **params: Any) -> HolySheepError:
    with pytest.raises(HolySheepError) as caught:
        run(client, side, **params)
    return caught.value


def rendered(exc: BaseException) -> str:
    """Everything a crash reporter could show: the chain with every frame's locals, and the
    error's repr, vars and pickle."""
    frames = "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())
    return "\n".join([frames, repr(exc), repr(vars(exc)), repr(pickle.dumps(exc))])


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_hidden(text: str, *secrets: str) -> None:
    for secret in secrets or (KEY,):
        assert secret not in text
    assert "Bearer cr_" not in text


# ------------------------------------------------------------------ item 7: reprs and locals


@pytest.mark.parametrize("side", SIDES)
def test_refused_connection_shows_no_key_in_traceback_locals(side: str) -> None:
    client = HolySheepClient(
        api_key=KEY, base_url=f"http://127.0.0.1:{closed_port()}/v1", retry=ONCE
    )
    error = failure(client, side)
    assert isinstance(error, APIConnectionError)  # refused, not "no answer in time"
    assert "ConnectError" in str(error) and "check HOLYSHEEP_BASE_URL" in str(error)
    text = rendered(error)
    assert_hidden(text)
    assert "_Call(" in text  # the call's locals were rendered, with the key masked
    assert_hidden(repr(client) + repr(vars(client)))


@pytest.mark.parametrize("side", SIDES)
def test_rejected_call_shows_no_key_anywhere_yet_sends_it(side: str) -> None:
    with HostileUpstream() as up:
        up.answer(json_response({"error": {"message": "bad key"}}, status=401))
        client = HolySheepClient(api_key=KEY, base_url=up.base_url, retry=ONCE)
        error = failure(client, side)
        assert isinstance(error, AuthenticationError)
        assert up.received[0].headers["authorization"] == f"Bearer {KEY}"
    assert_hidden(rendered(error))
    assert_hidden(repr(client) + repr(vars(client)))


def test_prepared_call_and_stream_mask_the_key() -> None:
    client = HolySheepClient(api_key=KEY, base_url="http://127.0.0.1:9/v1")
    call = client._prepare(None, {"model": "gpt-4.1", "messages": HELLO}, stream=False)
    stream = client.stream(model="gpt-4.1", messages=HELLO)
    # the stream view is slotted; its reading state (``_core``) holds the call and the client
    core = stream._core
    fields = {f.name: getattr(core._call, f.name) for f in dataclasses.fields(core._call)}
    shown = repr(call) + repr(stream) + repr(vars(core)) + repr(fields)
    assert_hidden(shown)
    assert "authorization" in repr(call)  # present, masked
    stream.close()


def test_credential_default_headers_are_masked_but_sent() -> None:
    token, cookie, plain = "tok_0123456789abcdef", "sid=0123456789abcdef", "my-app"
    headers = {"X-Api-Key": token, "Cookie": cookie, "X-Session-Token": token, "X-Title": plain}
    with HostileUpstream() as up:
        up.answer(json_response({"error": {"message": f"no such key {token}"}}, status=403))
        client = HolySheepClient(
            api_key=KEY, base_url=up.base_url, default_headers=headers, retry=ONCE
        )
        error = failure(client, "sync")
        sent = up.received[0].headers
    assert (sent["x-api-key"], sent["cookie"], sent["x-title"]) == (token, cookie, plain)
    shown = repr(client) + repr(vars(client)) + rendered(error)
    assert_hidden(shown, KEY, token, cookie)
    assert plain in repr(vars(client))  # only credentials are masked


# ------------------------------------------------------------------ item 8: echoed keys


ECHO = {
    "error": {
        "message": f"Incorrect API key provided: Bearer {KEY}",
        "code": "invalid_api_key",
        "request": {"headers": {"authorization": f"Bearer {KEY}"}, "seen": [KEY, {"k": KEY}]},
    }
}


@pytest.mark.parametrize("side", SIDES)
def test_401_echoing_the_header_is_scrubbed_from_message_and_body(side: str) -> None:
    with HostileUpstream() as up:
        up.answer(json_response(ECHO, status=401))
        client = HolySheepClient(api_key=KEY, base_url=up.base_url, retry=ONCE)
        error = failure(client, side)
    assert isinstance(error, AuthenticationError)
    assert "HOLYSHEEP_API_KEY" in str(error) and "Incorrect API key provided" in str(error)
    assert_hidden(str(error) + json.dumps(error.body) + rendered(error))
    assert error.body["error"]["code"] == "invalid_api_key"  # the rest of the body is kept
    clone = pickle.loads(pickle.dumps(error))
    assert_hidden(str(clone) + repr(clone.body))


def test_plain_text_echo_is_scrubbed() -> None:
    with HostileUpstream() as up:
        up.answer(raw_response(401, f"denied for authorization: Bearer {KEY}\n".encode()))
        client = HolySheepClient(api_key=KEY, base_url=up.base_url, retry=ONCE)
        error = failure(client, "sync")
    assert_hidden(str(error) + repr(error.body))
    assert "denied for authorization" in str(error)


def test_cli_stderr_never_shows_the_echoed_key(capsys: pytest.CaptureFixture[str]) -> None:
    with HostileUpstream() as up:
        up.answer(json_response(ECHO, status=401))
        code = main(["--api-key", KEY, "--base-url", up.base_url, "models"])
    err = capsys.readouterr().err
    assert code == 1 and "HOLYSHEEP_API_KEY" in err
    assert_hidden(err)


# ------------------------------------------------------------------ item 9: careless keys


@pytest.mark.parametrize("given", [KEY + "\n", f"  {KEY}\t ", f"\r\n{KEY}\r\n"])
def test_whitespace_around_the_key_is_stripped(given: str) -> None:
    with HostileUpstream() as up:
        client = HolySheepClient(api_key=given, base_url=up.base_url, retry=ONCE)
        assert client.chat(model="gpt-4.1", messages=HELLO).text == "ok"
        assert up.received[0].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("bad", ["clé-privée-1234567890", "cr_live 12345678", "cr_\nlive_12345678"])
@pytest.mark.parametrize("side", ["sync", "async"])
def test_unusable_key_is_a_configuration_error_that_does_not_print_it(
    bad: str, side: str
) -> None:
    with HostileUpstream() as up:
        client = HolySheepClient(api_key=bad, base_url=up.base_url)
        error = failure(client, side)
        assert not up.received  # refused locally, never sent nor retried
    assert isinstance(error, ConfigurationError)
    assert "api_key" in str(error) and "HOLYSHEEP_BASE_URL" not in str(error)
    shown = rendered(error)
    assert bad not in shown and repr(bad)[1:-1] not in shown


def test_unusable_key_from_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOLYSHEEP_API_KEY", "schlüssel-0123456789")
    client = HolySheepClient(base_url="http://127.0.0.1:9/v1")
    error = failure(client, "sync")
    assert isinstance(error, ConfigurationError) and "HOLYSHEEP_API_KEY" in str(error)
    assert "schlüssel" not in str(error)


def test_header_value_with_a_newline_is_refused_without_printing_it() -> None:
    with pytest.raises(ConfigurationError, match="x-api-key") as caught:
        HolySheepClient(api_key=KEY, default_headers={"X-Api-Key": "tok_abcdefgh12\n"})
    assert "tok_abcdefgh12" not in str(caught.value)
    client = HolySheepClient(api_key=KEY, base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ConfigurationError, match="x-trace"):
        client.chat(model="gpt-4.1", messages=HELLO, extra_headers={"X-Trace": "a\r\nb: c"})


def test_error_inside_a_200_stream_echoing_the_key_is_scrubbed() -> None:
    error_event = {"error": {"message": f"upstream saw Authorization: Bearer {KEY}", "code": 500}}
    with HostileUpstream() as up:
        up.answer(sse_response([chunk("partial "), error_event], done=False))
        client = HolySheepClient(api_key=KEY, base_url=up.base_url, retry=ONCE)
        error = failure(client, "stream")
    assert isinstance(error, StreamError) and error.text == "partial "
    assert "upstream saw Authorization" in str(error)
    # the error itself; the SSE parser's frames (sse, data, chunk locals) are the stream
    # module's to keep clean
    assert_hidden(repr(error) + repr(vars(error)) + repr(pickle.dumps(error)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bearer authentication required", "Bearer authentication required"),
        ("header was 'Bearer sk-proj-AbC123'", "header was 'Bearer **********'"),
        ('{"authorization": "bearer abcdefgh1"}', '{"authorization": "bearer **********"}'),
    ],
)
def test_bearer_tokens_of_unknown_keys_are_masked_not_prose(text: str, expected: str) -> None:
    error = HolySheepError(text, body={"nested": [text]})
    assert str(error) == expected and error.body == {"nested": [expected]}


@pytest.mark.parametrize("side", ["sync", "async"])
def test_model_list_401_echo_is_clean_in_traceback_locals(side: str) -> None:
    with HostileUpstream() as up:
        up.answer(json_response(ECHO, status=401))
        client = HolySheepClient(api_key=KEY, base_url=up.base_url, retry=ONCE)
        with pytest.raises(AuthenticationError) as caught:
            client.list_models() if side == "sync" else asyncio.run(client.alist_models())
    assert_hidden(rendered(caught.value))


@pytest.mark.parametrize("side", ["sync", "async"])
def test_an_unreadable_200_echoing_the_key_is_recorded_yet_shows_no_key(side: str) -> None:
    """Billed (it reports usage) and so recorded, then raised: its preview is the body's start."""
    from holysheep.ledger import CostLedger

    from ..hostile import completion

    body = completion("unused", choices=f"Bearer {KEY}", id=KEY)
    with HostileUpstream() as up, CostLedger("memory") as ledger:
        up.answer(json_response(body))
        client = HolySheepClient(api_key=KEY, base_url=up.base_url, retry=ONCE, ledger=ledger)
        error = failure(client, side)
        [entry] = ledger.entries()
    assert isinstance(error, APIError) and error.code == "unreadable_answer"
    assert entry.usage.prompt_tokens == 10
    assert_hidden(str(error) + rendered(error) + repr(entry))


@pytest.mark.parametrize("side", SIDES)
def test_a_relay_echoing_the_key_as_id_and_model_leaves_it_in_no_record(side: str) -> None:
    """The answer is kept; its id and model, its CallInfo and its ledger entry show a mask."""
    from holysheep.ledger import CostLedger

    from ..hostile import completion

    with HostileUpstream() as up, CostLedger("memory") as ledger:
        if side in ("stream", "astream"):
            frames = [chunk("Hi", id=KEY, model=KEY), chunk(finish="stop", id=KEY, model=KEY)]
            up.answer(sse_response(frames))
        else:
            up.answer(json_response(completion("Hi", id=KEY, model=KEY)))
        client = HolySheepClient(api_key=KEY, base_url=up.base_url, retry=ONCE, ledger=ledger)
        if side == "stream":
            with client.stream(model="gpt-4.1", messages=HELLO) as stream:
                list(stream)  # the chunks are the wire as sent; the answer is what is kept
            reply = stream.completion
        elif side == "astream":

            async def read() -> Any:
                async with client.astream(model="gpt-4.1", messages=HELLO) as astream:
                    async for _ in astream:
                        pass
                return astream.completion

            reply = asyncio.run(read())
        else:
            reply = run(client, side)
        [entry] = ledger.entries()
    assert reply.choices[0].message.content == "Hi"
    assert_hidden(repr(reply) + repr(reply.call_info) + repr(entry))
