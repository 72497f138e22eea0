"""What a call cost: USD split by price bucket, and relay CNY next to the direct-provider CNY.

The relay bills 1 CNY per 1 USD of list price; paying the provider directly costs the list price
at the market rate (about 7.3 CNY per USD). Amounts are ``Decimal`` throughout and rounded only
for display (:func:`format_estimate_table`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from holysheep.usage import Usage

if TYPE_CHECKING:
    from holysheep.catalog import ModelCatalog, ModelSpec

__all__ = [
    "DEFAULT_MARKET_CNY_PER_USD",
    "DEFAULT_RELAY_CNY_PER_USD",
    "SAMPLE_WORKLOAD",
    "Cost",
    "Estimate",
    "EstimateLine",
    "UnknownModelPriceWarning",
    "Workload",
    "estimate_monthly",
    "format_estimate_table",
    "price",
]

DEFAULT_MARKET_CNY_PER_USD = Decimal("7.3")
"""Market exchange rate used for the direct-provider comparison (CNY per USD)."""
DEFAULT_RELAY_CNY_PER_USD = Decimal("1")
"""What the relay charges per USD of list price (CNY per USD)."""

_ZERO = Decimal(0)


class UnknownModelPriceWarning(UserWarning):
    """A cost was asked for a model whose prices are unknown; the cost is None, never 0."""


def non_negative_amount(value: object, name: str, rule: str) -> Decimal:
    """A caller's amount as a finite Decimal >= 0 (floats through ``str``, so 0.1 stays 0.1);
    ``ValueError`` naming ``name`` and saying it must be ``rule`` otherwise. The caller rejects
    the types it does not take first (bools, at least)."""
    try:
        dec = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except ArithmeticError:
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not dec.is_finite() or dec < 0:
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    return dec


def _dec(value: Decimal | int | float | str) -> Decimal:
    """``value`` as a Decimal (floats via ``str`` so ``7.3`` stays exactly 7.3)."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


@dataclass(frozen=True, slots=True)
class Cost:
    """The cost of one call or a sum of calls; build it with :func:`price` or :meth:`zero`."""

    model: str
    """Model id that was billed; ``"*"`` for a sum over several models, ``""`` for ``zero()``."""
    input_usd: Decimal
    """UNCACHED prompt tokens at the input price."""
    cached_input_usd: Decimal
    """Cached prompt tokens at the cached-input price."""
    output_usd: Decimal
    """Completion tokens (reasoning included) at the output price (never prompt tokens)."""
    relay_cny: Decimal
    """What the relay bills: ``total_usd * relay_cny_per_usd`` (1 CNY per USD by default)."""
    direct_cny: Decimal
    """What the provider would bill in CNY: ``total_usd * market_cny_per_usd`` (7.3 by default)."""

    @classmethod
    def zero(cls) -> Cost:
        """A cost of nothing (model ``""``), the neutral start of a running total."""
        return cls("", _ZERO, _ZERO, _ZERO, _ZERO, _ZERO)

    @property
    def total_usd(self) -> Decimal:
        """Input + cached input + output, in USD at list price."""
        return self.input_usd + self.cached_input_usd + self.output_usd

    @property
    def savings_cny(self) -> Decimal:
        """CNY saved by paying through the relay instead of the provider directly."""
        return self.direct_cny - self.relay_cny

    @property
    def savings_ratio(self) -> Decimal:
        """``savings_cny / direct_cny`` (about 0.863 at 7.3 CNY/USD); 0 when nothing was spent."""
        if not self.direct_cny:
            return _ZERO
        return self.savings_cny / self.direct_cny

    def __add__(self, other: object) -> Cost:
        """Sum of two costs; the model becomes ``"*"`` when they differ (``""`` is neutral)."""
        if not isinstance(other, Cost):
            return NotImplemented
        if not other.model or self.model == other.model:
            model = self.model
        else:
            model = other.model if not self.model else "*"
        return Cost(
            model,
            self.input_usd + other.input_usd,
            self.cached_input_usd + other.cached_input_usd,
            self.output_usd + other.output_usd,
            self.relay_cny + other.relay_cny,
            self.direct_cny + other.direct_cny,
        )

    def __radd__(self, other: object) -> Cost:
        """Lets ``sum(costs)`` start from the integer 0."""
        if other == 0:
            return self
        return NotImplemented

    def as_dict(self) -> dict[str, str]:
        """Every amount as an exact decimal string (JSON-safe, no float rounding)."""
        return {
            "model": self.model,
            "input_usd": str(self.input_usd),
            "cached_input_usd": str(self.cached_input_usd),
            "output_usd": str(self.output_usd),
            "total_usd": str(self.total_usd),
            "relay_cny": str(self.relay_cny),
            "direct_cny": str(self.direct_cny),
            "savings_cny": str(self.savings_cny),
        }


