"""Fixtures for the LangChain adapter: ChatHolySheep on the session emulator, run on either side.

Every test talks HTTP to a loopback server (the session emulator from ``tests/conftest.py`` or
the upstream-fixture server below): the whole path HTTP -> core -> adapter runs, nothing is mocked.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from holysheep.testing import RelayEmulator
from langchain_core.messages import AIMessageChunk

from langchain_holysheep import ChatHolySheep

from ..conftest import FAKE_KEY

ModelFactory = Callable[..., ChatHolySheep]


def _same_json(r1: Any, r2: Any) -> None:
    """vcrpy matcher: bodies are the same JSON (key order, spacing, escapes don't matter)."""

    def parsed(body: Any) -> Any:
        text = body.decode() if isinstance(body, bytes) else body
        try:
            return json.loads(text or "null")
        except ValueError:
            return text

    assert parsed(r1.body) == parsed(r2.body)


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    """Give pytest-recording the shared cassette format (``tests/cassette_support.py``)."""
    from ..cassette_support import ReadableYaml

    vcr.register_serializer("readable-yaml", ReadableYaml)
    vcr.register_matcher("json_body", _same_json)


@pytest.fixture
def make_model(emulator: RelayEmulator) -> ModelFactory:
    """Build a ChatHolySheep on the emulator (``model="gpt-4.1"`` unless given)."""

    def make(**kwargs: Any) -> ChatHolySheep:
        kwargs.setdefault("model", "gpt-4.1")
        kwargs.setdefault("api_key", FAKE_KEY)
        kwargs.setdefault("base_url", emulator.base_url)
        return ChatHolySheep(**kwargs)

    return make


@pytest.fixture
def model(make_model: ModelFactory) -> ChatHolySheep:
    """A ChatHolySheep on the emulator, model gpt-4.1."""
    return make_model()


@pytest.fixture(params=["sync", "async"])
def side(request: pytest.FixtureRequest) -> str:
    """Run a test body once through the sync and once through the async path."""
    return request.param


def invoke(runnable: Any, side: str, value: Any, **kwargs: Any) -> Any:
    """``invoke`` or ``ainvoke`` (in its own ``asyncio.run``, as users do)."""
    if side == "sync":
        return runnable.invoke(value, **kwargs)
    return asyncio.run(runnable.ainvoke(value, **kwargs))


def stream(runnable: Any, side: str, value: Any, **kwargs: Any) -> list[Any]:
    """Every chunk of ``stream`` or ``astream``."""
    if side == "sync":
        return list(runnable.stream(value, **kwargs))

    async def collect() -> list[Any]:
        return [chunk async for chunk in runnable.astream(value, **kwargs)]

    return asyncio.run(collect())


def merged(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    """The chunks added up, as LangChain users do."""
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    return total


def partial_stream(runnable: Any, side: str, value: Any) -> tuple[list[Any], BaseException]:
    """Chunks received before the stream raised, and the error."""
    got: list[Any] = []

    async def collect() -> None:
        async for chunk in runnable.astream(value):
            got.append(chunk)

    try:
        if side == "sync":
            for chunk in runnable.stream(value):
                got.append(chunk)
        else:
            asyncio.run(collect())
    except Exception as exc:
        return got, exc
    raise AssertionError("the stream did not fail")


# ---------------------------------------------------------------- recorded-response server


class RecordedServer:
    """A loopback HTTP server answering every POST with one recorded body (status, type, bytes)."""

    def __init__(self) -> None:
        self.status = 200
        self.content_type = "application/json"
        self.body = b"{}"
        self.requests: list[bytes] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls between writes

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                server.requests.append(self.rfile.read(length))
                self.send_response(server.status)
                self.send_header("content-type", server.content_type)
                self.send_header("content-length", str(len(server.body)))
                self.send_header("x-request-id", "req_recorded")
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, format: str, *args: Any) -> None:
                """Silent."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def serve(self, body: bytes, content_type: str, status: int = 200) -> None:
        """Answer the next requests with this recording."""
        self.body, self.content_type, self.status = body, content_type, status

    def __enter__(self) -> RecordedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture(scope="session")
def recorded_server() -> Iterator[RecordedServer]:
    """One recorded-response server for the session."""
    with RecordedServer() as server:
        yield server
