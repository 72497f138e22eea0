"""``ChatHolySheep``: the HolySheep relay as a LangChain chat model, over the ``holysheep`` core.

The class translates and decides nothing: it turns messages into a wire request, calls ONE core
method (``chat``, ``achat``, ``stream`` or ``astream``), and moves the result into LangChain's
slots. Retries, pricing, SSE parsing and routing are the core's; its typed errors reach the
caller unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from holysheep import API_KEY_ENV, BASE_URL_ENV, DEFAULT_BASE_URL
from holysheep.integration import (
    CLIENT_LIMITS,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TOTAL_TIMEOUT,
    check_client_settings,
    client_from_settings,
)
from holysheep.tokens import estimate_tools_tokens
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.utils.utils import from_env, get_pydantic_field_names, secret_from_env
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, field_validator, model_validator

from ._chunks import ChunkTranslator
from ._client_slot import ClientSlot
from ._convert import PROVIDER, chat_result, fit_to_window, to_wire_messages
from ._params import (
    BODY_FIELDS,
    constructor_arguments,
    masked_headers,
)
from ._tokens import TokenCounting
from ._tools import ToolLike, format_tools, wire_tool_choice

if TYPE_CHECKING:
    from holysheep import HolySheepClient
    from langchain_core.callbacks import (
        AsyncCallbackManagerForLLMRun,
        CallbackManagerForLLMRun,
    )

    from ._structured import Method

__all__ = ["ChatHolySheep"]

def _task_from(config: RunnableConfig | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with ``task`` taken from ``config["metadata"]`` unless given per call."""
    if config and "task" not in kwargs:
        metadata = config.get("metadata")
        if metadata and metadata.get("task") is not None:
            kwargs["task"] = metadata["task"]
    return kwargs


