"""Model facts for ``LLMMetadata``, from the ``ModelCatalog`` and nowhere else.

LlamaIndex reads metadata before a call (PromptHelper packs context to ``context_window``,
FunctionAgent checks ``is_function_calling_model``), so a wrong default silently breaks things:
never LlamaIndex's 3,900-token default. An unknown model gets the catalogue's conservative limits
and a warning. ``model="auto"`` gets the limits every candidate of the task's route meets (every
routed model without a task label), and the capabilities any of them has: the router drops the
candidates a request's tools or json_schema rule out.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from holysheep import ModelCatalog, ModelSpec, UnknownModelPriceWarning
from holysheep.catalog import CATALOG_ENV

__all__ = ["AUTO", "ModelFacts", "model_facts"]

AUTO = "auto"
"""The model id that asks the router to pick a model by task label."""


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """What the adapter needs to know about a model id."""

    context_window: int
    """Prompt plus output tokens."""
    max_output_tokens: int
    """Largest output; the default ``num_output``."""
    tools: bool
    """Tool calling supported: ``is_function_calling_model``."""
    json_schema: bool
    """``response_format`` json_schema honoured: structured prediction uses it."""
    reasoning_field: str | None
    """Wire field that carries reasoning back in tool loops (``reasoning_content``), if any."""
    known: bool = True
    """False when the model is missing from the catalogue (the facts are guesses)."""


def _of(spec: ModelSpec, *, known: bool = True) -> ModelFacts:
    return ModelFacts(
        spec.context_window,
        spec.max_output_tokens,
        spec.tools,
        spec.json_schema,
        spec.reasoning_field,
        known,
    )


def _auto(
    catalog: ModelCatalog, routes: Mapping[str, Iterable[str]], task: str | None
) -> ModelFacts:
    """Facts a routed call can rely on, over the route's candidates (all routes' without task)."""
    names = routes.get(task, ()) if task else ()
    if not names:
        names = [model for candidates in routes.values() for model in candidates]
    specs = [spec for spec in map(catalog.find, names) if spec is not None]
    if not specs:
        return _of(ModelSpec(AUTO), known=False)
    return ModelFacts(
        min(s.context_window for s in specs),
        min(s.max_output_tokens for s in specs),
        any(s.tools for s in specs),
        any(s.json_schema for s in specs),
        None,
    )


def model_facts(
    model: str,
    catalog: ModelCatalog | None = None,
    routes: Mapping[str, Iterable[str]] | None = None,
    task: str | None = None,
) -> ModelFacts:
    """The facts for ``model``; an unknown one warns and gets conservative limits, no tools.

    ``routes`` (task label -> candidate models, a ``TaskRouter``'s) and ``task`` are read only
    for ``model="auto"``.
    """
    catalog = catalog if catalog is not None else ModelCatalog.default()
    if model == AUTO:
        return _auto(catalog, routes or {}, task)
    spec = catalog.find(model)
    if spec is not None:
        return _of(spec)
    guess = ModelSpec(model)
    warnings.warn(
        f"model {model!r} is not in the HolySheep catalogue, so LlamaIndex is told it has a "
        f"{guess.context_window}-token context window, {guess.max_output_tokens} output tokens "
        "and no tool calling, and its cost is unknown. Pass context_window=... and "
        "is_function_calling_model=... to HolySheep(...), or add the model (limits, "
        f"capabilities, prices) to a TOML or JSON catalogue file and set {CATALOG_ENV} to its "
        'path (extends = "default" keeps the shipped models).',
        UnknownModelPriceWarning,
        stacklevel=3,
    )
    return _of(guess, known=False)
