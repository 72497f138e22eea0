"""Streams of chat-completion chunks: raw bytes in (``_sse.py``), parsed chunks out.

``decode_event`` is the sans-I/O step shared by both twins. ``ChatStream`` and
``AsyncChatStream`` are lazy: nothing is sent until the first chunk is asked for. They retry
(through the client's ``RetryPolicy``) only until the first chunk reaches the caller; after that
a failure raises ``StreamError`` carrying the text and usage received so far. Bytes are read
under the client's limits (``max_response_bytes``, ``total_timeout``, ``stream_idle_timeout``).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, cast

import httpx
from pydantic import ValidationError

from ._accumulate import ChoiceProgress, StreamAccumulator
from ._body import DRAIN_BYTES, BodyLimitError, EventReader, ReadLimits, limit_error
from .errors import APITimeoutError, HolySheepError, StreamError
from .wire import ChatCompletion, ChatCompletionChunk

if TYPE_CHECKING:
    from ._base import _Call
    from ._client import HolySheepClient
    from ._orchestrate import Metering
    from .calls import CallInfo
    from .routing import RoutePlan

__all__ = ["AsyncChatStream", "ChatStream", "decode_event", "is_event_stream"]

_validate_chunk = ChatCompletionChunk.model_validate_json
_monotonic = time.monotonic


def decode_event(
    event: str, data: bytes, acc: StreamAccumulator, request_id: str | None
) -> ChatCompletionChunk | None:
    """Parse one SSE event into a chunk folded into ``acc``; ``None`` for no chunk.

    Raises ``StreamError`` for an ``event: error`` frame (groq-stream-error-event-in-200) or an
    ``error`` object in a data frame (openrouter-stream-keepalive-error-in-200).
    """
    if event == "error":
        try:
            payload: Any = json.loads(data)
        except ValueError:
            payload = data.decode("utf-8", "replace")
        error = payload.get("error", payload) if isinstance(payload, dict) else payload
        raise acc.error(error, request_id)
    if not data:
        return None
    if data == b"[DONE]":
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


def is_event_stream(response: httpx.Response) -> bool:
    """True when the relay answered with ``Content-Type: text/event-stream``."""
    return "text/event-stream" in response.headers.get("content-type", "")


def not_an_event_stream(response: httpx.Response, body: bytes) -> StreamError:
    """The error for a 2xx stream answer that is not an event stream (say, a JSON body)."""
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


def _drain(pieces: Iterator[bytes], limits: ReadLimits) -> None:
    """After ``[DONE]``, read the body's end (a few bytes) so the connection returns to the pool.

    Bounded by ``DRAIN_BYTES`` and the deadline; a failure here loses only the connection.
    """
    seen = 0
    with contextlib.suppress(httpx.TransportError):
        for raw in pieces:
            seen += len(raw)
            if seen > DRAIN_BYTES or limits.past_deadline():
                return


async def _adrain(pieces: AsyncIterator[bytes], limits: ReadLimits) -> None:
    """After ``[DONE]``, read the body's end (async twin of ``_drain``)."""
    seen = 0
    with contextlib.suppress(httpx.TransportError):
        async for raw in pieces:
            seen += len(raw)
            if seen > DRAIN_BYTES or limits.past_deadline():
                return


class _StreamBase:
    """State shared by both twins: the call, the accumulator, the request id, the limits."""

    def __init__(self, client: HolySheepClient, call: _Call) -> None:
        self._client = client
        self._call = call
        self._acc = StreamAccumulator()
        self._final: ChatCompletion | None = None
        self._attempts = 0
        self._started = time.monotonic()
        self._deadline_at: float | None = None
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

    def _limits(self) -> ReadLimits:
        """This attempt's read limits; the total deadline starts with the first attempt."""
        if self._deadline_at is None:
            self._deadline_at = self._client._deadline_from(_monotonic())
        return self._client._read_limits(self._call, self._deadline_at)

    def _start(self, response: httpx.Response) -> None:
        self._acc = StreamAccumulator()
        self.request_id = response.headers.get("x-request-id")

    def _early_failure(self, exc: Exception) -> HolySheepError:
        """A failure before the first chunk: retryable unless it cannot help, mapped like any."""
        if isinstance(exc, BodyLimitError):
            return _retryable_before_first_chunk(
                limit_error(exc, StreamError, status_code=200, request_id=self.request_id)
            )
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(
                f"no stream chunk from the relay in time ({type(exc).__name__}); raise timeout= "
                "for slow models",
                request_id=self.request_id,
            )
        return _retryable_before_first_chunk(self._cut_short(exc))

    def _cut_short(self, exc: Exception | None = None) -> StreamError:
        if isinstance(exc, BodyLimitError):
            cause = limit_error(exc).message
        else:
            cause = f"{type(exc).__name__}: {exc}" if exc is not None else "no [DONE]"
        return self._acc.cut_short(self.request_id, cause)