def _per_mtok(tokens: int, usd_per_mtok: Decimal) -> Decimal:
    """``tokens`` at a per-million-token price, exactly (a decimal shift, no division)."""
    return (Decimal(tokens) * usd_per_mtok).scaleb(-6)


def price(
    spec: ModelSpec,
    usage: Usage,
    *,
    market_cny_per_usd: Decimal = DEFAULT_MARKET_CNY_PER_USD,
    relay_cny_per_usd: Decimal = DEFAULT_RELAY_CNY_PER_USD,
) -> Cost:
    """Cost of ``usage`` on ``spec``; raises ValueError if the spec is unpriced.

    Use ``ModelCatalog.cost`` for a model name: it warns and returns None instead of raising.
    """
    if (
        spec.input_usd_per_mtok is None
        or spec.output_usd_per_mtok is None
        or spec.cached_input_usd_per_mtok is None
    ):
        raise ValueError(f"model {spec.id!r} has no prices; add them in a catalogue file")
    input_usd = _per_mtok(usage.uncached_prompt_tokens, spec.input_usd_per_mtok)
    cached_usd = _per_mtok(
        min(usage.cached_tokens, usage.prompt_tokens), spec.cached_input_usd_per_mtok
    )
    output_usd = _per_mtok(usage.completion_tokens, spec.output_usd_per_mtok)
    total = input_usd + cached_usd + output_usd
    return Cost(
        spec.id,
        input_usd,
        cached_usd,
        output_usd,
        total * _dec(relay_cny_per_usd),
        total * _dec(market_cny_per_usd),
    )


# ---------------------------------------------------------------- monthly estimates


@dataclass(frozen=True, slots=True)
class Workload:
    """One line of a monthly workload mix: a model, a request volume and average tokens."""

    model: str
    """Model id or alias, resolved in the catalogue."""
    requests_per_month: int
    """Calls per month."""
    avg_input_tokens: int
    """Average prompt tokens per call (cached ones included)."""
    avg_output_tokens: int
    """Average completion tokens per call (reasoning included)."""
    cached_fraction: Decimal = _ZERO
    """Share of prompt tokens served from cache, 0 to 1."""
    label: str = ""
    """Optional task label shown in the table (``summarization``, ``qa``...)."""

    def __post_init__(self) -> None:
        fraction = _dec(self.cached_fraction)
        object.__setattr__(self, "cached_fraction", fraction)
        if not Decimal(0) <= fraction <= 1:
            raise ValueError(f"cached_fraction must be between 0 and 1, got {fraction}")
        for name in ("requests_per_month", "avg_input_tokens", "avg_output_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")

    @classmethod
    def parse(cls, text: str) -> Workload:
        """Parse ``model:requests:avg_in:avg_out[:cached_fraction[:label]]`` (CLI form)."""
        parts = [p.strip() for p in text.split(":")]
        if not 4 <= len(parts) <= 6:
            raise ValueError(
                f"bad workload {text!r}: expected model:requests:avg_in:avg_out[:cached[:label]]"
            )
        try:
            requests, avg_in, avg_out = (
                int(p.replace("_", "").replace(",", "")) for p in parts[1:4]
            )
            cached = Decimal(parts[4]) if len(parts) > 4 and parts[4] else _ZERO
        except (ValueError, ArithmeticError) as exc:
            raise ValueError(f"bad workload {text!r}: {exc}") from exc
        return cls(parts[0], requests, avg_in, avg_out, cached, parts[5] if len(parts) > 5 else "")

    def usage(self) -> Usage:
        """The month's total usage; cached tokens rounded half-even to whole tokens."""
        prompt = self.requests_per_month * self.avg_input_tokens
        completion = self.requests_per_month * self.avg_output_tokens
        cached = int((prompt * self.cached_fraction).to_integral_value(ROUND_HALF_EVEN))
        return Usage(prompt, completion, prompt + completion, cached, 0)


