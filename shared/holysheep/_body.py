"""Reading response bytes under limits: a size cap, a total deadline and an idle limit.

Sans-I/O and shared by both twins. A 1 MB gzip bomb inflates to gigabytes in one ``decompress``
call, so gzip and deflate are inflated here in bounded steps and memory stays near the cap
(``max_response_bytes``). A relay trickling bytes or sending ``: ping`` forever resets httpx's
read timeout on every byte; ``EventReader`` checks a deadline per piece and an idle limit that
only events (not comments, not partial bytes) reset.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

from ._sse import Event, EventTooLarge, SSEDecoder
from .errors import APIError, APITimeoutError

__all__ = [
    "BodyCollector",
    "BodyLimitError",
    "EventReader",
    "Inflater",
    "ReadLimits",
    "bounded_timeout",
    "inflater_for",
    "limit_error",
]

STEP = 64 * 1024
"""Most bytes one inflate step may produce."""
DRAIN_BYTES = 64 * 1024
"""Most bytes read after a complete answer to reach the body's end (so the connection is reused)."""
DRAIN_SECONDS = 1.0
"""Most seconds spent so (checked per piece; silence is bounded by the read timeout)."""
_monotonic = time.monotonic
_PAST_DEADLINE = (
    "the call ran past its total deadline; raise total_timeout= (seconds, retries included) "
    "if answers this long are expected"
)


class BodyLimitError(Exception):
    """A read limit was crossed; ``kind`` is ``size``, ``deadline``, ``idle`` or ``corrupt``.

    Internal: the client turns it into a ``HolySheepError`` with what arrived so far.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """The limits of one call: byte cap, absolute deadline (monotonic clock), idle seconds."""

    max_bytes: int
    deadline_at: float | None = None
    idle: float | None = None

    def past_deadline(self) -> bool:
        """True once the call's total deadline has passed."""
        return self.deadline_at is not None and _monotonic() > self.deadline_at

    def check_deadline(self) -> None:
        """Raise once the call's total deadline has passed."""
        if self.past_deadline():
            raise BodyLimitError("deadline", _PAST_DEADLINE)

    def too_large(self, size: int) -> BodyLimitError:
        return BodyLimitError(
            "size",
            f"the relay's answer exceeded {self.max_bytes} bytes ({size} read, once "
            "decompressed); raise max_response_bytes= if such answers are expected",
        )


class Inflater:
    """gzip or deflate, inflated at most ``STEP`` bytes at a time."""

    __slots__ = ("_seen", "_z")

    def __init__(self, encoding: str) -> None:
        wbits = 16 + zlib.MAX_WBITS if encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self._z = zlib.decompressobj(wbits)
        # deflate is zlib-wrapped by the RFC but some servers send it raw: until the first
        # output, keep the input to start over without the wrapper
        self._seen: bytes | None = b"" if encoding == "deflate" else None

    def pieces(self, raw: bytes) -> Iterator[bytes]:
        """The inflated bytes of ``raw``, in steps of at most ``STEP`` bytes."""
        z = self._z
        try:
            out = z.decompress(raw, STEP)
            while True:
                if out:
                    self._seen = None
                    yield out
                if not z.unconsumed_tail:
                    break
                out = z.decompress(z.unconsumed_tail, STEP)
        except zlib.error as exc:
            if self._seen is None:
                raise BodyLimitError(
                    "corrupt",
                    f"the answer could not be decoded: a corrupt compressed body ({exc}); a "
                    "proxy may be corrupting compressed bodies: check HOLYSHEEP_BASE_URL and any "
                    "proxy in between",
                ) from None
            raw, self._seen = self._seen + raw, None
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)
            yield from self.pieces(raw)
            return
        if self._seen is not None:
            self._seen = self._seen + raw if len(self._seen) < STEP else None


def inflater_for(content_encoding: str) -> Inflater | None:
    """The bounded inflater for a ``Content-Encoding``; ``None`` for identity.

    Raises ``BodyLimitError`` for encodings we never ask for (``Accept-Encoding`` names gzip
    and deflate only), since their decoders cannot bound what one piece inflates to.
    """
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip", "deflate"):
        return Inflater(encoding)
    raise BodyLimitError(
        "corrupt",
        f"the relay answered with Content-Encoding {content_encoding!r}, which holysheep does "
        "not accept; use an http_client that asks for gzip or deflate only",
    )


