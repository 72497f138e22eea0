"""Tokens and USD per served model and per task label, for any LangChain chat model.

``HolySheepCostCallbackHandler`` reads what every chat model leaves in LangChain's own slots
(``usage_metadata`` and ``response_metadata["model_name"]``), so it counts ChatOpenAI and others
as well as ChatHolySheep. ChatHolySheep's calls arrive already priced by the core
(``response_metadata["cost"]``) and are not priced twice; other models are priced with the
HolySheep catalogue. An unknown model warns and costs ``None``, never a silent 0.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from holysheep import Cost, Usage
from holysheep.calls import cost_from_metadata
from holysheep.tally import CostTally, TallyReadout, TallyTotals
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, LLMResult

from ._convert import PROVIDER

if TYPE_CHECKING:
    from holysheep import ModelCatalog
    from langchain_core.messages import BaseMessage

__all__ = [
    "CostRecord",
    "CostTotals",
    "HolySheepCostCallbackHandler",
    "MissingUsageWarning",
    "get_holysheep_callback",
]

UNKNOWN_MODEL = "unknown"
"""The model name recorded when neither the response nor the request named one."""


class MissingUsageWarning(UserWarning):
    """A chat model call reported no token usage, so its tokens and cost are unknown."""


@dataclass(frozen=True, slots=True)
class CostRecord:
    """One counted chat-model call (a stream counts once, when it ends)."""

    model: str
    """The model that served, else the one requested, else ``"unknown"``."""
    usage: Usage | None
    """Tokens as reported; ``None`` when the call reported none."""
    cost: Cost | None
    """USD (and CNY) split; ``None`` when the model has no price or usage is unknown."""
    task: str | None = None
    """Task label: per-call ``task=``, or ``config["metadata"]["task"]``."""
    user: str | None = None
    """End user the call is billed to, when known."""
    app: str | None = None
    """Application the call is billed to, when known."""
    streamed: bool = False
    """True for a stream."""
    estimated: bool = False
    """True when the usage (so the cost) was estimated, e.g. a stream cut before its usage."""


CostTotals = TallyTotals
"""The totals of a group of calls: the core's ``TallyTotals`` (old name kept)."""


def _usage_from_metadata(usage: Mapping[str, Any]) -> Usage:
    """The core's ``Usage`` from LangChain's ``usage_metadata``."""
    inputs = usage.get("input_token_details") or {}
    outputs = usage.get("output_token_details") or {}
    return Usage(
        prompt_tokens=int(usage.get("input_tokens") or 0),
        completion_tokens=int(usage.get("output_tokens") or 0),
        total_tokens=int(usage.get("total_tokens") or 0),
        cached_tokens=int(inputs.get("cache_read") or 0),
        reasoning_tokens=int(outputs.get("reasoning") or 0),
    )


@dataclass(frozen=True, slots=True)
class _Start:
    """What the start of a run said: the requested model and the attribution."""

    model: str | None
    task: str | None
    user: str | None
    app: str | None


