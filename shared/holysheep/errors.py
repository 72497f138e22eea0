"""Every error holysheep raises, and the one place that maps relay answers onto them.

The tree::

    HolySheepError
    ├── APIError                     the relay or network said no (status_code, request_id, code)
    │   ├── AuthenticationError      401/403: key missing, wrong or not allowed
    │   ├── InsufficientCreditError  402, or a quota-exhausted body
    │   ├── RateLimitError           429 (retry_after seconds)           retryable
    │   ├── BadRequestError          other 400/422
    │   │   └── ContextLengthError   the prompt does not fit the model's window
    │   ├── ModelNotFoundError       404 or an unknown model id (suggests close names)
    │   ├── ConflictError            409                                 retryable
    │   ├── UpstreamError            5xx                                 retryable
    │   ├── APITimeoutError          connect/read timeout, 408           retryable
    │   ├── APIConnectionError       connection refused, reset, DNS      retryable
    │   └── StreamError              error inside a 200 stream, or a stream cut short
    ├── LedgerError                  the cost ledger cannot be reached or read (names its URL)
    └── LocalError                   raised before anything is sent
        ├── ConfigurationError       e.g. no API key
        ├── BudgetExceededError      the call would cross a budget
        └── NoModelAvailableError    every candidate failed or is cooling down

``is_retryable`` is a class attribute that ``RetryPolicy`` reads. No message, body or field ever
contains the key: every error scrubs the secrets the process knows (and ``Bearer <token>``) as it
is built.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ._secrets import scrub, scrub_value

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "ConfigurationError",
    "ConflictError",
    "ContextLengthError",
    "HolySheepError",
    "InsufficientCreditError",
    "LedgerError",
    "LocalError",
    "ModelNotFoundError",
    "NoModelAvailableError",
    "RateLimitError",
    "StreamError",
    "UpstreamError",
    "error_from_response",
    "suggest_models",
]


class HolySheepError(Exception):
    """Base of every holysheep error; ``str()`` is a message that says what to do."""

    is_retryable: bool = False
    status_code: int | None = None
    request_id: str | None = None
    code: str | int | None = None
    retry_after: float | None = None

    def __init__(self, message: str, **fields: Any) -> None:
        message = scrub(str(message))
        fields = {name: scrub_value(value) for name, value in fields.items()}
        super().__init__(message)
        self.message = message
        for name, value in fields.items():
            setattr(self, name, value)
        self._fields = fields

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self._fields))


def _rebuild(cls: type[HolySheepError], message: str, fields: dict[str, Any]) -> HolySheepError:
    return cls(message, **fields)


class APIError(HolySheepError):
    """The relay answered with an error, or could not be reached."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        request_id: str | None = None,
        code: str | int | None = None,
        retry_after: float | None = None,
        body: Any = None,
        **extra: Any,
    ) -> None:
        super().__init__(
            message,
            status_code=status_code,
            request_id=request_id,
            code=code,
            retry_after=retry_after,
            body=body,
            **extra,
        )


class AuthenticationError(APIError):
    """401/403: the key is missing, wrong, or not allowed to use this model."""


class InsufficientCreditError(APIError):
    """402 or a quota-exhausted body: top up the relay balance."""


class RateLimitError(APIError):
    """429: too many requests; ``retry_after`` says how long to wait, when the relay said."""

    is_retryable = True


class BadRequestError(APIError):
    """400/422: the request itself is wrong; retrying will not help."""


class ContextLengthError(BadRequestError):
    """The prompt plus ``max_tokens`` exceed the model's context window."""


class ModelNotFoundError(APIError):
    """404, or a model id the relay does not know; ``suggestions`` lists close ids."""

    suggestions: tuple[str, ...] = ()


class ConflictError(APIError):
    """409: a transient conflict on the relay's side."""

    is_retryable = True


class UpstreamError(APIError):
    """5xx: the relay or the provider behind it failed."""

    is_retryable = True


class APITimeoutError(APIError):
    """The relay did not answer (or stopped streaming) within the timeout."""

    is_retryable = True


class APIConnectionError(APIError):
    """The relay could not be reached: refused, reset or unresolvable."""

    is_retryable = True


