"""Settings read from arguments first, then ``HOLYSHEEP_*`` environment variables, then defaults."""

from __future__ import annotations

import os

from pydantic import SecretStr

from .errors import AuthenticationError, ConfigurationError

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "MissingAPIKeyError",
    "resolve_api_key",
    "resolve_base_url",
]

DEFAULT_BASE_URL = "https://api.holysheep.ai/v1"
API_KEY_ENV = "HOLYSHEEP_API_KEY"
BASE_URL_ENV = "HOLYSHEEP_BASE_URL"


class MissingAPIKeyError(ConfigurationError, AuthenticationError):
    """No API key was given and ``HOLYSHEEP_API_KEY`` is not set; raised before sending."""


def resolve_api_key(api_key: str | SecretStr | None) -> SecretStr:
    """The key as a ``SecretStr``: the argument, else ``HOLYSHEEP_API_KEY``, else a clear error."""
    if isinstance(api_key, SecretStr):
        if api_key.get_secret_value():
            return api_key
    elif api_key:
        return SecretStr(api_key)
    env = os.environ.get(API_KEY_ENV, "").strip()
    if env:
        return SecretStr(env)
    raise MissingAPIKeyError(
        f"no HolySheep API key: set the {API_KEY_ENV} environment variable or pass api_key=... "
        "(for offline work, start holysheep.testing.RelayEmulator and use its base_url)"
    )


def resolve_base_url(base_url: str | None) -> str:
    """The relay URL without a trailing slash: the argument, else ``HOLYSHEEP_BASE_URL``."""
    url = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"base_url must start with http:// or https:// (got {url!r}); "
            f"check {BASE_URL_ENV} or the base_url argument"
        )
    return url
