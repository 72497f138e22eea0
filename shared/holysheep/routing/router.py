"""``TaskRouter``: pick the model for a request by task label, fit, budget and health.

A route is a task label with an ordered list of candidate models. For one request the router
drops the candidates that cannot serve it (context window, tools, json_schema, images), prefers
those within the budget left when a ledger is attached, skips those whose circuit is open, and
explains each verdict in plain words. ``route()`` is the pure decision; ``plan()`` returns the
``RoutePlan`` the client walks through, falling back on failures.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from holysheep.costs import price
from holysheep.errors import ConfigurationError
from holysheep.routing._analysis import Analysis, Candidate
from holysheep.routing._breaker import CircuitBreaker
from holysheep.routing._classifier import (
    Classification,
    Classifier,
    LocalClassifier,
    classification_text,
)
from holysheep.routing._decision import RouteDecision, format_usd
from holysheep.routing._limits import (
    ASSUMED_REPLY_TOKENS,
    NO_FIT,
    assess_fit,
    min_prompt_tokens,
)
from holysheep.routing._plan import RoutePlan
from holysheep.routing._routes import (
    LONG_CONTEXT,
    load_routes,
    normalize_task,
    read_config_file,
)
from holysheep.tokens import estimate_message_tokens, estimate_tools_tokens
from holysheep.usage import Usage

__all__ = ["TaskRouter"]

logger = logging.getLogger("holysheep")
_LEVEL_WORDS = {1: "without clamping max_tokens", 2: "without trimming the history"}
_SETTINGS = frozenset(
    {"routes", "extends", "default_task", "max_wait_s", "trim", "breaker", "low_confidence"}
    | {"confidence_threshold"}
)
LOW_CONFIDENCE_POLICIES = ("label", "default", "llm")
"""What the router does with an unsure label: use it, use ``default_task``, or ask the LLM."""


def _needs_vision(messages: Sequence[Any]) -> bool:
    for message in messages:
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, list):
            for part in content:
                if isinstance(part, Mapping) and part.get("type") in ("image_url", "input_image"):
                    return True
    return False


def _as_messages(messages: Any) -> list[Any]:
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    return [
        m if isinstance(m, Mapping) else m.model_dump(exclude_none=True) for m in (messages or ())
    ]


class TaskRouter:
    """Routes requests to models by task label; explains and plans every decision.

    Example:
        ```python
        router = TaskRouter()                      # the default routes (see DEFAULT_ROUTES)
        decision = router.route([{"role": "user", "content": "Summarize: ..."}])
        print(decision.model, decision.reason)     # deepseek-v3.2 is the first ...
        ```
    """

    def __init__(
        self,
        routes: Mapping[str, Sequence[str]] | None = None,
        *,
        catalog: Any = None,
        ledger: Any = None,
        classifier: Classifier | None = None,
        breaker: CircuitBreaker | None = None,
        clock: Callable[[], float] = time.monotonic,
        default_task: str = "conversational",
        extends: bool = True,
        trim: bool = False,
        max_wait_s: float = 30.0,
        low_confidence: str = "label",
        confidence_threshold: float | None = None,
        llm_classifier: Classifier | None = None,
    ) -> None:
        """Build a router.

        Args:
            routes: task label -> ordered model ids; merged over ``DEFAULT_ROUTES`` (the labels
                named replace the default ones) unless ``extends=False``.
            catalog: the ``ModelCatalog`` with windows, capabilities and prices (default: the
                shipped one, or ``HOLYSHEEP_CATALOG``).
            ledger: a ``CostLedger`` (anything with ``remaining_usd(attribution)``) for budgets.
            classifier: labels requests without a task (default: ``LocalClassifier()``).
            breaker: the per-model ``CircuitBreaker``; pass one to share health across routers.
            clock: monotonic seconds, for deadlines (and the breaker created here).
            default_task: the route for a label that has none (must have a route).
            extends: merge ``routes`` over the defaults (True) or use them alone (False).
            trim: let plans trim the oldest turns when a prompt fits no window (opt-in).
            max_wait_s: how long a plan may wait for a cooling model when given no deadline.
            low_confidence: what to do when the classifier is unsure: ``"label"`` (use its
                label anyway), ``"default"`` (route as ``default_task``) or ``"llm"`` (ask
                ``llm_classifier``, e.g. ``LLMClassifier.from_client(client)``: the cheapest
                model, cached, its calls billed under the task ``routing``).
            confidence_threshold: below this a label is unsure (default: the threshold
                shipped with the local model, at which 95% of its confident labels were right
                on prompt sources it never saw).
            llm_classifier: the classifier asked when ``low_confidence="llm"``.

        Raises:
            ConfigurationError: a route names a model missing from the catalogue, or
                ``default_task`` has no route.
        """
        if catalog is None:
            from holysheep.catalog import ModelCatalog

            catalog = ModelCatalog.default()
        self.catalog = catalog
        self.routes: dict[str, tuple[str, ...]] = load_routes(routes, catalog, extends=extends)
        self.default_task = normalize_task(default_task, self.routes)
        self.ledger = ledger
        self.classifier: Classifier = classifier if classifier is not None else LocalClassifier()
        self.clock = clock
        self.breaker = breaker if breaker is not None else CircuitBreaker(clock=clock)
        self.trim = trim
        self.max_wait_s = max_wait_s
        if low_confidence not in LOW_CONFIDENCE_POLICIES:
            raise ConfigurationError(
                f"low_confidence must be one of {LOW_CONFIDENCE_POLICIES}, not {low_confidence!r}"
            )
        if low_confidence == "llm" and llm_classifier is None:
            raise ConfigurationError(
                'low_confidence="llm" needs llm_classifier=LLMClassifier.from_client(client)'
            )
        if confidence_threshold is not None and not 0.0 <= confidence_threshold <= 1.0:
            raise ConfigurationError("confidence_threshold must be between 0 and 1")
        self.low_confidence = low_confidence
        self.confidence_threshold = confidence_threshold
        self.llm_classifier = llm_classifier

    def __repr__(self) -> str:
        return f"<TaskRouter routes={sorted(self.routes)} default_task={self.default_task!r}>"

    # ------------------------------------------------------------ loading

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **kwargs: Any) -> TaskRouter:
        """A router from ``{"routes": {label: [models]}, "extends": bool, "default_task": ...,
        "trim": bool, "max_wait_s": float, "breaker": {CircuitBreaker keyword: value}}``.

        A mapping without a ``routes`` key is taken as the routes themselves. Keyword
        arguments (``catalog``, ``ledger``...) go to the constructor and win over the mapping.
        """
        if not isinstance(data, Mapping):
            raise ConfigurationError("router settings must be a table/dict")
        if "routes" not in data:
            data = {"routes": data}
        unknown = set(data) - _SETTINGS
        if unknown:
            raise ConfigurationError(
                f"unknown router setting(s) {sorted(unknown)}; expected {sorted(_SETTINGS)}"
            )
        settings = {k: v for k, v in data.items() if k not in ("breaker",)}
        breaker_settings = data.get("breaker")
        if breaker_settings is not None and "breaker" not in kwargs:
            try:
                clock = kwargs.get("clock", time.monotonic)
                breaker = CircuitBreaker(clock=clock, **breaker_settings)
            except (TypeError, ValueError) as exc:
                raise ConfigurationError(f"bad [breaker] settings: {exc}") from None
            kwargs["breaker"] = breaker
        return cls(settings.pop("routes"), **{**settings, **kwargs})

    @classmethod
    def from_toml(cls, path: str | Path, **kwargs: Any) -> TaskRouter:
        """A router from a TOML file with the keys of ``from_dict`` (``[routes]`` a table)."""
        return cls.from_dict(read_config_file(path), **kwargs)

    # ------------------------------------------------------------ classifying

    def classify(
        self, text_or_messages: str | Sequence[Any], *, with_confidence: bool = False
    ) -> Any:
        """The task label of a prompt or chat (one of ``TASK_LABELS``), without the network
        unless an LLM classifier was configured.

        With ``with_confidence=True``, a ``Classification``: the label routing uses, the local
        classifier's calibrated confidence, and who decided (the low-confidence policy).
        """
        text = (
            text_or_messages
            if isinstance(text_or_messages, str)
            else classification_text(_as_messages(text_or_messages))
        )
        result = self._classification(text)
        return result if with_confidence else result.label

    def _classification(self, text: str) -> Classification:
        judge = getattr(self.classifier, "classify_with_confidence", None)
        if judge is None:  # a custom or LLM classifier: its label, no confidence to weigh
            label = self.classifier.classify(text)
            return Classification(label, 1.0, label, True)
        result: Classification = judge(text)
        threshold = self.confidence_threshold
        confident = result.confident if threshold is None else result.confidence >= threshold
        if confident or self.low_confidence == "label":
            return Classification(result.label, result.confidence, result.predicted, confident)
        if self.low_confidence == "default":
            label = self.default_task
            return Classification(label, result.confidence, result.predicted, False, "default")
        assert self.llm_classifier is not None  # checked in __init__
        label = self.llm_classifier.classify(text)
        return Classification(label, result.confidence, result.predicted, False, "llm")

    def _task(self, messages: list[Any], task: str | None) -> tuple[str, str]:
        if task is not None:
            return normalize_task(task, self.routes), "caller"
        label = self.classify(messages)
        if label not in self.routes:
            label = self.default_task
        return label, "classifier"

    # ------------------------------------------------------------ deciding

    def route(
        self,
        messages: str | Sequence[Any],
        task: str | None = None,
        *,
        max_tokens: int | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        json_schema: bool = False,
        attribution: Any = None,
        trim: bool | None = None,
    ) -> RouteDecision:
        """The model for this request now, every candidate's verdict and why; no side effects.

        ``decision.model`` is None when no candidate can serve the request right now (the
        reason says why). Budgets are read, never reserved; breakers are read, never taken.
        """
        analysis = self.analyse(
            messages,
            task,
            max_tokens=max_tokens,
            tools=tools,
            json_schema=json_schema,
            attribution=attribution,
            trim=trim,
        )
        return analysis.decide(self.breaker)

    def plan(
        self,
        messages: str | Sequence[Any],
        task: str | None = None,
        *,
        max_tokens: int | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        json_schema: bool = False,
        attribution: Any = None,
        deadline: float | None = None,
        trim: bool | None = None,
    ) -> RoutePlan:
        """A ``RoutePlan`` for one call: candidates in order, fallbacks, waits and the decision.

        ``deadline`` is in seconds from now: how long the plan may wait for a cooling model
        (default ``max_wait_s``).
        """
        analysis = self.analyse(
            messages,
            task,
            max_tokens=max_tokens,
            tools=tools,
            json_schema=json_schema,
            attribution=attribution,
            trim=trim,
        )
        return RoutePlan(
            analysis,
            self.breaker,
            clock=self.clock,
            deadline=self.max_wait_s if deadline is None else deadline,
            extend=self._extend_long_context,
        )

    def analyse(
        self,
        messages: str | Sequence[Any],
        task: str | None = None,
        *,
        max_tokens: int | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        json_schema: bool = False,
        attribution: Any = None,
        trim: bool | None = None,
    ) -> Analysis:
        """Every candidate's standing for this request (the state behind ``route``/``plan``)."""
        if max_tokens is not None and (isinstance(max_tokens, bool) or max_tokens < 1):
            raise ConfigurationError(f"max_tokens must be a positive integer, got {max_tokens!r}")
        wire = _as_messages(messages)
        label, source = self._task(wire, task)
        tools_tokens = estimate_tools_tokens(tools)
        trimming = self.trim if trim is None else trim
        analysis = Analysis(
            task=label,
            task_source=source,
            messages=wire,
            prompt_tokens=estimate_message_tokens(wire) + tools_tokens,
            tools_tokens=tools_tokens,
            max_tokens=max_tokens,
            needs={"tools": bool(tools), "json_schema": json_schema, "vision": _needs_vision(wire)},
            attribution=attribution,
            min_prompt_tokens=min_prompt_tokens(wire, extra=tools_tokens) if trimming else None,
        )
        candidates = [self._assess(analysis, m, i) for i, m in enumerate(self.routes[label])]
        sized = [c for c in candidates if c.fit is not None]
        if sized and not any(c.fit.level == 0 for c in sized if c.fit is not None):
            candidates += self._long_context(analysis, candidates, 0)
        self._prefer_best_fit(candidates)
        analysis.candidates = candidates
        self._apply_budget(analysis)
        return analysis

    def _assess(
        self, analysis: Analysis, model: str, rank: int, source: str = "route"
    ) -> Candidate:
        spec = self.catalog.get(model)
        candidate = Candidate(model=spec.id, spec=spec, rank=rank, source=source)
        missing = [
            need for need, wanted in analysis.needs.items() if wanted and not getattr(spec, need)
        ]
        if missing:
            candidate.skip = f"does not support {' or '.join(missing)}"
            return candidate
        fit = assess_fit(
            spec,
            analysis.prompt_tokens,
            analysis.max_tokens,
            min_prompt_tokens=analysis.min_prompt_tokens,
        )
        candidate.fit = fit
        if fit.level == NO_FIT:
            candidate.skip = fit.reason
            return candidate
        candidate.note = fit.reason
        candidate.cost = self._estimate_cost(spec, fit.prompt_tokens, fit.max_tokens, analysis)
        return candidate

    def _long_context(
        self, analysis: Analysis, present: list[Candidate], min_window: int
    ) -> list[Candidate]:
        """Candidates of the long-context route (not yet present) with a window > min_window."""
        if LONG_CONTEXT not in self.routes or analysis.task == LONG_CONTEXT:
            return []
        have = {c.model for c in present}
        start = max((c.rank for c in present), default=-1) + 1
        added = []
        for model in self.routes[LONG_CONTEXT]:
            spec = self.catalog.get(model)
            if spec.id not in have and spec.context_window > min_window:
                added.append(self._assess(analysis, spec.id, start + len(added), LONG_CONTEXT))
        return added

    def _extend_long_context(self, analysis: Analysis, min_window: int) -> list[str]:
        """Called by a plan after a context-length error: larger windows join the candidates."""
        added = self._long_context(analysis, analysis.candidates, min_window)
        self._prefer_best_fit(added)
        analysis.candidates.extend(added)
        return [c.model for c in added if c.skip is None]

    @staticmethod
    def _prefer_best_fit(candidates: list[Candidate]) -> None:
        """Skip candidates that fit worse (clamped, trimmed) than the best one."""
        levels = [c.fit.level for c in candidates if c.skip is None and c.fit is not None]
        if not levels:
            return
        best = min(levels)
        for c in candidates:
            if c.skip is None and c.fit is not None and c.fit.level > best:
                c.skip = f"{c.fit.reason}, and another candidate fits {_LEVEL_WORDS[c.fit.level]}"

    # ------------------------------------------------------------ budget

    def _estimate_cost(
        self, spec: Any, prompt_tokens: int, max_tokens: int | None, analysis: Analysis
    ) -> Decimal | None:
        if not spec.priced:
            return None
        assumed = min(ASSUMED_REPLY_TOKENS, spec.max_output_tokens)
        reply = max_tokens or analysis.max_tokens or assumed
        usage = Usage(prompt_tokens, reply, prompt_tokens + reply)
        return price(spec, usage).total_usd

    def _remaining_budget(self, attribution: Any) -> tuple[Decimal | None, str]:
        """What the ledger says is left (None = no budget) and a note when it could not say."""
        method = getattr(self.ledger, "remaining_usd", None)
        if self.ledger is None or not callable(method):
            return None, ""
        try:
            value = method(attribution)
            return (None if value is None else Decimal(str(value))), ""
        except (InvalidOperation, ValueError, TypeError) as exc:
            return None, f"budget not checked: the ledger gave no amount ({exc})"
        except Exception as exc:  # a ledger outage must not stop routing; its reservation decides
            logger.warning("holysheep: ledger.remaining_usd failed: %r", exc)
            return None, f"budget not checked: the ledger failed ({type(exc).__name__})"

    def _apply_budget(self, analysis: Analysis) -> None:
        """Skip candidates over the budget left when some fit it; else cheapest first."""
        remaining, note = self._remaining_budget(analysis.attribution)
        analysis.budget_remaining, analysis.budget_note = remaining, note
        eligible = analysis.eligible()
        if remaining is not None and eligible:
            left = format_usd(remaining)
            within = [c for c in eligible if c.cost is None or c.cost <= remaining]
            for c in eligible:
                if within and c not in within:
                    c.skip = f"estimated {format_usd(c.cost)} exceeds the {left} budget left"
                elif c.cost is None:
                    c.note += "; unpriced, so the budget was not checked"
            if not within:
                eligible.sort(key=lambda c: c.cost if c.cost is not None else Decimal(0))
                analysis.budget_note = (
                    f"every candidate would exceed the {left} budget left, so the cheapest goes "
                    "first (the ledger's reservation decides)"
                )
        kept = [c for c in eligible if c.skip is None]
        skipped = sorted((c for c in analysis.candidates if c.skip is not None), key=_rank)
        analysis.candidates = [*kept, *skipped]


def _rank(candidate: Candidate) -> int:
    return candidate.rank
