"""Streams of chat-completion chunks: SSE frames in (httpx-sse), parsed chunks out.

``decode_event`` is the sans-I/O step shared by both twins. ``ChatStream`` and
``AsyncChatStream`` are lazy: nothing is sent until the first chunk is asked for. They retry
(through the client's ``RetryPolicy``) only until the first chunk reaches the caller; after that
a failure raises ``StreamError`` carrying the text and usage received so far.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import httpx
from httpx_sse import EventSource, ServerSentEvent, SSEError
from pydantic import ValidationError

from . import _telemetry as telemetry
from ._accumulate import ChoiceProgress, StreamAccumulator
from .errors import APITimeoutError, HolySheepError, StreamError
from .wire import ChatCompletion, ChatCompletionChunk

if TYPE_CHECKING:
    from ._base import _Call
    from ._client import HolySheepClient
    from ._orchestrate import Metering
    from .calls import CallInfo
    from .routing import RoutePlan

__all__ = ["AsyncChatStream", "ChatStream", "decode_event"]

_validate_chunk = ChatCompletionChunk.model_validate_json
logger = logging.getLogger("holysheep")


def decode_event(
    sse: ServerSentEvent, acc: StreamAccumulator, request_id: str | None
) -> ChatCompletionChunk | None:
    """Parse one SSE event into a chunk folded into ``acc``; ``None`` for no chunk.

    Raises ``StreamError`` for an ``event: error`` frame (groq-stream-error-event-in-200) or an
    ``error`` object in a data frame (openrouter-stream-keepalive-error-in-200), unless every
    choice already has its finish reason: then the frame ends a complete stream.
    """
    data = sse.data
    if sse.event == "error":
        if acc.complete:  # every choice finished first: the answer is whole and billed, keep it
            logger.warning(
                "holysheep: an error frame after the finish reason was ignored (request id %s)",
                request_id,
            )
            acc.done = True
            return None
        try:
            payload: Any = json.loads(data)
        except ValueError:
            payload = data
        error = payload.get("error", payload) if isinstance(payload, dict) else payload
        raise acc.error(error, request_id)
    if not data:
        return None
    if data == "[DONE]":
        acc.done = True
        return None
    try:
        chunk = _validate_chunk(data)
    except ValidationError as exc:
        raise StreamError(
            f"the relay sent a malformed stream chunk ({exc.error_count()} problems): "
            f"{data[:200]!r}",
            request_id=request_id,
            text=acc.text,
            usage=acc.usage,
        ) from exc
    acc.add(chunk, request_id)
    return chunk


def _not_an_event_stream(response: httpx.Response, body: bytes) -> StreamError:
    ctype = response.headers.get("content-type", "")
    return StreamError(
        f"expected an event stream from the relay, got {ctype!r}: {body[:200]!r}",
        status_code=response.status_code,
        request_id=response.headers.get("x-request-id"),
    )


def _retryable_before_first_chunk(exc: HolySheepError) -> HolySheepError:
    """An early stream failure may be retried unless the relay said the request is wrong."""
    if isinstance(exc, StreamError):
        status = exc.status_code
        exc.is_retryable = status is None or status >= 500 or status == 429
    return exc


class _StreamBase:
    """State shared by both twins: the call, the accumulator, the request id."""

    def __init__(self, client: HolySheepClient, call: _Call) -> None:
        self._client = client
        self._call = call
        self._acc = StreamAccumulator()
        self._final: ChatCompletion | None = None
        self._attempts = 0
        self._started = time.monotonic()
        self.request_id: str | None = None
        self.call_info: CallInfo | None = None
        """Usage, cost and attribution, set once the stream ends (``None`` before)."""
        self._meter: Metering | None = None
        self._plan: RoutePlan | None = None

    @property
    def completion(self) -> ChatCompletion:
        """The completion accumulated so far (complete once the stream is exhausted)."""
        return self._final if self._final is not None else self._acc.result()

    def _finish(self) -> None:
        """Freeze the result and price it once; runs however the stream ended."""
        if self._final is None and self._acc.chunks and self._meter is not None:
            self._final = self._acc.result()
            self.call_info = self._client._settle(
                self._call,
                self._final,
                self._meter,
                self._plan,
                attempts=self._attempts,
                started=self._started,
                request_id=self.request_id,
            )

    def progress(self, index: int = 0) -> ChoiceProgress | None:
        """What choice ``index`` has received so far (append-only pieces), or ``None`` yet.

        Cheap to call per chunk: nothing is rebuilt. Use ``completion`` for the whole message.
        """
        return self._acc.choices.get(index)

    @property
    def finished(self) -> bool:
        """True once the relay sent ``[DONE]`` or a finish reason."""
        return self._acc.finished

    def _start(self, response: httpx.Response) -> None:
        self._acc = StreamAccumulator()
        self.request_id = response.headers.get("x-request-id")

    def _early_failure(self, exc: httpx.TransportError) -> HolySheepError:
        """A transport failure before the first chunk: retryable, mapped like any other."""
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(
                f"no stream chunk from the relay in time ({type(exc).__name__}); raise timeout= "
                "for slow models",
                request_id=self.request_id,
            )
        return _retryable_before_first_chunk(self._cut_short(exc))

    def _end(self, exc: Exception | None = None) -> None:
        """The stream stopped (cleanly, or with ``exc``): return if the answer is whole, else
        raise ``StreamError``. A cut after the finish reason (and usage) loses nothing."""
        if not self._acc.complete:
            raise self._cut_short(exc) from exc

    def _cut_short(self, exc: Exception | None = None) -> StreamError:
        cause = f"{type(exc).__name__}: {exc}" if exc is not None else "no [DONE]"
        return self._acc.cut_short(self.request_id, cause)


class ChatStream(_StreamBase):
    """Iterate to receive ``ChatCompletionChunk`` objects; ``completion`` has the sum.

    Use as a context manager (or exhaust it) so the connection goes back to the pool.
    """

    def __init__(self, client: HolySheepClient, call: _Call) -> None:
        super().__init__(client, call)
        self._gen = telemetry.stream(self, self._chunks())  # the chunks themselves when off

    def __iter__(self) -> Iterator[ChatCompletionChunk]:
        return self._gen

    def __next__(self) -> ChatCompletionChunk:
        return next(self._gen)

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop reading and release the connection."""
        self._gen.close()

    def _open(self) -> tuple[httpx.Response, Iterator[ServerSentEvent], ChatCompletionChunk]:
        self._attempts += 1
        response = self._client._send_stream(self._call)
        try:
            self._start(response)
            events = EventSource(response).iter_sse()
            for sse in events:
                chunk = decode_event(sse, self._acc, self.request_id)
                if chunk is not None:
                    return response, events, chunk
                if self._acc.done:
                    break
            raise self._cut_short()
        except SSEError:
            raise _not_an_event_stream(response, response.read()) from None
        except HolySheepError as exc:
            _retryable_before_first_chunk(exc)
            raise
        except httpx.TransportError as exc:
            raise self._early_failure(exc) from exc
        finally:
            if self._acc.chunks == 0:
                response.close()

    def _chunks(self) -> Iterator[ChatCompletionChunk]:
        response, events, chunk = self._client._open_stream(self)
        acc, rid = self._acc, self.request_id
        try:
            yield chunk
            for sse in events:
                chunk = decode_event(sse, acc, rid)
                if chunk is not None:
                    yield chunk
                elif acc.done:
                    break
            self._end()
        except httpx.TransportError as exc:
            self._end(exc)
        finally:
            response.close()
            self._finish()


