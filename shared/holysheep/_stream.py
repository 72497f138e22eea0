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
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, cast

import httpx
from pydantic import ValidationError

from . import _telemetry as telemetry
from ._accumulate import ChoiceProgress, StreamAccumulator
from ._body import DRAIN_BYTES, DRAIN_SECONDS, BodyLimitError, EventReader, ReadLimits, limit_error
from ._wire_repair import repaired
from .errors import APITimeoutError, HolySheepError, StreamError
from .wire import ChatCompletion, ChatCompletionChunk

if TYPE_CHECKING:
    from ._base import _Call
    from ._client import HolySheepClient
    from ._orchestrate import Metering
    from .calls import CallInfo
    from .routing import RoutePlan

__all__ = ["AsyncChatStream", "ChatStream", "decode_event", "is_event_stream"]

_monotonic = time.monotonic
logger = logging.getLogger("holysheep")


def _validate_chunk(data: bytes) -> ChatCompletionChunk:
    """Parse one chunk's JSON; the first call builds the deferred validator, then binds to it.

    Calling ``__pydantic_validator__.validate_json`` directly skips ``model_validate_json``'s
    keyword handling, about 0.5 µs of every chunk (the model defers its build to first use).
    """
    global _validate_chunk
    chunk = ChatCompletionChunk.model_validate_json(data)
    _validate_chunk = ChatCompletionChunk.__pydantic_validator__.validate_json
    return chunk


def decode_event(
    event: str, data: bytes, acc: StreamAccumulator, request_id: str | None
) -> ChatCompletionChunk | None:
    """Parse one SSE event into a chunk folded into ``acc``; ``None`` for no chunk.

    Raises ``StreamError`` for an ``event: error`` frame (groq-stream-error-event-in-200) or an
    ``error`` object in a data frame (openrouter-stream-keepalive-error-in-200), unless every
    choice already has its finish reason: then the frame ends a complete stream.
    """
    if event == "error":
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
        fixed = repaired(ChatCompletionChunk, data, exc)  # wrong only in metadata: keep it
        if fixed is None:
            raise StreamError(
                f"the relay sent a malformed stream chunk ({exc.error_count()} problems): "
                f"{data[:200]!r}",
                request_id=request_id,
                text=acc.text,
                usage=acc.usage,
            ) from exc
        chunk = fixed
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


def _drain_until(limits: ReadLimits) -> float:
    until = _monotonic() + DRAIN_SECONDS
    return until if limits.deadline_at is None else min(until, limits.deadline_at)


def _drain(
    pieces: Iterator[bytes], reader: EventReader, acc: StreamAccumulator, rid: str | None
) -> None:
    """Once the answer is complete, read the body's end so the connection returns to the pool.

    A caller may stop at the finish reason, before the usage chunk and ``[DONE]``: those are
    still read (usage counted). Bounded by ``DRAIN_BYTES``, ``DRAIN_SECONDS`` and the deadline;
    a failure here costs only the connection.
    """
    seen, until = 0, _drain_until(reader.limits)
    with contextlib.suppress(httpx.TransportError, HolySheepError, BodyLimitError):
        for raw in pieces:
            if not acc.done:
                for event, data in reader.feed(raw):
                    decode_event(event, data, acc, rid)
            seen += len(raw)
            if seen > DRAIN_BYTES or _monotonic() > until:
                return


async def _adrain(
    pieces: AsyncIterator[bytes], reader: EventReader, acc: StreamAccumulator, rid: str | None
) -> None:
    """Once the answer is complete, read the body's end (async twin of ``_drain``)."""
    seen, until = 0, _drain_until(reader.limits)
    with contextlib.suppress(httpx.TransportError, HolySheepError, BodyLimitError):
        async for raw in pieces:
            if not acc.done:
                for event, data in reader.feed(raw):
                    decode_event(event, data, acc, rid)
            seen += len(raw)
            if seen > DRAIN_BYTES or _monotonic() > until:
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

    def _end(self, exc: Exception | None = None) -> None:
        """The stream stopped (cleanly, or with ``exc``): return if the answer is whole, else
        raise ``StreamError``. A cut after the finish reason (and usage) loses nothing."""
        if not self._acc.complete:
            raise self._cut_short(exc) from exc

    def _cut_short(self, exc: Exception | None = None) -> StreamError:
        if isinstance(exc, BodyLimitError):
            cause = limit_error(exc).message
        else:
            cause = f"{type(exc).__name__}: {exc}" if exc is not None else "no [DONE]"
        return self._acc.cut_short(self.request_id, cause)


