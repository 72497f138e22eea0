"""Routing: task labels to models, fit and budget checks, circuit breakers and fallbacks."""

from holysheep.routing._breaker import BreakerState, CircuitBreaker, ModelHealth, failure_kind
from holysheep.routing._classifier import (
    Classification,
    Classifier,
    LLMClassifier,
    LocalClassifier,
    cheapest_model,
)
from holysheep.routing._decision import CandidateVerdict, Fallback, RouteDecision
from holysheep.routing._limits import clamp_max_tokens, trim_messages
from holysheep.routing._plan import RoutePlan
from holysheep.routing._routes import DEFAULT_ROUTES, LONG_CONTEXT, ROUTE_LABELS, TASK_LABELS
from holysheep.routing.router import TaskRouter

__all__ = [
    "DEFAULT_ROUTES",
    "LONG_CONTEXT",
    "ROUTE_LABELS",
    "TASK_LABELS",
    "BreakerState",
    "CandidateVerdict",
    "CircuitBreaker",
    "Classification",
    "Classifier",
    "Fallback",
    "LLMClassifier",
    "LocalClassifier",
    "ModelHealth",
    "RouteDecision",
    "RoutePlan",
    "TaskRouter",
    "cheapest_model",
    "clamp_max_tokens",
    "failure_kind",
    "trim_messages",
]
