"""What a bulk job takes and gives: one parsed request, one result per request, the summary.

Plain values shared by the runner, the journals, the file formats and the command line, so each
of them reads the same fields instead of passing dicts around.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from holysheep.costs import DEFAULT_RELAY_CNY_PER_USD
from holysheep.errors import ConfigurationError, HolySheepError

__all__ = ["BatchRequest", "BatchResult", "BatchSummary", "parse_budget"]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class BatchRequest:
    """One request of a job: its id, the chat body to send and whom the call is billed to."""

    custom_id: str
    """The caller's id for the request, unique within a job (as in the OpenAI Batch API)."""
    body: dict[str, Any]
    """The chat-completions body (``model``, ``messages``, parameters)."""
    seq: int
    """Position in the input, from 0 (the line number minus one for a file)."""
    task: str | None = None
    """Task label: for ``model="auto"`` routing and the ledger."""
    app: str | None = None
    """Application the call is billed to."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Free tags for the ledger (the request's ``metadata``)."""
    line: int | None = None
    """Input line number for a request read from a file (named in per-request errors)."""


@dataclass(frozen=True, slots=True)
class BatchResult:
    """The outcome of one request: ``completion`` or ``error``, never both.

    ``call_info`` is the billed call behind the answer (shared by every deduplicated copy, and
    rebuilt from the journal for a result finished by an earlier run or another worker).
    """

    custom_id: str
    """The request's ``custom_id``."""
    completion: Any = None
    """The ``ChatCompletion``, or None when the request failed or was not sent."""
    error: HolySheepError | None = None
    """The typed error of this request alone (``BudgetExceededError`` when left unsent)."""
    call_info: Any = None
    """The ``CallInfo`` of the billed call, or None."""
    deduplicated: bool = False
    """True when the answer came from an identical request's call (no call of its own)."""
    from_journal: bool = False
    """True when the journal already had the answer (an earlier run, or another worker)."""
    seq: int = -1
    """Position of the request in the input (-1 when unknown)."""
    line: int | None = None
    """Input line number for a request read from a file."""

    @property
    def ok(self) -> bool:
        """True when the request has an answer."""
        return self.error is None and self.completion is not None


@dataclass(slots=True)
class BatchSummary:
    """What a run of a job did; money counts only calls billed during this run."""

    requests: int = 0
    """Requests read from the input (bad lines included)."""
    succeeded: int = 0
    """Requests with an answer (from a call, a duplicate or the journal)."""
    failed: int = 0
    """Requests that ended with an error (unsent ones are counted in ``unsent`` instead)."""
    failed_by_type: dict[str, int] = field(default_factory=dict)
    """``failed`` split by error class name (``RateLimitError``, ``BadRequestError``...)."""
    deduplicated: int = 0
    """Requests answered by an identical request's call: calls saved."""
    from_journal: int = 0
    """Requests already finished in the journal (earlier run or another worker): not re-sent."""
    billed_calls: int = 0
    """Calls the relay billed during this run."""
    prompt_tokens: int = 0
    """Prompt tokens of this run's billed calls."""
    completion_tokens: int = 0
    """Completion tokens of this run's billed calls."""
    total_usd: Decimal = _ZERO
    """List-price USD of this run's billed calls."""
    relay_cny: Decimal = _ZERO
    """What the relay billed for them, in CNY."""
    direct_cny: Decimal = _ZERO
    """What the providers would have billed directly, in CNY."""
    unsent: int = 0
    """Requests not sent because the next reservation would have crossed the budget."""
    wall_s: float = 0.0
    """Seconds from the start of the run to its last result."""

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens of this run's billed calls."""
        return self.prompt_tokens + self.completion_tokens

    def add_failure(self, error: BaseException) -> None:
        """Count one failed request under its error class."""
        self.failed += 1
        name = type(error).__name__
        self.failed_by_type[name] = self.failed_by_type.get(name, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly (money as exact decimal strings)."""
        return {
            "requests": self.requests,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "failed_by_type": dict(self.failed_by_type),
            "deduplicated": self.deduplicated,
            "from_journal": self.from_journal,
            "billed_calls": self.billed_calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_usd": str(self.total_usd),
            "relay_cny": str(self.relay_cny),
            "direct_cny": str(self.direct_cny),
            "unsent": self.unsent,
            "wall_s": round(self.wall_s, 3),
        }

    def describe(self) -> str:
        """A few lines for people: counts, tokens, money and time."""
        failed = ", ".join(f"{n} {k}" for k, n in sorted(self.failed_by_type.items()))
        lines = [
            f"{self.requests} requests: {self.succeeded} succeeded, {self.failed} failed"
            + (f" ({failed})" if failed else "")
            + f", {self.unsent} unsent (budget)",
            f"{self.deduplicated} deduplicated, {self.from_journal} already done; "
            f"{self.billed_calls} billed calls, {self.tokens:,} tokens",
            f"${self.total_usd:.6f}: relay ¥{self.relay_cny:.4f} vs direct ¥{self.direct_cny:.4f}"
            f"; {self.wall_s:.1f} s",
        ]
        return "\n".join(lines)


def parse_budget(budget: Any) -> Decimal | None:
    """A job budget in USD: a number (USD), or a string such as ``"5.00"``, ``"$5"``,
    ``"300 CNY"`` or ``"¥300"`` (CNY as the relay bills it, 1 CNY per USD of list price)."""
    if budget is None:
        return None
    if isinstance(budget, bool):
        raise ConfigurationError(f"budget={budget!r}: give an amount such as 5.00 or '300 CNY'")
    text = str(budget).strip().replace(",", "")
    upper = text.upper()
    cny = upper.startswith(("¥", "CNY", "RMB")) or upper.endswith(("CNY", "RMB", "¥"))
    for mark in ("¥", "$", "CNY", "RMB", "USD"):
        upper = upper.replace(mark, "")
    try:
        amount = Decimal(upper.strip())
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount < 0:
        raise ConfigurationError(
            f"budget={budget!r} is not an amount: give USD such as 5.00 (or '$5'), or CNY such "
            "as '300 CNY' (or '¥300')"
        )
    return amount / DEFAULT_RELAY_CNY_PER_USD if cny else amount
