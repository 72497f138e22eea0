"""The model catalogue: prices, limits and capabilities per model, and name resolution.

``ModelCatalog.default()`` is the TOML file shipped in ``holysheep/data/catalog.toml``, or the file
named by ``HOLYSHEEP_CATALOG`` (read at call time). Files are parsed lazily: importing this module
reads nothing. Prices are exact ``Decimal`` USD per million tokens; ``None`` means unknown, and an
unknown price gives ``UnknownModelPriceWarning`` and a cost of ``None``, never a silent 0.
"""

from __future__ import annotations

import functools
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from holysheep.costs import (
    DEFAULT_MARKET_CNY_PER_USD,
    DEFAULT_RELAY_CNY_PER_USD,
    Cost,
    UnknownModelPriceWarning,
    non_negative_amount,
    price,
)
from holysheep.errors import ConfigurationError, model_not_found
from holysheep.usage import Usage

__all__ = [
    "CATALOG_ENV",
    "LatencyTier",
    "ModelCatalog",
    "ModelSpec",
    "UnknownModelPriceWarning",
    "guess_provider",
]

CATALOG_ENV = "HOLYSHEEP_CATALOG"
"""Names a TOML or JSON catalogue that replaces (or extends) the shipped one."""

LatencyTier = Literal["fast", "standard", "slow"]

TIER_TIMEOUTS: dict[str, float] = {"fast": 60.0, "standard": 120.0, "slow": 300.0}
"""Default read timeout (seconds) of a latency tier, used when a file gives none."""

UNKNOWN_CONTEXT_WINDOW = 8192
"""Context assumed for a relay model missing from the catalogue: small, so routing stays safe."""
UNKNOWN_MAX_OUTPUT_TOKENS = 4096
"""Output cap assumed for a relay model missing from the catalogue."""

_PRICES = ("input_usd_per_mtok", "cached_input_usd_per_mtok", "output_usd_per_mtok")
_BOOLS = ("tools", "vision", "json_schema", "reasoning")
_OWNERS: tuple[tuple[str, str], ...] = (
    (r"(gpt|chatgpt|o\d|text-embedding|dall-e|whisper)", "openai"),
    (r"claude", "anthropic"),
    (r"(gemini|gemma)", "google"),
    (r"deepseek", "deepseek"),
    (r"grok", "xai"),
    (r"(qwen|qwq)", "alibaba"),
    (r"(glm|chatglm)", "zhipu"),
    (r"(kimi|moonshot)", "moonshot"),
    (r"minimax", "minimax"),
    (r"(mistral|magistral|codestral|ministral)", "mistral"),
    (r"llama", "meta"),
    (r"doubao", "bytedance"),
)
# A dated snapshot suffix: -2025-04-14, -20250929, @20250929 (Vertex spelling).
_DATE_SUFFIX = re.compile(r"[-@](?:\d{4}-\d{2}-\d{2}|\d{8})$")


