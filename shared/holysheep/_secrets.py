"""Keeping credentials out of sight: headers that hold them as ``SecretStr``, and text scrubbing.

The key stays a ``SecretStr`` until httpx reads the headers at send time, so reprs, ``vars()``
and traceback locals show ``**********``; every error text and body is scrubbed of known secrets.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from pydantic import SecretStr

__all__ = [
    "Bearer",
    "SecretHeaders",
    "forget_tracebacks",
    "header_values",
    "is_sensitive_header",
    "masked_headers",
    "remember",
    "scrub",
    "scrub_known",
    "scrub_value",
]

_MASK = "**********"
_SENSITIVE_NAME = re.compile(
    r"auth|key|token|secret|cookie|passw|credential|session|signature", re.IGNORECASE
)
# "Bearer <token>": a token of 8+ characters with a digit or punctuation, so that prose such as
# "Bearer authentication required" is left alone.
_BEARER = re.compile(
    r"\b(Bearer)\s+(?=[^\s\"',;}\]]*[\d_\-.~+/=])[^\s\"',;}\]]{8,}", re.IGNORECASE
)
_MIN_SCRUB_LEN = 8
"""Shorter secrets are not replaced inside arbitrary text (``"k"`` would mangle every word)."""
_MAX_REMEMBERED = 64

_lock = threading.Lock()
_known: tuple[SecretStr, ...] = ()


def is_sensitive_header(name: str) -> bool:
    """True for header names that carry credentials (authorization, x-api-key, cookie, ...)."""
    return bool(_SENSITIVE_NAME.search(name))


def masked_headers(headers: Mapping[str, str | SecretStr] | None) -> dict[str, Any] | None:
    """The headers with credential values held as ``SecretStr`` (masked in reprs and dumps).

    The adapters keep user-given headers this way in their pydantic fields, so ``model_dump()``,
    ``repr()`` and callback payloads never show an ``X-Api-Key`` value.
    """
    if headers is None:
        return None
    return {
        name: SecretStr(value) if isinstance(value, str) and is_sensitive_header(name) else value
        for name, value in headers.items()
    }


def header_values(headers: Mapping[str, str | SecretStr] | None) -> dict[str, str] | None:
    """Plain header values for the core client that sends them (``masked_headers`` undone)."""
    if headers is None:
        return None
    return {
        name: value.get_secret_value() if isinstance(value, SecretStr) else value
        for name, value in headers.items()
    }


def remember(secret: SecretStr | str) -> None:
    """Register a secret so every later error text and body is scrubbed of it."""
    value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if len(value) < _MIN_SCRUB_LEN:
        return
    global _known
    with _lock:
        if any(s.get_secret_value() == value for s in _known):
            return
        _known = (*_known, SecretStr(value))[-_MAX_REMEMBERED:]


def scrub(text: str) -> str:
    """``text`` with every known secret and any ``Bearer <token>`` replaced by a mask."""
    return _BEARER.sub(lambda m: f"{m.group(1)} {_MASK}", scrub_known(text))


def scrub_known(text: str) -> str:
    """``text`` with every known secret masked (no ``Bearer`` pattern): cheap enough for every
    id and model name a relay sends, which a hostile one may set to the key it was sent."""
    for secret in _known:
        value = secret.get_secret_value()
        if value in text:
            text = text.replace(value, _MASK)
    return text


def scrub_value(value: Any) -> Any:
    """``scrub`` through strings, bytes, dicts, lists and tuples; other values as they are."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, bytes):
        text = value.decode("utf-8", "replace")
        cleaned = scrub(text)
        return value if cleaned == text else cleaned.encode()
    if isinstance(value, Mapping):
        return {k: scrub_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_value(v) for v in value]
    if isinstance(value, tuple):
        return tuple(scrub_value(v) for v in value)
    return value


def forget_tracebacks(exc: BaseException | None) -> None:
    """Drop the frames of a dependency's exception chain (their locals may hold the headers).

    The chain keeps every exception's type and message, which is what a user needs; the frames
    inside httpx, httpcore, h11 or aiohttp would show the request headers to a traceback renderer
    that captures locals (Sentry, rich, ``pytest -l``).
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        exc.__traceback__ = None
        exc = exc.__cause__ or exc.__context__


class Bearer(NamedTuple):
    """An ``Authorization: Bearer <key>`` value, rendered only when httpx reads the headers."""

    key: SecretStr

    def __repr__(self) -> str:
        return f"Bearer({_MASK!r})"


HeaderValue = str | SecretStr | Bearer


class SecretHeaders(Mapping[str, str]):
    """Request headers (names lower-cased) whose credentials stay secret until sent.

    Values of sensitive names are kept as ``SecretStr``; reading an item (what httpx does when it
    builds the request) returns the plain text. ``repr`` masks them. Every name and value is
    checked once here, so a stray newline or a non-ASCII character is a ``ConfigurationError``
    naming the header, never a transport error that prints the value.
    """

    __slots__ = ("_items",)

    def __init__(self, headers: Mapping[str, HeaderValue] | None = None) -> None:
        items: dict[str, HeaderValue] = {}
        for name, value in (headers or {}).items():
            key = _check_name(name)
            items[key] = _wrap(key, value)
        self._items = items

    def merged(self, other: Mapping[str, HeaderValue] | None) -> SecretHeaders:
        """These headers with ``other`` on top (for per-call ``extra_headers``)."""
        if not other:
            return self
        merged = SecretHeaders.__new__(SecretHeaders)
        merged._items = {**self._items, **SecretHeaders(other)._items}
        return merged

    def __getitem__(self, name: str) -> str:
        value = self._items[name.lower()]
        if isinstance(value, str):
            return value
        if isinstance(value, Bearer):
            return f"Bearer {value.key.get_secret_value()}"
        return value.get_secret_value()

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        shown = {k: (v if isinstance(v, str) else _MASK) for k, v in self._items.items()}
        return f"SecretHeaders({shown!r})"

    def __reduce__(self) -> Any:
        raise TypeError("SecretHeaders hold credentials and cannot be pickled")


def _check_name(name: Any) -> str:
    from .errors import ConfigurationError

    if not isinstance(name, str) or not name or not _TOKEN.fullmatch(name):
        raise ConfigurationError(
            f"header name {name!r} is not a valid HTTP header name; check default_headers "
            "and extra_headers"
        )
    return name.lower()


def _wrap(name: str, value: Any) -> HeaderValue:
    """Check a header value and keep it secret when its name says it is a credential."""
    from .errors import ConfigurationError

    if isinstance(value, Bearer):
        return value
    plain = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not isinstance(plain, str):
        raise ConfigurationError(
            f"header {name!r} must be a string (got {type(plain).__name__}); "
            "check default_headers and extra_headers"
        )
    plain = plain.strip(" \t")
    if not _VALUE.fullmatch(plain):
        raise ConfigurationError(
            f"header {name!r} has a value with a newline, a control or a non-ASCII character, "
            "which HTTP headers cannot carry; check default_headers and extra_headers"
        )
    if isinstance(value, SecretStr) or is_sensitive_header(name):
        remember(plain)
        return SecretStr(plain)
    return plain


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VALUE = re.compile(r"[\x20-\x7e\t]*")
