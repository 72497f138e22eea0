"""The routing table: task label -> ordered candidate models, its defaults and its loading.

The defaults follow the seed (one model per task family, see API.md) and add fallbacks from the
catalogue that the relay serves, so a route survives one model being down. Routes load from a
dict or a TOML file; a typo in a model id or a label fails at load time, not on the first call.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

from holysheep.errors import ConfigurationError, suggest_models

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = [
    "DEFAULT_ROUTES",
    "LONG_CONTEXT",
    "ROUTE_LABELS",
    "TASK_LABELS",
    "load_routes",
    "normalize_task",
    "read_config_file",
]

TASK_LABELS: tuple[str, ...] = (
    "summarization",
    "classification",
    "extraction",
    "conversational",
    "translation",
    "qa",
    "code-generation",
    "reasoning",
    "safety-review",
    "analysis",
)
"""The labels the classifier assigns (``long-context`` is chosen by size, never by wording)."""

LONG_CONTEXT = "long-context"
"""The route used when no candidate of the task's own route can hold the prompt."""

ROUTE_LABELS: tuple[str, ...] = (*TASK_LABELS, LONG_CONTEXT)
"""Every label with a default route."""

DEFAULT_ROUTES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        # Cheap, high-volume text work: DeepSeek first, then the cheap fast models.
        "summarization": ("deepseek-v3.2", "gemini-2.5-flash", "gpt-4.1-mini"),
        "classification": ("deepseek-v3.2", "gpt-4.1-mini", "gemini-2.5-flash"),
        # gpt-4.1-mini second: it honours json_schema, which DeepSeek does not.
        "extraction": ("deepseek-v3.2", "gpt-4.1-mini", "gemini-2.5-flash"),
        # Latency-sensitive, user-facing: Gemini Flash first.
        "conversational": ("gemini-2.5-flash", "gpt-4.1-mini", "deepseek-v3.2"),
        "translation": ("gemini-2.5-flash", "deepseek-v3.2", "gpt-4.1-mini"),
        "qa": ("gemini-2.5-flash", "gpt-4.1-mini", "deepseek-v3.2"),
        # Quality-sensitive: GPT-4.1 first, then a peer from another provider.
        "code-generation": ("gpt-4.1", "claude-sonnet-4.5", "deepseek-v3.2"),
        "reasoning": ("gpt-4.1", "o4-mini", "claude-sonnet-4.5"),
        "safety-review": ("claude-sonnet-4.5", "gpt-4.1", "gemini-2.5-pro"),
        "analysis": ("claude-sonnet-4.5", "gpt-4.1", "gemini-2.5-pro"),
        # Claude's 200k window first, then the 1M-token windows for what it cannot hold.
        LONG_CONTEXT: ("claude-sonnet-4.5", "gemini-2.5-pro", "gpt-4.1", "gemini-2.5-flash"),
    }
)
"""The shipped routes; every model here is in the shipped catalogue and served by the relay."""

_SYNONYMS: Mapping[str, str] = MappingProxyType(
    {
        "summary": "summarization",
        "summarize": "summarization",
        "summarise": "summarization",
        "summarisation": "summarization",
        "classify": "classification",
        "extract": "extraction",
        "chat": "conversational",
        "conversation": "conversational",
        "translate": "translation",
        "question-answering": "qa",
        "questions": "qa",
        "code": "code-generation",
        "coding": "code-generation",
        "codegen": "code-generation",
        "reason": "reasoning",
        "safety": "safety-review",
        "moderation": "safety-review",
        "analyze": "analysis",
        "analyse": "analysis",
        "long": LONG_CONTEXT,
    }
)


def normalize_task(label: str, known: Iterable[str] = ROUTE_LABELS) -> str:
    """The route label for ``label``: case, ``_``/space and common verbs forgiven.

    Raises:
        ConfigurationError: no such route; the message names close labels.
    """
    known = tuple(known)
    key = re.sub(r"[\s_]+", "-", str(label).strip().lower())
    if key in known:
        return key
    alias = _SYNONYMS.get(key)
    if alias is not None and alias in known:
        return alias
    close = suggest_models(key, known)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ConfigurationError(
        f"no route for task {label!r}{hint} Known tasks: {', '.join(known)}. Add a route with "
        "TaskRouter.from_dict({'routes': {...}}) or a TOML file."
    )


def _check_models(label: str, models: Any, catalog: Any, source: str) -> tuple[str, ...]:
    """The candidate list of one route, each id resolved to its catalogue id."""
    if isinstance(models, str) or not isinstance(models, Sequence) or not models:
        raise ConfigurationError(
            f"{source}: route {label!r} must be a non-empty list of model ids, got {models!r}"
        )
    out: list[str] = []
    for model in models:
        spec = catalog.find(model) if isinstance(model, str) else None
        if spec is None:
            close = suggest_models(str(model), catalog.ids())
            hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
            raise ConfigurationError(
                f"{source}: route {label!r} names {model!r}, which is not in the model "
                f"catalogue{hint}; add it to a catalogue file named by HOLYSHEEP_CATALOG"
            )
        if spec.id not in out:
            out.append(spec.id)
    return tuple(out)


def load_routes(
    routes: Mapping[str, Sequence[str]] | None,
    catalog: Any,
    *,
    extends: bool = False,
    source: str = "routes",
) -> dict[str, tuple[str, ...]]:
    """Validated routes: ``routes`` alone, or merged over the defaults when ``extends``.

    ``None`` means the defaults. Labels are lower-cased with ``_`` as ``-``; model ids resolve
    through the catalogue (aliases and dated ids become the catalogue id).

    Raises:
        ConfigurationError: an empty route, a non-list, or a model missing from the catalogue.
    """
    if routes is None:
        merged: dict[str, Any] = dict(DEFAULT_ROUTES)
    else:
        if not isinstance(routes, Mapping):
            raise ConfigurationError(f"{source}: routes must be a table of label = [models]")
        merged = dict(DEFAULT_ROUTES) if extends else {}
        for label, models in routes.items():
            merged[re.sub(r"[\s_]+", "-", str(label).strip().lower())] = models
    if not merged:
        raise ConfigurationError(f"{source}: no routes given; name at least one task")
    return {label: _check_models(label, m, catalog, source) for label, m in merged.items()}


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The parsed TOML router file at ``path``.

    Raises:
        ConfigurationError: the file is missing or is not valid TOML.
    """
    file = Path(path)
    try:
        with file.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigurationError(f"cannot read router file {file}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"router file {file} is not valid TOML: {exc}") from None