SAMPLE_WORKLOAD: tuple[Workload, ...] = (
    Workload("deepseek-v3.2", 300_000, 2_000, 300, Decimal("0.3"), "summarization"),
    Workload("gemini-2.5-flash", 500_000, 800, 250, Decimal("0.2"), "qa"),
    Workload("gpt-4.1", 50_000, 3_000, 800, Decimal("0.5"), "code-generation"),
    Workload("claude-sonnet-4.5", 20_000, 6_000, 1_000, Decimal("0.4"), "analysis"),
)
"""An illustrative mix over the four seed models, following the default task routes."""


@dataclass(frozen=True, slots=True)
class EstimateLine:
    """One workload line with its monthly usage and cost (None when the model is unpriced)."""

    workload: Workload
    usage: Usage
    cost: Cost | None


@dataclass(frozen=True, slots=True)
class Estimate:
    """Per-line and total monthly cost; unpriced lines are listed, not counted as zero."""

    lines: tuple[EstimateLine, ...]
    total: Cost
    unpriced: tuple[str, ...]
    """Models that had no price: the total leaves them out."""


def estimate_monthly(
    workloads: Iterable[Workload],
    catalog: ModelCatalog | None = None,
    *,
    market_cny_per_usd: Decimal = DEFAULT_MARKET_CNY_PER_USD,
    relay_cny_per_usd: Decimal = DEFAULT_RELAY_CNY_PER_USD,
) -> Estimate:
    """Monthly cost of a workload mix; an unknown model raises ``ModelNotFoundError``.

    A typo should fail loudly, so models are resolved with ``catalog.get``; a known model without
    prices gives an ``UnknownModelPriceWarning`` and a line cost of None.
    """
    if catalog is None:
        from holysheep.catalog import ModelCatalog

        catalog = ModelCatalog.default()
    lines: list[EstimateLine] = []
    total = Cost.zero()
    unpriced: list[str] = []
    for workload in workloads:
        spec = catalog.get(workload.model)
        usage = workload.usage()
        cost: Cost | None = None
        if spec.priced:
            cost = price(
                spec,
                usage,
                market_cny_per_usd=market_cny_per_usd,
                relay_cny_per_usd=relay_cny_per_usd,
            )
            total += cost
        else:
            unpriced.append(spec.id)
            warnings.warn(
                f"model {spec.id!r} has no price, so it is left out of the estimate total; "
                "add its prices to a catalogue file named by HOLYSHEEP_CATALOG",
                UnknownModelPriceWarning,
                stacklevel=2,
            )
        lines.append(EstimateLine(workload, usage, cost))
    return Estimate(tuple(lines), total, tuple(dict.fromkeys(unpriced)))


def _money(value: Decimal, places: int) -> str:
    """``value`` rounded half-up for display, with thousands separators."""
    return f"{value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP):,}"


def format_estimate_table(estimate: Estimate, *, places: int = 2) -> str:
    """A plain-text table: one row per workload line plus a TOTAL row."""
    header = (
        "model",
        "task",
        "requests",
        "input tok",
        "output tok",
        "USD",
        "relay CNY",
        "direct CNY",
        "savings CNY",
        "saved",
    )
    rows: list[tuple[str, ...]] = []

    def row(model: str, label: str, requests: int, usage: Usage, cost: Cost | None) -> None:
        if cost is None:
            money: tuple[str, ...] = ("n/a",) * 4 + ("",)
        else:
            money = (
                _money(cost.total_usd, places),
                _money(cost.relay_cny, places),
                _money(cost.direct_cny, places),
                _money(cost.savings_cny, places),
                f"{cost.savings_ratio * 100:.1f}%",
            )
        rows.append(
            (
                model,
                label,
                f"{requests:,}",
                f"{usage.prompt_tokens:,}",
                f"{usage.completion_tokens:,}",
                *money,
            )
        )

    for line in estimate.lines:
        w = line.workload
        row(w.model, w.label, w.requests_per_month, line.usage, line.cost)
    row(
        "TOTAL",
        "",
        sum(line.workload.requests_per_month for line in estimate.lines),
        sum((line.usage for line in estimate.lines), Usage.zero()),
        estimate.total,
    )
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]

    def fmt(r: tuple[str, ...]) -> str:
        cells = [c.ljust(widths[i]) if i < 2 else c.rjust(widths[i]) for i, c in enumerate(r)]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    out = [fmt(header), rule, *(fmt(r) for r in rows[:-1]), rule, fmt(rows[-1])]
    if estimate.unpriced:
        out.append(f"not priced (left out of TOTAL): {', '.join(estimate.unpriced)}")
    return "\n".join(out)
