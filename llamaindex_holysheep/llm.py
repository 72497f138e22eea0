"""``HolySheep``: the HolySheep relay as a LlamaIndex ``FunctionCallingLLM``.

Each public call translates LlamaIndex messages to a wire request, makes ONE call on the shared
``HolySheepClient`` (which owns retries, timeouts, pricing and routing) and translates the answer
back. Sync and async twins share every conversion; each twin is a few lines.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from typing import Any

from holysheep import HolySheepClient, UnknownModelPriceWarning
from holysheep.integration import (
    CLIENT_LIMITS,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TOTAL_TIMEOUT,
    check_client_settings,
    client_from_settings,
)
from llama_index.core.base.llms.generic_utils import prompt_to_messages
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.bridge.pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    field_serializer,
    field_validator,
    model_validator,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM

from ._convert import completion_response, response_from_completion, wire_messages
from ._facts import AUTO, ModelFacts, model_facts
from ._params import constructor_arguments, masked_headers
from ._streaming import StreamState
from ._structured import StructuredMixin
from ._tokens import EstimatingTokenizer
from ._tools import ToolCallingMixin

__all__ = ["DEFAULT_MODEL", "HolySheep"]

DEFAULT_MODEL = "gpt-4.1"
"""The model used when none is named."""

class _ClientSlot:
    """Holds the lazily built core client; pickles and copies empty (sockets, the key)."""

    __slots__ = ("client", "config", "lock")

    def __init__(self) -> None:
        self.client: HolySheepClient | None = None
        self.config: tuple[Any, ...] | None = None
        self.lock = threading.Lock()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_ClientSlot, ())


class HolySheep(ToolCallingMixin, StructuredMixin, FunctionCallingLLM):
    """The HolySheep relay as a LlamaIndex LLM: chat, streams, tools, structured output, cost.

    Example:
        ```python
        from llama_index.core.llms import ChatMessage
        from llamaindex_holysheep import HolySheep

        llm = HolySheep(model="deepseek-v3.2")  # reads HOLYSHEEP_API_KEY
        response = llm.chat([ChatMessage(role="user", content="Summarize SSE in one line.")])
        print(response.message.content, response.additional_kwargs["cost"]["total_usd"])
        for chunk in llm.stream_chat([ChatMessage(role="user", content="Hi")]):
            print(chunk.delta, end="")  # the last chunk carries usage and cost too
        ```
    """

    model: str = Field(
        default=DEFAULT_MODEL,
        description='Model id the relay serves (gpt-4.1, deepseek-v3.2, ...) or "auto" to let '
        "the router pick one by task label.",
    )
    api_key: SecretStr | None = Field(
        default=None,
        exclude=True,
        repr=False,
        description="HolySheep API key; default: the HOLYSHEEP_API_KEY environment variable. "
        "Never serialized, logged or sent to callbacks.",
    )
    base_url: str | None = Field(
        default=None,
        description="Relay URL (OpenAILike's api_base= also works); default: HOLYSHEEP_BASE_URL, "
        "else https://api.holysheep.ai/v1.",
    )
    temperature: float | None = Field(
        default=None, ge=0.0, le=2.0, description="Sampling temperature; None: the model's default."
    )
    max_tokens: int | None = Field(
        default=None, gt=0, description="Output token cap; None: the model's own limit."
    )
    timeout: float | None = Field(
        default=None,
        gt=0,
        description="Read timeout in seconds; None: per model, from the catalogue.",
    )
    max_retries: int | None = Field(
        default=None,
        ge=0,
        description="Retries after the first attempt, made by the core's single RetryPolicy "
        "(429/5xx/timeouts only); None: the core's default.",
    )
    total_timeout: float | None = Field(
        default=DEFAULT_TOTAL_TIMEOUT,
        description="Seconds one call may take, first byte sent to last byte read, retries "
        "included (ten minutes by default); None: no total limit.",
    )
    stream_idle_timeout: float | None = Field(
        default=None,
        description="Seconds a stream may go without an event (keep-alive comments don't "
        "count); None: the read timeout.",
    )
    max_response_bytes: int = Field(
        default=DEFAULT_MAX_RESPONSE_BYTES,
        description="Cap, in bytes, on a decompressed answer and on each stream event (32 MiB by "
        "default); a larger answer raises APIError instead of filling memory.",
    )
    on_ledger_error: str = Field(
        default="raise",
        description='"raise": a ledger that cannot be reached refuses the call (LedgerError); '
        '"allow": send it anyway, budgets unchecked, its record spooled and replayed.',
    )
    on_unpriced: str = Field(
        default="refuse",
        description='"refuse": a call the catalogue cannot price that a ledger budget applies '
        'to is refused (BudgetExceededError); "allow": send it, outside every budget.',
    )
    reasoning_effort: str | None = Field(
        default=None,
        description='Reasoning effort ("low", "medium", "high"...) for models that take it.',
    )
    logprobs: bool | None = Field(
        default=None, description="Return log probabilities (on the response's raw choices)."
    )
    top_logprobs: int | None = Field(
        default=None,
        ge=0,
        description="Most likely tokens per position; sent with logprobs=True, as OpenAILike.",
    )
    strict: bool = Field(
        default=False,
        description="Ask providers to follow tool schemas exactly (strict tool specs).",
    )
    context_window: int | None = Field(
        default=None,
        gt=0,
        description="Your model's context window; None: the catalogue's (a user value wins).",
    )
    is_function_calling_model: bool | None = Field(
        default=None, description="Whether the model calls tools; None: the catalogue's."
    )
    is_chat_model: bool | None = Field(
        default=None,
        description="What LlamaIndex is told; calls always use the chat endpoint. None: True.",
    )
    default_headers: dict[str, str | SecretStr] | None = Field(
        default=None,
        description="Headers sent on every request; credential values (X-Api-Key, Authorization"
        "...) are held as SecretStr: masked in reprs, left out of dumps, payloads and pickles.",
    )
    http_client: Any = Field(
        default=None,
        exclude=True,
        description="An httpx.Client for sync calls; it stays yours (close() leaves it open).",
    )
    http_async_client: Any = Field(
        default=None,
        exclude=True,
        description="An httpx.AsyncClient for async calls (async_http_client= also works); used "
        "in every event loop, so keep to one. It stays yours (aclose() leaves it open).",
    )
    reuse_client: bool = Field(
        default=True,
        description="Keep one connection pool across calls; False opens a fresh one per call.",
    )
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra request body fields sent on every call (per-call kwargs win).",
    )
    router: Any = Field(
        default=None, exclude=True, description='A holysheep TaskRouter, used for model="auto".'
    )
    ledger: Any = Field(
        default=None, exclude=True, description="A holysheep CostLedger that records every call."
    )
    task: str | None = Field(
        default=None,
        description="Task label for routing and cost attribution; a per-call task= overrides it.",
    )
    user: str | None = Field(default=None, description="End-user id sent to the relay as `user`.")
    app: str | None = Field(default=None, description="Application name the cost is billed to.")

    _slot: _ClientSlot = PrivateAttr(default_factory=_ClientSlot)
    _facts: dict[tuple[str, str | None], ModelFacts] = PrivateAttr(default_factory=dict)
    _metadata: tuple[tuple[Any, ...], LLMMetadata, dict[str, Any]] | None = PrivateAttr(
        default=None
    )

    @classmethod
    def class_name(cls) -> str:
        """Serialization name."""
        return "HolySheep"

    @model_validator(mode="before")
    @classmethod
    def _openailike_arguments(cls, values: Any) -> Any:
        """OpenAILike's names renamed; unknown arguments warn (once) instead of vanishing."""
        if isinstance(values, dict):
            known = {*cls.model_fields, *(f.alias for f in cls.model_fields.values() if f.alias)}
            return constructor_arguments(values, known)
        return values

    @field_validator("default_headers")
    @classmethod
    def _mask_credential_headers(cls, value: Any) -> Any:
        return masked_headers(value)

    @model_validator(mode="after")
    def _check_client_settings(self) -> HolySheep:
        """Refuse limits and policies the core cannot work with now, not at the first call."""
        check_client_settings(self)
        return self

    @field_serializer("default_headers")
    def _dump_headers_without_credentials(self, value: Any) -> Any:
        """Dumps (``to_dict``, ``to_json``, payloads) leave credential headers out, as the key."""
        if not value:
            return value
        return {k: v for k, v in value.items() if not isinstance(v, SecretStr)}

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without secrets: no key (read from HOLYSHEEP_API_KEY again), no credential
        headers (pass them again), no httpx clients."""
        state = super().__getstate__()
        fields = {k: v for k, v in state["__dict__"].items() if k != "api_key"}
        fields["http_client"] = fields["http_async_client"] = None
        if fields.get("default_headers"):
            fields["default_headers"] = {
                k: v for k, v in fields["default_headers"].items() if not isinstance(v, SecretStr)
            }
        state["__dict__"] = fields
        return state

    # ------------------------------------------------------------ configuration

    @property
    def client(self) -> HolySheepClient:
        """The core client, built on first use and rebuilt if its settings change (no I/O).

        With ``reuse_client=False`` every call gets a fresh client (and connection pool), which
        closes once the call's last reference to it is gone.
        """
        if not self.reuse_client:
            return self._new_client()
        config = (
            self.api_key,
            self.base_url,
            self.timeout,
            self.max_retries,
            self.default_headers,
            self.http_client,
            self.http_async_client,
            self.router,
            self.ledger,
            *(getattr(self, name) for name in CLIENT_LIMITS),
        )
        slot = self._slot
        client = slot.client
        if client is None or slot.config != config:
            with slot.lock:  # two threads must not both build (and leak) a client
                client = slot.client
                if client is None or slot.config != config:
                    client = self._new_client()
                    slot.client, slot.config = client, config
        return client

    def _new_client(self) -> HolySheepClient:
        return client_from_settings(self)

    @property
    def tokenizer(self) -> EstimatingTokenizer:
        """Counts tokens as the core does, offline: ``Settings.tokenizer = llm.tokenizer``."""
        return EstimatingTokenizer()

    @property
    def _tokenizer(self) -> EstimatingTokenizer:
        """The hook OpenAI-style LlamaIndex code reads (``len(llm._tokenizer.encode(text))``)."""
        return EstimatingTokenizer()

    def close(self) -> None:
        """Release the connection pool; a later call opens a new one."""
        client, self._slot.client = self._slot.client, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Release the running loop's and the sync connection pools (async twin of ``close``)."""
        client, self._slot.client = self._slot.client, None
        if client is not None:
            await client.aclose()

    def model_facts(self, model: str | None = None) -> ModelFacts:
        """Catalogue facts for ``model`` (default: this LLM's); unknown models warn once.

        For ``"auto"`` they hold for every candidate of the router's route for ``task``.
        """
        model = model or self.model
        key = (model, self.task) if model == AUTO else (model, None)
        facts = self._facts.get(key)
        if facts is None:
            if model == AUTO:
                router = self.client.routing()
                facts = model_facts(model, router.catalog, router.routes, self.task)
            else:
                facts = model_facts(model)
            self._facts[key] = facts
        return facts

    @property
    def metadata(self) -> LLMMetadata:
        """Context window, output size and tool support of the model, from the catalogue."""
        return self._described()[1]

    def to_payload(self) -> dict[str, Any]:
        """What callbacks and instrumentation see of this LLM: metadata and settings, no key."""
        return dict(self._described()[2])

    def _described(self) -> tuple[tuple[Any, ...], LLMMetadata, dict[str, Any]]:
        told = (self.context_window, self.is_function_calling_model, self.is_chat_model)
        key = (self.model, self.max_tokens, self.temperature, self.task, told)
        cached = self._metadata
        if cached is None or cached[0] != key:
            facts = self._facts_for_metadata()
            metadata = LLMMetadata(
                context_window=self.context_window or facts.context_window,
                num_output=self.max_tokens or facts.max_output_tokens,
                is_chat_model=self.is_chat_model is not False,
                is_function_calling_model=facts.tools
                if self.is_function_calling_model is None
                else self.is_function_calling_model,
                model_name=self.model,
                system_role=MessageRole.SYSTEM,
            )
            payload = {
                "class_name": self.class_name(),
                **metadata.model_dump(),
                "model": self.model,
                "temperature": self.temperature,
                "max_tokens": self.max_tokens,
                "task": self.task,
            }
            cached = self._metadata = (key, metadata, payload)
        return cached

    def _facts_for_metadata(self) -> ModelFacts:
        """The catalogue's facts; no unknown-model warning when the user gave the window and
        tool support (the price is still warned about when a call is priced)."""
        if self.context_window is not None and self.is_function_calling_model is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UnknownModelPriceWarning)
                return self.model_facts()
        return self.model_facts()

    def _request(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The core call's keyword arguments: body fields plus the task/app attribution."""
        model = kwargs.get("model") or self.model
        request: dict[str, Any] = {
            "model": model,
            "messages": wire_messages(messages, self.model_facts(model).reasoning_field),
        }
        if self.temperature is not None:
            request["temperature"] = self.temperature
        if self.max_tokens is not None:
            request["max_tokens"] = self.max_tokens
        if self.reasoning_effort is not None:
            request["reasoning_effort"] = self.reasoning_effort
        if self.logprobs:  # as OpenAILike: top_logprobs only along with logprobs
            request["logprobs"] = True
            if self.top_logprobs is not None:
                request["top_logprobs"] = self.top_logprobs
        if self.user is not None:
            request["user"] = self.user
        if self.task is not None:
            request["task"] = self.task
        if self.app is not None:
            request["app"] = self.app
        request.update(self.additional_kwargs)
        request.update(kwargs)
        return request

    # ------------------------------------------------------------ chat and streams

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """One chat call; usage, cost and the served model ride on the response."""
        return self._chat(messages, **kwargs)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """One chat call; usage, cost and the served model ride on the response (async)."""
        return await self._achat(messages, **kwargs)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """Stream a chat call; the last response carries usage, cost and the served model."""
        return self._stream_chat(messages, **kwargs)

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        """Stream a chat call; the last response carries usage, cost and served model (async)."""
        return await self._astream_chat(messages, **kwargs)

    def _chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        client = self.client
        try:
            return response_from_completion(client.chat(**self._request(messages, kwargs)))
        finally:
            self._done_with(client)

    async def _achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        client = self.client
        try:
            completion = await client.achat(**self._request(messages, kwargs))
        finally:
            await self._adone_with(client)
        return response_from_completion(completion)

    def _stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        client = self.client
        stream = client.stream(**self._request(messages, kwargs))  # lazy: sends on next()

        def gen() -> ChatResponseGen:
            state = StreamState()
            try:
                with stream:
                    for chunk in stream:
                        if (response := state.update(stream, chunk)) is not None:
                            yield response
                yield state.finish(stream)
            finally:
                self._done_with(client)

        return gen()

    async def _astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        client = self.client
        stream = client.astream(**self._request(messages, kwargs))  # lazy: sends on next()

        async def gen() -> ChatResponseAsyncGen:
            state = StreamState()
            try:
                async with stream:
                    async for chunk in stream:
                        if (response := state.update(stream, chunk)) is not None:
                            yield response
                yield state.finish(stream)
            finally:
                await self._adone_with(client)

        return gen()

    def _done_with(self, client: HolySheepClient) -> None:
        """Close a per-call client (``reuse_client=False``); a shared one stays open."""
        if not self.reuse_client:
            client.close()

    async def _adone_with(self, client: HolySheepClient) -> None:
        """Close a per-call client (``reuse_client=False``; async twin of ``_done_with``)."""
        if not self.reuse_client:
            await client.aclose()

    # ------------------------------------------------------------ completion (via chat)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Complete ``prompt`` as a single user message."""
        return completion_response(self._chat(prompt_to_messages(prompt), **kwargs))

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        """Complete ``prompt`` as a single user message (async)."""
        return completion_response(await self._achat(prompt_to_messages(prompt), **kwargs))

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        """Stream the completion of ``prompt``; the last response carries usage and cost."""
        chat = self._stream_chat(prompt_to_messages(prompt), **kwargs)
        return (completion_response(response) for response in chat)

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        """Stream the completion of ``prompt``; the last response carries usage and cost (async)."""
        chat = await self._astream_chat(prompt_to_messages(prompt), **kwargs)
        return (completion_response(response) async for response in chat)