class StreamError(APIError):
    """A 200 stream carried an error or ended early; ``text`` and ``usage`` hold what arrived."""

    text: str = ""
    usage: Any = None
    partial: Any = None


class LedgerError(HolySheepError):
    """The cost ledger cannot be reached or read; ``url`` names it (password redacted).

    Raised before a call is sent (the reservation could not be taken), unless the client was
    built with ``on_ledger_error="allow"``. After the relay billed a call, a ledger failure never
    raises: the record is spooled locally and replayed once the ledger answers again.
    """

    url: str | None = None


class LocalError(HolySheepError):
    """Raised before anything is sent: the call could not be made as asked."""


class ConfigurationError(LocalError):
    """Missing or invalid configuration, such as no API key."""


class BudgetExceededError(LocalError):
    """The call would cross a budget; raised before any request is sent."""


class NoModelAvailableError(LocalError):
    """Every candidate model failed or is cooling down."""


# ---------------------------------------------------------------- mapping


# Message fragments that identify a case when the status alone cannot. Each is backed by a fixture:
#   context_length_exceeded -> tests/fixtures/upstream/openai-error-400-context-length.response.json
#   insufficient credits    -> tests/fixtures/upstream/openrouter-error-402-insufficient-credits...
_CONTEXT_CODES = frozenset({"context_length_exceeded", "string_above_max_length"})
_CONTEXT_TEXT = re.compile(
    r"maximum context length|context length|context window|prompt is too long|too many tokens",
    re.IGNORECASE,
)
_QUOTA_CODES = frozenset(
    {"insufficient_quota", "insufficient_credits", "billing_hard_limit_reached"}
)
_QUOTA_TEXT = re.compile(r"more credits|insufficient (?:balance|credit|quota)|quota", re.IGNORECASE)
_MODEL_CODES = frozenset({"model_not_found"})
# A 404 is about the model only when the body says so (openai-error-404-model-not-found);
# a plain-text or generic 404 means the URL is wrong (tests/core/test_careless_input.py).
_MODEL_TEXT = re.compile(r"\bmodel\b", re.IGNORECASE)
_BASE_URL_HINT = (
    "check HOLYSHEEP_BASE_URL (or base_url=): it should be the relay's API root, "
    "such as https://api.holysheep.ai/v1"
)


def suggest_models(name: str, known: Iterable[str], limit: int = 3) -> list[str]:
    """Close matches for a mistyped model id (``gpt4.1`` -> ``gpt-4.1``)."""
    known = list(known)
    squashed = {re.sub(r"[^a-z0-9]", "", k.lower()): k for k in known}
    target = re.sub(r"[^a-z0-9]", "", name.lower())
    exact = [squashed[target]] if target in squashed else []
    close = difflib.get_close_matches(name, known, n=limit, cutoff=0.6)
    return list(dict.fromkeys(exact + close))[:limit]


def model_not_found(name: str, known: Iterable[str], **fields: Any) -> ModelNotFoundError:
    """A ``ModelNotFoundError`` whose message suggests close ids."""
    suggestions = suggest_models(name, known)
    hint = f"; did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else ""
    message = f"unknown model {name!r}{hint} (`holysheep models` lists what the relay serves)"
    return ModelNotFoundError(message, suggestions=tuple(suggestions), **fields)


