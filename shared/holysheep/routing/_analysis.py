"""What a request needs and how each candidate meets it: the router's working state.

``TaskRouter`` builds one ``Analysis`` per request (task, prompt estimate, fit and estimated cost
per candidate, budget); ``route()`` turns it into a ``RouteDecision`` and ``plan()`` walks it.
Internal: the public view is ``RouteDecision``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from holysheep.routing._decision import CandidateVerdict, Fallback, RouteDecision, format_usd
from holysheep.routing._limits import Fit

if TYPE_CHECKING:
    from holysheep.routing._breaker import CircuitBreaker

__all__ = ["Analysis", "Candidate"]

_AUTO: Any = object()


@dataclass(slots=True)
class Candidate:
    """One candidate model for one request."""

    model: str
    spec: Any
    rank: int
    """Position in the route (the long-context extension continues the count)."""
    fit: Fit | None = None
    """How the request fits (None when skipped before the window was checked)."""
    cost: Decimal | None = None
    skip: str | None = None
    """Why it cannot serve this request; None when eligible."""
    note: str = ""
    """Why it is eligible, in plain words."""
    source: str = "route"
    """``route``, or ``long-context`` when it joined because the route's windows were too small."""

    def verdict(self, status: Any, reason: str) -> CandidateVerdict:
        return CandidateVerdict(
            model=self.model,
            status=status,
            reason=reason,
            context_window=self.spec.context_window,
            max_tokens=self.fit.max_tokens if self.fit is not None else None,
            estimated_cost_usd=self.cost,
        )


@dataclass(slots=True)
class Analysis:
    """A request as the router sees it, and every candidate's standing."""

    task: str
    task_source: Any
    messages: list[Any]
    prompt_tokens: int
    tools_tokens: int
    max_tokens: int | None
    needs: dict[str, bool]
    attribution: Any = None
    candidates: list[Candidate] = field(default_factory=list)
    budget_remaining: Decimal | None = None
    budget_note: str = ""
    min_prompt_tokens: int | None = None

    def find(self, model: str) -> Candidate | None:
        return next((c for c in self.candidates if c.model == model), None)

    def eligible(self) -> list[Candidate]:
        return [c for c in self.candidates if c.skip is None]

    def chosen_reason(
        self,
        model: str,
        verdicts: dict[str, CandidateVerdict] | None = None,
        fallbacks: tuple[Fallback, ...] = (),
    ) -> str:
        """Why ``model`` was picked, naming the candidates passed over on the way."""
        chosen = self.find(model)
        if chosen is None:
            return f"{model} was picked"
        what = "fits the request"
        if self.budget_remaining is not None:
            what += f" within the {format_usd(self.budget_remaining)} budget left"
        text = f"{model} is the first {self.task!r} candidate that {what} and is healthy"
        if fallbacks:
            hops = ", ".join(f"{f.from_model} ({f.error_type})" for f in fallbacks)
            text = f"{model} served after {len(fallbacks)} fallback(s), from {hops}"
        if chosen.source != "route":
            text += f" (from the {chosen.source} route: the {self.task!r} models are too small)"
        verdicts = verdicts or {}
        order = {c.model: i for i, c in enumerate(self.candidates)}
        passed = [
            c
            for c in sorted(self.candidates, key=_rank)
            if c.model != model
            and not _failed_in(c.model, fallbacks)
            and (c.rank < chosen.rank if c.skip is not None else order[c.model] < order[model])
        ]
        if passed:
            text += "; passed over " + ", ".join(
                f"{c.model} ({_short(verdicts.get(c.model), c)})" for c in passed
            )
        if self.budget_note:
            text += f"; {self.budget_note}"
        return text

    def decide(
        self,
        breaker: CircuitBreaker,
        *,
        fallbacks: tuple[Fallback, ...] = (),
        out: dict[str, tuple[str, str]] | None = None,
        chosen: str | None = _AUTO,
        reason: str | None = None,
    ) -> RouteDecision:
        """The decision: verdict per candidate (breaker state read now, nothing taken).

        ``chosen`` left out picks the first eligible candidate whose circuit admits a request
        (``route()``); ``reason`` left out is written from the verdicts.
        """
        verdicts, chosen = self._verdicts(breaker, out or {}, chosen)
        if reason is None:
            by_model = {v.model: v for v in verdicts}
            if chosen is not None:
                reason = self.chosen_reason(chosen, by_model, fallbacks)
            else:
                reason = self._none_reason(verdicts)
        picked = self.find(chosen) if chosen is not None else None
        return RouteDecision(
            task=self.task,
            task_source=self.task_source,
            model=chosen,
            reason=reason,
            candidates=tuple(verdicts),
            fallbacks=fallbacks,
            prompt_tokens=self.prompt_tokens,
            max_tokens=picked.fit.max_tokens if picked and picked.fit else self.max_tokens,
            estimated_cost_usd=picked.cost if picked is not None else None,
            budget_remaining_usd=self.budget_remaining,
        )

    def _verdicts(
        self, breaker: CircuitBreaker, out: dict[str, tuple[str, str]], chosen: str | None
    ) -> tuple[list[CandidateVerdict], str | None]:
        """Each candidate's verdict; with ``chosen`` left out, the first healthy one is picked."""
        verdicts: list[CandidateVerdict] = []
        auto = chosen is _AUTO
        if auto:
            chosen = None
        for c in self.candidates:
            if c.skip is not None:
                verdicts.append(c.verdict("skipped", c.skip))
            elif c.model in out:
                verdicts.append(c.verdict(*out[c.model]))
            elif c.model == chosen:
                verdicts.append(c.verdict("chosen", c.note))
            else:
                health = breaker.health(c.model)
                if not health.available:
                    why = f"circuit {health.state.value}, {health.retry_in_s:.1f} s to go"
                    why += f" ({health.reason})" if health.reason else ""
                    verdicts.append(c.verdict("cooling", why))
                elif auto and chosen is None:
                    chosen = c.model
                    verdicts.append(c.verdict("chosen", c.note))
                else:
                    verdicts.append(c.verdict("kept", f"fallback; {c.note}"))
        return verdicts, chosen

    def _none_reason(self, verdicts: list[CandidateVerdict]) -> str:
        cooling = [v for v in verdicts if v.status == "cooling"]
        if cooling:
            return "every eligible candidate is cooling down: " + "; ".join(
                f"{v.model} {v.reason}" for v in cooling
            )
        return f"no {self.task!r} candidate can serve this request: " + "; ".join(
            f"{v.model} {v.status}, {v.reason}" for v in verdicts
        )


def _failed_in(model: str, fallbacks: tuple[Fallback, ...]) -> bool:
    return any(f.from_model == model for f in fallbacks)


def _short(verdict: CandidateVerdict | None, candidate: Candidate) -> str:
    if verdict is None:
        return candidate.skip or "not used"
    return verdict.reason if verdict.status == "skipped" else f"{verdict.status}: {verdict.reason}"


def _rank(candidate: Candidate) -> int:
    return candidate.rank
