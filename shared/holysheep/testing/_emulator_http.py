"""HTTP layer of the relay emulator: the threaded server and its HTTP/1.1 request handler.

Separated from :mod:`holysheep.testing.emulator` (state, scripting, lifecycle) to keep both
readable. The handler owns the wire mechanics: body reading, Content-Length JSON, chunked SSE,
abrupt cuts, and never letting a vanished client or a bug take the server down.
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from holysheep.testing._emulator_wire import (
    RecordedRequest,
    completion_body,
    compute_usage,
    delivered_usage,
    error_body,
    owned_by,
    stream_chunks,
)
from holysheep.testing._schema_reply import contract_reply

if TYPE_CHECKING:
    from holysheep.testing.emulator import RelayEmulator

__all__ = ["Fault", "RelayServer", "StreamFault"]

_MODELS_CREATED = 1735689600  # 2025-01-01T00:00:00Z, a stable "created" for GET /models
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "api-key", "x-api-key"})


@dataclass(frozen=True)
class Fault:
    """An injected HTTP error for one chat request."""

    status: int
    retry_after: float | None
    body: dict[str, Any] | None
    code: str | None
    model: str | None = None
    """Only requests for this model id take the fault; ``None`` = any request."""


@dataclass(frozen=True)
class StreamFault:
    """An injected stream failure: a cut connection (``error is None``) or an error frame."""

    after_chunks: int
    error: dict[str, Any] | None


def _dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


class RelayServer(ThreadingHTTPServer):
    """The HTTP server; knows its emulator and tracks live connections so stop() can end them."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024
    """Listen backlog: hundreds of clients connecting at once must queue, not time out (the
    socketserver default of 5 drops SYNs, which clients see as connect timeouts)."""

    def __init__(self, address: tuple[str, int], emulator: RelayEmulator) -> None:
        """Bind to ``address`` (IPv6 if the host contains a colon)."""
        self.emulator = emulator
        self.live: dict[socket.socket, threading.Thread] = {}
        self.live_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, RelayHandler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse-DNS lookup (slow or hanging in sandboxes)."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Swallow client disconnects; report anything else in one line, never a header."""
        exc = sys.exc_info()[1]
        if exc is None or isinstance(exc, OSError):
            return
        print(f"relay emulator: {type(exc).__name__}: {exc}", file=sys.stderr)


class RelayHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 request handler: routes, writes JSON and chunked SSE."""

    protocol_version = "HTTP/1.1"
    server_version = "holysheep-relay-emulator/0.1"
    sys_version = ""
    disable_nagle_algorithm = True  # small SSE writes must not wait for delayed ACKs
    server: RelayServer
    _headers_sent = False
    _chunked = False

    # ------------------------------------------------------------ plumbing

    def setup(self) -> None:
        """Register the connection as live."""
        super().setup()
        with self.server.live_lock:
            self.server.live[self.connection] = threading.current_thread()

    def finish(self) -> None:
        """Unregister the connection."""
        try:
            super().finish()
        finally:
            with self.server.live_lock:
                self.server.live.pop(self.connection, None)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay silent: no access log (it could leak into test output)."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol-level errors (bad request line, unsupported method) as OpenAI JSON."""
        self.close_connection = True
        self._send_json(code, error_body(code, message=message), {"connection": "close"})

    def do_GET(self) -> None:
        """Handle GET."""
        self._dispatch()

    def do_POST(self) -> None:
        """Handle POST."""
        self._dispatch()

    def _dispatch(self) -> None:
        """Run the route; a vanished client or a bug must never take the server down."""
        self._headers_sent = False
        self._chunked = False
        try:
            self._route()
        except OSError:
            self.close_connection = True
        except Exception as exc:
            self.close_connection = True
            if not self._headers_sent:
                body = error_body(500, message=f"emulator error: {type(exc).__name__}")
                with contextlib.suppress(OSError):
                    self._send_json(500, body, {"connection": "close"})

    def _read_body(self) -> bytes:
        """Read the request body (Content-Length or chunked)."""
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _begin(
        self,
        status: int,
        content_type: str,
        headers: dict[str, str] | None = None,
        *,
        length: int | None = None,
    ) -> None:
        """Send status and headers; without ``length`` the body is chunked (or close-delimited)."""
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex[:16]}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if length is not None:
            self.send_header("content-length", str(length))
        elif self.request_version == "HTTP/1.1":
            self.send_header("transfer-encoding", "chunked")
            self._chunked = True
        else:
            self.close_connection = True
        self.end_headers()
        self._headers_sent = True

    def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        """Send a complete JSON response with Content-Length."""
        data = _dumps(body)
        self._begin(status, "application/json", headers, length=len(data))
        self.wfile.write(data)

    def _write(self, data: bytes) -> None:
        """Write one piece of a streamed body (one HTTP chunk when chunked)."""
        if self._chunked:
            data = f"{len(data):X}\r\n".encode() + data + b"\r\n"
        self.wfile.write(data)

    def _end(self) -> None:
        """Terminate a streamed body properly."""
        if self._chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _abort(self) -> None:
        """Drop the connection mid-body: no terminating chunk, just FIN."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_WR)

    # ------------------------------------------------------------ routes

    def _route(self) -> None:
        """Record, authenticate and route one request."""
        emu = self.server.emulator
        try:
            raw = self._read_body()
        except ValueError:
            self.send_error(400, "Malformed request body framing.")
            return
        try:
            payload: Any = json.loads(raw) if raw else None
        except ValueError:
            payload = None
        headers = {
            k.lower(): ("***" if k.lower() in _SECRET_HEADERS else v)
            for k, v in self.headers.items()
        }
        port = int(self.client_address[1]) if len(self.client_address) > 1 else 0
        emu._record(RecordedRequest(self.command, self.path, headers, payload, port))
        if not emu._authorized(self.headers.get("authorization", "")):
            self._refused(401)
            self._send_json(401, error_body(401))
            return
        path = urlsplit(self.path).path.rstrip("/")
        path = path[3:] if path.startswith("/v1/") else path
        if path in ("/models", "/chat/completions"):
            wanted = "GET" if path == "/models" else "POST"
            if self.command != wanted:
                msg = f"Method {self.command} not allowed for {self.path}."
                self._send_json(405, error_body(405, message=msg, code="method_not_allowed"))
            elif path == "/models":
                self._models()
            else:
                self._chat(payload)
            return
        msg = f"Unknown request URL: {self.command} {self.path}. Please check the URL for typos."
        self._send_json(404, error_body(404, message=msg, code="unknown_url"))

    def _models(self) -> None:
        """``GET /models``."""
        data = [
            {"id": m, "object": "model", "created": _MODELS_CREATED, "owned_by": owned_by(m)}
            for m in self.server.emulator.models
        ]
        self._send_json(200, {"object": "list", "data": data})

    def _chat(self, payload: Any) -> None:
        """``POST /chat/completions``: faults, validation, then a JSON or SSE reply."""
        emu = self.server.emulator
        generation = emu._generation
        if emu.latency > 0:
            emu._stopping.wait(emu.latency)
            if emu._generation != generation:
                # reset() ran while this request slept: it belongs to an earlier test and must
                # not take the faults or replies queued since.
                msg = "The emulator was reset while this request waited."
                self._send_json(503, error_body(503, message=msg))
                return
        body = payload if isinstance(payload, dict) else {}
        model = body.get("model")
        fault = emu._take_fault(model)
        if fault is not None:
            headers = {}
            if fault.retry_after is not None:
                ra = fault.retry_after
                headers["retry-after"] = str(int(ra)) if float(ra).is_integer() else str(ra)
            hint = model if isinstance(model, str) else None
            err = fault.body or error_body(fault.status, code=fault.code, model=hint)
            self._refused(fault.status, model)
            self._send_json(fault.status, err, headers)
            return
        if not isinstance(payload, dict):
            msg = "We could not parse the JSON body of your request."
            self._send_json(400, error_body(400, message=msg))
            return
        messages = body.get("messages")
        if not isinstance(model, str) or not model:
            self._missing("model")
        elif not isinstance(messages, list) or not messages:
            self._missing("messages")
        elif model not in emu.models:
            self._refused(404, model)
            self._send_json(404, error_body(404, model=model))
        else:
            self._answer(body, model, messages)

    def _refused(self, status: int, model: Any = None) -> None:
        """Log a refused request (when the emulator logs): method, path, model, status."""
        log = self.server.emulator.log
        if log is not None:
            log.refused(self.command, urlsplit(self.path).path, status, model)

    def _missing(self, name: str) -> None:
        """400 for a missing required parameter."""
        msg = f"Missing required parameter: '{name}'."
        err = error_body(400, message=msg, param=name, code="missing_required_parameter")
        self._send_json(400, err)

    def _answer(self, body: dict[str, Any], model: str, messages: list[Any]) -> None:
        """Answer a valid chat request with the next scripted reply or an echo."""
        emu = self.server.emulator
        reply = emu._take(emu._script) or contract_reply(body, messages, tools=emu.tools)
        tool_calls = reply.wire_tool_calls()
        usage = compute_usage(messages, reply, [c["function"]["arguments"] for c in tool_calls])
        ident = {
            "chat_id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "created": int(time.time()),
            "model": reply.model or model,
            "tool_calls": tool_calls,
        }
        log = emu.log
        if log is not None:
            called = [c["function"]["name"] for c in tool_calls]
            streamed = body.get("stream") is True
            log.answered(ident["model"], usage, streamed=streamed, tools=called)
        if body.get("stream") is not True:
            emu._bill(ident["model"], usage)
            self._send_json(200, completion_body(reply, usage=usage, **ident))
            return
        options = body.get("stream_options")
        include = isinstance(options, dict) and options.get("include_usage") is True
        chunks = stream_chunks(reply, usage=usage if include else None, **ident)
        fault = emu._take_stream_fault(len(chunks))
        # billed whether or not usage is sent; a cut or errored stream for what it generated
        sent = len(chunks) if fault is None else min(max(fault.after_chunks, 0), len(chunks))
        billed = delivered_usage(usage, chunks, sent)
        if billed:
            emu._bill(ident["model"], billed)
        self._stream(chunks, fault)

    def _stream(self, chunks: list[dict[str, Any]], fault: StreamFault | None) -> None:
        """Write SSE frames, then ``[DONE]``, a cut, or an error frame."""
        self._begin(200, "text/event-stream", {"cache-control": "no-cache"})
        limit = len(chunks) if fault is None else min(max(fault.after_chunks, 0), len(chunks))
        for i, chunk in enumerate(chunks[:limit]):
            self._write(b"data: " + _dumps(chunk) + b"\n\n")
            if i == 0:
                self._write(b": keep-alive\n\n")
        if fault is None:
            self._write(b"data: [DONE]\n\n")
        elif fault.error is None:
            self._abort()
            return
        else:
            self._write(b"event: error\ndata: " + _dumps({"error": fault.error}) + b"\n\n")
        self._end()
