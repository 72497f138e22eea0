"""A hostile loopback upstream: a raw HTTP/1.1 server that answers exactly the bytes a test scripts.

The emulator speaks the relay's wire format correctly (with faults it knows how to inject); this
server speaks it badly on purpose, one scripted answer per request: cut streams, errors inside 200
streams, byte trickles, endless comments, gzip bombs, echoed keys, absurd usage, wrong content
types, redirects, plain-text 404s. Tests import ``HostileUpstream`` and the builders below.

Example:
    ```python
    with HostileUpstream() as up:
        up.answer(sse_response([chunk("Hi", finish="stop"), usage_chunk(3, 1)], done=False))
        client = HolySheepClient(api_key="k", base_url=up.base_url)
    ```
"""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Answer",
    "HostileUpstream",
    "Pause",
    "Received",
    "chunk",
    "completion",
    "gzip_bomb",
    "json_response",
    "raw_response",
    "sse_response",
    "usage_chunk",
]


@dataclass(frozen=True)
class Pause:
    """A wait, in seconds, between two pieces of an answer (for trickles and stalls)."""

    seconds: float


Piece = bytes | Pause
"""What an answer is made of: bytes written as they come, or a pause."""


@dataclass
class Answer:
    """One scripted answer: status line and headers, then body pieces; ``close`` cuts after."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Iterable[Piece] | Callable[[Received], Iterable[Piece]] = ()
    chunked: bool = False
    """Send the body with Transfer-Encoding: chunked (streams); else Content-Length if known."""
    cut: bool = False
    """Close the socket abruptly after the body, without the chunked terminator."""


@dataclass(frozen=True)
class Received:
    """One request as the server read it: method, path, lower-cased headers, raw body."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


class HostileUpstream:
    """A threaded raw-socket server on 127.0.0.1; ``answer()`` queues what the next request gets.

    With no answer queued, a request gets ``default`` (a plain 200 chat completion). Every
    request is kept in ``received``. ``stop()`` (or leaving the ``with``) closes every socket.
    """

    def __init__(self, default: Answer | None = None) -> None:
        self._answers: deque[Answer] = deque()
        self._default = default or json_response(completion("ok"))
        self.received: list[Received] = []
        self.connections = 0
        """How many TCP connections were accepted (to check connection reuse)."""
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self.port = self._sock.getsockname()[1]
        self._stopped = threading.Event()
        self._clients: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: pass it as ``base_url``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def answer(self, *answers: Answer) -> None:
        """Queue answers for the next requests, in order."""
        with self._lock:
            self._answers.extend(answers)

    def __enter__(self) -> HostileUpstream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop accepting and close every open connection."""
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() below; close() alone won't
        self._sock.close()
        with self._lock:
            for conn in self._clients:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
        self._thread.join(timeout=5)

    # ------------------------------------------------------------------ serving

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as real servers do
            with self._lock:
                self.connections += 1
                self._clients.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        try:
            while not self._stopped.is_set():
                request = _read_request(reader)
                if request is None:
                    return
                self.received.append(request)
                with self._lock:
                    answer = self._answers.popleft() if self._answers else self._default
                if not self._write(conn, answer, request):
                    return
        except OSError:
            return
        finally:
            reader.close()
            conn.close()

    def _write(self, conn: socket.socket, answer: Answer, request: Received) -> bool:
        """Write one answer; False when the connection must close afterwards."""
        body = answer.body(request) if callable(answer.body) else answer.body
        pieces = list(body) if not answer.chunked else body
        headers = dict(answer.headers)
        if answer.chunked:
            headers["Transfer-Encoding"] = "chunked"
        elif "Content-Length" not in headers and not answer.cut:
            headers["Content-Length"] = str(sum(len(p) for p in pieces if isinstance(p, bytes)))
        head = [f"HTTP/1.1 {answer.status} {_REASONS.get(answer.status, 'Status')}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        for piece in pieces:
            if self._stopped.is_set():
                return False
            if isinstance(piece, Pause):
                time.sleep(piece.seconds)
                continue
            if not piece:
                continue
            conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if answer.chunked else piece)
        if answer.cut:
            conn.shutdown(socket.SHUT_RDWR)
            return False
        if answer.chunked:
            conn.sendall(b"0\r\n\r\n")
        return headers.get("Connection", "").lower() != "close"


_REASONS = {
    200: "OK", 301: "Moved Permanently", 302: "Found", 307: "Temporary Redirect",
    400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
}


def _read_request(reader: Any) -> Received | None:
    line = reader.readline(65536)
    if not line:
        return None
    method, path, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while True:
        line = reader.readline(65536)
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    body = reader.read(length) if length else b""
    return Received(method, path, headers, body)


# ---------------------------------------------------------------------- builders


def completion(
    text: str = "ok",
    *,
    model: str = "gpt-4.1",
    usage: Any = None,
    choices: Any = None,
    **extra: Any,
) -> dict[str, Any]:
    """A chat-completion body; ``usage``/``choices`` replace the defaults verbatim."""
    body: dict[str, Any] = {
        "id": "chatcmpl-hostile",
        "object": "chat.completion",
        "created": 1735689600,
        "model": model,
        "choices": choices
        if choices is not None
        else [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": usage
        if usage is not None
        else {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
    }
    body.update(extra)
    return body


def chunk(
    text: str | None = None,
    *,
    finish: str | None = None,
    model: str = "gpt-4.1",
    usage: Any = None,
    tool_call: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A stream chunk with one choice (text, tool-call delta and/or finish reason)."""
    delta: dict[str, Any] = {}
    if text is not None:
        delta["content"] = text
    if tool_call is not None:
        delta["tool_calls"] = [tool_call]
    body: dict[str, Any] = {
        "id": "chatcmpl-hostile",
        "object": "chat.completion.chunk",
        "created": 1735689600,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage is not None:
        body["usage"] = usage
    body.update(extra)
    return body


def usage_chunk(prompt: int, completion_tokens: int, *, model: str = "gpt-4.1") -> dict[str, Any]:
    """The choice-less final chunk that carries usage (``include_usage``)."""
    return {
        "id": "chatcmpl-hostile",
        "object": "chat.completion.chunk",
        "created": 1735689600,
        "model": model,
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt + completion_tokens,
        },
    }


