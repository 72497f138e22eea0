"""The client's telemetry hooks: near-free when off, OpenTelemetry spans and metrics when on.

The client calls these at a few points (call start, retry, fallback, stream, end or error). Each
hook first tests the module-level ``_recorder``: ``None`` until ``holysheep.instrument()``, so an
uninstrumented process never imports ``opentelemetry``. The recorder lives in
``holysheep.telemetry`` and is the only code that speaks OpenTelemetry.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from ._base import _Call
    from .wire import ChatCompletion

__all__ = [
    "OTEL_ENV",
    "Recorder",
    "astream",
    "end",
    "fail",
    "fell_back",
    "from_env",
    "retried",
    "start",
    "stream",
]

OTEL_ENV = "HOLYSHEEP_OTEL"
"""Set to ``1`` (or ``true``/``yes``/``on``) to instrument at ``import holysheep``."""

T = TypeVar("T")
logger = logging.getLogger("holysheep")


class Recorder(Protocol):
    """What the hooks hand work to (``holysheep.telemetry``'s OpenTelemetry recorder)."""

    def start(self, call: _Call) -> Any: ...
    def end(self, record: Any, completion: ChatCompletion) -> None: ...
    def fail(self, record: Any, error: BaseException) -> None: ...
    def event(self, record: Any, name: str, error: BaseException, **fields: Any) -> None: ...
    def stream(self, stream: Any, chunks: Iterator[T]) -> Iterator[T]: ...
    def astream(self, stream: Any, chunks: AsyncIterator[T]) -> AsyncIterator[T]: ...


_recorder: Recorder | None = None
"""The active recorder; ``None`` when telemetry is off (the only thing a hook checks)."""

current: ContextVar[Any] = ContextVar("holysheep_telemetry_call", default=None)
"""The record of the call in progress, for retry and fallback events from deeper code."""


def start(call: _Call) -> Any:
    """A call begins: its span opens (``None`` and nothing else when telemetry is off, or when
    both the tracer and the meter provider are no-ops)."""
    recorder = _recorder
    if recorder is None:
        return None
    try:
        return recorder.start(call)
    except Exception:  # telemetry never costs the caller a call
        broken("start")
        return None


def end(record: Any, completion: ChatCompletion) -> None:
    """A call answered: its span gets the response, usage and cost, and ends."""
    if record is not None and _recorder is not None:
        try:
            _recorder.end(record, completion)
        except Exception:
            broken("end")


def fail(record: Any, error: BaseException) -> None:
    """A call failed for good (after retries and fallbacks): its span ends with ``error``."""
    if record is not None and _recorder is not None:
        try:
            _recorder.fail(record, error)
        except Exception:
            broken("fail")


def broken(step: str) -> None:
    """A telemetry failure: logged with its traceback, never raised into the caller's call."""
    logger.warning("holysheep: telemetry failed at %s; the call goes on", step, exc_info=True)


def retried(attempt: int, delay: float, error: BaseException) -> None:
    """The retry loop will try again after ``delay`` seconds: a span event."""
    if _recorder is not None and (record := current.get()) is not None:
        _recorder.event(record, "holysheep.retry", error, attempt=attempt, delay_s=delay)


def fell_back(model: str, error: BaseException) -> None:
    """The router moves on from ``model`` after ``error``: a span event."""
    if _recorder is not None and (record := current.get()) is not None:
        _recorder.event(record, "holysheep.fallback", error, from_model=model)


def stream(owner: Any, chunks: Iterator[T]) -> Iterator[T]:
    """``chunks`` itself when off; else the same chunks inside one span for the whole stream."""
    recorder = _recorder
    return chunks if recorder is None else recorder.stream(owner, chunks)


def astream(owner: Any, chunks: AsyncIterator[T]) -> AsyncIterator[T]:
    """``chunks`` itself when off; else the same chunks inside one span (async twin)."""
    recorder = _recorder
    return chunks if recorder is None else recorder.astream(owner, chunks)


def activate(recorder: Recorder | None) -> None:
    """Install ``recorder`` for every later call (``None`` turns telemetry off)."""
    global _recorder
    _recorder = recorder


def from_env() -> None:
    """Instrument now if ``HOLYSHEEP_OTEL`` asks for it (read once, at ``import holysheep``)."""
    if os.environ.get(OTEL_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        from .telemetry import instrument_from_env

        instrument_from_env()