def guess_provider(model_id: str) -> str:
    """Provider of a model id from its prefix (``openai/...`` or ``gpt-...``); ``"unknown"``."""
    lowered = model_id.strip().lower()
    if "/" in lowered:
        return lowered.split("/", 1)[0]
    for pattern, owner in _OWNERS:
        if re.match(pattern, lowered):
            return owner
    return "unknown"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """Everything holysheep knows about one model; validated on construction (ValueError)."""

    id: str
    """The wire id sent as ``model``."""
    aliases: tuple[str, ...] = ()
    """Other ids the relay may answer with (dated snapshots, provider spellings)."""
    provider: str = "unknown"
    """Who serves the model behind the relay: openai, anthropic, google, deepseek, xai, ..."""
    input_usd_per_mtok: Decimal | None = None
    """USD per 1M uncached prompt tokens; None = unknown."""
    cached_input_usd_per_mtok: Decimal | None = None
    """USD per 1M cache-read prompt tokens; defaults to the input price (no caching discount)."""
    output_usd_per_mtok: Decimal | None = None
    """USD per 1M completion tokens, reasoning included; None = unknown."""
    context_window: int = UNKNOWN_CONTEXT_WINDOW
    """Prompt plus output tokens the model accepts."""
    max_output_tokens: int = UNKNOWN_MAX_OUTPUT_TOKENS
    """Largest ``max_tokens`` the model accepts (reasoning included)."""
    tools: bool = False
    """Supports tool / function calling."""
    vision: bool = False
    """Accepts image input."""
    json_schema: bool = False
    """Honours ``response_format={"type": "json_schema", ...}`` (structured output)."""
    reasoning: bool = False
    """Thinks before answering (reasoning tokens billed as output)."""
    latency_tier: LatencyTier = "standard"
    """Rough speed class: fast, standard or slow (reasoning models)."""
    default_timeout: float = TIER_TIMEOUTS["standard"]
    """Read timeout in seconds suited to the model (fast ~60, slow/reasoning ~300)."""
    reasoning_field: str | None = None
    """Wire field carrying streamed reasoning text (``reasoning_content``...); None if none."""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.id, str) or not self.id.strip():
            raise ValueError(f"model id must be a non-empty string, got {self.id!r}")
        if isinstance(self.aliases, str) or not isinstance(self.provider, str):
            raise TypeError("aliases must be a list of strings and provider a string")
        set_(self, "aliases", tuple(str(a) for a in self.aliases))
        for name in _PRICES:
            set_(self, name, _price(name, getattr(self, name)))
        if self.cached_input_usd_per_mtok is None:  # no caching discount known: full price
            set_(self, "cached_input_usd_per_mtok", self.input_usd_per_mtok)
        cached, full = self.cached_input_usd_per_mtok, self.input_usd_per_mtok
        if cached is not None and full is not None and cached > full:
            raise ValueError(f"cached_input_usd_per_mtok {cached} exceeds input price {full}")
        for name in ("context_window", "max_output_tokens", "default_timeout"):
            value = getattr(self, name)
            if not _positive(value, integral=name != "default_timeout"):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if self.max_output_tokens > self.context_window:
            raise ValueError(
                f"max_output_tokens {self.max_output_tokens} exceeds "
                f"context_window {self.context_window}"
            )
        set_(self, "default_timeout", float(self.default_timeout))
        for name in _BOOLS:
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.latency_tier not in TIER_TIMEOUTS:
            raise ValueError(
                f"latency_tier must be one of {sorted(TIER_TIMEOUTS)}, got {self.latency_tier!r}"
            )
        if self.reasoning_field is not None and not isinstance(self.reasoning_field, str):
            raise TypeError(f"reasoning_field must be a string, got {self.reasoning_field!r}")
        set_(self, "reasoning_field", self.reasoning_field or None)

    @property
    def priced(self) -> bool:
        """True when input, cached-input and output prices are all known."""
        return (
            self.input_usd_per_mtok is not None
            and self.output_usd_per_mtok is not None
            and self.cached_input_usd_per_mtok is not None
        )

    @property
    def names(self) -> tuple[str, ...]:
        """The id followed by every alias."""
        return (self.id, *self.aliases)


def _positive(value: Any, *, integral: bool) -> bool:
    """True for a positive int (or, unless ``integral``, float/Decimal); bools are refused."""
    kinds = int if integral else (int, float, Decimal)
    return not isinstance(value, bool) and isinstance(value, kinds) and value > 0


