"""``CostTally``: running totals of calls, tokens and money, per model and per task label.

One tally, one rule for every cost handler (LangChain's callback, LlamaIndex's event handler):
money sums the priced calls; a call without a price is counted in ``calls`` and tokens and in
``unpriced_calls``, never as a silent 0 and never turning the whole total into ``None``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from .costs import Cost
from .usage import Usage

if TYPE_CHECKING:
    from .calls import CallInfo

__all__ = ["CostTally", "TallyReadout", "TallyTotals"]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class TallyTotals:
    """Calls, tokens and money of a group of calls (a model, a task label, or everything)."""

    calls: int = 0
    """Calls counted (a stream counts once, when it ends)."""
    streamed_calls: int = 0
    """Calls among ``calls`` that were streams."""
    usage: Usage = field(default_factory=Usage.zero)
    """Tokens over the calls that reported (or estimated) usage."""
    known_cost: Cost = field(default_factory=Cost.zero)
    """Sum of the priced calls' costs (USD split, relay and direct CNY)."""
    unpriced_calls: int = 0
    """Calls whose cost is unknown (model without a price, or no usage): not in the money."""
    estimated_calls: int = 0
    """Calls whose usage (so cost) was estimated, e.g. a stream cut before its usage chunk."""
    estimated_usd: Decimal = _ZERO
    """The part of ``total_usd`` that comes from estimated calls."""

    @property
    def priced_calls(self) -> int:
        """Calls whose cost is in the money totals."""
        return self.calls - self.unpriced_calls

    @property
    def cost(self) -> Cost | None:
        """Sum over the priced calls; ``None`` only when every counted call was unpriced."""
        return None if self.calls and not self.priced_calls else self.known_cost

    @property
    def total_usd(self) -> Decimal | None:
        """USD at list price over the priced calls; ``None`` when calls were made, none priced."""
        cost = self.cost
        return None if cost is None else cost.total_usd

    @property
    def relay_cny(self) -> Decimal:
        """What the relay bills for the priced calls, in CNY."""
        return self.known_cost.relay_cny

    @property
    def direct_cny(self) -> Decimal:
        """What the providers would bill directly for the priced calls, in CNY."""
        return self.known_cost.direct_cny

    @property
    def prompt_tokens(self) -> int:
        """Input tokens, cached ones included."""
        return self.usage.prompt_tokens

    @property
    def completion_tokens(self) -> int:
        """Output tokens, reasoning included."""
        return self.usage.completion_tokens

    @property
    def total_tokens(self) -> int:
        """Tokens as the providers totalled them."""
        return self.usage.total_tokens

    # Old names, kept so code written against either handler keeps working.
    @property
    def requests(self) -> int:
        """Alias of ``calls`` (the LangChain callback's old name)."""
        return self.calls

    @property
    def unpriced_requests(self) -> int:
        """Alias of ``unpriced_calls`` (the LangChain callback's old name)."""
        return self.unpriced_calls

    def plus(
        self,
        usage: Usage | None,
        cost: Cost | None,
        *,
        streamed: bool = False,
        estimated: bool = False,
    ) -> TallyTotals:
        """These totals with one more call."""
        return TallyTotals(
            calls=self.calls + 1,
            streamed_calls=self.streamed_calls + streamed,
            usage=self.usage if usage is None else self.usage + usage,
            known_cost=self.known_cost if cost is None else self.known_cost + cost,
            unpriced_calls=self.unpriced_calls + (cost is None),
            estimated_calls=self.estimated_calls + estimated,
            estimated_usd=self.estimated_usd + (cost.total_usd if estimated and cost else _ZERO),
        )

    def summary(self) -> str:
        """Three human lines: tokens, calls (streamed, unpriced, estimated) and money."""
        u = self.usage
        notes = [f"{self.streamed_calls} streamed"] if self.streamed_calls else []
        if self.unpriced_calls:
            notes.append(f"{self.unpriced_calls} unpriced, not in the money")
        if self.estimated_calls:
            notes.append(f"{self.estimated_calls} estimated, ${_plain(self.estimated_usd)}")
        extra = f" ({'; '.join(notes)})" if notes else ""
        total = self.total_usd
        usd = "unknown (no call was priced)" if total is None else f"${_plain(total)}"
        return (
            f"Tokens used: {u.total_tokens} (prompt {u.prompt_tokens}, cached {u.cached_tokens}, "
            f"completion {u.completion_tokens}, reasoning {u.reasoning_tokens})\n"
            f"Calls: {self.calls}{extra}\n"
            f"Total cost (USD): {usd}; relay ¥{_plain(self.relay_cny)} vs direct "
            f"¥{_plain(self.direct_cny)}"
        )


def _plain(amount: Decimal) -> str:
    """An amount without trailing zeros or exponent: ``0.000058``, never ``5.80E-5``."""
    return f"{amount.normalize():f}" if amount else "0"


