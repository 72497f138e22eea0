"""``HolySheepClient``: sync and async chat calls to the relay over pooled httpx clients.

Everything that does no I/O (building the request, timeouts, mapping errors) lives in
``_ClientBase`` (``_base.py``); each sync/async twin is a short loop that differs only by ``await``.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import SecretStr, ValidationError

from . import _telemetry as telemetry
from ._base import _Call, _ClientBase
from ._orchestrate import AUTO, Metering, adrive, drive, plan_for, retarget
from ._secrets import SecretHeaders
from ._stream import AsyncChatStream, ChatStream
from ._transport import (
    AsyncClientPool,
    build_sync_client,
    mapped_transport_errors,
    safe_url,
)
from .errors import APIError, ConfigurationError
from .wire import ChatCompletion, ChatRequest, ModelInfo, ModelList

if TYPE_CHECKING:
    from .routing import RoutePlan

__all__ = ["HolySheepClient"]



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
        super().__init__(api_key, base_url, **settings)
        self._sync: httpx.Client | None = http_client
        self._sync_lock = threading.Lock()
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
        """Release the sync connection pool; safe to call twice."""
        self._closed = True
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def aclose(self) -> None:
        """Release the running loop's and the sync connection pools; safe to call twice."""
        self._closed = True
        await self._async.aclose()
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    def _http(self) -> httpx.Client:
        """The sync pool, built once even when several threads make the first call together."""
        http = self._sync
        if http is None:
            with self._sync_lock:
                http = self._sync
                if http is None:
                    http = self._sync = build_sync_client(self._max_connections)
                    # a client dropped without close() still releases its sockets
                    weakref.finalize(self, http.close)
        return http

    # ------------------------------------------------------------ sending (the twins)

    def _send(self, call: _Call, attempts: list[str | None]) -> ChatCompletion:
        attempts.append(None)
        with mapped_transport_errors(call.url):
            response = self._http().post(
                call.url, content=call.body, headers=call.headers, timeout=call.timeout
            )
        attempts[-1] = response.headers.get("x-request-id")
        if response.status_code >= 400 or response.is_redirect:  # a redirect is never followed
            # raised here, with no body local: an echoed key must not sit in traceback locals
            raise self._error(response, response.content, call.model)
        return self._parse_completion(response, response.content, call.model)

    async def _asend(self, call: _Call, attempts: list[str | None]) -> ChatCompletion:
        attempts.append(None)
        client = await self._async.get()
        with mapped_transport_errors(call.url):
            response = await client.post(
                call.url, content=call.body, headers=call.headers, timeout=call.timeout
            )
            await response.aread()
        attempts[-1] = response.headers.get("x-request-id")
        if response.status_code >= 400 or response.is_redirect:  # a redirect is never followed
            # raised here, with no body local: an echoed key must not sit in traceback locals
            raise self._error(response, response.content, call.model)
        return self._parse_completion(response, response.content, call.model)

    def _send_stream(self, call: _Call) -> httpx.Response:
        http = self._http()
        request = http.build_request(
            "POST", call.url, content=call.body, headers=call.headers, timeout=call.timeout
        )
        with mapped_transport_errors(call.url):
            response = http.send(request, stream=True)
            if response.status_code >= 400 or response.is_redirect:
                response.read()
                response.close()
                raise self._error(response, response.content, call.model)
        return response

    async def _asend_stream(self, call: _Call) -> httpx.Response:
        http = await self._async.get()
        request = http.build_request(
            "POST", call.url, content=call.body, headers=call.headers, timeout=call.timeout
        )
        with mapped_transport_errors(call.url):
            response = await http.send(request, stream=True)
            if response.status_code >= 400 or response.is_redirect:
                await response.aread()
                await response.aclose()
                raise self._error(response, response.content, call.model)
        return response

    def _chat_call(self, call: _Call, plan: RoutePlan | None) -> ChatCompletion:
        meter = Metering(self, call)
        started, attempts = time.monotonic(), []
        try:
            completion = self._retry_for(call).call(lambda: self._send(call, attempts))
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
        meter = Metering(self, call)
        started, attempts = time.monotonic(), []
        try:
            completion = await self._retry_for(call).acall(lambda: self._asend(call, attempts))
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

    def _open_stream(self, stream: ChatStream) -> Any:
        """Open a stream up to its first chunk: budget, routing and retries included."""
        call = stream._call
        if call.model != AUTO:
            return self._open_stream_call(stream, call, None)
        plan = plan_for(self, call)
        return drive(
            plan, lambda m: self._open_stream_call(stream, retarget(self, call, plan, m), plan)
        )

    async def _aopen_stream(self, stream: AsyncChatStream) -> Any:
        """Open a stream up to its first chunk (async twin of ``_open_stream``)."""
        call = stream._call
        if call.model != AUTO:
            return await self._aopen_stream_call(stream, call, None)
        plan = plan_for(self, call)
        return await adrive(
            plan, lambda m: self._aopen_stream_call(stream, retarget(self, call, plan, m), plan)
        )

    def _open_stream_call(self, stream: ChatStream, call: _Call, plan: RoutePlan | None) -> Any:
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
        self, stream: AsyncChatStream, call: _Call, plan: RoutePlan | None
    ) -> Any:
        stream._call, stream._plan = call, plan
        meter = Metering(self, call)
        try:
            with mapped_transport_errors(call.url):  # e.g. a gzip body that will not inflate
                opened = await self._retry_for(call).acall(stream._open)
        except BaseException:
            meter.release()
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

    def list_models(self) -> list[ModelInfo]:
        """The models the relay serves (``GET /models``)."""
        url = f"{self.base_url}/models"

        def fetch() -> list[ModelInfo]:
            with mapped_transport_errors(url):
                response = self._http().get(url, headers=self._models_headers())
            return self._parse_models(response)

        return self.retry.call(fetch)

    async def alist_models(self) -> list[ModelInfo]:
        """The models the relay serves (``GET /models``; async twin of ``list_models``)."""
        url = f"{self.base_url}/models"

        async def fetch() -> list[ModelInfo]:
            client = await self._async.get()
            with mapped_transport_errors(url):
                response = await client.get(url, headers=self._models_headers())
                await response.aread()
            return self._parse_models(response)

        return await self.retry.acall(fetch)

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
