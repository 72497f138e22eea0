"""Pooled httpx clients and the single place where transport exceptions become holysheep errors.

The sync side is one ``httpx.Client``. The async side is an ``httpx.AsyncClient`` over an
aiohttp transport (httpx's own pool burns CPU under concurrency), created lazily per running
event loop, so successive ``asyncio.run()`` calls each get a working client. Each per-loop client
is closed inside its own loop when that loop shuts down its async generators (``asyncio.run``
and pytest-asyncio both do), so no connection or session outlives its loop.
"""

from __future__ import annotations

import contextlib
import platform
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx

from ._secrets import forget_tracebacks, is_sensitive_header, remember
from .errors import APIConnectionError, APIError, APITimeoutError, ConfigurationError

if TYPE_CHECKING:
    import asyncio

__all__ = [
    "USER_AGENT",
    "AsyncClientPool",
    "build_sync_client",
    "mapped_transport_errors",
    "query_params",
    "safe_url",
    "with_query",
]

try:
    from importlib.metadata import version as _version

    _VERSION = _version("holysheep")
except Exception:  # pragma: no cover - running from a source tree
    _VERSION = "0.0.0"

USER_AGENT = (
    f"holysheep-python/{_VERSION} httpx/{httpx.__version__} python/{platform.python_version()}"
)


def _limits(max_connections: int) -> httpx.Limits:
    return httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=30.0,
    )


# Only encodings whose output we can inflate in bounded steps (``_body.py``): no br, no zstd.
_HEADERS = {"accept-encoding": "gzip, deflate"}


def build_sync_client(max_connections: int = 100) -> httpx.Client:
    """A keep-alive ``httpx.Client``; httpx itself never retries (``retries=0``)."""
    return httpx.Client(
        headers=_HEADERS,
        limits=_limits(max_connections),
        transport=httpx.HTTPTransport(limits=_limits(max_connections), retries=0),
        follow_redirects=False,
    )