def _error_fields(body: Any) -> tuple[str, str | int | None, str | None]:
    """Message, code and type from any of the error body shapes seen in the fixtures."""
    if isinstance(body, Mapping):
        err = body.get("error", body)
        if isinstance(err, str):
            return err, None, None
        if isinstance(err, Mapping):
            message = str(err.get("message") or body.get("message") or "")
            return message, err.get("code"), err.get("type")
    if isinstance(body, str):
        return body.strip()[:500], None, None
    return "", None, None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` or ``retry-after-ms`` header value; ``None`` if unusable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        import time

        return max(0.0, when.timestamp() - time.time())


def error_from_response(
    status: int,
    body: Any,
    headers: Mapping[str, str] | None = None,
    *,
    model: str | None = None,
    known_models: Iterable[str] = (),
    url: str | None = None,
) -> APIError:
    """Map a non-2xx answer (status, parsed body, headers) to the most specific error.

    ``url`` (the address asked) lets a 404 or a redirect name where the request went.
    """
    headers = headers or {}
    message, code, err_type = _error_fields(body)
    request_id = headers.get("x-request-id") or headers.get("request-id")
    retry_after = parse_retry_after(headers.get("retry-after"))
    if retry_after is None and headers.get("retry-after-ms"):
        ms = parse_retry_after(headers.get("retry-after-ms"))
        retry_after = ms / 1000 if ms is not None else None
    fields: dict[str, Any] = {
        "status_code": status,
        "request_id": request_id,
        "code": code,
        "body": body if isinstance(body, (dict, list, str)) else None,
    }
    said = f": {message}" if message else ""
    code_s = str(code) if code is not None else ""
    if status in (401, 403):
        return AuthenticationError(
            f"the relay refused the API key ({status}){said}. Check HOLYSHEEP_API_KEY "
            "(or pass api_key=...).",
            **fields,
        )
    if status == 402 or code_s in _QUOTA_CODES or (status == 429 and _QUOTA_TEXT.search(message)):
        return InsufficientCreditError(
            f"the relay balance is exhausted ({status}){said}. Top up the account or "
            "lower max_tokens.",
            **fields,
        )
    if status == 429:
        wait = f"retry after {retry_after:g} s" if retry_after is not None else "retry later"
        return RateLimitError(
            f"rate limited (429); {wait}{said}", retry_after=retry_after, **fields
        )
    if 300 <= status < 400:
        return _redirected(status, headers, url, fields)
    if status == 404 or code_s in _MODEL_CODES:
        about_model = code_s in _MODEL_CODES or (
            code is None and isinstance(body, Mapping) and bool(_MODEL_TEXT.search(message))
        )
        if model is not None and about_model:
            return model_not_found(model, known_models, **fields)
        if about_model:
            return ModelNotFoundError(f"not found (404){said}", **fields)
        where = f"the endpoint {url}" if url else "the endpoint"
        return ModelNotFoundError(
            f"{where} was not found (404{said[:120]}); {_BASE_URL_HINT}", **fields
        )
    if status in (400, 413, 422):
        if code_s in _CONTEXT_CODES or _CONTEXT_TEXT.search(message):
            return ContextLengthError(
                f"the prompt does not fit the model's context window{said}. Shorten the "
                "messages, lower max_tokens, or pick a model with a larger window.",
                **fields,
            )
        kind = f" [{err_type}]" if err_type else ""
        return BadRequestError(f"the relay rejected the request ({status}){kind}{said}", **fields)
    if status == 408:
        return APITimeoutError(f"the relay timed out (408){said}", **fields)
    if status == 409:
        return ConflictError(f"conflict (409){said}; safe to retry", **fields)
    if status >= 500:
        return UpstreamError(
            f"the relay or its provider failed ({status}){said}; retried automatically "
            "when a RetryPolicy allows",
            retry_after=retry_after,
            **fields,
        )
    return APIError(f"unexpected answer {status}{said}", **fields)


def _redirected(
    status: int, headers: Mapping[str, str], url: str | None, fields: dict[str, Any]
) -> APIError:
    """A 3xx: never followed (it would resend the key to another host); say where it pointed."""
    location = headers.get("location")
    if location and url:
        from urllib.parse import urljoin

        location = urljoin(url, location)
    where = f"to {location}" if location else "without saying where"
    return APIError(
        f"the relay redirected the request ({status}) {where}; holysheep does not follow "
        f"redirects, so the key is never sent elsewhere: set HOLYSHEEP_BASE_URL (or base_url=) "
        "to the final address",
        location=location,
        **fields,
    )


def stream_error(
    error: Any,
    *,
    text: str = "",
    usage: Any = None,
    partial: Any = None,
    request_id: str | None = None,
) -> StreamError:
    """A ``StreamError`` for an error object found inside a 200 stream."""
    message, code, _ = _error_fields({"error": error} if not isinstance(error, Mapping) else error)
    status = error.get("status_code") if isinstance(error, Mapping) else None
    return StreamError(
        f"the stream reported an error after {len(text)} characters: {message or error}",
        status_code=status if isinstance(status, int) else None,
        code=code,
        request_id=request_id,
        text=text,
        usage=usage,
        partial=partial,
    )
