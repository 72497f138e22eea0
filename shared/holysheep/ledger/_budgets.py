"""Budget arithmetic shared by the backends: period windows, holds, the check, the refusal message.

Windows are UTC calendar days and months, so every process and machine agrees where a period
starts. A budget's check is ``spent in the current window + live reservations + estimate <= limit``;
live reservations count against a budget whatever window they were taken in (conservative near
midnight), and expired ones (a crashed process's) count nowhere.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from holysheep.errors import BudgetExceededError

from ._model import Budget, Refusal

__all__ = [
    "Hold",
    "exceeded_error",
    "find_refusal",
    "fmt_usd",
    "from_nano",
    "reserved_for",
    "to_nano",
    "unpriced_error",
    "window",
    "window_start",
]

_ZERO = Decimal(0)
NANO_PER_USD = 10**9
"""Redis keeps budget counters in integer nano-dollars (1e-9 USD): Lua has no decimals."""


@dataclass(frozen=True, slots=True)
class Hold:
    """A stored reservation, as the budget check sees it."""

    user: str | None
    app: str | None
    task: str | None
    model: str
    amount_usd: Decimal
    expires_at: float


def window(period: str, now: float) -> str:
    """The window a period is in at epoch seconds ``now``: ``2025-06-01``, ``2025-06``, ``all``."""
    if period == "all":
        return "all"
    t = time.gmtime(now)
    if period == "month":
        return f"{t.tm_year:04d}-{t.tm_mon:02d}"
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"


def window_start(period: str, now: float) -> float:
    """Epoch seconds at which the current window of ``period`` began (0 for ``all``)."""
    if period == "all":
        return 0.0
    t = time.gmtime(now)
    day = 1 if period == "month" else t.tm_mday
    return float(calendar.timegm((t.tm_year, t.tm_mon, day, 0, 0, 0)))


def _next_reset(period: str, now: float) -> datetime | None:
    """When the current window ends, UTC; ``None`` for ``all``."""
    if period == "all":
        return None
    t = time.gmtime(now)
    if period == "day":
        return datetime.fromtimestamp(window_start("day", now) + 86_400, timezone.utc)
    year, month = (t.tm_year + 1, 1) if t.tm_mon == 12 else (t.tm_year, t.tm_mon + 1)
    return datetime(year, month, 1, tzinfo=timezone.utc)


def reserved_for(budget: Budget, holds: Iterable[Hold], now: float) -> Decimal:
    """What live holds that ``budget`` applies to add up to."""
    total = _ZERO
    for hold in holds:
        if hold.expires_at > now and budget.applies(hold.user, hold.app, hold.task, (hold.model,)):
            total += hold.amount_usd
    return total


def find_refusal(
    applicable: Iterable[Budget],
    spent: Callable[[Budget], Decimal],
    holds: Iterable[Hold],
    amount: Decimal,
    now: float,
) -> Refusal | None:
    """The first budget that ``amount`` more would cross, with where it stood; None if all fit."""
    holds = tuple(holds)
    for budget in applicable:
        used = spent(budget)
        reserved = reserved_for(budget, holds, now)
        if used + reserved + amount > budget.limit_usd:
            return Refusal(budget, used, reserved)
    return None


def fmt_usd(amount: Decimal) -> str:
    """``$4.20`` for cents and more, ``$0.000123`` below a cent (so small calls stay visible)."""
    if abs(amount) >= 1 or amount == 0:
        return f"${amount.quantize(Decimal('0.01'), ROUND_HALF_UP):,}"
    whole, _, frac = f"{amount.quantize(Decimal('0.000001'), ROUND_HALF_UP):f}".partition(".")
    return f"${whole}.{frac.rstrip('0').ljust(2, '0')}"


def exceeded_error(
    refusal: Refusal, model: str, amount: Decimal, now: float
) -> BudgetExceededError:
    """A ``BudgetExceededError`` naming the budget, where it stands and what to do."""
    budget = refusal.budget
    left = max(_ZERO, budget.limit_usd - refusal.spent_usd - refusal.reserved_usd)
    reset = _next_reset(budget.period, now)
    when = f"; it resets {reset:%Y-%m-%d %H:%M} UTC" if reset is not None else ""
    message = (
        f"this call to {model} could cost up to {fmt_usd(amount)}, but {budget.describe()} "
        f"has {fmt_usd(left)} left (limit {fmt_usd(budget.limit_usd)}: "
        f"{fmt_usd(refusal.spent_usd)} spent, {fmt_usd(refusal.reserved_usd)} held by calls in "
        f"flight){when}. Nothing was sent. Set a lower max_tokens (the estimate counts all of "
        "it, or the model's maximum when unset), pick a cheaper model, or raise the limit with "
        "CostLedger.set_budget(...)."
    )
    return BudgetExceededError(
        message,
        budget=budget,
        model=model,
        estimated_usd=amount,
        limit_usd=budget.limit_usd,
        spent_usd=refusal.spent_usd,
        reserved_usd=refusal.reserved_usd,
        remaining_usd=left,
    )


def unpriced_error(budget: Budget, model: str) -> BudgetExceededError:
    """Fail closed: a budget applies to a call whose model has no price, so nothing bounds it."""
    message = (
        f"model {model!r} has no price in the catalogue, so {budget.describe()} cannot bound "
        "this call; nothing was sent. Add its prices to a TOML catalogue file (extends = "
        f'"default", then [models."{model}"] with input_usd_per_mtok and output_usd_per_mtok) '
        "and set HOLYSHEEP_CATALOG to the file's path, or pass on_unpriced='allow' to "
        "HolySheepClient to send unpriced calls anyway (recorded without a cost, outside every "
        "budget)."
    )
    return BudgetExceededError(
        message, budget=budget, model=model, estimated_usd=None, limit_usd=budget.limit_usd
    )


def to_nano(amount: Decimal, *, up: bool) -> int:
    """``amount`` USD as integer nano-dollars, rounded up (charges) or down (limits)."""
    return int((amount * NANO_PER_USD).to_integral_value(ROUND_CEILING if up else ROUND_FLOOR))


def from_nano(nano: int | str | bytes | None) -> Decimal:
    """Integer nano-dollars (as Redis returns them) back to USD."""
    if nano is None or int(nano) == 0:
        return _ZERO
    return Decimal(int(nano)).scaleb(-9)
