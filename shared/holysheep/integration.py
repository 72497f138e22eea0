"""What a framework adapter needs from the core beyond the client: one public place for it.

LangChain's and LlamaIndex's adapters (and anyone writing another) validate settings, mask
credential headers and follow streamed tool calls the same way as the core does; importing them
from here keeps the adapters off the core's private modules, so the core can move its insides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._base import DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TOTAL_TIMEOUT, check_settings
from ._secrets import header_values, masked_headers
from ._secrets import is_sensitive_header as is_credential_header
from ._tool_deltas import ToolCallIndexer

if TYPE_CHECKING:
    from ._accumulate import ToolCallProgress

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_TOTAL_TIMEOUT",
    "ToolCallIndexer",
    "ToolCallProgress",
    "check_settings",
    "header_values",
    "is_credential_header",
    "masked_headers",
]


def __getattr__(name: str) -> object:
    """``ToolCallProgress`` on first use: only type hints and streams' consumers need it."""
    if name == "ToolCallProgress":
        from ._accumulate import ToolCallProgress

        return ToolCallProgress
    raise AttributeError(f"module 'holysheep.integration' has no attribute {name!r}")