class BodyCollector:
    """A whole (non-stream) body, joined once, refused past ``limits.max_bytes``."""

    __slots__ = ("_inflater", "_limits", "_parts", "_size")

    def __init__(self, content_encoding: str, limits: ReadLimits) -> None:
        self._inflater = inflater_for(content_encoding)
        self._limits = limits
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, raw: bytes) -> None:
        """Add one raw piece; raises ``BodyLimitError`` past the cap or the deadline."""
        self._limits.check_deadline()
        for piece in (raw,) if self._inflater is None else self._inflater.pieces(raw):
            self._size += len(piece)
            if self._size > self._limits.max_bytes:
                raise self._limits.too_large(self._size)
            self._parts.append(piece)

    def body(self) -> bytes:
        """Everything fed so far, decoded."""
        parts = self._parts
        return parts[0] if len(parts) == 1 else b"".join(parts)


class EventReader:
    """Raw stream pieces in, SSE events out: inflated, capped and watched by two clocks.

    The deadline is checked on every piece. The idle clock starts at the first piece that
    completes no event and stops at the next one that does, so ``: ping`` comments and byte
    trickles do not keep a stream alive; silence itself is bounded by the read timeout, which
    the client lowers to the idle limit.
    """

    __slots__ = ("_deadline_at", "_idle", "_inflater", "_quiet_since", "_sse", "limits")

    def __init__(self, content_encoding: str, limits: ReadLimits) -> None:
        self.limits = limits
        self._inflater = inflater_for(content_encoding)
        self._sse = SSEDecoder(limits.max_bytes)
        self._deadline_at = limits.deadline_at if limits.deadline_at is not None else float("inf")
        self._idle = limits.idle if limits.idle is not None else float("inf")
        self._quiet_since: float | None = None

    def feed(self, raw: bytes) -> list[Event]:
        """The events completed by ``raw``; raises ``BodyLimitError`` when a limit is crossed."""
        now = _monotonic()
        if now > self._deadline_at:
            raise BodyLimitError("deadline", _PAST_DEADLINE)
        try:
            if self._inflater is None:
                events = self._sse.feed(raw)
            else:
                events = [e for piece in self._inflater.pieces(raw) for e in self._sse.feed(piece)]
        except EventTooLarge as exc:
            raise self.limits.too_large(exc.size) from None
        if events:
            self._quiet_since = None
        elif self._quiet_since is None:
            self._quiet_since = now
        elif now - self._quiet_since > self._idle:
            raise BodyLimitError(
                "idle",
                f"no stream event for {now - self._quiet_since:.1f} s, only comments or partial "
                "bytes; raise stream_idle_timeout= for models that pause longer between events",
            )
        return events

    def end(self) -> list[Event]:
        """The last event, if the body ended after a complete one without a blank line."""
        return self._sse.end()


def limit_error(
    exc: BodyLimitError,
    cls: type[APIError] = APIError,
    *,
    status_code: int | None = None,
    request_id: str | None = None,
) -> APIError:
    """The user-facing error for a crossed limit: ``APITimeoutError`` for the two clocks (an idle
    relay may be retried, a spent deadline not), else ``cls`` (a 200 body too large or corrupt).
    """
    if exc.kind in ("deadline", "idle"):
        error: APIError = APITimeoutError(str(exc), request_id=request_id)
        error.is_retryable = exc.kind == "idle"
        return error
    return cls(str(exc), status_code=status_code, request_id=request_id)


def bounded_timeout(timeout: httpx.Timeout, limits: ReadLimits) -> httpx.Timeout:
    """``timeout`` with no phase past the time left, and no read wait past the idle limit.

    httpx's read timeout bounds silence; the two clocks in ``EventReader`` bound the rest.
    Raises ``BodyLimitError`` when the deadline has already passed (nothing is sent).
    """
    read, idle, left = timeout.read, limits.idle, None
    if limits.deadline_at is not None:
        left = limits.deadline_at - _monotonic()
        if left <= 0:
            raise BodyLimitError("deadline", _PAST_DEADLINE)
    bound_read = _least(idle, left)
    phases = (timeout.connect, timeout.write, timeout.pool)
    if _within(read, bound_read) and (left is None or all(_within(t, left) for t in phases)):
        return timeout  # the usual case: nothing to shorten, no new object
    return httpx.Timeout(
        connect=_least(timeout.connect, left),
        read=_least(read, bound_read),
        write=_least(timeout.write, left),
        pool=_least(timeout.pool, left),
    )


def _least(a: float | None, b: float | None) -> float | None:
    """The smaller bound, where ``None`` means no bound."""
    if a is None:
        return b
    return a if b is None else min(a, b)


def _within(value: float | None, bound: float | None) -> bool:
    return bound is None or (value is not None and value <= bound)
