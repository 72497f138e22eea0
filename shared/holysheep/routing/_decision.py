"""What a routing decision was and why: frozen values, JSON-friendly, printable.

A router that hides its choice cannot be debugged or trusted (Martian returns no routed model).
Every candidate keeps a verdict in plain words, every fallback keeps the error that caused it,
and ``as_dict()`` gives the same facts to framework metadata, logs and ``holysheep route --json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

__all__ = ["CandidateVerdict", "Fallback", "RouteDecision", "VerdictStatus"]

VerdictStatus = Literal["chosen", "kept", "cooling", "failed", "skipped"]
"""``chosen``: the pick. ``kept``: eligible, waiting as a fallback. ``cooling``: eligible but its
circuit breaker is open. ``failed``: tried and failed in this call. ``skipped``: cannot serve this
request (window, tools, json_schema, vision, budget), never tried."""

_ERROR_TEXT_LIMIT = 300


def _usd(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def format_usd(value: Decimal | None) -> str:
    """A USD amount for people: ``$0.000123`` (six significant places), or ``unknown``."""
    if value is None:
        return "unknown"
    if value == 0:
        return "$0"
    if abs(value) >= 1:
        return f"${value:,.4f}"
    return f"${value:.6g}" if abs(value) < Decimal("0.000001") else f"${value:.6f}"


@dataclass(frozen=True, slots=True)
class CandidateVerdict:
    """One candidate model and what the router made of it."""

    model: str
    """The candidate's catalogue id."""
    status: VerdictStatus
    """Where it stands; see ``VerdictStatus``."""
    reason: str
    """Why, in plain words (``"skipped: does not support tools"``)."""
    context_window: int
    """The model's window in tokens (prompt plus output)."""
    max_tokens: int | None = None
    """``max_tokens`` to send to this model after clamping; None = the caller's (none given)."""
    estimated_cost_usd: Decimal | None = None
    """Prompt estimate plus ``max_tokens`` (or the assumed reply) at list price; None = unpriced."""

    @property
    def eligible(self) -> bool:
        """True unless the candidate cannot serve this request at all (``skipped``)."""
        return self.status != "skipped"

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-safe fields (money as a decimal string)."""
        return {
            "model": self.model,
            "status": self.status,
            "reason": self.reason,
            "context_window": self.context_window,
            "max_tokens": self.max_tokens,
            "estimated_cost_usd": _usd(self.estimated_cost_usd),
        }


@dataclass(frozen=True, slots=True)
class Fallback:
    """One move away from a candidate that failed, with the error that caused it."""

    from_model: str
    """The model that failed."""
    error_type: str
    """The error's class name (``RateLimitError``, ``UpstreamError``...)."""
    error: str
    """The error's message, shortened to 300 characters."""
    reason: str
    """What the router did about it, in plain words."""
    status_code: int | None = None
    """The HTTP status of the failure, when there was one."""
    to_model: str | None = None
    """The model tried next; None when none was (the call gave up or is still waiting)."""

    @classmethod
    def from_error(cls, model: str, error: BaseException, reason: str) -> Fallback:
        """A fallback record for ``error`` raised by ``model``."""
        text = str(error)
        if len(text) > _ERROR_TEXT_LIMIT:
            text = text[: _ERROR_TEXT_LIMIT - 3] + "..."
        status = getattr(error, "status_code", None)
        return cls(
            from_model=model,
            error_type=type(error).__name__,
            error=text,
            reason=reason,
            status_code=status if isinstance(status, int) else None,
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-safe fields."""
        return {
            "from_model": self.from_model,
            "to_model": self.to_model,
            "error_type": self.error_type,
            "status_code": self.status_code,
            "error": self.error,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """Which model serves a request, every candidate considered, and every fallback taken."""

    task: str
    """The route label used (``qa``, ``long-context``...)."""
    task_source: Literal["caller", "classifier"]
    """``caller`` when the request named its task, ``classifier`` when it was classified."""
    model: str | None
    """The chosen model; None when no candidate can serve the request now."""
    reason: str
    """Why this model (or why none), in plain words."""
    candidates: tuple[CandidateVerdict, ...]
    """Every candidate considered, in the order they would be tried."""
    fallbacks: tuple[Fallback, ...] = ()
    """Every fallback taken, in order (empty for a decision made before any call)."""
    prompt_tokens: int = 0
    """Estimated prompt tokens (messages plus tool definitions)."""
    max_tokens: int | None = None
    """``max_tokens`` for the chosen model after clamping; None = the caller gave none."""
    estimated_cost_usd: Decimal | None = None
    """Estimated cost on the chosen model; None when unpriced or no model was chosen."""
    budget_remaining_usd: Decimal | None = None
    """What the attached ledger said is left for this attribution; None = no budget applies."""

    def verdict(self, model: str) -> CandidateVerdict | None:
        """The verdict of ``model``, or None when it was not a candidate."""
        return next((v for v in self.candidates if v.model == model), None)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-safe fields, for metadata slots, logs and ``holysheep route --json``."""
        return {
            "task": self.task,
            "task_source": self.task_source,
            "model": self.model,
            "reason": self.reason,
            "prompt_tokens": self.prompt_tokens,
            "max_tokens": self.max_tokens,
            "estimated_cost_usd": _usd(self.estimated_cost_usd),
            "budget_remaining_usd": _usd(self.budget_remaining_usd),
            "candidates": [v.as_dict() for v in self.candidates],
            "fallbacks": [f.as_dict() for f in self.fallbacks],
        }

    def explain(self) -> str:
        """A few lines for people: task, each candidate with its verdict, the choice, fallbacks."""
        lines = [f"task: {self.task} ({'given' if self.task_source == 'caller' else 'classified'})"]
        lines.append(f"prompt: ~{self.prompt_tokens:,} tokens")
        width = max((len(v.model) for v in self.candidates), default=0)
        marks = {"chosen": "*", "kept": "+", "cooling": "~", "failed": "!", "skipped": "-"}
        for v in self.candidates:
            lines.append(f"  {marks[v.status]} {v.model.ljust(width)}  {v.status}: {v.reason}")
        for f in self.fallbacks:
            lines.append(f"  fallback: {f.reason} -> {f.to_model or 'none'}")
        lines.append(f"chosen: {self.model or 'none'} ({self.reason})")
        return "\n".join(lines)
