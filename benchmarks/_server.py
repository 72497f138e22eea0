"""A minimal, fast HTTP/1.1 keep-alive server that answers like an OpenAI-compatible relay.

Run as its own process (``bench_core.py`` starts it) so its CPU is not charged to the client:

    python benchmarks/_server.py --port 0 --chunks 200

It prints ``PORT <n>`` on stdout once listening, then serves until killed:

* ``POST /v1/chat/completions``: a canned ``chat.completion`` with usage, or, when the body
  has ``"stream": true``, a canned SSE stream of ``--chunks`` content chunks, one finish chunk,
  one usage chunk (``choices: []``) and ``data: [DONE]``. With ``--framing chunked`` (default)
  each SSE event is its own HTTP chunk, as real relays flush them; ``--framing length`` sends
  the whole stream with a ``Content-Length``.
* ``GET /v1/models``: a two-entry model list.

Every response is pre-rendered bytes; parsing is just enough HTTP: request line, headers,
``Content-Length`` body, pipelining and any number of keep-alive connections.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import socket

CREATED = 1_700_000_000
MODEL = "gpt-4.1"
_STREAM_RE = re.compile(rb'"stream"\s*:\s*true')
_LENGTH_RE = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
USAGE = {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21}


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _response(body: bytes, content_type: str = "application/json", status: str = "200 OK") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\n"
        f"content-length: {len(body)}\r\nx-request-id: req-bench\r\n\r\n"
    )
    return head.encode() + body


def completion_body() -> bytes:
    """A non-streaming ``chat.completion`` as OpenAI sends it."""
    return _dumps({
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": CREATED,
        "model": MODEL,
        "system_fingerprint": "fp_bench",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": "Hello! How can I help you today?",
                        "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }],
        "usage": {**USAGE, "prompt_tokens_details": {"cached_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0}},
    })


def _chunk(choices: list[dict[str, object]], usage: dict[str, int] | None = None) -> bytes:
    obj: dict[str, object] = {
        "id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": CREATED,
        "model": MODEL, "system_fingerprint": "fp_bench", "choices": choices,
    }
    if usage is not None:
        obj["usage"] = usage
    return b"data: " + _dumps(obj) + b"\n\n"


def stream_events(chunks: int) -> list[bytes]:
    """The SSE events of one streamed answer: ``chunks`` content chunks, finish, usage, DONE."""
    events = []
    for i in range(chunks):
        delta = {"content": f"tok{i} "}
        if i == 0:
            delta = {"role": "assistant", **delta}
        events.append(_chunk([{"index": 0, "delta": delta, "logprobs": None,
                               "finish_reason": None}]))
    events.append(_chunk([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]))
    events.append(_chunk([], usage=USAGE))
    events.append(b"data: [DONE]\n\n")
    return events


def stream_response(chunks: int, framing: str) -> bytes:
    """The full HTTP response of a streamed answer, chunked or with a Content-Length."""
    events = stream_events(chunks)
    if framing == "length":
        return _response(b"".join(events), "text/event-stream")
    head = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\nx-request-id: req-bench\r\n\r\n")
    body = b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in events)
    return head + body + b"0\r\n\r\n"


class Routes:
    """The pre-rendered answers, chosen by request line and body."""

    def __init__(self, chunks: int, framing: str) -> None:
        self.chat = _response(completion_body())
        self.stream = stream_response(chunks, framing)
        self.models = _response(_dumps({"object": "list", "data": [
            {"id": MODEL, "object": "model", "created": CREATED, "owned_by": "openai"},
            {"id": "deepseek-v3.2", "object": "model", "created": CREATED, "owned_by": "deepseek"},
        ]}))
        self.not_found = _response(
            _dumps({"error": {"message": "no such route", "type": "invalid_request_error"}}),
            status="404 Not Found",
        )

    def answer(self, request_line: bytes, body: bytes) -> bytes:
        if request_line.startswith(b"POST /v1/chat/completions "):
            return self.stream if _STREAM_RE.search(body) else self.chat
        if request_line.startswith(b"GET /v1/models "):
            return self.models
        return self.not_found


class HTTPProtocol(asyncio.Protocol):
    """One keep-alive connection: parse pipelined requests from a buffer, write canned answers."""

    def __init__(self, routes: Routes) -> None:
        self.routes = routes
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end])
            match = _LENGTH_RE.search(head)
            total = end + 4 + (int(match.group(1)) if match else 0)
            if len(buffer) < total:
                return
            body = bytes(buffer[end + 4:total])
            del buffer[:total]
            assert self.transport is not None
            self.transport.write(self.routes.answer(head.split(b"\r\n", 1)[0], body))


async def serve(port: int, chunks: int, framing: str) -> None:
    """Listen on 127.0.0.1, print ``PORT <n>``, serve forever."""
    routes = Routes(chunks, framing)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: HTTPProtocol(routes), "127.0.0.1", port,
                                      backlog=1024)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--chunks", type=int, default=200, help="content chunks per stream")
    parser.add_argument("--framing", choices=("chunked", "length"), default="chunked")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.chunks, args.framing))


if __name__ == "__main__":
    main()
