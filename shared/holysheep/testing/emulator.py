"""A local HTTP server that speaks the HolySheep relay's OpenAI chat-completions wire format.

Why: tests (ours and users'), offline development and ``holysheep demo`` need a relay that
behaves like the real one on the wire (keep-alive, chunked SSE streams, OpenAI error bodies,
``x-request-id``) without network access or an API key. Mocking the HTTP client would skip the
very code that most often breaks (SSE parsing, reconnects, error mapping), so this is a real
server on loopback: ``http.server.ThreadingHTTPServer`` in a background daemon thread.

Replies are scripted (:meth:`RelayEmulator.script`) or echo the last user message; faults are
injected per request (:meth:`~RelayEmulator.fail`, :meth:`~RelayEmulator.cut_stream`,
:meth:`~RelayEmulator.error_in_stream`) or at random rates
(:meth:`~RelayEmulator.random_faults`). Credentials are never logged: recorded requests carry
``"***"`` in place of the ``authorization`` value. Payload shapes live in ``_emulator_wire``,
the HTTP handler in ``_emulator_http``.
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import random
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from holysheep.testing._emulator_http import Fault, RelayServer, StreamFault
from holysheep.testing._emulator_log import CallLog
from holysheep.testing._emulator_wire import RecordedRequest, Reply, error_type

__all__ = ["DEFAULT_MODELS", "DEFAULT_PORT", "RecordedRequest", "RelayEmulator", "Reply", "main"]

DEFAULT_MODELS: tuple[str, ...] = (
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4o-mini",
    "claude-sonnet-4.5",
    "claude-haiku-4.5",
    "gemini-2.5-flash",
    "gemini-2.5-pro",
    "deepseek-v3.2",
    "deepseek-r1",
    "o4-mini",
    "grok-4",
    "qwen3-max",
)
DEFAULT_PORT = 8765
TOOL_MODES = ("off", "auto")
"""``off``: tools are called only when ``tool_choice`` forces one; ``auto``: see RelayEmulator."""


class RelayEmulator:
    """A scriptable fake HolySheep relay on loopback (context manager: start/stop).

    Attributes:
        models: Model ids served by ``GET /models`` and accepted by chat.
        tools: ``"auto"``: unscripted requests that offer tools get a call to the first one
            (schema-shaped arguments), then, once its result is sent, an answer quoting it.
        latency: Seconds slept before answering each chat request (settable).
        requests: Every request received, secrets redacted.
        billed: ``(served model, usage dict)`` of every answer, in order: what the relay
            would bill, for checking ledgers against it. A stream is billed whether or not it
            sent its usage; a stream cut or ended by an error frame is billed its prompt plus
            the tokens it generated before that (nothing if it sent no chunk at all).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        models: Sequence[str] | None = None,
        api_key: str | None = None,
        latency: float = 0.0,
        tools: str = "off",
        log: Callable[[str], None] | None = None,
    ) -> None:
        """Configure (nothing is bound until :meth:`start`); ``port=0`` picks a free port.

        ``tools="auto"`` calls the first offered tool once per turn, then answers with its
        result (for agents); ``log`` receives one line per request (model, tokens, cost).
        """
        if latency < 0:
            raise ValueError("latency must be >= 0")
        if tools not in TOOL_MODES:
            raise ValueError(f"tools must be one of {', '.join(TOOL_MODES)}, not {tools!r}")
        self.tools = tools
        self.log = CallLog(log) if log is not None else None
        self.host = host
        self.models: tuple[str, ...] = tuple(DEFAULT_MODELS if models is None else models)
        self.latency = float(latency)
        self.requests: list[RecordedRequest] = []
        self.billed: list[tuple[str, dict[str, Any]]] = []
        self._requested_port = port
        self._api_key = api_key
        self._initial_latency = float(latency)
        self._lock = threading.Lock()
        self._generation = 0
        self._script: deque[Reply] = deque()
        self._faults: deque[Fault] = deque()
        self._stream_faults: deque[StreamFault] = deque()
        self._chaos: _RandomFaults | None = None
        self._stopping = threading.Event()
        self._server: RelayServer | None = None
        self._thread: threading.Thread | None = None
        self._bound_port: int | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> RelayEmulator:
        """Bind and serve in a daemon thread; a no-op if already running."""
        with self._lock:
            if self._server is not None:
                return self
            self._stopping.clear()
            server = RelayServer((self.host, self._requested_port), self)
            self._bound_port = int(server.server_address[1])
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"relay-emulator-{self._bound_port}",
                daemon=True,
            )
            self._server, self._thread = server, thread
        thread.start()
        return self

    def stop(self) -> None:
        """Shut down, end live connections and join threads; a no-op if not running."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        with server.live_lock:
            live = list(server.live.items())
        for conn, _ in live:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for _, worker in live:
            if worker is not threading.current_thread():
                worker.join(timeout=2)

    def __enter__(self) -> RelayEmulator:
        """Start and return self."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop."""
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (or the configured one before the first start)."""
        if self._bound_port is not None:
            return self._bound_port
        if self._requested_port:
            return self._requested_port
        raise RuntimeError("RelayEmulator with port=0 has no port until start()")

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL, e.g. ``http://127.0.0.1:8765/v1``."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/v1"

    # ------------------------------------------------------------ scripting

    def script(self, *replies: Reply | str) -> None:
        """Queue replies (FIFO) for the next chat requests; a str means ``Reply(content=str)``."""
        items = [Reply(content=r) if isinstance(r, str) else r for r in replies]
        with self._lock:
            self._script.extend(items)

    def fail(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: float | None = None,
        body: dict[str, Any] | None = None,
        code: str | None = None,
        model: str | None = None,
    ) -> None:
        """Answer the next ``times`` chat requests with HTTP ``status`` and an OpenAI error body.

        With ``model``, only requests for that model id take the fault (others pass it by), so
        one model can be "down" while the rest answer; without it any request takes it.
        """
        with self._lock:
            self._faults.extend(Fault(status, retry_after, body, code, model) for _ in range(times))

    def cut_stream(self, after_chunks: int = 2, *, times: int = 1) -> None:
        """Drop the next ``times`` streams after ``after_chunks`` data frames (no ``[DONE]``)."""
        with self._lock:
            self._stream_faults.extend(StreamFault(after_chunks, None) for _ in range(times))

    def error_in_stream(
        self,
        after_chunks: int = 2,
        *,
        message: str = "upstream provider error",
        code: str = "server_error",
        times: int = 1,
    ) -> None:
        """End the next ``times`` streams with an ``event: error`` frame after ``after_chunks``."""
        error = {"message": message, "type": error_type(code), "code": code}
        with self._lock:
            self._stream_faults.extend(StreamFault(after_chunks, error) for _ in range(times))

    def random_faults(
        self,
        *,
        rate_limited: float = 0.0,
        unavailable: float = 0.0,
        cut: float = 0.0,
        stream_error: float = 0.0,
        seed: int | None = None,
    ) -> None:
        """Inject faults at random rates (0..1), for soaks; all zero turns them off.

        Each chat request answers 429 with probability ``rate_limited``, else 503 with
        ``unavailable``; each stream that gets through is cut (``cut``) or ends with an error
        frame (``stream_error``) after a random number of its chunks, from none to all of them
        (all: the usage chunk was sent, only ``[DONE]`` is missing). Queued faults go first.
        """
        rates = (rate_limited, unavailable, cut, stream_error)
        if not all(0.0 <= r <= 1.0 for r in rates):
            raise ValueError("fault rates must be between 0 and 1")
        with self._lock:
            self._chaos = _RandomFaults(*rates, random.Random(seed)) if any(rates) else None

    def reset(self) -> None:
        """Clear scripted replies, faults and recorded requests; restore the initial latency."""
        with self._lock:
            self._generation += 1
            self._script.clear()
            self._faults.clear()
            self._stream_faults.clear()
            self._chaos = None
            self.requests.clear()
            self.billed.clear()
            self.latency = self._initial_latency

    # ------------------------------------------------------------ used by the handler

    def _take(self, queue: deque[Any]) -> Any:
        """Pop the head of one of the queues, or ``None``."""
        with self._lock:
            return queue.popleft() if queue else None

    def _take_fault(self, model: Any) -> Fault | None:
        """Remove and return the first queued fault for ``model`` (or any), else a random one."""
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.model is None or fault.model == model:
                    del self._faults[i]
                    return fault
            chaos = self._chaos
            if chaos is None:
                return None
            draw = chaos.rng.random()
            if draw < chaos.rate_limited:
                return Fault(429, None, None, None)
            if draw < chaos.rate_limited + chaos.unavailable:
                return Fault(503, None, None, None)
            return None

    def _take_stream_fault(self, chunks: int) -> StreamFault | None:
        """The first queued stream fault, else a random one after 0..``chunks`` chunks."""
        with self._lock:
            if self._stream_faults:
                return self._stream_faults.popleft()
            chaos = self._chaos
            if chaos is None:
                return None
            draw = chaos.rng.random()
            if draw >= chaos.cut + chaos.stream_error:
                return None
            after = chaos.rng.randint(0, chunks)
            if draw < chaos.cut:
                return StreamFault(after, None)
        error = {"message": "upstream provider error", "type": "server_error"}
        return StreamFault(after, {**error, "code": "server_error"})

    def _record(self, request: RecordedRequest) -> None:
        """Append a recorded request."""
        with self._lock:
            self.requests.append(request)

    def _bill(self, model: str, usage: dict[str, Any]) -> None:
        """Append the usage of a reply that reached the client."""
        with self._lock:
            self.billed.append((model, usage))

    def _authorized(self, header: str) -> bool:
        """Whether an ``Authorization`` header value is accepted."""
        token = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
        if not token.strip():
            return False
        if self._api_key is None:
            return True
        return hmac.compare_digest(token.encode(), self._api_key.encode())


@dataclass(frozen=True)
class _RandomFaults:
    """Rates of :meth:`RelayEmulator.random_faults` and the generator drawing them."""

    rate_limited: float
    unavailable: float
    cut: float
    stream_error: float
    rng: random.Random


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The emulator's command-line options (also behind ``holysheep emulate``)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run the HolySheep relay emulator on loopback: any API key works, each "
        "request is logged with its model, tokens and cost (never the key).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options to ``parser``."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind")
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT, help="port; 0 picks a free one")
    parser.add_argument(
        "--api-key",
        "--emulator-key",
        dest="emulator_key",
        default=None,
        help="require exactly this bearer token (default: any non-empty key works)",
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each reply")
    parser.add_argument(
        "--tools",
        choices=TOOL_MODES,
        default="off",
        help="auto: call the first offered tool once per turn, then answer with its result "
        "(lets LangGraph and LlamaIndex agents finish a tool loop)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request")


def _port(text: str) -> int:
    """A ``--port`` value: 0 (any free port) to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: use 0 (any free) to 65535")
    return port


def serve(args: argparse.Namespace) -> int:
    """Serve with parsed options in the foreground until Ctrl-C."""
    if args.latency < 0:
        print("--latency must be 0 or more seconds", file=sys.stderr)
        return 2
    emulator = RelayEmulator(
        args.host,
        args.port,
        api_key=args.emulator_key,
        latency=args.latency,
        tools=args.tools,
        log=None if args.quiet else _print_line,
    )
    try:
        emulator.start()
    except OSError as exc:
        print(f"cannot bind {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    url = emulator.base_url
    print(f"HolySheep relay emulator on {url}", flush=True)
    key = "only the key given with --api-key works" if args.emulator_key else "any API key works"
    print(
        f"  {key}; point a client at it with HOLYSHEEP_BASE_URL={url} "
        f"(OpenAI clients: base_url={url}); tools: {args.tools}; Ctrl-C stops it",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


def _print_line(line: str) -> None:
    print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Serve the emulator in the foreground until Ctrl-C."""
    return serve(build_parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
