"""``HolySheepCostHandler``: tokens and USD per served model and per task label.

An instrumentation event handler (``llama_index.core.instrumentation``). It reads what every LLM
leaves on its last response (``LLMChatEndEvent``/``LLMCompletionEndEvent``), so it prices
HolySheep calls (cost already computed by the core, on ``raw.call_info``) and any other LLM's
calls whose served model is in the catalogue (``raw.usage`` and ``raw.model``, as OpenAILike).

Each billed call counts once. Only end events count (not a stream's in-progress ones), only
those carrying provider usage (``as_structured_llm``'s outer event carries the parsed object, not
usage), and a call already seen (the same ``CallInfo`` or raw response forwarded by a wrapper) is
skipped. Events cannot raise into the caller, so an unknown model records ``cost=None`` first and
warns afterwards.
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from holysheep import Cost, ModelCatalog, UnknownModelPriceWarning, Usage, price
from holysheep.calls import CallInfo
from holysheep.catalog import CATALOG_ENV
from holysheep.tally import CostTally, TallyReadout, TallyTotals
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import (
    LLMChatEndEvent,
    LLMChatStartEvent,
    LLMCompletionEndEvent,
    LLMCompletionStartEvent,
)

__all__ = ["CostTotals", "HolySheepCostHandler"]

_ENDS = (LLMChatEndEvent, LLMCompletionEndEvent)
_STARTS = (LLMChatStartEvent, LLMCompletionStartEvent)
_REMEMBERED = 1024  # recent calls and spans kept to recognise repeats; repeats come close together


CostTotals = TallyTotals
"""The totals of a group of calls: the core's ``TallyTotals`` (old name kept)."""


@dataclass(frozen=True, slots=True)
class _Call:
    """One billed call as read from an end event."""

    key: object
    model: str
    usage: Usage
    cost: Cost | None
    task: str | None
    priced: bool
    """True when the cost came with the call (HolySheep); False when this handler must price it."""
    streamed: bool = False
    estimated: bool = False


