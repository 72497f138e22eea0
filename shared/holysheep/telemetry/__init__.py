"""OpenTelemetry GenAI telemetry for every relay call: ``instrument()`` and ``uninstrument()``.

One span per call (``chat {model}``, kind CLIENT) with the GenAI semantic-convention attributes
plus ``holysheep.*`` cost, route and attempt attributes; retries and fallbacks are span events.
Metrics: ``gen_ai.client.token.usage``, ``gen_ai.client.operation.duration``,
``gen_ai.client.operation.time_to_first_chunk`` and the ``holysheep.cost`` counter (USD).
Everything goes through the global tracer and meter providers unless others are given.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from .. import _telemetry
from ..errors import ConfigurationError

__all__ = ["CAPTURE_CONTENT_ENV", "instrument", "is_instrumented", "uninstrument"]

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""The conventions' opt-in for message content on spans (``true``); off by default."""
_CAPTURE_ON = ("true", "span_only", "span_and_event")


def instrument(*, tracer_provider: Any = None, meter_provider: Any = None) -> None:
    """Emit a GenAI span and metrics for every relay call made from now on, by any client.

    Args:
        tracer_provider: the provider to trace with; the global one when omitted.
        meter_provider: the provider to measure with; the global one when omitted.

    Raises:
        ConfigurationError: OpenTelemetry is not installed (``pip install "holysheep[otel]"``).

    Message content is recorded only when ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``
    is ``true`` at this call; the API key never is. Calling it again re-reads that setting.
    """
    try:
        from ._recorder import OtelRecorder
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("opentelemetry"):
            raise
        raise ConfigurationError(
            "holysheep telemetry needs the OpenTelemetry API, which is not installed: "
            'pip install "holysheep[otel]" (and an SDK and exporter for your backend)'
        ) from None
    capture = os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower() in _CAPTURE_ON
    _telemetry.activate(OtelRecorder(tracer_provider, meter_provider, capture_content=capture))


def uninstrument() -> None:
    """Stop emitting spans and metrics; calls cost nothing extra again (safe to call twice)."""
    _telemetry.activate(None)


def is_instrumented() -> bool:
    """True while ``instrument()`` is in effect."""
    return _telemetry._recorder is not None


def instrument_from_env() -> None:
    """``HOLYSHEEP_OTEL=1`` at import: instrument, or warn (never fail the import) if we can't."""
    try:
        instrument()
    except ConfigurationError as exc:
        warnings.warn(f"{_telemetry.OTEL_ENV} is set, but {exc}", RuntimeWarning, stacklevel=2)