class ChatStream(_StreamBase):
    """Iterate to receive ``ChatCompletionChunk`` objects; ``completion`` has the sum.

    Use as a context manager (or exhaust it) so the connection goes back to the pool.
    """

    def __init__(self, client: HolySheepClient, call: _Call) -> None:
        super().__init__(client, call)
        self._gen = self._chunks()

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

    def _open(self) -> tuple[Iterator[ChatCompletionChunk], ChatCompletionChunk]:
        """Send once and read up to the first chunk (the unit the retry policy repeats)."""
        self._attempts += 1
        limits = self._limits()
        chunks: Iterator[ChatCompletionChunk] | None = None
        try:
            response = self._client._send_stream(self._call, limits)
            self._start(response)
            chunks = self._read(response, limits)
            return chunks, next(chunks)
        except StopIteration:
            raise _retryable_before_first_chunk(self._cut_short()) from None
        except HolySheepError as exc:
            _retryable_before_first_chunk(exc)
            raise
        except (BodyLimitError, httpx.TransportError) as exc:
            raise self._early_failure(exc) from exc
        finally:
            if chunks is not None and self._acc.chunks == 0:
                chunks.close()

    def _read(self, response: httpx.Response, limits: ReadLimits) -> Iterator[ChatCompletionChunk]:
        """Chunks from the raw body; after ``[DONE]`` it drains the body's end. Closes it."""
        acc, rid = self._acc, self.request_id
        pieces = iter(cast(httpx.SyncByteStream, response.stream))
        try:
            reader = EventReader(response.headers.get("content-encoding", ""), limits)
            for raw in pieces:
                for event, data in reader.feed(raw):
                    chunk = decode_event(event, data, acc, rid)
                    if chunk is not None:
                        yield chunk
                    elif acc.done:
                        break
                if acc.done:
                    _drain(pieces, limits)
                    return
            for event, data in reader.end():
                chunk = decode_event(event, data, acc, rid)
                if chunk is not None:
                    yield chunk
        finally:
            response.close()

    def _chunks(self) -> Iterator[ChatCompletionChunk]:
        chunks, chunk = self._client._open_stream(self)
        try:
            yield chunk
            yield from chunks
            if not self._acc.finished:
                raise self._cut_short()
        except (httpx.TransportError, BodyLimitError) as exc:
            raise self._cut_short(exc) from exc
        finally:
            chunks.close()
            self._finish()


class AsyncChatStream(_StreamBase):
    """Iterate with ``async for`` to receive chunks; ``completion`` has the sum."""

    def __init__(self, client: HolySheepClient, call: _Call) -> None:
        super().__init__(client, call)
        self._gen = self._chunks()

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

    async def _open(self) -> tuple[Any, ChatCompletionChunk]:
        """Send once and read up to the first chunk (async twin of ``ChatStream._open``)."""
        self._attempts += 1
        limits = self._limits()
        chunks: Any = None
        try:
            response = await self._client._asend_stream(self._call, limits)
            self._start(response)
            chunks = self._read(response, limits)
            return chunks, await chunks.__anext__()
        except StopAsyncIteration:
            raise _retryable_before_first_chunk(self._cut_short()) from None
        except HolySheepError as exc:
            _retryable_before_first_chunk(exc)
            raise
        except (BodyLimitError, httpx.TransportError) as exc:
            raise self._early_failure(exc) from exc
        finally:
            if chunks is not None and self._acc.chunks == 0:
                await chunks.aclose()

    async def _read(
        self, response: httpx.Response, limits: ReadLimits
    ) -> AsyncIterator[ChatCompletionChunk]:
        """Chunks from the raw body (async twin of ``ChatStream._read``)."""
        acc, rid = self._acc, self.request_id
        pieces = aiter(cast(httpx.AsyncByteStream, response.stream))
        try:
            reader = EventReader(response.headers.get("content-encoding", ""), limits)
            async for raw in pieces:
                for event, data in reader.feed(raw):
                    chunk = decode_event(event, data, acc, rid)
                    if chunk is not None:
                        yield chunk
                    elif acc.done:
                        break
                if acc.done:
                    await _adrain(pieces, limits)
                    return
            for event, data in reader.end():
                chunk = decode_event(event, data, acc, rid)
                if chunk is not None:
                    yield chunk
        finally:
            await response.aclose()

    async def _chunks(self) -> AsyncIterator[ChatCompletionChunk]:
        chunks, chunk = await self._client._aopen_stream(self)
        try:
            yield chunk
            async for chunk in chunks:
                yield chunk
            if not self._acc.finished:
                raise self._cut_short()
        except (httpx.TransportError, BodyLimitError) as exc:
            raise self._cut_short(exc) from exc
        finally:
            await chunks.aclose()
            self._finish()
