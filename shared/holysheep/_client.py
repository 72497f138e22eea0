"""``HolySheepClient``: sync and async chat calls to the relay over pooled httpx clients.

Everything that does no I/O (building the request, timeouts, mapping errors) lives in
``_ClientBase`` (``_base.py``); each sync/async twin is a short loop that differs only by ``await``.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

import httpx
from pydantic import SecretStr, ValidationError

from . import _telemetry as telemetry
from ._base import _Call, _ClientBase
from ._body import BodyCollector, BodyLimitError, ReadLimits, bounded_timeout, limit_error
from ._orchestrate import AUTO, Metering, adrive, drive, plan_for, retarget
from ._secrets import SecretHeaders
from ._stream import AsyncChatStream, ChatStream, is_event_stream, not_an_event_stream
from ._transport import (
    AsyncClientPool,
    build_sync_client,
    mapped_transport_errors,
    safe_url,
)
from .errors import APIError, ConfigurationError
from .wire import ChatCompletion, ChatRequest, ModelInfo, ModelList

if TYPE_CHECKING:
    from ._stream import _AsyncStream, _SyncStream
    from .batch import AsyncBatchRun, BatchRun
    from .routing import RoutePlan

__all__ = ["HolySheepClient"]


def _request(
    http: httpx.Client | httpx.AsyncClient, call: _Call, limits: ReadLimits
) -> httpx.Request:
    """The POST for ``call``, its timeout shortened to the deadline and idle limit."""
    return http.build_request(
        "POST", call.url, content=call.body, headers=call.headers, timeout=_timeout(call, limits)
    )


def _timeout(call: _Call, limits: ReadLimits) -> httpx.Timeout:
    """``call``'s timeout shortened to the deadline and idle limit (none left: nothing is sent)."""
    try:
        return bounded_timeout(call.timeout, limits)
    except BodyLimitError as exc:
        raise limit_error(exc) from None