def _price(name: str, value: Any) -> Decimal | None:
    """A price as a non-negative finite Decimal (floats go through ``str``); None stays None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, float, str)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    return non_negative_amount(value, name, "a non-negative number")


_SPEC_KEYS = frozenset(f.name for f in fields(ModelSpec)) - {"id"}


class ModelCatalog:
    """An immutable set of ``ModelSpec`` with lookup by id, alias, dated id or ``provider/`` id."""

    __slots__ = ("_cache", "_index", "_loose", "_specs")

    def __init__(self, specs: Iterable[ModelSpec] = ()) -> None:
        by_id: dict[str, ModelSpec] = {}
        for spec in specs:  # a later spec with the same id replaces the earlier one, in place
            by_id[spec.id.lower()] = spec
        self._specs: tuple[ModelSpec, ...] = tuple(by_id.values())
        index: dict[str, ModelSpec] = {}
        for spec in self._specs:
            for alias in spec.aliases:
                index.setdefault(alias.lower(), spec)
        index.update(by_id)  # ids win over aliases
        self._index = index
        loose = {_loose(k): v for k, v in index.items()}
        loose.update((_loose(k), v) for k, v in by_id.items())
        self._loose = loose
        self._cache: dict[str, ModelSpec | None] = {}

    # ------------------------------------------------------------ lookup

    def find(self, name: str) -> ModelSpec | None:
        """The spec for ``name`` or None; tries exact, alias, ``provider/`` prefix, date suffix."""
        try:
            return self._cache[name]
        except KeyError:
            pass
        found = self._resolve(name)
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[name] = found
        return found

    def _resolve(self, name: str) -> ModelSpec | None:
        key = name.strip().lower()
        candidates = [key]
        if "/" in key:
            candidates.append(key.rsplit("/", 1)[1])
        candidates += [_DATE_SUFFIX.sub("", c) for c in candidates if _DATE_SUFFIX.search(c)]
        for candidate in candidates:
            if candidate in self._index:
                return self._index[candidate]
        for candidate in candidates:  # claude-sonnet-4-5 == claude-sonnet-4.5
            spec = self._loose.get(_loose(candidate))
            if spec is not None:
                return spec
        return None

    def get(self, name: str) -> ModelSpec:
        """The spec for ``name``; raises ``ModelNotFoundError`` suggesting close ids."""
        spec = self.find(name)
        if spec is None:
            raise model_not_found(name, self.ids())
        return spec

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.find(name) is not None

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModelCatalog):
            return NotImplemented
        return self._specs == other._specs

    def __hash__(self) -> int:
        return hash(self._specs)

    def __repr__(self) -> str:
        return f"<ModelCatalog {len(self._specs)} models: {', '.join(self.ids()[:6])}...>"

    def ids(self) -> tuple[str, ...]:
        """Every model id, in catalogue order."""
        return tuple(spec.id for spec in self._specs)

    # ------------------------------------------------------------ combining

    def merge(self, other: ModelCatalog) -> ModelCatalog:
        """A new catalogue: this one plus ``other``, whose specs replace same-id ones whole."""
        return ModelCatalog((*self._specs, *other._specs))

    def merge_relay_models(self, ids: Iterable[str]) -> ModelCatalog:
        """A new catalogue adding what ``GET /models`` lists; unknown ids come in unpriced.

        Added specs get ``guess_provider(id)`` and conservative limits
        (``UNKNOWN_CONTEXT_WINDOW``/``UNKNOWN_MAX_OUTPUT_TOKENS``); known ids keep their spec.
        """
        added: dict[str, ModelSpec] = {}
        for model_id in ids:
            model_id = getattr(model_id, "id", model_id)  # tolerate ModelInfo objects
            if not isinstance(model_id, str) or not model_id.strip():
                continue
            model_id = model_id.strip()
            if self.find(model_id) is None and model_id.lower() not in added:
                added[model_id.lower()] = ModelSpec(model_id, provider=guess_provider(model_id))
        return ModelCatalog((*self._specs, *added.values()))

    # ------------------------------------------------------------ cost

    def cost(
        self,
        model: str,
        usage: Usage,
        *,
        market_cny_per_usd: Decimal = DEFAULT_MARKET_CNY_PER_USD,
        relay_cny_per_usd: Decimal = DEFAULT_RELAY_CNY_PER_USD,
    ) -> Cost | None:
        """Cost of ``usage`` on ``model``; unknown or unpriced -> warning and None (never 0)."""
        spec = self.find(model)
        if spec is None or not spec.priced:
            why = "is not in the catalogue" if spec is None else "has no price in the catalogue"
            warnings.warn(
                f"model {model!r} {why}, so its cost is unknown (None, not 0). Add it with "
                f"input/cached_input/output_usd_per_mtok to a TOML or JSON catalogue file and set "
                f'{CATALOG_ENV} to its path (start the file with extends = "default" to keep '
                "the shipped models).",
                UnknownModelPriceWarning,
                stacklevel=2,
            )
            return None
        return price(
            spec, usage, market_cny_per_usd=market_cny_per_usd, relay_cny_per_usd=relay_cny_per_usd
        )

    # ------------------------------------------------------------ loading

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "<mapping>") -> ModelCatalog:
        """Build from ``{"models": {id: {...}}, "extends": "default"?}`` or a bare ``{id: {...}}``.

        With ``extends = "default"`` an entry named like a shipped model (id or alias) updates it
        field by field, other entries add models; without it the mapping is the whole catalogue.
        """
        if not isinstance(data, Mapping):
            raise ConfigurationError(f"{source}: a catalogue must be a table/object")
        extends = data.get("extends")
        if "models" in data or extends is not None:
            unknown = set(data) - {"models", "extends"}
            if unknown:
                raise ConfigurationError(
                    f"{source}: unknown top-level key(s) {sorted(unknown)}; "
                    "expected 'models' and optionally 'extends'"
                )
            models = data.get("models", {})
        else:
            models = data
        if extends not in (None, "default"):
            raise ConfigurationError(f'{source}: extends must be "default", got {extends!r}')
        if not isinstance(models, Mapping):
            raise ConfigurationError(f"{source}: 'models' must be a table of model tables")
        base = _shipped() if extends == "default" else ModelCatalog()
        specs: list[ModelSpec] = []
        for model_id, raw in models.items():
            where = f"{source}: model {model_id!r}"
            if not isinstance(raw, Mapping):
                raise ConfigurationError(f"{where}: must be a table of settings")
            unknown = set(raw) - _SPEC_KEYS
            if unknown:
                raise ConfigurationError(
                    f"{where}: unknown key(s) {sorted(unknown)}; known keys: {sorted(_SPEC_KEYS)}"
                )
            settings = dict(raw)
            try:
                existing = base._index.get(str(model_id).strip().lower())  # id or alias
                if existing is not None:
                    specs.append(replace(existing, **settings))
                    continue
                settings.setdefault("provider", guess_provider(str(model_id)))
                tier = settings.get("latency_tier", "standard")
                settings.setdefault("default_timeout", TIER_TIMEOUTS.get(tier, 120.0))
                specs.append(ModelSpec(str(model_id), **settings))
            except (TypeError, ValueError) as exc:
                raise ConfigurationError(f"{where}: {exc}") from exc
        return base.merge(cls(specs))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> ModelCatalog:
        """Load a ``.toml`` or ``.json`` catalogue; ConfigurationError names the file and fault."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".toml", ".json"):
            raise ConfigurationError(f"catalogue file {path}: must end in .toml or .json")
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(f"catalogue file {path}: cannot read it ({exc})") from exc
        return cls.from_mapping(_parse(text, suffix, str(path)), source=str(path))

    @classmethod
    def default(cls) -> ModelCatalog:
        """The file named by ``HOLYSHEEP_CATALOG`` (read now), else the shipped catalogue."""
        override = os.environ.get(CATALOG_ENV, "").strip()
        if not override:
            return _shipped()
        path = Path(override).expanduser()
        try:
            stat = path.stat()
        except OSError as exc:
            raise ConfigurationError(
                f"{CATALOG_ENV}={override}: cannot read the catalogue file ({exc})"
            ) from exc
        return _load_override(str(path), stat.st_mtime_ns, stat.st_size)

    @classmethod
    def shipped(cls) -> ModelCatalog:
        """The catalogue shipped in the package, ignoring ``HOLYSHEEP_CATALOG``."""
        return _shipped()


