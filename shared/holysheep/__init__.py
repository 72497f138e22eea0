"""holysheep: the HolySheep relay as a first-class LLM: transport, streaming, errors, retries, cost.

The core imports no framework; ``langchain_holysheep`` and ``llamaindex_holysheep`` build on it.
"""

from ._billed import ImplausibleUsageWarning
from ._client import HolySheepClient
from ._config import API_KEY_ENV, BASE_URL_ENV, DEFAULT_BASE_URL, MissingAPIKeyError
from ._stream import AsyncChatStream, ChatStream
from ._telemetry import from_env as _telemetry_from_env
from .catalog import ModelCatalog, ModelSpec, UnknownModelPriceWarning
from .costs import Cost, Workload, estimate_monthly, price
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    ConfigurationError,
    ConflictError,
    ContextLengthError,
    HolySheepError,
    InsufficientCreditError,
    LedgerError,
    LocalError,
    ModelNotFoundError,
    NoModelAvailableError,
    RateLimitError,
    StreamError,
    UpstreamError,
)
from .retry import RetryPolicy
from .usage import Usage
from .wire import ChatCompletion, ChatCompletionChunk, ChatMessage, ChatRequest, ModelInfo

__version__ = "0.1.0"

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncChatStream",
    "Attribution",
    "AuthenticationError",
    "BadRequestError",
    "BatchResult",
    "BatchSummary",
    "BudgetExceededError",
    "CallInfo",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatMessage",
    "ChatRequest",
    "ChatStream",
    "Classification",
    "ConfigurationError",
    "ConflictError",
    "ContextLengthError",
    "Cost",
    "CostLedger",
    "CostTally",
    "HolySheepClient",
    "HolySheepError",
    "ImplausibleUsageWarning",
    "InsufficientCreditError",
    "LedgerError",
    "LocalError",
    "MissingAPIKeyError",
    "ModelCatalog",
    "ModelInfo",
    "ModelNotFoundError",
    "ModelSpec",
    "NoModelAvailableError",
    "RateLimitError",
    "RetryPolicy",
    "RouteDecision",
    "StreamError",
    "TaskRouter",
    "UnknownModelPriceWarning",
    "UpstreamError",
    "Usage",
    "Workload",
    "estimate_monthly",
    "instrument",
    "price",
    "uninstrument",
]


# Loaded on first use: routing and the ledger cost import time that plain chat users never need.
_LAZY = {
    "Attribution": "holysheep.calls",
    "BatchResult": "holysheep.batch",
    "BatchSummary": "holysheep.batch",
    "CallInfo": "holysheep.calls",
    "Classification": "holysheep.routing",
    "CostLedger": "holysheep.ledger",
    "CostTally": "holysheep.tally",
    "RouteDecision": "holysheep.routing",
    "TaskRouter": "holysheep.routing",
    "instrument": "holysheep.telemetry",  # opentelemetry itself is imported only when called
    "uninstrument": "holysheep.telemetry",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'holysheep' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


_telemetry_from_env()  # HOLYSHEEP_OTEL=1: instrument at import (nothing else is read)
