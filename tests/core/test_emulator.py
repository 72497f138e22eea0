"""Tests of the relay emulator, spoken to with plain httpx over loopback."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from holysheep.testing import RelayEmulator, Reply

KEY = "sk-test-emulator"
MODEL = "gpt-4.1-mini"


@pytest.fixture(scope="module")
def emulator() -> Iterator[RelayEmulator]:
    """One emulator for the whole module."""
    with RelayEmulator(api_key=KEY) as emu:
        yield emu


@pytest.fixture(autouse=True)
def _clean(emulator: RelayEmulator) -> None:
    """Start every test from an empty script and fault queue."""
    emulator.reset()


@pytest.fixture
def client(emulator: RelayEmulator) -> Iterator[httpx.Client]:
    """An authenticated client on the emulator."""
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=emulator.base_url, headers=headers, timeout=5) as c:
        yield c


def chat(stream: bool = False, text: str = "Hello there", **extra: Any) -> dict[str, Any]:
    """A chat-completions request body."""
    body: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": text}]}
    if stream:
        body["stream"] = True
    body.update(extra)
    return body


def read_stream(client: httpx.Client, body: dict[str, Any]) -> tuple[list[str], str]:
    """POST a streaming request; return (SSE lines, raw text)."""
    with client.stream("POST", "/chat/completions", json=body) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        raw = resp.read().decode()
    return [line for line in raw.split("\n") if line], raw


def data_frames(lines: list[str]) -> list[dict[str, Any]]:
    """The JSON payloads of ``data:`` lines ([DONE] excluded)."""
    return [json.loads(x[6:]) for x in lines if x.startswith("data: ") and x != "data: [DONE]"]


def test_models_listing(client: httpx.Client) -> None:
    resp = client.get("/models")
    assert resp.status_code == 200
    body = resp.json()
    assert body["object"] == "list"
    owners = {m["id"]: m["owned_by"] for m in body["data"]}
    assert owners["gpt-4.1"] == "openai"
    assert owners["o4-mini"] == "openai"
    assert owners["claude-sonnet-4.5"] == "anthropic"
    assert owners["gemini-2.5-pro"] == "google"
    assert owners["deepseek-r1"] == "deepseek"
    assert owners["grok-4"] == "xai"
    assert owners["qwen3-max"] == "alibaba"
    assert all(m["object"] == "model" and isinstance(m["created"], int) for m in body["data"])


def test_x_request_id_header(client: httpx.Client) -> None:
    for resp in (client.get("/models"), client.post("/chat/completions", json={})):
        assert resp.headers["x-request-id"].startswith("req_")
        assert len(resp.headers["x-request-id"]) == len("req_") + 16


@pytest.mark.parametrize("auth", [None, "Bearer wrong-key", "Bearer", f"Basic {KEY}"])
def test_auth_rejected(emulator: RelayEmulator, auth: str | None) -> None:
    headers = {"Authorization": auth} if auth is not None else {}
    resp = httpx.post(f"{emulator.base_url}/chat/completions", json=chat(), headers=headers)
    assert resp.status_code == 401
    assert resp.json() == {
        "error": {
            "message": "Incorrect API key provided.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }


def test_any_bearer_accepted_without_api_key() -> None:
    with RelayEmulator() as emu:
        ok = httpx.get(f"{emu.base_url}/models", headers={"Authorization": "Bearer anything"})
        missing = httpx.get(f"{emu.base_url}/models")
    assert ok.status_code == 200
    assert missing.status_code == 401


def test_recorded_requests_redact_authorization(
    emulator: RelayEmulator, client: httpx.Client
) -> None:
    client.post("/chat/completions", json=chat(text="hi"))
    (req,) = emulator.requests
    assert (req.method, req.path) == ("POST", "/v1/chat/completions")
    assert req.headers["authorization"] == "***"
    assert KEY not in repr(req)
    assert req.json["messages"][0]["content"] == "hi"


def test_echo_reply_and_usage(client: httpx.Client) -> None:
    text = "What is the weather like in Paris today?"
    resp = client.post("/chat/completions", json=chat(text=text))
    assert resp.status_code == 200
    body = resp.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert body["model"] == MODEL
    assert body["system_fingerprint"] == "fp_emulator"
    (choice,) = body["choices"]
    assert choice["message"] == {"role": "assistant", "content": f"Echo: {text}"}
    assert choice["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["prompt_tokens"] == 4 + math.ceil(len(text) / 4)
    assert usage["completion_tokens"] == math.ceil(len(f"Echo: {text}") / 4)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens_details"] == {"cached_tokens": 0}
    assert usage["completion_tokens_details"] == {"reasoning_tokens": 0}


def test_echo_uses_text_parts_and_ignores_tools(client: httpx.Client) -> None:
    content = [
        {"type": "text", "text": "look "},
        {"type": "image_url"},
        {"type": "text", "text": "here"},
    ]
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    body = chat(tools=tools)
    body["messages"] = [{"role": "user", "content": content}]
    msg = client.post("/chat/completions", json=body).json()["choices"][0]["message"]
    assert msg == {"role": "assistant", "content": "Echo: look here"}


def test_scripted_reasoning_usage_and_model(client: httpx.Client, emulator: RelayEmulator) -> None:
    emulator.script(
        Reply(
            content="Done.", reasoning="Think hard first", cached_tokens=3, model="deepseek-r1-0528"
        )
    )
    body = client.post("/chat/completions", json=chat()).json()
    msg = body["choices"][0]["message"]
    assert msg["content"] == "Done."
    assert msg["reasoning_content"] == "Think hard first"
    assert body["model"] == "deepseek-r1-0528"
    usage = body["usage"]
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 4
    assert usage["completion_tokens"] == math.ceil(len("Done.Think hard first") / 4)
    assert usage["completion_tokens"] >= usage["completion_tokens_details"]["reasoning_tokens"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == 3


def test_script_fifo_and_usage_override(client: httpx.Client, emulator: RelayEmulator) -> None:
    emulator.script("first", Reply(content="second", usage={"prompt_tokens": 1}))
    first = client.post("/chat/completions", json=chat()).json()
    second = client.post("/chat/completions", json=chat()).json()
    third = client.post("/chat/completions", json=chat(text="x")).json()
    assert first["choices"][0]["message"]["content"] == "first"
    assert second["choices"][0]["message"]["content"] == "second"
    assert second["usage"] == {"prompt_tokens": 1}
    assert third["choices"][0]["message"]["content"] == "Echo: x"


def test_scripted_tool_call_non_streaming(client: httpx.Client, emulator: RelayEmulator) -> None:
    emulator.script(
        Reply(
            tool_calls=[
                {"name": "get_weather", "arguments": {"city": "Paris"}},
                {"name": "raw", "arguments": '{"x": 1}', "id": "call_fixed"},
            ]
        )
    )
    body = client.post("/chat/completions", json=chat()).json()
    (choice,) = body["choices"]
    assert choice["finish_reason"] == "tool_calls"
    msg = choice["message"]
    assert msg["content"] is None
    first, second = msg["tool_calls"]
    assert first["id"].startswith("call_") and first["type"] == "function"
    assert first["function"]["name"] == "get_weather"
    assert isinstance(first["function"]["arguments"], str)
    assert json.loads(first["function"]["arguments"]) == {"city": "Paris"}
    assert second["id"] == "call_fixed"
    assert second["function"]["arguments"] == '{"x": 1}'


def test_reply_rejects_tool_call_without_name() -> None:
    with pytest.raises(ValueError):
        Reply(tool_calls=[{"arguments": {}}])


def test_streaming_text(client: httpx.Client, emulator: RelayEmulator) -> None:
    text = "  The quick brown fox,\tjumps over the lazy dog.  "
    emulator.script(text, text)
    for include in (False, True):
        extra = {"stream_options": {"include_usage": True}} if include else {}
        lines, _ = read_stream(client, chat(stream=True, **extra))
        assert lines[-1] == "data: [DONE]"
        assert lines[1] == ": keep-alive"
        frames = data_frames(lines)
        assert len({(f["id"], f["created"], f["model"]) for f in frames}) == 1
        assert all(f["object"] == "chat.completion.chunk" for f in frames)
        assert frames[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
        deltas = [c["delta"] for f in frames for c in f["choices"]]
        pieces = [d["content"] for d in deltas[1:] if "content" in d]
        assert "".join(pieces) == text
        assert len(pieces) == len(text.split())
        finishes = [c["finish_reason"] for f in frames for c in f["choices"] if c["finish_reason"]]
        assert finishes == ["stop"]
        usage_frames = [f for f in frames if f.get("usage")]
        if include:
            (last,) = usage_frames
            assert last is frames[-1] and last["choices"] == []
            usage = last["usage"]
            assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        else:
            assert usage_frames == []


def test_streaming_reasoning_before_content(client: httpx.Client, emulator: RelayEmulator) -> None:
    reasoning = "one two three four five six seven"
    emulator.script(Reply(content="Answer.", reasoning=reasoning))
    frames = data_frames(read_stream(client, chat(stream=True))[0])
    deltas = [f["choices"][0]["delta"] for f in frames]
    kinds = [k for d in deltas for k in d if k in ("reasoning_content", "content") and d[k]]
    assert kinds == ["reasoning_content"] * 3 + ["content"]
    assert "".join(d.get("reasoning_content", "") for d in deltas) == reasoning


def test_streaming_tool_call_arguments_reassemble(
    client: httpx.Client, emulator: RelayEmulator
) -> None:
    args = {"city": "Paris", "units": "celsius", "days": [1, 2, 3]}
    emulator.script(Reply(tool_calls=[{"name": "a", "arguments": args}, {"name": "b"}]))
    frames = data_frames(read_stream(client, chat(stream=True))[0])
    calls: dict[int, dict[str, Any]] = {}
    pieces_per_call: dict[int, int] = {}
    for frame in frames:
        for part in frame["choices"][0]["delta"].get("tool_calls", []):
            call = calls.setdefault(part["index"], {"id": None, "name": "", "arguments": ""})
            if "id" in part:
                call["id"] = part["id"]
                call["name"] = part["function"]["name"]
            else:
                pieces_per_call[part["index"]] = pieces_per_call.get(part["index"], 0) + 1
            call["arguments"] += part["function"]["arguments"]
    assert json.loads(calls[0]["arguments"]) == args
    assert json.loads(calls[1]["arguments"]) == {}
    assert calls[0]["name"] == "a" and calls[0]["id"].startswith("call_")
    assert 2 <= pieces_per_call[0] <= 3
    assert frames[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_fail_429_with_retry_after(client: httpx.Client, emulator: RelayEmulator) -> None:
    emulator.fail(429, retry_after=2)
    resp = client.post("/chat/completions", json=chat())
    assert resp.status_code == 429
    assert resp.headers["retry-after"] == "2"
    assert resp.json()["error"]["code"] == "rate_limit_exceeded"
    assert client.post("/chat/completions", json=chat()).status_code == 200


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (401, "invalid_api_key"),
        (402, "insufficient_quota"),
        (404, "model_not_found"),
        (500, "server_error"),
        (503, "service_unavailable"),
        (400, "invalid_request_error"),
    ],
)
def test_fail_default_codes(
    client: httpx.Client, emulator: RelayEmulator, status: int, code: str
) -> None:
    emulator.fail(status, times=2)
    for _ in range(2):
        resp = client.post("/chat/completions", json=chat())
        assert resp.status_code == status
        error = resp.json()["error"]
        assert error["code"] == code and error["message"] and error["type"]
        assert "retry-after" not in resp.headers
    assert client.post("/chat/completions", json=chat()).status_code == 200


def test_fail_code_and_body_overrides(client: httpx.Client, emulator: RelayEmulator) -> None:
    emulator.fail(400, code="context_length_exceeded")
    emulator.fail(502, body={"error": {"message": "custom", "code": 502}})
    first = client.post("/chat/completions", json=chat()).json()["error"]
    assert first["code"] == "context_length_exceeded"
    assert first["type"] == "invalid_request_error"
    assert "context length" in first["message"]
    second = client.post("/chat/completions", json=chat())
    assert second.status_code == 502
    assert second.json() == {"error": {"message": "custom", "code": 502}}


def test_cut_stream_has_no_done(client: httpx.Client, emulator: RelayEmulator) -> None:
    emulator.script("one two three four five six")
    emulator.cut_stream(after_chunks=2)
    raw = b""
    with client.stream("POST", "/chat/completions", json=chat(stream=True)) as resp:
        try:  # httpx reports the missing last chunk; a lenient client would just see fewer frames
            for piece in resp.iter_bytes():
                raw += piece
        except httpx.RemoteProtocolError:
            pass
    text = raw.decode()
    assert "[DONE]" not in text
    assert 'finish_reason":"stop' not in text
    assert text.count("data: ") <= 2
    # The server is fine afterwards and the fault was used up.
    lines, _ = read_stream(client, chat(stream=True))
    assert lines[-1] == "data: [DONE]"


def test_cut_stream_only_affects_streams(client: httpx.Client, emulator: RelayEmulator) -> None:
    emulator.cut_stream(1)
    assert client.post("/chat/completions", json=chat()).status_code == 200
    with pytest.raises(httpx.RemoteProtocolError):
        read_stream(client, chat(stream=True))


def test_error_in_stream(client: httpx.Client, emulator: RelayEmulator) -> None:
    emulator.error_in_stream(after_chunks=1, message="boom", code="server_error")
    lines, raw = read_stream(client, chat(stream=True))
    assert "data: [DONE]" not in lines
    assert "event: error\ndata: " in raw
    assert len(data_frames(lines)) == 2  # one chunk, then the error frame
    error = json.loads(lines[-1][6:])["error"]
    assert error == {"message": "boom", "code": "server_error", "type": "server_error"}


def test_random_faults_follow_their_rates(client: httpx.Client, emulator: RelayEmulator) -> None:
    emulator.random_faults(rate_limited=0.3, unavailable=0.2, seed=7)
    statuses = [client.post("/chat/completions", json=chat()).status_code for _ in range(200)]
    assert 40 <= statuses.count(429) <= 80 and 20 <= statuses.count(503) <= 60
    assert statuses.count(200) == 200 - statuses.count(429) - statuses.count(503)
    emulator.reset()  # turns them off
    assert all(client.post("/chat/completions", json=chat()).status_code == 200 for _ in range(20))


def test_random_stream_faults_cut_or_end_streams(
    client: httpx.Client, emulator: RelayEmulator
) -> None:
    emulator.random_faults(cut=0.5, stream_error=0.5, seed=3)
    outcomes = set()
    for _ in range(20):
        try:
            lines, _ = read_stream(client, chat(stream=True))
        except httpx.RemoteProtocolError:
            outcomes.add("cut")
        else:
            assert "data: [DONE]" not in lines
            outcomes.add("error frame")
    assert outcomes == {"cut", "error frame"}
    with pytest.raises(ValueError, match="between 0 and 1"):
        emulator.random_faults(cut=1.5)


def test_client_disconnect_mid_stream_is_quiet(
    client: httpx.Client, emulator: RelayEmulator, capfd: pytest.CaptureFixture[str]
) -> None:
    emulator.script(" ".join(["word"] * 50_000))
    with client.stream("POST", "/chat/completions", json=chat(stream=True)) as resp:
        assert next(resp.iter_lines()).startswith("data: ")
    # Closing early drops the connection; the server must carry on without a traceback.
    assert client.post("/chat/completions", json=chat(text="after")).status_code == 200
    time.sleep(0.05)
    assert capfd.readouterr().err == ""


def test_unknown_model_404(client: httpx.Client) -> None:
    resp = client.post("/chat/completions", json={**chat(), "model": "gpt-9000"})
    assert resp.status_code == 404
    assert resp.json() == {
        "error": {
            "message": "The model `gpt-9000` does not exist or you do not have access to it.",
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }
    }


@pytest.mark.parametrize(
    "content", [b"{not json", b"[]", b'{"messages": []}', b'{"model": "gpt-4.1"}']
)
def test_bad_request_400(client: httpx.Client, content: bytes) -> None:
    resp = client.post(
        "/chat/completions", content=content, headers={"content-type": "application/json"}
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "invalid_request_error"


def test_unknown_route_and_wrong_method(client: httpx.Client) -> None:
    assert client.get("/nope").status_code == 404
    assert client.get("/chat/completions").status_code == 405
    assert client.delete("/models").status_code == 501


def test_keep_alive_reuses_connection(emulator: RelayEmulator) -> None:
    limits = httpx.Limits(max_keepalive_connections=1, max_connections=1)
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=emulator.base_url, headers=headers, limits=limits) as c:
        assert c.post("/chat/completions", json=chat()).status_code == 200
        read_stream(c, chat(stream=True))
        assert c.get("/models").status_code == 200
    assert len(emulator.requests) == 3
    assert len({r.client_port for r in emulator.requests}) == 1


def test_latency_honoured(client: httpx.Client, emulator: RelayEmulator) -> None:
    emulator.latency = 0.2
    started = time.monotonic()
    assert client.post("/chat/completions", json=chat()).status_code == 200
    assert time.monotonic() - started >= 0.2
    emulator.reset()
    assert emulator.latency == 0.0


def test_start_stop_idempotent_and_distinct_ports() -> None:
    first = RelayEmulator()
    second = RelayEmulator()
    with pytest.raises(RuntimeError):
        _ = first.port
    try:
        assert first.start() is first.start()
        second.start()
        assert first.port != second.port
        assert first.base_url == f"http://127.0.0.1:{first.port}/v1"
        auth = {"Authorization": "Bearer k"}
        with httpx.Client(headers=auth) as c:
            assert c.get(f"{first.base_url}/models").status_code == 200
            assert c.get(f"{second.base_url}/models").status_code == 200
    finally:
        first.stop()
        first.stop()
        second.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{first.base_url}/models", headers={"Authorization": "Bearer k"})


def test_stop_ends_idle_keep_alive_connection() -> None:
    emu = RelayEmulator(models=["m1"]).start()
    with httpx.Client(headers={"Authorization": "Bearer k"}) as c:
        body = c.get(f"{emu.base_url}/models").json()
        assert [m["id"] for m in body["data"]] == ["m1"]
        assert body["data"][0]["owned_by"] == "holysheep"
        started = time.monotonic()
        emu.stop()
        assert time.monotonic() - started < 2


# ---------------------------------------------------------------- replies that follow the contract


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer"},
                "unit": {"enum": ["c", "f"]},
                "note": {"type": "string"},
            },
            "required": ["city", "days", "unit"],
        },
    },
}


def test_forced_tool_choice_gets_a_schema_shaped_call(client: httpx.Client) -> None:
    body = {
        "model": "gpt-4.1",
        "messages": [{"role": "user", "content": "weather?"}],
        "tools": [WEATHER_TOOL],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    }
    reply = client.post("/chat/completions", json=body).json()
    call = reply["choices"][0]["message"]["tool_calls"][0]["function"]
    assert call["name"] == "get_weather"
    assert json.loads(call["arguments"]) == {"city": "example", "days": 1, "unit": "c"}
    assert reply["choices"][0]["finish_reason"] == "tool_calls"


def test_json_schema_response_format_gets_a_matching_document(client: httpx.Client) -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "owner": {"$ref": "#/$defs/Person"},
            "age": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        },
        "required": ["name", "tags", "owner", "age"],
        "$defs": {
            "Person": {
                "type": "object",
                "properties": {"ok": {"type": "boolean"}},
                "required": ["ok"],
            }
        },
    }
    body = {
        "model": "gpt-4.1",
        "messages": [{"role": "user", "content": "extract"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
    }
    reply = client.post("/chat/completions", json=body).json()
    document = json.loads(reply["choices"][0]["message"]["content"])
    assert document == {"name": "example", "tags": [], "owner": {"ok": True}, "age": 1}


def test_auto_tool_choice_still_echoes(client: httpx.Client) -> None:
    body = {
        "model": "gpt-4.1",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [WEATHER_TOOL],
    }
    reply = client.post("/chat/completions", json=body).json()
    assert reply["choices"][0]["message"]["content"] == "Echo: hi"
