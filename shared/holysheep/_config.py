"""Settings read from arguments first, then ``HOLYSHEEP_*`` environment variables, then defaults.

Each setting is checked here, once, so a careless value becomes a ``ConfigurationError`` that
names the setting (never the key), not a transport error later.
"""

from __future__ import annotations

import math
import os
import re
from typing import Any

import httpx
from pydantic import SecretStr

from ._secrets import remember
from .errors import AuthenticationError, ConfigurationError

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "MissingAPIKeyError",
    "check_timeout",
    "resolve_api_key",
    "resolve_base_url",
]

DEFAULT_BASE_URL = "https://api.holysheep.ai/v1"
API_KEY_ENV = "HOLYSHEEP_API_KEY"
BASE_URL_ENV = "HOLYSHEEP_BASE_URL"
_KEY_CHARS = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces: what a bearer token holds


class MissingAPIKeyError(ConfigurationError, AuthenticationError):
    """No API key was given and ``HOLYSHEEP_API_KEY`` is not set; raised before sending."""


def resolve_api_key(api_key: str | SecretStr | None) -> SecretStr:
    """The key as a ``SecretStr``: the argument, else ``HOLYSHEEP_API_KEY``, else a clear error.

    Surrounding whitespace (a pasted newline) is stripped; a key that still holds spaces, control
    or non-ASCII characters cannot travel in a header and is refused without being printed. The
    plain key never sits in a local of a frame that raises (traceback renderers show locals).
    """
    secret, source = _stripped(api_key), "the api_key argument"
    if secret is None:
        secret, source = _stripped(os.environ.get(API_KEY_ENV)), API_KEY_ENV
    if secret is None:
        raise MissingAPIKeyError(
            f"no HolySheep API key: set the {API_KEY_ENV} environment variable or pass "
            "api_key=... (for offline work, start holysheep.testing.RelayEmulator and use its "
            "base_url)"
        )
    remember(secret)
    if not _KEY_CHARS.fullmatch(secret.get_secret_value()):
        raise ConfigurationError(
            f"the API key from {source} contains spaces, control or non-ASCII characters, which "
            "an HTTP header cannot carry; copy the key again from the HolySheep dashboard"
        )
    return secret


def _stripped(value: str | SecretStr | None) -> SecretStr | None:
    """``value`` without surrounding whitespace, as a ``SecretStr``; ``None`` when empty."""
    plain = (value.get_secret_value() if isinstance(value, SecretStr) else value or "").strip()
    return SecretStr(plain) if plain else None


def resolve_base_url(base_url: str | None) -> str:
    """The relay URL without a trailing slash: the argument, else ``HOLYSHEEP_BASE_URL``."""
    given = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    if not isinstance(given, str):
        raise ConfigurationError(
            f"base_url must be a string such as {DEFAULT_BASE_URL!r} "
            f"(got {type(given).__name__})"
        )
    url = given.strip().rstrip("/")
    scheme, sep, rest = url.partition("://")
    hint = f"check {BASE_URL_ENV} or the base_url argument (the default is {DEFAULT_BASE_URL})"
    if not sep or scheme.lower() not in ("http", "https"):
        raise ConfigurationError(
            f"base_url must start with http:// or https:// (got {url!r}); {hint}"
        )
    url = f"{scheme.lower()}://{rest}"
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise ConfigurationError(f"base_url {url!r} is not a valid URL ({exc}); {hint}") from None
    if not parsed.host:
        raise ConfigurationError(f"base_url {url!r} names no host; {hint}")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise ConfigurationError(f"base_url {url!r} has port {parsed.port}, not 1-65535; {hint}")
    return url


def check_timeout(value: Any, name: str = "timeout") -> float | httpx.Timeout | None:
    """A timeout as httpx takes it: ``None``, seconds > 0, or an ``httpx.Timeout``."""
    if value is None or isinstance(value, httpx.Timeout):
        return value
    if (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    ):
        return float(value)
    raise ConfigurationError(
        f"{name} must be a number of seconds greater than 0, or None for the model's default "
        f"(got {value!r}); for example {name}=30"
    )