class AsyncChatStream(_StreamBase):
    """Iterate with ``async for`` to receive chunks; ``completion`` has the sum."""

    def __init__(self, client: HolySheepClient, call: _Call) -> None:
        super().__init__(client, call)
        self._gen = telemetry.astream(self, self._chunks())  # the chunks themselves when off

    def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]:
        return self._gen

    async def __anext__(self) -> ChatCompletionChunk:
        return await self._gen.__anext__()

    async def __aenter__(self) -> AsyncChatStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop reading and release the connection."""
        await self._gen.aclose()

    async def _open(
        self,
    ) -> tuple[httpx.Response, AsyncIterator[ServerSentEvent], ChatCompletionChunk]:
        self._attempts += 1
        response = await self._client._asend_stream(self._call)
        try:
            self._start(response)
            events = EventSource(response).aiter_sse()
            async for sse in events:
                chunk = decode_event(sse, self._acc, self.request_id)
                if chunk is not None:
                    return response, events, chunk
                if self._acc.done:
                    break
            raise self._cut_short()
        except SSEError:
            raise _not_an_event_stream(response, await response.aread()) from None
        except HolySheepError as exc:
            _retryable_before_first_chunk(exc)
            raise
        except httpx.TransportError as exc:
            raise self._early_failure(exc) from exc
        finally:
            if self._acc.chunks == 0:
                await response.aclose()

    async def _chunks(self) -> AsyncIterator[ChatCompletionChunk]:
        response, events, chunk = await self._client._aopen_stream(self)
        acc, rid = self._acc, self.request_id
        try:
            yield chunk
            async for sse in events:
                chunk = decode_event(sse, acc, rid)
                if chunk is not None:
                    yield chunk
                elif acc.done:
                    break
            self._end()
        except httpx.TransportError as exc:
            self._end(exc)
        finally:
            await response.aclose()
            self._finish()