class _SyncStream(_StreamBase):
    """The sync reading loops. The generator refers to this object only, never to the
    ``ChatStream`` holding it: no cycle, so a loop left with ``break`` closes the stream at once
    (and its connection goes back to the pool) instead of at the next garbage collection."""

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
        reader: EventReader | None = None
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
                    break
            else:
                for event, data in reader.end():
                    chunk = decode_event(event, data, acc, rid)
                    if chunk is not None:
                        yield chunk
        finally:
            if reader is not None and acc.finished:
                _drain(pieces, reader, acc, rid)
            response.close()

    def _chunks(self) -> Iterator[ChatCompletionChunk]:
        chunks, chunk = self._client._open_stream(self)
        try:
            yield chunk
            yield from chunks
            self._end()
        except (httpx.TransportError, BodyLimitError) as exc:
            self._end(exc)
        finally:
            chunks.close()
            self._finish()


class _AsyncStream(_StreamBase):
    """The async reading loops (see ``_SyncStream`` for why they live apart from the view)."""

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
        reader: EventReader | None = None
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
                    break
            else:
                for event, data in reader.end():
                    chunk = decode_event(event, data, acc, rid)
                    if chunk is not None:
                        yield chunk
        finally:
            if reader is not None and acc.finished:
                await _adrain(pieces, reader, acc, rid)
            await response.aclose()

    async def _chunks(self) -> AsyncIterator[ChatCompletionChunk]:
        chunks, chunk = await self._client._aopen_stream(self)
        try:
            yield chunk
            async for chunk in chunks:
                yield chunk
            self._end()
        except (httpx.TransportError, BodyLimitError) as exc:
            self._end(exc)
        finally:
            await chunks.aclose()
            self._finish()


class _StreamView:
    """What callers read on a stream, forwarded to the state the reading loop owns."""

    __slots__ = ("_core",)
    _core: _StreamBase

    @property
    def completion(self) -> ChatCompletion:
        """The completion accumulated so far (complete once the stream is exhausted)."""
        return self._core.completion

    @property
    def call_info(self) -> CallInfo | None:
        """Usage, cost and attribution, set once the stream ends (``None`` before)."""
        return self._core.call_info

    @property
    def request_id(self) -> str | None:
        """The relay's ``x-request-id`` of the attempt being read."""
        return self._core.request_id

    @property
    def finished(self) -> bool:
        """True once the relay sent ``[DONE]`` or a finish reason."""
        return self._core.finished

    def progress(self, index: int = 0) -> ChoiceProgress | None:
        """What choice ``index`` has received so far (append-only pieces), or ``None`` yet.

        Cheap to call per chunk: nothing is rebuilt. Use ``completion`` for the whole message.
        """
        return self._core.progress(index)


class ChatStream(_StreamView):
    """Iterate to receive ``ChatCompletionChunk`` objects; ``completion`` has the sum.

    Use as a context manager (or exhaust it) so the connection goes back to the pool.
    """

    __slots__ = ("_gen",)

    def __init__(self, client: HolySheepClient, call: _Call) -> None:
        self._core = core = _SyncStream(client, call)
        # telemetry wraps the reading state, never this view (no cycle: a `break` still frees
        # the connection at once); when off, the chunks themselves
        self._gen = telemetry.stream(core, core._chunks())

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


class AsyncChatStream(_StreamView):
    """Iterate with ``async for`` to receive chunks; ``completion`` has the sum."""

    __slots__ = ("_gen",)

    def __init__(self, client: HolySheepClient, call: _Call) -> None:
        self._core = core = _AsyncStream(client, call)
        self._gen = telemetry.astream(core, core._chunks())  # the chunks themselves when off

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
