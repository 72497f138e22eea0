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
from holysheep.tokens import estimate_tools_tokens
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.utils.utils import (
    _build_model_kwargs,
    from_env,
    get_pydantic_field_names,
    secret_from_env,
)
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, model_validator

from ._chunks import ChunkTranslator
from ._client_slot import ClientSlot
from ._convert import PROVIDER, chat_result, fit_to_window, to_wire_messages
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


class ChatHolySheep(BaseChatModel):
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
    """Relay key; defaults to ``HOLYSHEEP_API_KEY``. A call without one raises a clear error."""
    base_url: str = Field(default_factory=from_env(BASE_URL_ENV, default=DEFAULT_BASE_URL))
    """Relay URL; defaults to ``HOLYSHEEP_BASE_URL``, else ``https://api.holysheep.ai/v1``."""
    temperature: float | None = None
    """Sampling temperature; ``None`` leaves the provider's default."""
    max_tokens: int | None = None
    """Cap on completion tokens; ``None`` leaves the provider's default."""
    stop: list[str] | None = Field(default=None, alias="stop_sequences")
    """Default stop sequences (a per-call ``stop`` replaces them)."""
    timeout: float | None = Field(default=None, alias="request_timeout")
    """Read timeout in seconds; ``None`` uses the catalogue's per-model default."""
    max_retries: int | None = None
    """Retries after the first attempt, by the core's one retry loop; ``None``: its default."""
    stream_usage: bool = True
    """Ask for usage on streams (``stream_options.include_usage``); on by default."""
    streaming: bool = False
    """Use the streaming endpoint for ``invoke`` too (callbacks still get every token)."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Other body fields sent on every call (``top_p``, ``seed``, ``reasoning_effort``...)."""
    extra_body: dict[str, Any] | None = None
    """Fields merged into the request body last, for relay or provider extensions."""
    default_headers: dict[str, str] | None = None
    """Headers sent on every request."""
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
        """Unknown constructor arguments become ``model_kwargs`` (with a warning)."""
        if isinstance(values, dict):
            return _build_model_kwargs(dict(values), get_pydantic_field_names(cls))
        return values

    def __getstate__(self) -> dict[Any, Any]:
        """Pickle without the key: an unpickled model reads ``HOLYSHEEP_API_KEY`` again."""
        state = super().__getstate__()
        state["__dict__"] = {**state["__dict__"], "api_key": None}
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

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stream_usage": self.stream_usage,
            **self.model_kwargs,
        }

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
            self.router,
            self.ledger,
        )
        return self._slot.get(key, self._build_client)

    def _build_client(self) -> HolySheepClient:
        from holysheep import HolySheepClient

        return HolySheepClient(
            api_key=self.api_key,
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=self.max_retries,
            default_headers=self.default_headers,
            router=self.router,
            ledger=self.ledger,
        )

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