class _SetCookieOnly(httpx.Cookies):
    """httpx's cookie store, which reads a response only when it sets a cookie.

    httpx hands every response to ``http.cookiejar`` (~12 µs of urllib request and email header
    objects), which finds nothing unless ``Set-Cookie``/``Set-Cookie2`` is there.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        headers = response.headers
        if "set-cookie" in headers or "set-cookie2" in headers:
            super().extract_cookies(response)


def _skip_cookie_parsing_without_cookies(http: httpx.Client) -> None:
    """Give a pool we built the store above (httpx keeps it in ``_cookies``; left as is if not)."""
    if type(getattr(http, "_cookies", None)) is httpx.Cookies:
        http._cookies = _SetCookieOnly(http.cookies)


def _body_error(exc: BodyLimitError, response: httpx.Response) -> APIError:
    return limit_error(
        exc, status_code=response.status_code, request_id=response.headers.get("x-request-id")
    )


class HolySheepClient(_ClientBase):
    """The relay client: ``chat``, ``stream`` and ``list_models``, each with an async twin.

    Example:
        ```python
        with HolySheepClient() as client:  # reads HOLYSHEEP_API_KEY
            reply = client.chat(model="deepseek-v3.2",
                                messages=[{"role": "user", "content": "Hello"}])
            print(reply.text, reply.usage)
        ```
    """

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        *,
        http_client: httpx.Client | None = None,
        http_async_client: httpx.AsyncClient | None = None,
        **settings: Any,
    ) -> None:
        """Settings as ``_ClientBase``, plus httpx clients of your own (proxies, certificates).

        ``http_client`` and ``http_async_client`` stay yours: ``close()``/``aclose()`` leave
        them open (close them yourself). A given ``http_async_client`` serves every event loop
        this client is used in, as given: its kept-alive connections belong to the loop that
        opened them, so use it within one loop (without it, each loop gets a pool of its own).
        """
        super().__init__(api_key, base_url, **settings)
        self._sync: httpx.Client | None = http_client
        self._own_sync = http_client is None  # only a pool we built is ours to close
        self._sync_lock = threading.Lock()
        self._pool_headers: tuple[SecretHeaders, httpx.Client, SecretHeaders] | None = None
        self._async = AsyncClientPool(self._max_connections, http_async_client)

    def __enter__(self) -> HolySheepClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> HolySheepClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def close(self) -> None:
        """Release the sync connection pool it built (a given ``http_client`` stays open)."""
        self._closed = True
        self._release_sync()

    async def aclose(self) -> None:
        """Release the pools it built for the running loop and for sync calls (a given
        ``http_client``/``http_async_client`` stays open); safe to call twice."""
        self._closed = True
        await self._async.aclose()
        self._release_sync()

    def _release_sync(self) -> None:
        """Close the sync pool if this client built it; a given one is the caller's to close."""
        if self._own_sync and self._sync is not None:
            http, self._sync = self._sync, None
            http.close()

    def _http(self) -> httpx.Client:
        """The sync pool, built once even when several threads make the first call together."""
        http = self._sync
        if http is None:
            with self._sync_lock:
                http = self._sync
                if http is None:
                    http = self._sync = build_sync_client(self._max_connections)
                    _skip_cookie_parsing_without_cookies(http)
                    # a client dropped without close() still releases its sockets
                    weakref.finalize(self, http.close)
        return http

    def _sync_request(self, http: httpx.Client, call: _Call, limits: ReadLimits) -> httpx.Request:
        """The POST for ``call`` on the sync pool; on the pool we built (no auth, base URL or
        params, no cookie received) it skips httpx's per-call merging of the pool's headers."""
        if not self._own_sync or http.cookies.jar:
            return _request(http, call, limits)
        timeout = _timeout(call, limits)
        return httpx.Request(
            "POST",
            call.url,
            content=call.body,
            headers=self._with_pool_headers(http, call.headers),
            extensions={"timeout": timeout.as_dict()},
        )

    def _with_pool_headers(self, http: httpx.Client, headers: SecretHeaders) -> SecretHeaders:
        """``headers`` over the pool's defaults, as ``build_request`` merges them; the merge of
        the client's own headers (no per-call ``extra_headers``) is kept for the next call."""
        cached = self._pool_headers
        if cached is not None and cached[0] is headers and cached[1] is http:
            return cached[2]
        merged = SecretHeaders(dict(http.headers.items())).merged(headers)
        self._pool_headers = (headers, http, merged)
        return merged

    # ------------------------------------------------------------ sending (the twins)

    def _send(
        self, call: _Call, attempts: list[str | None], deadline_at: float | None
    ) -> ChatCompletion:
        attempts.append(None)
        limits = self._read_limits(call, deadline_at)
        http = self._http()
        request = self._sync_request(http, call, limits)
        with mapped_transport_errors(call.url):
            response = http.send(request, stream=True)
        attempts[-1] = response.headers.get("x-request-id")
        _keep_body(response, self._read_body(response, limits))
        if response.status_code >= 400 or response.is_redirect:  # a redirect is never followed
            # raised here, with no body local: an echoed key must not sit in traceback locals
            raise self._error(response, response.content, call.model)
        return self._parse_completion(response, response.content, call.model)

    async def _asend(
        self, call: _Call, attempts: list[str | None], deadline_at: float | None
    ) -> ChatCompletion:
        attempts.append(None)
        limits = self._read_limits(call, deadline_at)
        http = await self._async.get()
        request = _request(http, call, limits)
        with mapped_transport_errors(call.url):
            response = await http.send(request, stream=True)
        attempts[-1] = response.headers.get("x-request-id")
        _keep_body(response, await self._aread_body(response, limits))
        if response.status_code >= 400 or response.is_redirect:  # a redirect is never followed
            # raised here, with no body local: an echoed key must not sit in traceback locals
            raise self._error(response, response.content, call.model)
        return self._parse_completion(response, response.content, call.model)

    def _read_body(self, response: httpx.Response, limits: ReadLimits) -> bytes:
        """The whole body, decompressed under the byte cap and the deadline; closes it."""
        try:
            collector = BodyCollector(response.headers.get("content-encoding", ""), limits)
            with mapped_transport_errors(response.request.url):
                for raw in cast(httpx.SyncByteStream, response.stream):
                    collector.feed(raw)
        except BodyLimitError as exc:
            raise _body_error(exc, response) from None
        finally:
            response.close()
        return collector.body()

    async def _aread_body(self, response: httpx.Response, limits: ReadLimits) -> bytes:
        """The whole body, decompressed under the byte cap and the deadline; closes it."""
        try:
            collector = BodyCollector(response.headers.get("content-encoding", ""), limits)
            with mapped_transport_errors(response.request.url):
                async for raw in cast(httpx.AsyncByteStream, response.stream):
                    collector.feed(raw)
        except BodyLimitError as exc:
            raise _body_error(exc, response) from None
        finally:
            await response.aclose()
        return collector.body()

    def _send_stream(self, call: _Call, limits: ReadLimits) -> httpx.Response:
        """Send a stream request; returns only a 2xx event-stream response, still unread."""
        http = self._http()
        request = self._sync_request(http, call, limits)
        with mapped_transport_errors(call.url):
            response = http.send(request, stream=True)
        if response.status_code >= 400 or response.is_redirect or not is_event_stream(response):
            _keep_body(response, self._read_body(response, limits))
            raise self._stream_refused(response, call)
        return response

    async def _asend_stream(self, call: _Call, limits: ReadLimits) -> httpx.Response:
        """Send a stream request (async twin of ``_send_stream``)."""
        http = await self._async.get()
        request = _request(http, call, limits)
        with mapped_transport_errors(call.url):
            response = await http.send(request, stream=True)
        if response.status_code >= 400 or response.is_redirect or not is_event_stream(response):
            _keep_body(response, await self._aread_body(response, limits))
            raise self._stream_refused(response, call)
        return response

    def _stream_refused(self, response: httpx.Response, call: _Call) -> APIError:
        """The error for a stream answered with an error, a redirect or not an event stream."""
        if response.status_code >= 400 or response.is_redirect:
            return self._error(response, response.content, call.model)
        return not_an_event_stream(response, response.content)

    def _chat_call(self, call: _Call, plan: RoutePlan | None) -> ChatCompletion:
        meter = Metering(self, call)
        started, attempts = time.monotonic(), []
        try:
            deadline_at = self._deadline_from(started)
            completion = self._retry_for(call).call(
                lambda: self._send(call, attempts, deadline_at)
            )
        except BaseException:
            meter.release()
            raise
        self._settle(
            call,
            completion,
            meter,
            plan,
            attempts=len(attempts),
            started=started,
            request_id=attempts[-1],
        )
        return completion

    async def _achat_call(self, call: _Call, plan: RoutePlan | None) -> ChatCompletion:
        meter = await Metering.aopen(self, call)
        started, attempts = time.monotonic(), []
        try:
            deadline_at = self._deadline_from(started)
            completion = await self._retry_for(call).acall(
                lambda: self._asend(call, attempts, deadline_at)
            )
        except BaseException:
            await meter.arelease()
            raise
        self._settle(
            call,
            completion,
            meter,
            plan,
            attempts=len(attempts),
            started=started,
            request_id=attempts[-1],
        )
        return completion

    def _open_stream(self, stream: _SyncStream) -> Any:
        """Open a stream up to its first chunk: budget, routing and retries included."""
        call = stream._call
        if call.model != AUTO:
            return self._open_stream_call(stream, call, None)
        plan = plan_for(self, call)
        return drive(
            plan, lambda m: self._open_stream_call(stream, retarget(self, call, plan, m), plan)
        )

    async def _aopen_stream(self, stream: _AsyncStream) -> Any:
        """Open a stream up to its first chunk (async twin of ``_open_stream``)."""
        call = stream._call
        if call.model != AUTO:
            return await self._aopen_stream_call(stream, call, None)
        plan = plan_for(self, call)
        return await adrive(
            plan, lambda m: self._aopen_stream_call(stream, retarget(self, call, plan, m), plan)
        )

    def _open_stream_call(self, stream: _SyncStream, call: _Call, plan: RoutePlan | None) -> Any:
        stream._call, stream._plan = call, plan
        meter = Metering(self, call)
        try:
            with mapped_transport_errors(call.url):  # e.g. a gzip body that will not inflate
                opened = self._retry_for(call).call(stream._open)
        except BaseException:
            meter.release()
            raise
        stream._meter = meter
        return opened

    async def _aopen_stream_call(
        self, stream: _AsyncStream, call: _Call, plan: RoutePlan | None
    ) -> Any:
        stream._call, stream._plan = call, plan
        meter = await Metering.aopen(self, call)
        try:
            with mapped_transport_errors(call.url):  # e.g. a gzip body that will not inflate
                opened = await self._retry_for(call).acall(stream._open)
        except BaseException:
            await meter.arelease()
            raise
        stream._meter = meter
        return opened

    # ------------------------------------------------------------ public calls

    def chat(
        self, request: ChatRequest | Mapping[str, Any] | None = None, /, **params: Any
    ) -> ChatCompletion:
        """Send one chat completion and return the relay's answer.

        Args:
            request: a ``ChatRequest`` or dict body; keyword ``params`` are merged over it.
            **params: body fields (``model``, ``messages``, ``tools``, ``user``, ...) plus the
                call options ``timeout`` (seconds), ``retry`` (a ``RetryPolicy``),
                ``extra_headers``, ``extra_body``, the attribution ``task``, ``app``, ``tags``,
                and for ``model="auto"`` ``trim`` (drop old messages to fit a window).

        Returns:
            The completion; ``completion.call_info`` holds usage, cost and attribution.

        Raises:
            HolySheepError: a subclass saying what went wrong and what to do.
        """
        call = self._prepare(request, params, stream=False)
        span = telemetry.start(call)  # None unless holysheep.instrument() is on
        try:
            if call.model != AUTO:
                completion = self._chat_call(call, None)
            else:
                plan = plan_for(self, call)
                completion = drive(
                    plan, lambda model: self._chat_call(retarget(self, call, plan, model), plan)
                )
        except BaseException as exc:
            telemetry.fail(span, exc)
            raise
        telemetry.end(span, completion)
        return completion

    async def achat(
        self, request: ChatRequest | Mapping[str, Any] | None = None, /, **params: Any
    ) -> ChatCompletion:
        """Send one chat completion and return the relay's answer (async twin of ``chat``)."""
        call = self._prepare(request, params, stream=False)
        span = telemetry.start(call)  # None unless holysheep.instrument() is on
        try:
            if call.model != AUTO:
                completion = await self._achat_call(call, None)
            else:
                plan = plan_for(self, call)
                completion = await adrive(
                    plan, lambda model: self._achat_call(retarget(self, call, plan, model), plan)
                )
        except BaseException as exc:
            telemetry.fail(span, exc)
            raise
        telemetry.end(span, completion)
        return completion

    def stream(
        self, request: ChatRequest | Mapping[str, Any] | None = None, /, **params: Any
    ) -> ChatStream:
        """Stream a chat completion: iterate the returned ``ChatStream`` for chunks.

        Usage is requested (``stream_options.include_usage``) unless the caller set it off.
        Nothing is sent until the first chunk is read.
        """
        return ChatStream(self, self._prepare(request, params, stream=True))

    def astream(
        self, request: ChatRequest | Mapping[str, Any] | None = None, /, **params: Any
    ) -> AsyncChatStream:
        """Stream a chat completion: ``async for`` over the returned ``AsyncChatStream``."""
        return AsyncChatStream(self, self._prepare(request, params, stream=True))

    def batch(
        self,
        requests: Any,
        *,
        concurrency: int | Mapping[str, int] | None = None,
        budget: Any = None,
        journal: Any = None,
        job: str | None = None,
        dedup: bool = True,
        ordered: bool = False,
        model: str | None = None,
        lease_s: float = 30.0,
    ) -> BatchRun:
        """Run a bulk job: one ``BatchResult`` per request as each finishes (``holysheep.batch``).

        Args:
            requests: dicts (a chat request plus ``custom_id``, optional ``task``/``app``/
                ``metadata``, or an OpenAI Batch API line), or the path of a JSONL file.
            concurrency: calls in flight per model (a number, or ``{model: n, "*": n}``);
                default from the catalogue. Halved on 429s, grown back on successes.
            budget: the job's cap, USD (``5.00``) or CNY (``"300 CNY"``); the rest is left unsent.
            journal: a file path or ``sqlite:///path`` to resume, ``redis://host:port/db`` (with
                ``job``) for a fleet of workers; None keeps it in memory (no resume).
            job: the job's name in the journal.
            dedup: send identical requests once and share the answer.
            ordered: hand results out in input order instead of as they finish.
            model: the model of requests that name none (default ``"auto"``: routed).
            lease_s: Redis only: how long a dead worker's claims block the others.

        Returns:
            A ``BatchRun``: iterate it; ``run.summary`` is the ``BatchSummary`` once it ends.
        """
        from .batch._api import BatchRun, _Settings

        return BatchRun(_Settings(
            self, requests, concurrency=concurrency, budget=budget, journal=journal, job=job,
            dedup=dedup, ordered=ordered, model=model, lease_s=lease_s, window=None,
        ))

    def abatch(
        self,
        requests: Any,
        *,
        concurrency: int | Mapping[str, int] | None = None,
        budget: Any = None,
        journal: Any = None,
        job: str | None = None,
        dedup: bool = True,
        ordered: bool = False,
        model: str | None = None,
        lease_s: float = 30.0,
    ) -> AsyncBatchRun:
        """Run a bulk job (async twin of ``batch``): ``async for`` the results, or ``await`` all."""
        from .batch._api import AsyncBatchRun, _Settings

        return AsyncBatchRun(_Settings(
            self, requests, concurrency=concurrency, budget=budget, journal=journal, job=job,
            dedup=dedup, ordered=ordered, model=model, lease_s=lease_s, window=None,
        ))

    def list_models(self) -> list[ModelInfo]:
        """The models the relay serves (``GET /models``)."""
        url = self._models_url

        def fetch() -> list[ModelInfo]:
            http = self._http()
            request = http.build_request("GET", url, headers=self._models_headers())
            with mapped_transport_errors(url):
                response = http.send(request, stream=True)
            _keep_body(response, self._read_body(response, self._models_limits()))
            return self._parse_models(response)

        return self.retry.call(fetch)

    async def alist_models(self) -> list[ModelInfo]:
        """The models the relay serves (``GET /models``; async twin of ``list_models``)."""
        url = self._models_url

        async def fetch() -> list[ModelInfo]:
            http = await self._async.get()
            request = http.build_request("GET", url, headers=self._models_headers())
            with mapped_transport_errors(url):
                response = await http.send(request, stream=True)
            _keep_body(response, await self._aread_body(response, self._models_limits()))
            return self._parse_models(response)

        return await self.retry.acall(fetch)

    def _models_limits(self) -> ReadLimits:
        return ReadLimits(self.max_response_bytes, self._deadline_from(time.monotonic()))

    def _models_headers(self) -> SecretHeaders:
        if self._closed:
            raise ConfigurationError("this HolySheepClient is closed; create a new one")
        return self._auth_headers()

    def _parse_models(self, response: httpx.Response) -> list[ModelInfo]:
        """The list from a read ``GET /models`` answer (no body local: it may echo the key)."""
        if response.status_code >= 400 or response.is_redirect:
            raise self._error(response, response.content, None)
        try:
            return ModelList.model_validate_json(response.content).data
        except ValidationError as exc:
            raise APIError(
                f"{safe_url(response.request.url)} answered {response.status_code} with "
                f"something that is not a model list ({exc.error_count()} problems): "
                f"{response.content[:120]!r}; check HOLYSHEEP_BASE_URL points at the relay's API "
                "root, such as https://api.holysheep.ai/v1",
                status_code=response.status_code,
                request_id=response.headers.get("x-request-id"),
            ) from None


def _keep_body(response: httpx.Response, body: bytes) -> None:
    """Make a body read under our caps available as ``response.content`` (httpx's own slot),
    so error paths read it from the response instead of holding it in a local variable."""
    response._content = body
