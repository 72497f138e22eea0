"""The I/O-free half of ``HolySheepClient``: settings, request building, pricing, error mapping.

Kept apart from the sending twins (``_client.py``) so each file has one job: this one decides
what to send and what an answer means; the other sends it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import SecretStr, ValidationError
from pydantic_core import PydanticSerializationError

from ._billed import Billed, billed_usage
from ._body import ReadLimits
from ._config import check_timeout, resolve_api_key, resolve_base_url
from ._orchestrate import Metering, route_of
from ._secrets import Bearer, SecretHeaders, scrub, scrub_known
from ._transport import USER_AGENT, query_params, safe_url, with_query
from ._wire_repair import billed_view, repaired
from .calls import Attribution, CallInfo
from .errors import (
    APIError,
    BadRequestError,
    ConfigurationError,
    UpstreamError,
    error_from_response,
)
from .retry import RetryPolicy
from .wire import ChatCompletion, ChatRequest, extra_usage

if TYPE_CHECKING:
    from .catalog import ModelCatalog
    from .routing import RoutePlan, TaskRouter

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_TOTAL_TIMEOUT",
    "_Call",
    "_ClientBase",
    "check_settings",
]

logger = logging.getLogger("holysheep")
LEDGER_ENV = "HOLYSHEEP_LEDGER"
_CALL_OPTIONS = ("timeout", "retry", "extra_headers", "extra_body", "task", "app", "tags", "trim")
_DEFAULT_READ_TIMEOUT = 120.0
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024
"""32 MiB: far above any chat answer, far below what a decompression bomb would take."""
DEFAULT_TOTAL_TIMEOUT = 600.0
"""Ten minutes per call: above any single answer we have seen, below forever."""


def _scrub_echoes(completion: ChatCompletion) -> None:
    """Mask the key where a hostile relay echoed it as the completion's id or model, before
    either reaches a ``CallInfo``, a ledger, a log line or a repr (a no-op otherwise)."""
    call_id, model = scrub_known(completion.id), scrub_known(completion.model)
    if call_id is not completion.id:
        completion.id = call_id
    if model is not completion.model:
        completion.model = model


@dataclass(frozen=True, slots=True)
class _Call:
    """One prepared request: what to send, where, with which timeout and retry policy.

    ``headers`` keep the key a ``SecretStr`` (``repr`` masks it); httpx reads the plain value
    only when it builds the request.
    """

    url: httpx.URL
    data: dict[str, Any]
    body: bytes
    model: str
    timeout: httpx.Timeout
    headers: SecretHeaders | None
    retry: RetryPolicy | None
    stream: bool
    attribution: Attribution
    user_timeout: httpx.Timeout | None = None
    trim: bool | None = None
    """``model="auto"`` only: let the router trim the oldest turns (None: the router's setting)."""


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
        default_query: Mapping[str, str] | None = None,
        max_connections: int = 100,
        router: Any = None,
        ledger: Any = None,
        on_ledger_error: str = "raise",
        on_unpriced: str = "refuse",
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        total_timeout: float | None = DEFAULT_TOTAL_TIMEOUT,
        stream_idle_timeout: float | None = None,
    ) -> None:
        """Settings shared by the sync and async calls.

        Of the ledger settings, ``on_ledger_error="allow"`` sends calls while the ledger is down
        (budgets unchecked, records spooled and replayed) instead of raising ``LedgerError``, and
        ``on_unpriced="allow"`` sends calls that a budget applies to but the catalogue cannot
        price instead of refusing them (``BudgetExceededError``). ``default_query`` adds query
        parameters (``{"api-version": "..."}``) to every request URL: chat, streams and models.
        """
        check_settings(
            on_ledger_error=on_ledger_error,
            on_unpriced=on_unpriced,
            max_response_bytes=max_response_bytes,
            total_timeout=total_timeout,
            stream_idle_timeout=stream_idle_timeout,
        )
        self.on_ledger_error = on_ledger_error
        """``"raise"``: a ledger that cannot be reached refuses the call before sending
        (``LedgerError``); ``"allow"``: send it anyway, unchecked, its record spooled."""
        self.on_unpriced = on_unpriced
        """``"refuse"``: a call to a model without catalogue prices that a budget applies to is
        refused (``BudgetExceededError``); ``"allow"``: send it, outside every budget."""
        self.router = router
        """A ``TaskRouter`` used for ``model="auto"`` (routing and fallbacks)."""
        self._ledger = ledger
        self._ledger_from_env = ledger is None and bool(os.environ.get(LEDGER_ENV))
        self._api_key = SecretStr(api_key) if isinstance(api_key, str) else api_key
        self.base_url = resolve_base_url(base_url)
        self.default_query = query_params(default_query)
        """Query parameters added to every request URL (chat, streams, ``/models``)."""
        # parsed once, not per call
        self._chat_url = with_query(f"{self.base_url}/chat/completions", self.default_query)
        self._models_url = with_query(f"{self.base_url}/models", self.default_query)
        self._timeout = check_timeout(timeout)
        self._connect_timeout = check_timeout(connect_timeout, "connect_timeout") or 10.0
        if retry is None:
            retry = (
                RetryPolicy.from_max_retries(max_retries)
                if max_retries is not None
                else (RetryPolicy())
            )
        self.retry = retry
        self._catalog = catalog
        self._default_headers = SecretHeaders(default_headers)  # credentials kept secret
        self._max_connections = max_connections
        self._headers: SecretHeaders | None = None
        self._timeouts: dict[str, httpx.Timeout] = {}
        self._closed = False
        self.max_response_bytes = max_response_bytes
        """Cap, in bytes, on a decompressed answer body and on each stream line or event."""
        self.total_timeout = total_timeout
        """Seconds one call may take, first byte sent to last byte read, retries included."""
        self.stream_idle_timeout = stream_idle_timeout
        """Seconds a stream may go without an event (comments don't count); None: the read
        timeout."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key=SecretStr('**********'))"

    def __reduce__(self) -> Any:
        raise TypeError("HolySheepClient holds open connections and a secret; it cannot be pickled")

    @property
    def ledger(self) -> Any:
        """The ``CostLedger`` recording every billed call once and enforcing budgets, or None.

        The one given, else one opened on first use from ``HOLYSHEEP_LEDGER`` when that is set
        (so a process configured for a ledger records without code changes), else None.
        """
        if self._ledger is None and self._ledger_from_env:
            from .ledger import CostLedger

            self._ledger = CostLedger(catalog=self.catalog)
            self._ledger_from_env = False
        return self._ledger

    @ledger.setter
    def ledger(self, value: Any) -> None:
        self._ledger, self._ledger_from_env = value, False

    @property
    def catalog(self) -> ModelCatalog:
        """The model catalogue used for timeouts and error suggestions (loaded on first use)."""
        if self._catalog is None:
            from .catalog import ModelCatalog

            self._catalog = ModelCatalog.default()
        return self._catalog

    # ------------------------------------------------------------ request building (no I/O)

    def _auth_headers(self) -> SecretHeaders:
        """The headers of every call; the key stays a ``SecretStr`` inside until send time."""
        headers = self._headers
        if headers is None:
            key = resolve_api_key(self._api_key)
            base = SecretHeaders({"user-agent": USER_AGENT, "content-type": "application/json"})
            headers = base.merged(self._default_headers).merged({"authorization": Bearer(key)})
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
        elif request is None or isinstance(request, Mapping):
            data = dict(request or {})
        else:
            raise BadRequestError(
                f"the request must be a ChatRequest or a dict (got {type(request).__name__}); "
                "or pass model=... and messages=[...] as keywords"
            )
        data.update(params)
        extra_body = options.get("extra_body")
        if extra_body is not None and not isinstance(extra_body, Mapping):
            raise BadRequestError(
                f"extra_body must be a dict of JSON fields (got {type(extra_body).__name__})"
            )
        data.update(extra_body or {})
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
        user_timeout = check_timeout(options.get("timeout"))
        if user_timeout is not None and not isinstance(user_timeout, httpx.Timeout):
            connect = min(self._connect_timeout, user_timeout)
            user_timeout = httpx.Timeout(user_timeout, connect=connect)
        headers = self._auth_headers().merged(options.get("extra_headers"))
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
            trim=options.get("trim"),
            attribution=Attribution(
                task=options.get("task"),
                user=data.get("user"),
                app=options.get("app"),
                tags=MappingProxyType(dict(options.get("tags") or {})),
            ),
        )

    @staticmethod
    def _serialize(data: dict[str, Any]) -> bytes:
        """Validate a request body once and serialize it for the wire (refused before sending)."""
        try:
            return ChatRequest.model_validate(data).to_json()
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in err['loc']) or 'request'}: {err['msg']}"
                for err in exc.errors(include_url=False, include_input=False)[:3]
            )
            raise BadRequestError(
                f"the chat request is malformed ({problems}); pass model=..., "
                "messages=[{'role': 'user', 'content': '...'}] and valid parameters"
            ) from None
        except (PydanticSerializationError, UnicodeError, ValueError, TypeError) as exc:
            raise BadRequestError(
                f"the chat request cannot be encoded as JSON ({exc}); messages, extra_body and "
                "other fields must hold only text, numbers, booleans, lists and dicts, and text "
                "must be valid Unicode (no lone surrogates)"
            ) from None

    def _deadline_from(self, started: float) -> float | None:
        """The monotonic time a call started at ``started`` must end by, or None."""
        total = self.total_timeout
        return None if total is None else started + total

    def _read_limits(self, call: _Call, deadline_at: float | None) -> ReadLimits:
        """The byte cap and clocks one attempt reads under (streams also get an idle limit)."""
        idle = None
        if call.stream:
            idle = self.stream_idle_timeout
            if idle is None:
                idle = call.timeout.read
        return ReadLimits(self.max_response_bytes, deadline_at, idle)

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
        """After a billed call: price it once, attach the route, record it in the ledger.

        A 200 without any choice is recorded when the relay reported usage for it (it billed),
        then raised as ``UpstreamError``: an empty string is not an answer.
        """
        answered = bool(completion.choices)
        if not answered and not call.stream and completion.usage is None:
            meter.release()  # nothing generated, nothing reported: nothing known to be billed
            raise self._no_choices(request_id)
        route = route_of(plan, call.model) if answered else getattr(plan, "decision", None)
        if route is not None and call.attribution.task is None:
            # the classifier chose the label: bill the call to it, as the router did
            call = dataclasses.replace(
                call, attribution=dataclasses.replace(call.attribution, task=route.task)
            )
        info, billed = self._call_info(
            call,
            completion,
            attempts=attempts,
            started=started,
            request_id=request_id,
            route=route,
        )
        meter.settle(info)
        if billed.problems:  # after the ledger has the record, so a warning-as-error loses nothing
            billed.warn(info.model)
        if not answered and not call.stream:
            private = completion.__pydantic_private__ or {}
            unreadable = private.get("_unreadable")
            if unreadable is not None:
                raise self._unreadable(unreadable, request_id, info)
            raise self._no_choices(request_id, info)
        return info

    @staticmethod
    def _unreadable(preview: str, request_id: str | None, info: CallInfo) -> APIError:
        """A 200 body that is not a chat completion but reports usage: billed and recorded."""
        return APIError(
            f"the relay answered 200 with a body that is not a chat completion: {preview}; "
            "it was billed (the relay reported usage, on .usage and in any ledger); retry the "
            "call, or try another model if it keeps happening",
            status_code=200,
            code="unreadable_answer",
            request_id=request_id,
            usage=info.usage,
        )

    @staticmethod
    def _no_choices(request_id: str | None, info: CallInfo | None = None) -> UpstreamError:
        """A 200 whose body has no choice at all (``choices`` missing or ``[]``)."""
        billed = " (it was billed: the relay reported usage, on .usage and in any ledger)"
        billed = billed if info is not None else ""
        return UpstreamError(
            f"the relay answered 200 with no choices, so there is no answer to return{billed}; "
            "retry the call, or try another model if it keeps happening",
            status_code=200,
            code="no_choices",
            request_id=request_id,
            usage=info.usage if info is not None else None,
        )

    def _error(self, response: httpx.Response, body: bytes, model: str | None) -> APIError:
        """The typed error for a 3xx/4xx/5xx answer (the key scrubbed from message and body)."""
        try:
            parsed: Any = json.loads(body) if body else None
        except ValueError:
            parsed = body.decode("utf-8", "replace")
        known = self.catalog.ids() if response.status_code == 404 and model else ()
        try:
            url: str | None = safe_url(response.request.url)
        except RuntimeError:  # a response built by hand has no request
            url = None
        return error_from_response(
            response.status_code,
            parsed,
            response.headers,
            model=model,
            known_models=known,
            url=url,
        )

    def _parse_completion(
        self, response: httpx.Response, body: bytes, model: str
    ) -> ChatCompletion:
        if response.status_code >= 400:
            raise self._error(response, body, model)
        try:
            completion = ChatCompletion.model_validate_json(body)
        except ValidationError as exc:
            fixed = repaired(ChatCompletion, body, exc)  # wrong only in metadata: keep it
            if fixed is None:
                fixed = billed_view(ChatCompletion, body)  # unreadable, yet it reports a bill
                if fixed is None:
                    raise APIError(
                        f"the relay answered {response.status_code} with a body that is not a "
                        f"chat completion: {body[:200]!r}",
                        status_code=response.status_code,
                        request_id=response.headers.get("x-request-id"),
                    ) from exc
                preview = scrub(repr(body[:200]))  # no raw echo of the key in later frames
                fixed.__pydantic_private__["_unreadable"] = preview  # type: ignore[index]
            completion = fixed
        if completion.usage is None:  # groq: usage only under x_groq (fixture x_groq-usage)
            completion.usage = extra_usage(completion.__pydantic_extra__)
        return completion

    def _call_info(
        self,
        call: _Call,
        completion: ChatCompletion,
        *,
        attempts: int,
        started: float,
        request_id: str | None,
        route: Any = None,
    ) -> tuple[CallInfo, Billed]:
        """Price the call once and describe it; unknown models warn and cost ``None``.

        Usage the relay left out or could not have meant is estimated (``CallInfo.estimated``):
        a billed call is never recorded as free.
        """
        _scrub_echoes(completion)
        served = completion.model or call.model
        catalog = self.catalog
        priced_as = served if catalog.find(served) is not None else call.model
        billed = billed_usage(completion, call.data, catalog.find(priced_as))
        usage = billed.usage
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
            estimated=billed.estimated,
            created=completion.created,
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
        return info, billed


def check_settings(
    *,
    on_ledger_error: str = "raise",
    on_unpriced: str = "refuse",
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    total_timeout: float | None = DEFAULT_TOTAL_TIMEOUT,
    stream_idle_timeout: float | None = None,
) -> None:
    """Refuse policies and limits the client cannot work with, naming the setting.

    The adapters call it when they are built, so a wrong value fails there, not at first call.
    """
    for name, value, allowed in (
        ("on_ledger_error", on_ledger_error, ("raise", "allow")),
        ("on_unpriced", on_unpriced, ("refuse", "allow")),
    ):
        if value not in allowed:
            raise ConfigurationError(
                f"{name}={value!r}: use {allowed[0]!r} (the default) or {allowed[1]!r}"
            )
    if type(max_response_bytes) is not int or max_response_bytes <= 0:
        raise ConfigurationError(
            f"max_response_bytes must be a positive number of bytes, not {max_response_bytes!r}"
        )
    for name, value in (
        ("total_timeout", total_timeout),
        ("stream_idle_timeout", stream_idle_timeout),
    ):
        if value is not None and not (isinstance(value, (int, float)) and value > 0):
            raise ConfigurationError(f"{name} must be positive seconds or None, not {value!r}")
