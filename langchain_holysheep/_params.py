"""ChatOpenAI's constructor arguments, as ``ChatHolySheep`` takes them: kept, renamed or refused.

A drop-in for ``ChatOpenAI`` must accept what people already pass, keep credentials out of the
request body and out of every dump, and say clearly what it cannot do, instead of sending client
settings to the relay as body fields (langchain-core's ``model_kwargs`` fallback).
"""

from __future__ import annotations

import re
from typing import Any

from holysheep.errors import ConfigurationError
from holysheep.integration import header_values, is_credential_header, masked_headers
from langchain_core.utils.utils import _build_model_kwargs

__all__ = [
    "BODY_FIELDS",
    "constructor_arguments",
    "header_values",
    "is_credential_header",
    "masked_headers",
]

BODY_FIELDS = (
    "top_p",
    "seed",
    "n",
    "logprobs",
    "top_logprobs",
    "reasoning_effort",
    "frequency_penalty",
    "presence_penalty",
    "logit_bias",
    "service_tier",
)
"""Fields sent in the request body under their own name when set, as ChatOpenAI sends them."""

_RENAMED = {
    "openai_api_key": "api_key",
    "openai_api_base": "base_url",
    "max_completion_tokens": "max_tokens",
}
"""ChatOpenAI's names for settings ChatHolySheep names like the core."""

_NO_RESPONSES_API = (
    "the HolySheep relay speaks the chat-completions API, not the Responses API; drop it "
    "(for reasoning models pass reasoning_effort='low'|'medium'|'high')"
)
_USE_HTTP_CLIENT = (
    "configure an httpx client and pass it as http_client= (and http_async_client= for async)"
)
_REFUSED = {
    "organization": "the relay has no organizations; attribute spend with user= and app=",
    "openai_organization": "the relay has no organizations; attribute spend with user= and app=",
    "openai_proxy": f"{_USE_HTTP_CLIENT}, e.g. httpx.Client(proxy='http://proxy:8080')",
    "http_socket_options": _USE_HTTP_CLIENT,
    "stream_chunk_timeout": "use stream_idle_timeout= (seconds a stream may go without an "
    "event) or timeout= (the read timeout)",
    "use_responses_api": _NO_RESPONSES_API,
    "use_previous_response_id": _NO_RESPONSES_API,
    "reasoning": _NO_RESPONSES_API,
    "include": _NO_RESPONSES_API,
    "truncation": _NO_RESPONSES_API,
    "context_management": _NO_RESPONSES_API,
    "include_response_headers": "response headers are not exposed; usage, cost and the served "
    "model are in response_metadata",
    "tiktoken_model_name": "token counts come from holysheep's estimator (tiktoken's o200k "
    "encoding when its data is cached); drop it",
    "disabled_params": "leave the parameter out instead",
}
"""Client settings ChatOpenAI takes that mean nothing here: refused, with what to do instead."""

_SECRET_NAME = re.compile(r"api_?key|secret|passw|access_token|bearer|authorization", re.I)
def constructor_arguments(values: dict[str, Any], field_names: set[str]) -> dict[str, Any]:
    """Constructor arguments with ChatOpenAI's names renamed and client settings refused.

    Unknown arguments still become ``model_kwargs`` (with langchain-core's warning), except those
    named like a credential, which would be sent to the relay in the request body.

    Raises:
        ConfigurationError: a refused client setting, a credential-like unknown argument, or the
            same setting given under two names.
    """
    values = dict(values)
    for old, new in _RENAMED.items():
        if old in values:
            if new in values:
                raise ConfigurationError(f"pass either {new}= or {old}=, not both")
            values[new] = values.pop(old)
    for name in values:
        if name in _REFUSED:
            raise ConfigurationError(f"ChatHolySheep does not take {name}=: {_REFUSED[name]}")
        if name not in field_names and _SECRET_NAME.search(name):
            raise ConfigurationError(
                f"ChatHolySheep does not take {name}=, and would otherwise send it to the relay "
                "in the request body; pass the HolySheep key as api_key= (or set "
                "HOLYSHEEP_API_KEY), other credentials in default_headers="
            )
    return _build_model_kwargs(values, field_names)