def _loose(name: str) -> str:
    """Lookup key ignoring ``.``/``_`` vs ``-`` (``claude-sonnet-4-5`` ~ ``claude-sonnet-4.5``)."""
    return name.replace(".", "-").replace("_", "-")


def _parse(text: str, suffix: str, source: str) -> Any:
    """Parse TOML or JSON text, numbers as exact Decimals; ConfigurationError on a syntax error."""
    try:
        if suffix == ".json":
            import json

            return json.loads(text, parse_float=Decimal)
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib  # type: ignore[no-redef]
        return tomllib.loads(text, parse_float=Decimal)
    except ValueError as exc:  # TOMLDecodeError and JSONDecodeError are ValueErrors
        raise ConfigurationError(
            f"catalogue file {source}: not valid {suffix[1:].upper()}: {exc}"
        ) from exc


@functools.lru_cache(maxsize=8)
def _load_override(path: str, mtime_ns: int, size: int) -> ModelCatalog:
    """The ``HOLYSHEEP_CATALOG`` file, re-parsed only when its path, mtime or size changes."""
    return ModelCatalog.from_file(path)


@functools.cache
def _shipped() -> ModelCatalog:
    """Parse ``holysheep/data/catalog.toml`` once, on first use."""
    from importlib.resources import files

    resource = files("holysheep") / "data" / "catalog.toml"
    text = resource.read_text(encoding="utf-8")
    return ModelCatalog.from_mapping(_parse(text, ".toml", str(resource)), source=str(resource))
