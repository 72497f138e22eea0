"""Fast prompt-token estimates, for routing (does it fit?) and budgets (what might it cost?).

A heuristic by default (about 4 characters a token for Latin text, 1 token per CJK character,
plus the chat format's per-message overhead), so estimates cost microseconds and need no data.
When ``tiktoken`` is installed and its encoding is available offline, ``estimate_tokens`` uses it.
Estimates err on the high side: a router that under-counts sends prompts that do not fit.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "MESSAGE_OVERHEAD_TOKENS",
    "estimate_message_tokens",
    "estimate_tokens",
    "estimate_tools_tokens",
    "token_ids",
]

MESSAGE_OVERHEAD_TOKENS = 4
"""Tokens the chat format adds per message (role markers, separators)."""
REPLY_PRIMING_TOKENS = 3
"""Tokens every reply is primed with."""

_WIDE = re.compile(r"[\u1100-\u11ff\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")


_O200K_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"


def _tiktoken_data_cached() -> bool:
    """True when tiktoken's o200k data is already on disk (loading it then needs no network)."""
    import hashlib
    import os
    import tempfile

    cache_dir = (
        os.environ.get("TIKTOKEN_CACHE_DIR")
        or os.environ.get("DATA_GYM_CACHE_DIR")
        or os.path.join(tempfile.gettempdir(), "data-gym-cache")
    )
    key = hashlib.sha1(_O200K_URL.encode()).hexdigest()  # tiktoken's own cache key
    return os.path.exists(os.path.join(cache_dir, key))


@functools.cache
def _encoder() -> Any:
    """A tiktoken encoding when installed with its data cached offline, else ``None``.

    Never triggers a download: a tokenizer that blocks on the network is worse than a heuristic.
    """
    try:
        import tiktoken
    except ImportError:
        return None
    if not _tiktoken_data_cached():
        return None
    try:
        return tiktoken.get_encoding("o200k_base")
    except Exception:
        return None


def token_ids(text: str) -> list[int] | None:
    """tiktoken's ``o200k_base`` ids of ``text``, or None when tiktoken or its data is missing.

    Never downloads: the ids exist only when tiktoken is installed with the encoding cached
    (``TIKTOKEN_CACHE_DIR``); counting works without them (``estimate_tokens``).
    """
    encoder = _encoder()
    if encoder is None:
        return None
    return list(encoder.encode(text, disallowed_special=()))


def estimate_tokens(text: str) -> int:
    """Tokens in ``text``: exact with tiktoken, else a heuristic that rounds up."""
    if not text:
        return 0
    encoder = _encoder()
    if encoder is not None:
        return len(encoder.encode(text, disallowed_special=()))
    if text.isascii():
        return (len(text) + 3) // 4
    wide = len(_WIDE.findall(text))
    return wide + (len(text) - wide + 3) // 4


def _text_of(content: Any) -> str:
    """Text of a message content: a string, or the text parts of a list."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            p.get("text", "") if isinstance(p, Mapping) else str(p) for p in content
        )
    return str(content)


def estimate_message_tokens(messages: Iterable[Mapping[str, Any] | Any]) -> int:
    """Prompt tokens of wire messages (dicts or models), tool calls included."""
    total = REPLY_PRIMING_TOKENS
    plain = _encoder() is None  # the heuristic: ASCII text is counted right here
    for message in messages:
        if type(message) is not dict and not isinstance(message, Mapping):  # dicts: no ABC check
            message = message.model_dump(exclude_none=True)
        content = message.get("content")
        if plain and type(content) is str and content.isascii():
            total += MESSAGE_OVERHEAD_TOKENS + (len(content) + 3) // 4
        else:
            total += MESSAGE_OVERHEAD_TOKENS + estimate_tokens(
                content if type(content) is str else _text_of(content)
            )
        for call in message.get("tool_calls") or ():
            fn = call.get("function") or {}
            total += estimate_tokens(fn.get("name", "")) + estimate_tokens(fn.get("arguments", ""))
    return total


def estimate_tools_tokens(tools: Iterable[Mapping[str, Any]] | None) -> int:
    """Tokens the tool definitions add to the prompt (their JSON, roughly)."""
    if not tools:
        return 0
    return estimate_tokens(json.dumps(list(tools), separators=(",", ":")))
