"""What a framework adapter needs from the core beyond the client: one public place for it.

LangChain's and LlamaIndex's adapters (and anyone writing another) validate settings, mask
credential headers and follow streamed tool calls the same way as the core does; importing them
from here keeps the adapters off the core's private modules, so the core can move its insides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._base import DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TOTAL_TIMEOUT, check_settings
from ._secrets import header_values, masked_headers
from ._secrets import is_sensitive_header as is_credential_header
from ._tool_deltas import ToolCallIndexer

if TYPE_CHECKING:
    from ._accumulate import ToolCallProgress
    from ._client import HolySheepClient

__all__ = [
    "CLIENT_LIMITS",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_TOTAL_TIMEOUT",
    "ToolCallIndexer",
    "ToolCallProgress",
    "check_client_settings",
    "check_settings",
    "client_from_settings",
    "header_values",
    "is_credential_header",
    "masked_headers",
]

CLIENT_LIMITS = (
    "on_ledger_error",
    "on_unpriced",
    "max_response_bytes",
    "total_timeout",
    "stream_idle_timeout",
)
"""Client settings an adapter passes through under the core's own names and defaults."""


def check_client_settings(settings: Any) -> None:
    """Refuse an adapter's limits and policies now (a ``HolySheepError``), not at its first call."""
    check_settings(**{name: getattr(settings, name) for name in CLIENT_LIMITS})


def client_from_settings(settings: Any, **extra: Any) -> HolySheepClient:
    """The core client an adapter's fields describe (the fields both adapters share, by the
    client's names; credential headers unmasked only here), plus ``extra`` options."""
    from ._client import HolySheepClient

    return HolySheepClient(
        api_key=settings.api_key,
        base_url=settings.base_url,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        default_headers=header_values(settings.default_headers),
        http_client=settings.http_client,
        http_async_client=settings.http_async_client,
        router=settings.router,
        ledger=settings.ledger,
        **{name: getattr(settings, name) for name in CLIENT_LIMITS},
        **extra,
    )


def __getattr__(name: str) -> object:
    """``ToolCallProgress`` on first use: only type hints and streams' consumers need it."""
    if name == "ToolCallProgress":
        from ._accumulate import ToolCallProgress

        return ToolCallProgress
    raise AttributeError(f"module 'holysheep.integration' has no attribute {name!r}")