def sse_response(
    events: Iterable[dict[str, Any] | str | bytes | Pause],
    *,
    done: bool = True,
    cut: bool = False,
    status: int = 200,
    content_type: str = "text/event-stream",
) -> Answer:
    """A chunked SSE answer: dicts become ``data: {json}``, str are raw lines (``: ping``,
    ``event: error``), bytes are sent as they are; ``done`` appends ``data: [DONE]``."""

    def pieces() -> Iterator[Piece]:
        for event in events:
            if isinstance(event, (Pause, bytes)):
                yield event
            elif isinstance(event, str):
                yield (event + "\n").encode()
            else:
                yield b"data: " + json.dumps(event).encode() + b"\n\n"
        if done:
            yield b"data: [DONE]\n\n"

    return Answer(
        status=status,
        headers={"Content-Type": content_type},
        body=list(pieces()),
        chunked=True,
        cut=cut,
    )


def json_response(
    body: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> Answer:
    """A JSON answer with Content-Length (``body`` may be any JSON value, or raw bytes)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Answer(
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
        body=[raw],
    )


def raw_response(
    status: int, body: bytes = b"", headers: dict[str, str] | None = None, *, cut: bool = False
) -> Answer:
    """Any status, headers and bytes, as they are."""
    return Answer(status=status, headers=dict(headers or {}), body=[body], cut=cut)


def gzip_bomb(decompressed_mib: int = 64, *, stream: bool = False) -> Answer:
    """A small gzip body that inflates to ``decompressed_mib`` MiB of spaces (or SSE padding)."""
    filler = b" " * (1 << 20)
    buf = gzip.compress(filler * decompressed_mib, compresslevel=9)
    return Answer(
        status=200,
        headers={
            "Content-Type": "text/event-stream" if stream else "application/json",
            "Content-Encoding": "gzip",
        },
        body=[buf],
    )
