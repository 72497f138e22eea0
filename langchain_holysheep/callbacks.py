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
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from holysheep import Cost, Usage
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import ChatGeneration, LLMResult

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


@dataclass(frozen=True, slots=True)
class CostTotals:
    """Totals over a set of calls; ``cost`` sums the priced ones only."""

    requests: int = 0
    """Calls counted."""
    usage: Usage = field(default_factory=Usage)
    """Tokens over the calls that reported usage."""
    cost: Cost | None = None
    """Sum over the priced calls; ``None`` when none was priced (never a silent 0)."""
    unpriced_requests: int = 0
    """Calls whose cost is unknown (unknown model or no usage): left out of ``cost``."""

    @property
    def total_usd(self) -> Decimal | None:
        """``cost.total_usd``, or ``None`` when nothing was priced."""
        return self.cost.total_usd if self.cost is not None else None

    def plus(self, record: CostRecord) -> CostTotals:
        """These totals with one more call."""
        usage = self.usage + record.usage if record.usage is not None else self.usage
        if record.cost is None:
            return CostTotals(self.requests + 1, usage, self.cost, self.unpriced_requests + 1)
        cost = record.cost if self.cost is None else self.cost + record.cost
        return CostTotals(self.requests + 1, usage, cost, self.unpriced_requests)


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


def _cost_from_metadata(cost: Mapping[str, str] | None) -> Cost | None:
    """ChatHolySheep's ``response_metadata["cost"]`` (exact decimal strings) as a ``Cost``."""
    if cost is None:
        return None
    return Cost(
        cost["model"],
        Decimal(cost["input_usd"]),
        Decimal(cost["cached_input_usd"]),
        Decimal(cost["output_usd"]),
        Decimal(cost["relay_cny"]),
        Decimal(cost["direct_cny"]),
    )


@dataclass(frozen=True, slots=True)
class _Start:
    """What the start of a run said: the requested model and the attribution."""

    model: str | None
    task: str | None
    user: str | None
    app: str | None


class HolySheepCostCallbackHandler(BaseCallbackHandler):
    """Counts tokens and cost of chat-model calls, per served model and per task label.

    Thread-safe; a stream counts once (LangChain reports it once, merged). Use it through
    ``get_holysheep_callback()`` or pass it in ``config={"callbacks": [handler]}``.
    """

    run_inline = True  # cheap and locked: no executor hop on the async path

    def __init__(self, catalog: ModelCatalog | None = None) -> None:
        """Start from zero; ``catalog`` prices models other than ChatHolySheep's (default one)."""
        super().__init__()
        self._lock = threading.Lock()
        self._catalog = catalog
        self._starts: dict[UUID, _Start] = {}
        self._records: list[CostRecord] = []
        self._total = CostTotals()
        self._by_model: dict[str, CostTotals] = {}
        self._by_task: dict[str | None, CostTotals] = {}

    # ------------------------------------------------------------ totals

    @property
    def records(self) -> list[CostRecord]:
        """Every counted call, in order."""
        with self._lock:
            return list(self._records)

    @property
    def totals(self) -> CostTotals:
        """Totals over every counted call."""
        return self._total

    @property
    def by_model(self) -> dict[str, CostTotals]:
        """Totals per served model."""
        with self._lock:
            return dict(self._by_model)

    @property
    def by_task(self) -> dict[str | None, CostTotals]:
        """Totals per task label (``None``: calls without one)."""
        with self._lock:
            return dict(self._by_task)

    @property
    def successful_requests(self) -> int:
        """Calls counted."""
        return self._total.requests

    @property
    def prompt_tokens(self) -> int:
        """Input tokens, cached ones included."""
        return self._total.usage.prompt_tokens

    @property
    def completion_tokens(self) -> int:
        """Output tokens, reasoning included."""
        return self._total.usage.completion_tokens

    @property
    def total_tokens(self) -> int:
        """Tokens as the providers totalled them."""
        return self._total.usage.total_tokens

    @property
    def total_cost_usd(self) -> Decimal:
        """USD over the priced calls (see ``totals.unpriced_requests`` for the others)."""
        cost = self._total.cost
        return cost.total_usd if cost is not None else Decimal(0)

    def __repr__(self) -> str:
        total = self._total
        unpriced = f" ({total.unpriced_requests} unpriced)" if total.unpriced_requests else ""
        return (
            f"Tokens used: {total.usage.total_tokens} (prompt {total.usage.prompt_tokens}, "
            f"cached {total.usage.cached_tokens}, completion {total.usage.completion_tokens}, "
            f"reasoning {total.usage.reasoning_tokens})\n"
            f"Successful requests: {total.requests}{unpriced}\n"
            f"Total cost (USD): ${self.total_cost_usd}"
        )

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
        if usage_md:
            usage: Usage | None = _usage_from_metadata(usage_md)
        else:
            usage = Usage.from_wire(llm_output.get("token_usage"))
        if metadata.get("model_provider") == PROVIDER and "cost" in metadata:
            cost = _cost_from_metadata(metadata["cost"])  # priced once, by the core
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
        )

    def _price(self, model: str, usage: Usage) -> Cost | None:
        """Price a call of another chat model with the HolySheep catalogue."""
        catalog = self._catalog
        if catalog is None:
            from holysheep import ModelCatalog

            catalog = self._catalog = ModelCatalog.default()
        return catalog.cost(model, usage)  # warns UnknownModelPriceWarning, returns None

    def _count(self, record: CostRecord) -> None:
        """Add a record to every total, under the lock."""
        with self._lock:
            self._records.append(record)
            self._total = self._total.plus(record)
            self._by_model[record.model] = self._by_model.get(record.model, CostTotals()).plus(
                record
            )
            self._by_task[record.task] = self._by_task.get(record.task, CostTotals()).plus(record)


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
        print(cb.total_tokens, cb.total_cost_usd, cb.by_task["qa"].total_usd, cb.by_model)
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
