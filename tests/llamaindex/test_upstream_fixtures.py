"""Every recorded 200 response of ``tests/fixtures/upstream`` through ``HolySheep``.

A loopback ``http.server`` answers with a fixture's exact bytes and content type, so the real
path runs: HTTP, the core's SSE parsing and accumulation, then this adapter. The oracle is the
core's own result on the same bytes; the adapter must carry all of it into LlamaIndex's shapes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from holysheep import ChatCompletion, StreamError, Usage
from llama_index.core.base.llms.types import ThinkingBlock

from llamaindex_holysheep import HolySheep

from ..conftest import FAKE_KEY, FIXTURES
from .conftest import HELLO

CASES = [
    case for case in json.loads((FIXTURES / "index.json").read_text()) if case["status"] == 200
]
# Streams that end in an error although the HTTP status was 200.
ERRORS_IN_200 = {"groq-stream-error-event-in-200", "openrouter-stream-keepalive-error-in-200"}


class _Replay(BaseHTTPRequestHandler):
    """Answers every POST with the current fixture's recorded body and content type."""

    protocol_version = "HTTP/1.0"
    case: dict[str, Any] = {}

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        case = type(self).case
        body = (FIXTURES / case["files"]["response"]).read_bytes()
        self.send_response(200)
        self.send_header("content-type", case["content_type"])
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def replay() -> Iterator[tuple[str, type[_Replay]]]:
    handler = type("Replay", (_Replay,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", handler
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def llm(replay) -> Iterator[HolySheep]:
    llm = HolySheep(model="gpt-4.1", api_key=FAKE_KEY, base_url=replay[0], max_retries=0)
    yield llm
    llm.close()


def _expected(completion: ChatCompletion) -> dict[str, Any]:
    """What the core made of the bytes, in the terms the adapter must reproduce."""
    message = completion.message
    reasoning = message.reasoning_content or (message.model_extra or {}).get("reasoning") or ""
    calls = [
        (call.id or "", call.function.name, call.function.arguments)
        for call in message.tool_calls or ()
    ]
    usage = Usage.from_wire(completion.usage)
    return {"text": completion.text, "reasoning": reasoning, "calls": calls, "usage": usage}


def _check(llm: HolySheep, response: Any, expected: dict[str, Any]) -> None:
    message = response.message
    assert (message.content or "") == expected["text"]
    thinking = [b.content for b in message.blocks if isinstance(b, ThinkingBlock)]
    assert "".join(thinking) == expected["reasoning"]
    selections = llm.get_tool_calls_from_response(response, error_on_no_tool_call=False)
    assert [(s.tool_id, s.tool_name) for s in selections] == [c[:2] for c in expected["calls"]]
    for selection, (_, _, arguments) in zip(selections, expected["calls"], strict=True):
        assert selection.tool_kwargs == (json.loads(arguments) if arguments else {})
    assert isinstance(response.raw, ChatCompletion)
    usage = expected["usage"]
    if usage is not None:
        extra = response.additional_kwargs
        assert (extra["prompt_tokens"], extra["completion_tokens"]) == (
            usage.prompt_tokens,
            usage.completion_tokens,
        )
        assert (
            extra["cost"] is not None
        )  # priced as the requested model when the served one is unknown


@pytest.mark.parametrize("case", [c for c in CASES if not c["stream"]], ids=lambda c: c["id"])
def test_chat_fixture(llm, replay, case) -> None:
    replay[1].case = case
    expected = _expected(
        llm.client.chat(model="gpt-4.1", messages=[{"role": "user", "content": "x"}])
    )
    _check(llm, llm.chat(HELLO), expected)


@pytest.mark.parametrize("case", [c for c in CASES if c["stream"]], ids=lambda c: c["id"])
def test_stream_fixture(llm, replay, case) -> None:
    replay[1].case = case
    if case["id"] in ERRORS_IN_200:
        with pytest.raises(StreamError):
            list(llm.stream_chat(HELLO))
        return
    with llm.client.stream(model="gpt-4.1", messages=[{"role": "user", "content": "x"}]) as core:
        for _ in core:
            pass
    expected = _expected(core.completion)
    responses = list(llm.stream_chat(HELLO))
    *chunks, last = responses
    for response in chunks:  # partial tool calls parse on every chunk, as agents read them
        llm.get_tool_calls_from_response(response, error_on_no_tool_call=False)
    assert "".join(r.delta or "" for r in chunks) == expected["text"]
    thinking = "".join(r.additional_kwargs.get("thinking_delta", "") for r in chunks)
    assert thinking == expected["reasoning"]
    assert last.delta == ""
    _check(llm, last, expected)


def test_every_200_case_is_covered() -> None:
    assert len(CASES) == 33
