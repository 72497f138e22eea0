"""``HolySheepRouter``: the routing chain, a Runnable from ``{"task", "input"}`` to an AIMessage.

It hands the input to a ``ChatHolySheep(model="auto")`` with the task label, so the core's
``TaskRouter`` picks the model (classifying the input when the label is ``None``), falls back
on failure, and the returned message names the model that served and the route it took.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import Runnable, RunnableConfig

from .chat_models import ChatHolySheep

__all__ = ["HolySheepRouter", "RouterInput"]

RouterInput = Mapping[str, Any]
"""``{"task": label or None, "input": str, messages or a PromptValue}``."""


class HolySheepRouter(Runnable[RouterInput, AIMessage]):
    """Route each input to the model its task label calls for, with fallbacks.

    Example:
        ```python
        from langchain_holysheep import HolySheepRouter

        router = HolySheepRouter()  # reads HOLYSHEEP_API_KEY; a default TaskRouter
        reply = router.invoke({"task": "summarization", "input": "Summarize: relays bill in CNY."})
        print(reply.response_metadata["model_name"])  # deepseek-v3.2, the summarization model
        print(router.invoke({"task": None, "input": "Translate 'thank you' to German"}).text)
        ```
    """

    def __init__(self, llm: ChatHolySheep | None = None, **chat_fields: Any) -> None:
        """Use ``llm`` (which must have ``model="auto"``), or build one from ``chat_fields``.

        Args:
            llm: A ``ChatHolySheep`` with ``model="auto"``; its ``router`` (a ``TaskRouter``),
                ``ledger``, ``user`` and ``app`` apply.
            **chat_fields: ``ChatHolySheep`` fields when no ``llm`` is given (``router``,
                ``api_key``, ``base_url``, ``ledger``, ...); ``model`` defaults to ``"auto"``.
        """
        if llm is None:
            llm = ChatHolySheep(**{"model": "auto", **chat_fields})
        elif chat_fields:
            raise TypeError("pass either llm= or ChatHolySheep fields, not both")
        if llm.model != "auto":
            raise ValueError(
                f"HolySheepRouter needs a ChatHolySheep with model='auto' (got {llm.model!r}); "
                "a fixed model would never be routed"
            )
        self.llm = llm

    @property
    def InputType(self) -> type:
        """The input schema's type: a mapping with ``task`` and ``input``."""
        return dict

    @property
    def OutputType(self) -> type[AIMessage]:
        """What the chain returns: the routed model's message."""
        return AIMessage

    @staticmethod
    def _split(value: RouterInput) -> tuple[str | Sequence[BaseMessage] | PromptValue, Any]:
        """The model input and the task label of a router input, or a clear error."""
        if not isinstance(value, Mapping) or "input" not in value:
            raise TypeError(
                "HolySheepRouter takes {'task': label or None, 'input': str or messages}; "
                f"got {type(value).__name__}"
            )
        unknown = set(value) - {"task", "input"}
        if unknown:
            raise TypeError(f"HolySheepRouter got unknown keys {sorted(unknown)}; use task, input")
        return value["input"], value.get("task")

    def invoke(
        self, input: RouterInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AIMessage:
        """The message of the model the router picked for this input."""
        messages, task = self._split(input)
        return self.llm.invoke(messages, config, task=task, **kwargs)

    async def ainvoke(
        self, input: RouterInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AIMessage:
        """The message of the model the router picked (async twin of ``invoke``)."""
        messages, task = self._split(input)
        return await self.llm.ainvoke(messages, config, task=task, **kwargs)

    def stream(
        self, input: RouterInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[AIMessageChunk]:
        """Stream the routed model's answer (fallbacks only before the first chunk)."""
        messages, task = self._split(input)
        yield from self.llm.stream(messages, config, task=task, **kwargs)

    async def astream(
        self, input: RouterInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[AIMessageChunk]:
        """Stream the routed model's answer (async twin of ``stream``)."""
        messages, task = self._split(input)
        async for chunk in self.llm.astream(messages, config, task=task, **kwargs):
            yield chunk
