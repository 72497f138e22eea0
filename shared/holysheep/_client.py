"""``HolySheepClient``: sync and async chat calls to the relay over pooled httpx clients.

Everything that does no I/O (building the request, timeouts, mapping errors) lives in
``_ClientBase``; each sync/async twin is a short loop that differs only by ``await``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import SecretStr, ValidationError

from ._config import resolve_api_key, resolve_base_url
from ._orchestrate import AUTO, Metering, adrive, drive, plan_for, retarget, route_of
from ._stream import AsyncChatStream, ChatStream
from ._transport import (
    USER_AGENT,
    AsyncClientPool,
    build_sync_client,
    mapped_transport_errors,
)
from .calls import Attribution, CallInfo
from .errors import APIError, BadRequestError, ConfigurationError, error_from_response
from .retry import RetryPolicy
from .usage import Usage
from .wire import ChatCompletion, ChatRequest, ModelInfo, ModelList

if TYPE_CHECKING:
    from .catalog import ModelCatalog
    from .routing import RoutePlan, TaskRouter

__all__ = ["HolySheepClient"]

logger = logging.getLogger("holysheep")
_CALL_OPTIONS = ("timeout", "retry", "extra_headers", "extra_body", "task", "app", "tags")
_DEFAULT_READ_TIMEOUT = 120.0


@dataclass(frozen=True, slots=True)
class _Call:
    """One prepared request: what to send, where, with which timeout and retry policy."""

    url: httpx.URL
    data: dict[str, Any]
    body: bytes
    model: str
    timeout: httpx.Timeout
    headers: Mapping[str, str] | None
    retry: RetryPolicy | None
    stream: bool
    attribution: Attribution
    user_timeout: httpx.Timeout | None = None


class _ClientBase:
    """Configuration, request building and error mapping shared by the sync and async calls."""

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = None,
        connect_timeout: float = 10.0,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        catalog: ModelCatalog | None = None,
        default_headers: Mapping[str, str] | None = None,
        max_connections: int = 100,
        router: Any = None,
        ledger: Any = None,
    ) -> None:
        self.router = router
        """A ``TaskRouter`` used for ``model="auto"`` (routing and fallbacks)."""
        self.ledger = ledger
        """A ``CostLedger`` that records every billed call once and enforces budgets."""
        self._api_key = SecretStr(api_key) if isinstance(api_key, str) else api_key
        self.base_url = resolve_base_url(base_url)
        self._chat_url = httpx.URL(f"{self.base_url}/chat/completions")  # parsed once, not per call
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        if retry is None:
            retry = (
                RetryPolicy.from_max_retries(max_retries)
                if max_retries is not None
                else (RetryPolicy())
            )
        self.retry = retry
        self._catalog = catalog
        self._default_headers = dict(default_headers or {})
        self._max_connections = max_connections
        self._headers: dict[str, str] | None = None
        self._timeouts: dict[str, httpx.Timeout] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key=SecretStr('**********'))"

    def __reduce__(self) -> Any:
        raise TypeError("HolySheepClient holds open connections and a secret; it cannot be pickled")

    @property
    def catalog(self) -> ModelCatalog:
        """The model catalogue used for timeouts and error suggestions (loaded on first use)."""
        if self._catalog is None:
            from .catalog import ModelCatalog

            self._catalog = ModelCatalog.default()
        return self._catalog

    # ------------------------------------------------------------ request building (no I/O)

    def _auth_headers(self) -> dict[str, str]:
        headers = self._headers
        if headers is None:
            key = resolve_api_key(self._api_key)
            headers = {
                "user-agent": USER_AGENT,
                "content-type": "application/json",
                **{k.lower(): v for k, v in self._default_headers.items()},
                "authorization": f"Bearer {key.get_secret_value()}",
            }
            self._headers = headers
        return headers

    def _timeout_for(self, model: str) -> httpx.Timeout:
        timeout = self._timeouts.get(model)
        if timeout is None:
            given = self._timeout
            if isinstance(given, httpx.Timeout):
                timeout = given
            else:
                read = given
                if read is None:
                    spec = self.catalog.find(model)
                    read = spec.default_timeout if spec is not None else _DEFAULT_READ_TIMEOUT
                timeout = httpx.Timeout(read, connect=min(self._connect_timeout, read))
            self._timeouts[model] = timeout
        return timeout

    def _prepare(
        self, request: ChatRequest | Mapping[str, Any] | None, params: dict[str, Any], stream: bool
    ) -> _Call:
        if self._closed:
            raise ConfigurationError("this HolySheepClient is closed; create a new one")
        options = {name: params.pop(name) for name in _CALL_OPTIONS if name in params}
        if isinstance(request, ChatRequest):
            data: dict[str, Any] = request.model_dump(exclude_none=True)
        else:
            data = dict(request or {})
        data.update(params)
        data.update(options.get("extra_body") or {})
        if stream:
            data["stream"] = True
            stream_options = dict(data.get("stream_options") or {})
            stream_options.setdefault("include_usage", True)
            data["stream_options"] = stream_options
        else:
            data.pop("stream", None)
            data.pop("stream_options", None)
        body = self._serialize(data)
        model = data["model"]
        user_timeout = options.get("timeout")
        if user_timeout is not None and not isinstance(user_timeout, httpx.Timeout):
            connect = min(self._connect_timeout, user_timeout)
            user_timeout = httpx.Timeout(user_timeout, connect=connect)
        headers = self._auth_headers()
        if options.get("extra_headers"):
            headers = {**headers, **{k.lower(): v for k, v in options["extra_headers"].items()}}
        return _Call(
            url=self._chat_url,
            data=data,
            body=body,
            model=model,
            timeout=user_timeout or self._timeout_for(model),
            user_timeout=user_timeout,
            headers=headers,
            retry=options.get("retry"),
            stream=stream,
            attribution=Attribution(
                task=options.get("task"),
                user=data.get("user"),
                app=options.get("app"),
                tags=MappingProxyType(dict(options.get("tags") or {})),
            ),
        )

    @staticmethod
    def _serialize(data: dict[str, Any]) -> bytes:
        """Validate a request body once and serialize it for the wire."""
        try:
            return ChatRequest.model_validate(data).to_json()
        except ValidationError as exc:
            raise BadRequestError(
                f"the chat request is malformed: {exc.errors(include_url=False)[:3]}; "
                "pass model=... and messages=[{'role': 'user', 'content': '...'}]"
            ) from None

    def _retry_for(self, call: _Call) -> RetryPolicy:
        return call.retry or self.retry

    def routing(self) -> TaskRouter:
        """The router for ``model="auto"``: the one given, else a default one built once."""
        if self.router is None:
            from .routing import TaskRouter

            self.router = TaskRouter(catalog=self.catalog, ledger=self.ledger)
        return self.router

    def _settle(
        self,
        call: _Call,
        completion: ChatCompletion,
        meter: Metering,
        plan: RoutePlan | None,
        *,
        attempts: int,
        started: float,
        request_id: str | None,
    ) -> CallInfo:
        """After a billed call: price it once, attach the route, record it in the ledger."""
        info = self._call_info(
            call, completion, attempts=attempts, started=started, request_id=request_id,
            route=route_of(plan, call.model),
        )
        meter.settle(info)
        return info

    def _error(self, response: httpx.Response, body: bytes, model: str | None) -> APIError:
        try:
            parsed: Any = json.loads(body) if body else None
        except ValueError:
            parsed = body.decode("utf-8", "replace")
        known = self.catalog.ids() if response.status_code == 404 and model else ()
        return error_from_response(
            response.status_code, parsed, response.headers, model=model, known_models=known
        )

    def _parse_completion(
        self, response: httpx.Response, body: bytes, model: str
    ) -> ChatCompletion:
        if response.status_code >= 400:
            raise self._error(response, body, model)
        try:
            return ChatCompletion.model_validate_json(body)
        except ValidationError as exc:
            raise APIError(
                f"the relay answered {response.status_code} with a body that is not a chat "
                f"completion: {body[:200]!r}",
                status_code=response.status_code,
                request_id=response.headers.get("x-request-id"),
            ) from exc

    def _call_info(
        self,
        call: _Call,
        completion: ChatCompletion,
        *,
        attempts: int,
        started: float,
        request_id: str | None,
        route: Any = None,
    ) -> CallInfo:
        """Price the call once and describe it; unknown models warn and cost ``None``."""
        usage = Usage.from_wire(completion.usage)
        served = completion.model or call.model
        cost = None
        if usage is not None:
            catalog = self.catalog
            priced_as = served if catalog.find(served) is not None else call.model
            cost = catalog.cost(priced_as, usage)
        info = CallInfo(
            id=completion.id or request_id or "",
            requested_model=call.model,
            model=served,
            usage=usage,
            cost=cost,
            attribution=call.attribution,
            latency_s=time.monotonic() - started,
            attempts=attempts,
            streamed=call.stream,
            request_id=request_id,
            route=route,
        )
        completion.__pydantic_private__["_call_info"] = info  # skips BaseModel.__setattr__
        logger.debug(
            "holysheep: %s %s on %s in %.3f s, %d attempt(s)",
            "stream" if call.stream else "chat",
            info.id,
            served,
            info.latency_s,
            attempts,
        )
        return info


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
        if self._sync is None:
            self._sync = build_sync_client(self._max_connections)
        return self._sync

    # ------------------------------------------------------------ sending (the twins)

    def _send(self, call: _Call, attempts: list[str | None]) -> ChatCompletion:
        attempts.append(None)
        with mapped_transport_errors(call.url):
            response = self._http().post(
                call.url, content=call.body, headers=call.headers, timeout=call.timeout
            )
        attempts[-1] = response.headers.get("x-request-id")
        return self._parse_completion(response, response.content, call.model)

    async def _asend(self, call: _Call, attempts: list[str | None]) -> ChatCompletion:
        attempts.append(None)
        client = await self._async.get()
        with mapped_transport_errors(call.url):
            response = await client.post(
                call.url, content=call.body, headers=call.headers, timeout=call.timeout
            )
            body = await response.aread()
        attempts[-1] = response.headers.get("x-request-id")
        return self._parse_completion(response, body, call.model)

    def _send_stream(self, call: _Call) -> httpx.Response:
        http = self._http()
        request = http.build_request(
            "POST", call.url, content=call.body, headers=call.headers, timeout=call.timeout
        )
        with mapped_transport_errors(call.url):
            response = http.send(request, stream=True)
            if response.status_code >= 400:
                body = response.read()
                response.close()
                raise self._error(response, body, call.model)
        return response

    async def _asend_stream(self, call: _Call) -> httpx.Response:
        http = await self._async.get()
        request = http.build_request(
            "POST", call.url, content=call.body, headers=call.headers, timeout=call.timeout
        )
        with mapped_transport_errors(call.url):
            response = await http.send(request, stream=True)
            if response.status_code >= 400:
                body = await response.aread()
                await response.aclose()
                raise self._error(response, body, call.model)
        return response

    def _chat_call(self, call: _Call, plan: RoutePlan | None) -> ChatCompletion:
        meter = Metering(self, call)
        started, attempts = time.monotonic(), []
        try:
            completion = self._retry_for(call).call(lambda: self._send(call, attempts))
        except BaseException:
            meter.release()
            raise
        self._settle(call, completion, meter, plan, attempts=len(attempts), started=started,
                     request_id=attempts[-1])
        return completion

    async def _achat_call(self, call: _Call, plan: RoutePlan | None) -> ChatCompletion:
        meter = Metering(self, call)
        started, attempts = time.monotonic(), []
        try:
            completion = await self._retry_for(call).acall(lambda: self._asend(call, attempts))
        except BaseException:
            meter.release()
            raise
        self._settle(call, completion, meter, plan, attempts=len(attempts), started=started,
                     request_id=attempts[-1])
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
                ``extra_headers``, ``extra_body`` and the attribution ``task``, ``app``, ``tags``.

        Returns:
            The completion; ``completion.call_info`` holds usage, cost and attribution.

        Raises:
            HolySheepError: a subclass saying what went wrong and what to do.
        """
        call = self._prepare(request, params, stream=False)
        if call.model != AUTO:
            return self._chat_call(call, None)
        plan = plan_for(self, call)
        return drive(plan, lambda model: self._chat_call(retarget(self, call, plan, model), plan))

    async def achat(
        self, request: ChatRequest | Mapping[str, Any] | None = None, /, **params: Any
    ) -> ChatCompletion:
        """Send one chat completion and return the relay's answer (async twin of ``chat``)."""
        call = self._prepare(request, params, stream=False)
        if call.model != AUTO:
            return await self._achat_call(call, None)
        plan = plan_for(self, call)
        return await adrive(
            plan, lambda model: self._achat_call(retarget(self, call, plan, model), plan)
        )

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
            return self._parse_models(response, response.content)

        return self.retry.call(fetch)

    async def alist_models(self) -> list[ModelInfo]:
        """The models the relay serves (``GET /models``; async twin of ``list_models``)."""
        url = f"{self.base_url}/models"

        async def fetch() -> list[ModelInfo]:
            client = await self._async.get()
            with mapped_transport_errors(url):
                response = await client.get(url, headers=self._models_headers())
                body = await response.aread()
            return self._parse_models(response, body)

        return await self.retry.acall(fetch)

    def _models_headers(self) -> dict[str, str]:
        if self._closed:
            raise ConfigurationError("this HolySheepClient is closed; create a new one")
        return self._auth_headers()

    def _parse_models(self, response: httpx.Response, body: bytes) -> list[ModelInfo]:
        if response.status_code >= 400:
            raise self._error(response, body, None)
        return ModelList.model_validate_json(body).data