class CostTally:
    """Thread-safe running totals, overall, per served model and per task label.

    Example:
        ```python
        tally = CostTally()
        tally.add_call(completion.call_info)
        print(tally.totals.total_usd, tally.by_model["gpt-4.1"].calls)
        ```
    """

    __slots__ = ("_by_model", "_by_task", "_lock", "_totals")

    def __init__(self) -> None:
        """Start from zero."""
        self._lock = threading.Lock()
        self._totals = TallyTotals()
        self._by_model: dict[str, TallyTotals] = {}
        self._by_task: dict[str | None, TallyTotals] = {}

    def add(
        self,
        model: str,
        usage: Usage | None,
        cost: Cost | None,
        *,
        task: str | None = None,
        streamed: bool = False,
        estimated: bool = False,
    ) -> None:
        """Count one call: ``cost=None`` counts it as unpriced (its tokens still count)."""
        flags = {"streamed": streamed, "estimated": estimated}
        empty = TallyTotals()
        with self._lock:
            self._totals = self._totals.plus(usage, cost, **flags)
            self._by_model[model] = self._by_model.get(model, empty).plus(usage, cost, **flags)
            self._by_task[task] = self._by_task.get(task, empty).plus(usage, cost, **flags)

    def add_call(self, info: CallInfo) -> None:
        """Count a call the core priced (its ``CallInfo``): served model, task label, flags."""
        task = info.attribution.task or getattr(info.route, "task", None)
        cost = info.cost if info.usage is not None else None
        self.add(
            info.model,
            info.usage,
            cost,
            task=task,
            streamed=info.streamed,
            estimated=info.estimated,
        )

    @property
    def totals(self) -> TallyTotals:
        """Everything counted so far."""
        return self._totals

    @property
    def by_model(self) -> dict[str, TallyTotals]:
        """Totals per served model (a copy)."""
        with self._lock:
            return dict(self._by_model)

    @property
    def by_task(self) -> dict[str | None, TallyTotals]:
        """Totals per task label (``None``: calls without one; a copy)."""
        with self._lock:
            return dict(self._by_task)

    def reset(self) -> None:
        """Forget every total."""
        with self._lock:
            self._totals = TallyTotals()
            self._by_model.clear()
            self._by_task.clear()


class TallyReadout:
    """The read-side names every cost handler shares, over its ``_tally`` (a ``CostTally``).

    LangChain's callback and LlamaIndex's handler both inherit it, so their names cannot drift.
    """

    __slots__ = ()
    _tally: CostTally

    @property
    def totals(self) -> TallyTotals:
        """Everything counted so far."""
        return self._tally.totals

    @property
    def by_model(self) -> dict[str, TallyTotals]:
        """Totals per served model."""
        return self._tally.by_model

    @property
    def by_task(self) -> dict[str | None, TallyTotals]:
        """Totals per task label (``None``: calls without one)."""
        return self._tally.by_task

    @property
    def calls(self) -> int:
        """Calls counted."""
        return self._tally.totals.calls

    @property
    def streamed_calls(self) -> int:
        """Calls counted that were streams."""
        return self._tally.totals.streamed_calls

    @property
    def unpriced_calls(self) -> int:
        """Calls counted without a price (left out of the money, never a silent 0)."""
        return self._tally.totals.unpriced_calls

    @property
    def estimated_calls(self) -> int:
        """Calls counted whose usage was estimated."""
        return self._tally.totals.estimated_calls

    @property
    def estimated_usd(self) -> Decimal:
        """The estimated part of ``total_usd``."""
        return self._tally.totals.estimated_usd

    @property
    def usage(self) -> Usage:
        """Tokens over every call."""
        return self._tally.totals.usage

    @property
    def prompt_tokens(self) -> int:
        """Input tokens, cached ones included."""
        return self._tally.totals.prompt_tokens

    @property
    def completion_tokens(self) -> int:
        """Output tokens, reasoning included."""
        return self._tally.totals.completion_tokens

    @property
    def total_tokens(self) -> int:
        """Tokens as the providers totalled them."""
        return self._tally.totals.total_tokens

    @property
    def cost(self) -> Cost | None:
        """Cost over the priced calls; ``None`` only when calls were made and none was priced."""
        return self._tally.totals.cost

    @property
    def total_usd(self) -> Decimal | None:
        """USD over the priced calls; ``None`` only when calls were made and none was priced."""
        return self._tally.totals.total_usd

    @property
    def relay_cny(self) -> Decimal:
        """What the relay bills for the priced calls, in CNY."""
        return self._tally.totals.relay_cny

    @property
    def direct_cny(self) -> Decimal:
        """What the providers would bill directly for the priced calls, in CNY."""
        return self._tally.totals.direct_cny

    # Old names of the LangChain callback, kept as aliases.
    @property
    def successful_requests(self) -> int:
        """Alias of ``calls``."""
        return self._tally.totals.calls

    @property
    def total_cost_usd(self) -> Decimal:
        """USD over the priced calls, 0 when none was priced (see ``unpriced_calls``)."""
        return self._tally.totals.known_cost.total_usd