class ChatHolySheep(TokenCounting, BaseChatModel):
    """The HolySheep relay as a LangChain chat model: usage, cost and reasoning on every call.

    Streams carry usage by default; ``response_metadata`` names the model that served and the
    call's cost; reasoning stays in ``additional_kwargs``; errors are ``holysheep`` errors.

    Example:
        ```python
        from langchain_holysheep import ChatHolySheep, get_holysheep_callback

        model = ChatHolySheep(model="deepseek-v3.2")  # reads HOLYSHEEP_API_KEY
        with get_holysheep_callback() as cb:
            reply = model.invoke("Summarize SSE in one line.")
            for chunk in model.stream("Now in French."):
                print(chunk.text, end="")
        print(reply.response_metadata["model_name"], reply.usage_metadata["total_tokens"])
        print(cb.total_tokens, cb.total_cost_usd)
        ```

    More (tools, structured output, routing by task label) in the README.
    """

    model_config = ConfigDict(populate_by_name=True, defer_build=True)

    model: str = Field(alias="model_name")
    """Model id (``"deepseek-v3.2"``, ``"gpt-4.1"``...), or ``"auto"`` to route by task label."""
    api_key: SecretStr | None = Field(
        default_factory=secret_from_env(API_KEY_ENV, default=None)  # type: ignore[call-overload]
    )
    """Relay key (``openai_api_key=`` also works); defaults to ``HOLYSHEEP_API_KEY``. A call
    without one raises a clear error."""
    base_url: str = Field(default_factory=from_env(BASE_URL_ENV, default=DEFAULT_BASE_URL))
    """Relay URL (``openai_api_base=`` also works); defaults to ``HOLYSHEEP_BASE_URL``, else
    ``https://api.holysheep.ai/v1``."""
    temperature: float | None = None
    """Sampling temperature; ``None`` leaves the provider's default."""
    max_tokens: int | None = None
    """Cap on completion tokens (``max_completion_tokens=`` also works; sent as ``max_tokens``,
    which every provider behind the relay takes); ``None`` leaves the provider's default."""
    top_p: float | None = None
    """Nucleus sampling mass; ``None`` leaves the provider's default."""
    seed: int | None = None
    """Seed for best-effort deterministic sampling."""
    n: int | None = None
    """Choices per call (``generate`` returns them all; a stream carries the first)."""
    logprobs: bool | None = None
    """Return log probabilities (in ``response_metadata["logprobs"]``)."""
    top_logprobs: int | None = None
    """Most likely tokens to return per position, with ``logprobs=True``."""
    reasoning_effort: str | None = None
    """``"low"``, ``"medium"`` or ``"high"`` for reasoning models that take it."""
    frequency_penalty: float | None = None
    """Penalty on tokens by how often they appeared so far."""
    presence_penalty: float | None = None
    """Penalty on tokens that appeared at all so far."""
    logit_bias: dict[int, int] | None = None
    """Token id to bias (-100..100)."""
    service_tier: str | None = None
    """Provider service tier (``"auto"``, ``"flex"``...), passed through."""
    stop: list[str] | None = Field(default=None, alias="stop_sequences")
    """Default stop sequences (a per-call ``stop`` replaces them)."""
    timeout: float | None = Field(default=None, alias="request_timeout")
    """Read timeout in seconds; ``None`` uses the catalogue's per-model default."""
    max_retries: int | None = None
    """Retries after the first attempt, by the core's one retry loop; ``None``: its default."""
    total_timeout: float | None = DEFAULT_TOTAL_TIMEOUT
    """Seconds one call may take, first byte sent to last byte read, retries included (ten
    minutes by default); ``None``: no total limit."""
    stream_idle_timeout: float | None = None
    """Seconds a stream may go without an event (keep-alive comments don't count); ``None``:
    the read timeout."""
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    """Cap, in bytes, on a decompressed answer and on each stream event (32 MiB by default); a
    larger answer raises ``APIError`` instead of filling memory."""
    on_ledger_error: str = "raise"
    """``"raise"``: a ``ledger`` that cannot be reached refuses the call (``LedgerError``);
    ``"allow"``: send it anyway, budgets unchecked, its record spooled and replayed."""
    on_unpriced: str = "refuse"
    """``"refuse"``: a call the catalogue cannot price that a ledger budget applies to is refused
    (``BudgetExceededError``); ``"allow"``: send it, outside every budget."""
    stream_usage: bool = True
    """Ask for usage on streams (``stream_options.include_usage``); on by default."""
    streaming: bool = False
    """Use the streaming endpoint for ``invoke`` too (callbacks still get every token)."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Other body fields sent on every call (``verbosity``, ``store``...)."""
    extra_body: dict[str, Any] | None = None
    """Fields merged into the request body last, for relay or provider extensions."""
    default_headers: dict[str, str | SecretStr] | None = None
    """Headers sent on every request. Values of credential headers (``X-Api-Key``,
    ``Authorization``, names with key/token/secret/auth...) are held as ``SecretStr``: masked in
    reprs and dumps, left out of pickles and LangChain serialization."""
    default_query: dict[str, Any] | None = None
    """Query parameters added to every request URL (``{"api-version": "..."}``)."""
    http_client: Any = Field(default=None, exclude=True)
    """An ``httpx.Client`` for sync calls (proxies, certificates, event hooks); it stays yours:
    nothing here closes it."""
    http_async_client: Any = Field(default=None, exclude=True)
    """An ``httpx.AsyncClient`` for async calls; used in every event loop, so keep to one. It
    stays yours: nothing here closes it."""
    router: Any = Field(default=None, exclude=True)
    """A ``TaskRouter`` for ``model="auto"``; handed to the core client."""
    ledger: Any = Field(default=None, exclude=True)
    """A ``CostLedger`` recording every billed call; handed to the core client."""
    user: str | None = None
    """End user the calls are billed to (sent in the relay's ``user`` field)."""
    app: str | None = None
    """Application the calls are billed to (on every cost record)."""
    trim_to_fit: bool = False
    """When the prompt would not fit the model's window, drop the oldest messages (the system
    prompt and the latest turn kept) instead of letting the relay refuse it. Off by default:
    the model then sees less of the chat. With ``model="auto"`` the router trims, and only when
    no candidate holds the whole chat."""

    _slot: ClientSlot = PrivateAttr(default_factory=ClientSlot)

    @model_validator(mode="before")
    @classmethod
    def _collect_model_kwargs(cls, values: Any) -> Any:
        """ChatOpenAI's names renamed, client settings refused, unknown ones to ``model_kwargs``."""
        if isinstance(values, dict):
            return constructor_arguments(values, get_pydantic_field_names(cls))
        return values

    @field_validator("default_headers")
    @classmethod
    def _mask_credential_headers(cls, value: Any) -> Any:
        return masked_headers(value)

    @model_validator(mode="after")
    def _check_client_settings(self) -> ChatHolySheep:
        """Refuse limits and policies the core cannot work with now, not at the first call."""
        check_client_settings(self)
        return self

    def __getstate__(self) -> dict[Any, Any]:
        """Pickle without secrets: the key is read from ``HOLYSHEEP_API_KEY`` again, credential
        headers are left out (pass them again), as are the httpx clients."""
        state = super().__getstate__()
        fields = {**state["__dict__"], "api_key": None}
        for name in ("http_client", "http_async_client"):
            fields[name] = None
        headers = fields.get("default_headers")
        if headers:
            fields["default_headers"] = {
                k: v for k, v in headers.items() if not isinstance(v, SecretStr)
            }
        state["__dict__"] = fields
        return state

    # ------------------------------------------------------------ LangChain identity

    @property
    def _llm_type(self) -> str:
        return "holysheep-chat"

    @classmethod
    def is_lc_serializable(cls) -> bool:
        """ChatHolySheep serializes; the key only as a reference to ``HOLYSHEEP_API_KEY``."""
        return True

    @property
    def lc_secrets(self) -> dict[str, str]:
        """Where the key comes from when a serialized model is loaded."""
        return {"api_key": API_KEY_ENV}

    def to_json(self) -> Any:
        """LangChain serialization, without the values of credential headers.

        langchain-core resolves secret references only for top-level arguments, so credential
        headers are left out, as from pickles: pass them again after loading.
        """
        data = super().to_json()
        kwargs = data.get("kwargs")
        if isinstance(kwargs, dict) and kwargs.get("default_headers"):
            headers = kwargs["default_headers"]
            kwargs["default_headers"] = {
                k: v for k, v in headers.items() if not isinstance(v, SecretStr)
            }
        return data

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stream_usage": self.stream_usage,
            **self._body_fields(),
            **self.model_kwargs,
        }

    def _body_fields(self) -> dict[str, Any]:
        """ChatOpenAI's sampling fields that are set, as the request body carries them."""
        return {name: value for name in BODY_FIELDS if (value := getattr(self, name)) is not None}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        """LangSmith parameters: ``ls_provider="holysheep"``, the per-call model if given."""
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = PROVIDER
        if not stop and self.stop:
            params["ls_stop"] = self.stop
        return params

    # ------------------------------------------------------------ the core client

    @property
    def client(self) -> HolySheepClient:
        """The core client, built on first use (construction does no I/O) and then reused."""
        key = (
            self.api_key,
            self.base_url,
            self.timeout,
            self.max_retries,
            self.default_headers,
            self.default_query,
            self.http_client,
            self.http_async_client,
            self.router,
            self.ledger,
            *(getattr(self, name) for name in CLIENT_LIMITS),
        )
        return self._slot.get(key, self._build_client)

    def _build_client(self) -> HolySheepClient:
        return client_from_settings(self, default_query=self.default_query)

    def _request(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        kwargs: dict[str, Any],
        *,
        stream: bool = False,
    ) -> dict[str, Any]:
        """The core call's keyword arguments: body fields, then call options, then per-call."""
        if self.trim_to_fit:
            messages = self._fit(messages, kwargs)
        params: dict[str, Any] = {"model": self.model, "messages": to_wire_messages(messages)}
        if self.temperature is not None:
            params["temperature"] = self.temperature
        if self.max_tokens is not None:
            params["max_tokens"] = self.max_tokens
        params.update(self._body_fields())
        stop = stop if stop is not None else self.stop
        if stop:
            params["stop"] = stop
        if self.user is not None:
            params["user"] = self.user
        if self.app is not None:
            params["app"] = self.app
        if self.model_kwargs:
            params.update(self.model_kwargs)
        extra_body = kwargs.pop("extra_body", None)
        if self.extra_body or extra_body:
            params["extra_body"] = {**(self.extra_body or {}), **(extra_body or {})}
        if not kwargs.pop("stream_usage", self.stream_usage) and stream:
            params["stream_options"] = {"include_usage": False}
        params.update(kwargs)
        return params

    def _fit(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> list[BaseMessage]:
        """``trim_to_fit``: the messages trimmed to the model's window less the reply's room.

        ``model="auto"`` leaves it to the router (the ``trim`` call option), which knows the
        candidates' windows; an unknown model is left as is (its window is unknown).
        """
        model = kwargs.get("model", self.model)
        if model == "auto":
            kwargs.setdefault("trim", True)
            return messages
        spec = self.client.catalog.find(model)
        if spec is None:
            return messages
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        reply = min(max_tokens or spec.max_output_tokens, spec.max_output_tokens)
        budget = spec.context_window - reply - estimate_tools_tokens(kwargs.get("tools"))
        return fit_to_window(messages, budget)

    # ------------------------------------------------------------ the four calls

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return chat_result(self.client.chat(**self._request(messages, stop, kwargs)))

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return chat_result(await self.client.achat(**self._request(messages, stop, kwargs)))

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        translator = ChunkTranslator()
        with self.client.stream(**self._request(messages, stop, kwargs, stream=True)) as chunks:
            for chunk in chunks:
                generation = translator.translate(chunk)
                if generation is not None:
                    if run_manager:  # passed only where langchain-core leaves tokens to us
                        run_manager.on_llm_new_token(generation.text, chunk=generation)
                    yield generation
        yield translator.last(chunks)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        translator = ChunkTranslator()
        async with self.client.astream(
            **self._request(messages, stop, kwargs, stream=True)
        ) as chunks:
            async for chunk in chunks:
                generation = translator.translate(chunk)
                if generation is not None:
                    if run_manager:
                        await run_manager.on_llm_new_token(generation.text, chunk=generation)
                    yield generation
        yield translator.last(chunks)

    # ------------------------------------------------------------ task labels from config

    def invoke(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        """``BaseChatModel.invoke``; ``config["metadata"]["task"]`` labels the call."""
        return super().invoke(input, config, stop=stop, **_task_from(config, kwargs))

    async def ainvoke(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        """``BaseChatModel.ainvoke``; ``config["metadata"]["task"]`` labels the call."""
        return await super().ainvoke(input, config, stop=stop, **_task_from(config, kwargs))

    def stream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> Iterator[AIMessageChunk]:
        """``BaseChatModel.stream``; ``config["metadata"]["task"]`` labels the call."""
        return super().stream(input, config, stop=stop, **_task_from(config, kwargs))

    def astream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[AIMessageChunk]:
        """``BaseChatModel.astream``; ``config["metadata"]["task"]`` labels the call."""
        return super().astream(input, config, stop=stop, **_task_from(config, kwargs))

    # ------------------------------------------------------------ tools and structured output

    def bind_tools(
        self,
        tools: Sequence[ToolLike],
        *,
        tool_choice: str | bool | dict[str, Any] | None = None,
        parallel_tool_calls: bool | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (anything ``convert_to_openai_tool`` accepts) to every call.

        Args:
            tools: Tools, functions, pydantic models or JSON schemas.
            tool_choice: ``"auto"``, ``"none"``, ``"any"``/``"required"``/``True`` (call some
                tool), a tool name (call that one) or a wire dict; ``None``/``False``: unset.
            parallel_tool_calls: ``False`` asks for at most one call per turn.
            strict: ``True`` asks the provider to follow the schemas exactly.
            **kwargs: Other fields bound to every call.
        """
        formatted = format_tools(tools, strict=strict)
        if tool_choice is not None and tool_choice is not False:
            kwargs["tool_choice"] = wire_tool_choice(tool_choice, formatted)
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        return super().bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        method: Method = "function_calling",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, Any]:
        """A runnable returning ``schema`` instances (or dicts) instead of messages.

        Args:
            schema: A pydantic class, TypedDict, or JSON schema (optional for ``json_mode``).
            method: ``"function_calling"`` (a forced tool call; every tools model),
                ``"json_schema"`` (``response_format`` with the schema) or ``"json_mode"``.
            include_raw: Return ``{"raw": AIMessage, "parsed": ..., "parsing_error": ...}``.
            strict: ``True`` asks the provider to follow the schema exactly.
            **kwargs: Not accepted; present for LangChain's signature.

        Raises:
            ValueError: unknown arguments or method, or no schema where one is needed.
        """
        if kwargs:
            raise ValueError(f"with_structured_output got unexpected arguments: {sorted(kwargs)}")
        from ._structured import structured_output

        return structured_output(
            self, schema, method=method, include_raw=include_raw, strict=strict
        )
