"""OpenAILike's constructor arguments, as ``HolySheep`` takes them: renamed, kept, or warned about.

OpenAILike users pass ``api_base=``, ``default_headers=``, ``context_window=``... An argument the
LLM does not know must not vanish silently (``api_base`` once did: calls went to the public
relay), and credential header values must never show in a dump or a callback payload.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterable
from typing import Any

from holysheep.errors import ConfigurationError
from holysheep.integration import header_values, is_credential_header, masked_headers

__all__ = [
    "constructor_arguments",
    "header_values",
    "is_credential_header",
    "masked_headers",
]

_RENAMED = {
    "api_base": "base_url",
    "model_name": "model",
    "async_http_client": "http_async_client",
}
"""OpenAILike's names for settings ``HolySheep`` names like the core."""

_warned: set[str] = set()
_warned_lock = threading.Lock()


def constructor_arguments(values: dict[str, Any], known: Iterable[str]) -> dict[str, Any]:
    """The arguments with OpenAILike's names renamed; unknown ones dropped with one warning.

    Each unknown name warns once per process (a loop that builds LLMs does not flood the log).

    Raises:
        ConfigurationError: the same setting given under two names.
    """
    values = dict(values)
    for old, new in _RENAMED.items():
        if old in values:
            if new in values:
                raise ConfigurationError(f"pass either {new}= or {old}=, not both")
            values[new] = values.pop(old)
    known = set(known)
    unknown = sorted(name for name in values if name not in known)
    if unknown:
        for name in unknown:
            del values[name]
        with _warned_lock:
            fresh = [name for name in unknown if name not in _warned]
            _warned.update(fresh)
        if fresh:
            warnings.warn(
                f"HolySheep ignores {', '.join(fresh)}: not a setting it knows. Request body "
                "fields go in additional_kwargs={...}; see HolySheep's fields for the rest.",
                UserWarning,
                stacklevel=4,
            )
    return values