class HolySheepCostCallbackHandler(TallyReadout, BaseCallbackHandler):
    """Counts tokens and cost of chat-model calls, per served model and per task label.

    Thread-safe; a stream counts once (LangChain reports it once, merged). The totals are the
    core's ``CostTally``, with the same names as LlamaIndex's ``HolySheepCostHandler``
    (``calls``, ``total_usd``, ``unpriced_calls``, ``estimated_calls``, ``by_model``...). Use it
    through ``get_holysheep_callback()`` or pass it in ``config={"callbacks": [handler]}``.
    """

    run_inline = True  # cheap and locked: no executor hop on the async path

    def __init__(self, catalog: ModelCatalog | None = None) -> None:
        """Start from zero; ``catalog`` prices models other than ChatHolySheep's (default one)."""
        super().__init__()
        self._lock = threading.Lock()
        self._catalog = catalog
        self._starts: dict[UUID, _Start] = {}
        self._records: list[CostRecord] = []
        self._tally = CostTally()

    # ------------------------------------------------------------ totals

    @property
    def records(self) -> list[CostRecord]:
        """Every counted call, in order."""
        with self._lock:
            return list(self._records)

    def reset(self) -> None:
        """Forget every total and record."""
        with self._lock:
            self._records.clear()
        self._tally.reset()

    def __repr__(self) -> str:
        return self._tally.totals.summary()

    # ------------------------------------------------------------ callbacks

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Remember the requested model and the attribution of this run."""
        self._remember(run_id, kwargs.get("invocation_params"), metadata)

    def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Remember the requested model and the attribution of this (completion) run."""
        self._remember(run_id, kwargs.get("invocation_params"), metadata)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Forget a failed run (nothing was billed that LangChain can see)."""
        with self._lock:
            self._starts.pop(run_id, None)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        """Count the call: usage and model from the message, cost from it or the catalogue."""
        with self._lock:
            start = self._starts.pop(run_id, None)
        first = response.generations[0] if response.generations else []
        generation = first[0] if first else None  # choices share the call's usage: count once
        self._count(self._record(generation, response.llm_output or {}, start))

    def _remember(
        self, run_id: UUID, params: dict[str, Any] | None, metadata: dict[str, Any] | None
    ) -> None:
        """Keep what the start of a run says, for a response that leaves it out."""
        params = params or {}
        metadata = metadata or {}

        def pick(*keys: str) -> Any:
            for source in (params, metadata):
                for key in keys:
                    if source.get(key) is not None:
                        return source[key]
            return None

        start = _Start(
            model=pick("model", "model_name", "ls_model_name"),
            task=pick("task"),
            user=pick("user"),
            app=pick("app"),
        )
        with self._lock:
            self._starts[run_id] = start

    def _record(
        self, generation: Any, llm_output: dict[str, Any], start: _Start | None
    ) -> CostRecord:
        """One call's record: the message's slots first, then ``llm_output``, then the start."""
        message = generation.message if isinstance(generation, ChatGeneration) else None
        metadata: dict[str, Any] = getattr(message, "response_metadata", None) or {}
        usage_md = getattr(message, "usage_metadata", None)
        start = start or _Start(None, None, None, None)
        model = (
            metadata.get("model_name") or llm_output.get("model_name") or start.model
        ) or UNKNOWN_MODEL
        usage_md = usage_md or metadata.get("estimated_usage")  # ChatHolySheep's estimate
        if usage_md:
            usage: Usage | None = _usage_from_metadata(usage_md)
        else:
            usage = Usage.from_wire(llm_output.get("token_usage"))
        if metadata.get("model_provider") == PROVIDER and "cost" in metadata:
            cost = cost_from_metadata(metadata["cost"])  # priced once, by the core
        elif usage is not None:
            cost = self._price(model, usage)
        else:
            warnings.warn(
                f"a call on {model!r} reported no token usage, so its tokens and cost are "
                "unknown (for ChatOpenAI on a custom base_url, pass stream_usage=True)",
                MissingUsageWarning,
                stacklevel=2,
            )
            cost = None
        return CostRecord(
            model=model,
            usage=usage,
            cost=cost,
            task=metadata.get("task") or start.task,
            user=metadata.get("user") or start.user,
            app=metadata.get("app") or start.app,
            streamed=isinstance(generation, ChatGenerationChunk),
            estimated=bool(metadata.get("estimated")),
        )

    def _price(self, model: str, usage: Usage) -> Cost | None:
        """Price a call of another chat model with the HolySheep catalogue."""
        catalog = self._catalog
        if catalog is None:
            from holysheep import ModelCatalog

            catalog = self._catalog = ModelCatalog.default()
        return catalog.cost(model, usage)  # warns UnknownModelPriceWarning, returns None

    def _count(self, record: CostRecord) -> None:
        """Keep the record and add it to the tally."""
        with self._lock:
            self._records.append(record)
        self._tally.add(
            record.model,
            record.usage,
            record.cost,
            task=record.task,
            streamed=record.streamed,
            estimated=record.estimated,
        )


_current: ContextVar[HolySheepCostCallbackHandler | None] = ContextVar(
    "holysheep_cost_callback", default=None
)
_registered = threading.Lock()
_hooked = False


def _register() -> None:
    """Hook ``_current`` into every CallbackManager, once (on first use: the import is slow)."""
    global _hooked
    with _registered:
        if not _hooked:
            from langchain_core.tracers.context import register_configure_hook

            register_configure_hook(_current, inheritable=True)
            _hooked = True


@contextmanager
def get_holysheep_callback(
    catalog: ModelCatalog | None = None,
) -> Iterator[HolySheepCostCallbackHandler]:
    """Count every chat-model call made inside the ``with`` block (threads and tasks included).

    Example:
        ```python
        from langchain_holysheep import ChatHolySheep, get_holysheep_callback

        with get_holysheep_callback() as cb:
            ChatHolySheep(model="gpt-4.1").invoke("Hi", config={"metadata": {"task": "qa"}})
            ChatHolySheep(model="deepseek-v3.2").invoke("Summarize: ...", task="summarization")
        print(cb.total_tokens, cb.total_usd, cb.unpriced_calls, cb.by_task["qa"].total_usd)
        ```
    """
    if not _hooked:
        _register()
    handler = HolySheepCostCallbackHandler(catalog)
    token = _current.set(handler)
    try:
        yield handler
    finally:
        _current.reset(token)