def build_async_client(max_connections: int = 100) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` over aiohttp when available, else httpx's own pool."""
    try:
        from httpx_aiohttp import AiohttpTransport
    except ImportError:  # pragma: no cover - optional speed-up missing
        transport: httpx.AsyncBaseTransport = httpx.AsyncHTTPTransport(
            limits=_limits(max_connections), retries=0
        )
    else:
        transport = AiohttpTransport(limits=_limits(max_connections))
    return httpx.AsyncClient(transport=transport, headers=_HEADERS, follow_redirects=False)


def safe_url(url: str | httpx.URL) -> str:
    """``url`` as text for a message: any ``user:password@`` part replaced by ``***@``, and the
    values of credential-like query parameters (``api-key``, ``token``...) by ``***``."""
    parsed = url if isinstance(url, httpx.URL) else httpx.URL(str(url))
    if parsed.userinfo:
        parsed = parsed.copy_with(username="***", password=None)
    if parsed.query and any(is_sensitive_header(name) for name in parsed.params):
        masked = [
            (name, "***" if is_sensitive_header(name) else value)
            for name, value in parsed.params.multi_items()
        ]
        parsed = parsed.copy_with(query=urlencode(masked, safe="*").encode())
    return str(parsed)


_QUERY_VALUE = (str, int, float, bool)


def query_params(query: Mapping[str, Any] | None) -> Mapping[str, str]:
    """``default_query`` checked and frozen as text (httpx's spelling: ``True`` is ``"true"``).

    Values of credential-like names are remembered, so error texts and bodies are scrubbed of them.
    """
    if query is None:
        return MappingProxyType({})
    if not isinstance(query, Mapping):
        raise ConfigurationError(
            f"default_query must be a dict of query parameters such as "
            f"{{'api-version': '2025-01-01'}} (got {type(query).__name__})"
        )
    for name, value in query.items():
        if not isinstance(name, str) or not isinstance(value, _QUERY_VALUE):
            raise ConfigurationError(
                "default_query: names must be text and values text, numbers or booleans (got "
                f"a {type(name).__name__} name with a {type(value).__name__} value)"
            )
    params = httpx.QueryParams(dict(query))
    for name, value in params.multi_items():
        if is_sensitive_header(name):
            remember(value)
    return MappingProxyType(dict(params.multi_items()))


def with_query(url: str, query: Mapping[str, str]) -> httpx.URL:
    """``url`` parsed once, with ``query`` merged into any query it already has."""
    parsed = httpx.URL(url)
    return parsed.copy_merge_params(dict(query)) if query else parsed


def _is_timeout(exc: httpx.HTTPError) -> bool:
    """A real timeout; httpx-aiohttp reports every aiohttp connection error (a refused
    connection included) as ``ConnectTimeout``, which its ``OSError`` cause gives away."""
    if not isinstance(exc, httpx.TimeoutException):
        return False
    cause = exc.__cause__
    return isinstance(cause, TimeoutError) or not isinstance(cause, OSError)


@contextlib.contextmanager
def mapped_transport_errors(url: str | httpx.URL) -> Iterator[None]:
    """Turn httpx failures into ``APITimeoutError`` / ``APIConnectionError`` / ``APIError``.

    The httpx exception stays chained (type and message) but loses its frames: their locals
    hold the request headers, which a renderer capturing locals would print.
    """
    try:
        yield
    except httpx.HTTPError as exc:
        forget_tracebacks(exc)
        shown = safe_url(url)
        if _is_timeout(exc):
            raise APITimeoutError(
                f"no answer from {shown} in time ({type(exc).__name__}); raise timeout= for "
                "slow models, or check the relay's status",
            ) from exc
        if isinstance(exc, httpx.DecodingError):
            raise APIError(
                f"the answer from {shown} could not be decoded ({type(exc).__name__}: {exc}); "
                "a proxy may be corrupting compressed bodies: check HOLYSHEEP_BASE_URL and any "
                "proxy in between",
            ) from exc
        # a refused connection that httpx-aiohttp labelled ConnectTimeout is named for what it is
        kind = "ConnectError" if isinstance(exc, httpx.TimeoutException) else type(exc).__name__
        raise APIConnectionError(
            f"could not talk to {shown} ({kind}: {exc}); check HOLYSHEEP_BASE_URL and the network",
        ) from exc


class AsyncClientPool:
    """One ``httpx.AsyncClient`` per running event loop, closed when that loop shuts down.

    A client the user gave is used in every loop as is and never closed here: the user chose it
    and owns it.
    """

    def __init__(self, max_connections: int = 100, client: httpx.AsyncClient | None = None):
        self._max_connections = max_connections
        self._user_client = client
        self._clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[httpx.AsyncClient, Any]
        ] = weakref.WeakKeyDictionary()

    async def get(self) -> httpx.AsyncClient:
        """The client bound to the running loop, created on first use in that loop."""
        if self._user_client is not None:
            return self._user_client
        import asyncio  # here, not at import: sync-only users never pay for asyncio

        loop = asyncio.get_running_loop()
        entry = self._clients.get(loop)
        if entry is not None:
            return entry[0]
        client = build_async_client(self._max_connections)
        guard = _close_on_loop_shutdown(client)
        await guard.__anext__()  # registers with the loop's async-generator shutdown
        self._clients[loop] = (client, guard)
        return client

    async def aclose(self) -> None:
        """Close the running loop's client (other loops close theirs when they shut down)."""
        import asyncio

        with contextlib.suppress(RuntimeError):
            loop = asyncio.get_running_loop()
            entry = self._clients.pop(loop, None)
            if entry is not None:
                await entry[1].aclose()


async def _close_on_loop_shutdown(client: httpx.AsyncClient) -> AsyncIterator[None]:
    """Parked async generator: its ``finally`` runs in the loop's ``shutdown_asyncgens``."""
    try:
        yield
        yield  # never resumed; only closed
    finally:
        with contextlib.suppress(Exception):
            await client.aclose()