class HolySheepCostHandler(TallyReadout, BaseEventHandler):
    """Totals of tokens and USD per served model and per task label, for any LlamaIndex LLM.

    Example:
        ```python
        from llama_index.core import Document, VectorStoreIndex
        from llama_index.core.embeddings import MockEmbedding
        from llamaindex_holysheep import HolySheep, HolySheepCostHandler

        docs = [Document(text="The relay bills 1 CNY per USD of list price.")]
        index = VectorStoreIndex.from_documents(docs, embed_model=MockEmbedding(embed_dim=8))
        llm = HolySheep(model="gemini-2.5-flash", task="qa")
        with HolySheepCostHandler() as cost:  # listens on the root dispatcher meanwhile
            index.as_query_engine(llm=llm).query("How does the relay bill?")
        print(cost.usage.total_tokens, cost.total_usd, cost.by_task["qa"].calls)
        ```

    The totals are the core's ``CostTally``, with the same names as LangChain's
    ``HolySheepCostCallbackHandler`` (``calls``, ``total_usd``, ``unpriced_calls``,
    ``estimated_calls``, ``by_model``, ``by_task``...).
    """

    catalog: Any = Field(
        default=None,
        exclude=True,
        description="ModelCatalog pricing other LLMs' calls; default: ModelCatalog.default().",
    )

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _seen: OrderedDict[int, object] = PrivateAttr(default_factory=OrderedDict)
    _span_models: OrderedDict[str, str] = PrivateAttr(default_factory=OrderedDict)
    _tally: CostTally = PrivateAttr(default_factory=CostTally)
    _dispatchers: list[Any] = PrivateAttr(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        """Serialization name."""
        return "HolySheepCostHandler"

    # ------------------------------------------------------------ results

    def reset(self) -> None:
        """Forget every total."""
        with self._lock:
            self._seen.clear()
        self._tally.reset()

    def __repr__(self) -> str:
        return self._tally.totals.summary()

    # ------------------------------------------------------------ attaching

    def attach(self, dispatcher: Any = None) -> HolySheepCostHandler:
        """Listen on ``dispatcher`` (default: the root one, which sees every LLM)."""
        target = dispatcher if dispatcher is not None else get_dispatcher()
        if not any(h is self for h in target.event_handlers):
            target.add_event_handler(self)
            self._dispatchers.append(target)
        return self

    def detach(self) -> None:
        """Stop listening wherever ``attach`` attached this handler."""
        for target in self._dispatchers:
            target.event_handlers = [h for h in target.event_handlers if h is not self]
        self._dispatchers.clear()

    def __enter__(self) -> HolySheepCostHandler:
        return self.attach()

    def __exit__(self, *exc_info: object) -> None:
        self.detach()

    # ------------------------------------------------------------ events

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        """Count an LLM end event's call; remember a start event's model for LLMs that omit it."""
        if isinstance(event, _ENDS):
            if event.response is not None:
                self._record(event.response, event.span_id, event.tags)
        elif isinstance(event, _STARTS):
            model = event.model_dict.get("model") or event.model_dict.get("model_name")
            if event.span_id and isinstance(model, str):
                with self._lock:
                    _remember(self._span_models, event.span_id, model)

    def _record(self, response: Any, span_id: str | None, tags: Mapping[str, Any]) -> None:
        call = self._read(response, span_id)
        if call is None:
            return
        task = call.task or tags.get("task")
        cost, unknown = call.cost, None
        if not call.priced:
            cost, unknown = self._price(call.model, call.usage)
        with self._lock:
            if not _remember(self._seen, id(call.key), call.key):
                return
        flags = {"streamed": call.streamed, "estimated": call.estimated}
        self._tally.add(call.model, call.usage, cost, task=task, **flags)
        if unknown:  # after recording: a warning may be an error under -W error
            warnings.warn(unknown, UnknownModelPriceWarning, stacklevel=2)

    def _read(self, response: Any, span_id: str | None) -> _Call | None:
        """The call behind an end event's response, or None when it carries no usage."""
        raw = response.raw
        info = getattr(raw, "call_info", None)
        if isinstance(info, CallInfo):  # a HolySheep call: priced once, by the core
            usage = info.usage or Usage.zero()
            cost = info.cost if info.usage is not None else None
            task = info.attribution.task or getattr(info.route, "task", None)  # classified
            return _Call(info, info.model, usage, cost, task, True, info.streamed, info.estimated)
        key: object = raw
        wire = raw.get("usage") if isinstance(raw, Mapping) else getattr(raw, "usage", None)
        tokens = _tokens(wire)
        if tokens is None:
            key, tokens = response, _tokens(response.additional_kwargs)
        if tokens is None:
            return None
        model = raw.get("model") if isinstance(raw, Mapping) else getattr(raw, "model", None)
        if not isinstance(model, str) or not model:
            with self._lock:
                model = self._span_models.get(span_id or "", "unknown")
        streamed = getattr(response, "delta", None) is not None  # a stream's last response
        return _Call(key, model, tokens, None, None, False, streamed)

    def _price(self, model: str, usage: Usage) -> tuple[Cost | None, str | None]:
        """The cost of another LLM's call, or None with the warning text to emit."""
        catalog = self.catalog if self.catalog is not None else ModelCatalog.default()
        spec = catalog.find(model)
        if spec is not None and spec.priced:
            return price(spec, usage), None
        why = "is not in the catalogue" if spec is None else "has no price in the catalogue"
        return None, (
            f"model {model!r} {why}, so the cost of its calls is unknown (None, not 0). Add its "
            f"input/cached_input/output_usd_per_mtok to a catalogue file named by {CATALOG_ENV}."
        )


def _tokens(usage: Any) -> Usage | None:
    """A provider usage object or dict as ``Usage``; None when it has no token counts.

    OpenAI spells ``prompt_tokens``/``completion_tokens``; Anthropic-style LLMs
    ``input_tokens``/``output_tokens``.
    """
    if usage is None:
        return None
    if isinstance(usage, Mapping):
        get = usage.get
    else:

        def get(key: str) -> Any:
            return getattr(usage, key, None)

    if get("prompt_tokens") is not None or get("completion_tokens") is not None:
        return Usage.from_wire(usage)
    if get("input_tokens") is not None or get("output_tokens") is not None:
        return Usage.from_wire(
            {"prompt_tokens": get("input_tokens"), "completion_tokens": get("output_tokens")}
        )
    return None


def _remember(memory: OrderedDict[Any, Any], key: Any, value: Any) -> bool:
    """Add ``key`` to a bounded memory; False if it was already there."""
    if key in memory:
        return False
    memory[key] = value
    if len(memory) > _REMEMBERED:
        memory.popitem(last=False)
    return True
