"""Money for people: amounts rounded for display, never rounded down to a misleading zero.

Calls cost fractions of a cent, so a fixed number of places shows ``0.0000`` for a real cost;
here an amount under one unit keeps at least two significant digits.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

__all__ = ["money_text"]


def money_text(value: Decimal | None, places: int = 4, *, unknown: str = "?") -> str:
    """``value`` with ``places`` decimals (more under 1, so it stays non-zero), ``,`` grouped.

    ``money_text(Decimal("0.000034"))`` is ``"0.000034"``; ``money_text(Decimal("12.5"))`` is
    ``"12.5000"``; ``None`` (no price) is ``unknown``.
    """
    if value is None:
        return unknown
    if value and abs(value) < 1:
        places = max(places, 1 - value.adjusted())  # two significant digits at least
    return f"{value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP):,f}"
