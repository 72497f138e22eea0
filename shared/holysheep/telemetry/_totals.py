"""Running USD totals behind the ``holysheep.cost`` counter, read only when metrics are collected.

A synchronous counter costs a measurement per call (attributes cleaned, hashed, looked up under a
lock). The counter is cumulative, so an observable counter reporting these totals at collection
time gives the same points for a dict update per call. Totals are kept per meter provider, so
instrumenting again on the same provider keeps adding to the totals its counter already reports.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from opentelemetry.metrics import CallbackOptions, Observation

__all__ = ["CostTotals", "totals_for"]


class CostTotals:
    """USD spent per (billed model, task, user, app), exact (``Decimal``) until reported."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[tuple[str, str | None, str | None, str | None], list[Any]] = {}

    def add(self, usd: Decimal, model: str, task: str | None, user: str | None,
            app: str | None) -> None:
        """One billed call's cost."""
        key = (model, task, user, app)
        with self._lock:
            entry = self._totals.get(key)
            if entry is None:
                self._totals[key] = [_attributes(key), usd]
            else:
                entry[1] += usd

    def observe(self, options: CallbackOptions) -> Iterable[Observation]:
        """The observable counter's callback: every total so far, as a float."""
        with self._lock:
            entries = [(attrs, total) for attrs, total in self._totals.values()]
        return [Observation(float(total), attrs) for attrs, total in entries]


def _attributes(key: tuple[str, str | None, str | None, str | None]) -> dict[str, str]:
    model, task, user, app = key
    attrs = {"gen_ai.response.model": model}
    for name, value in (("task", task), ("user", user), ("app", app)):
        if value:
            attrs[f"holysheep.{name}"] = value
    return attrs


_by_provider: weakref.WeakKeyDictionary[Any, CostTotals] = weakref.WeakKeyDictionary()
_pinned: dict[int, tuple[Any, CostTotals]] = {}  # providers that take no weak reference
_global = CostTotals()


def totals_for(meter_provider: Any) -> CostTotals:
    """The totals of ``meter_provider`` (``None``: the global one), made on first use.

    The SDK keeps the first callback registered for an instrument name, so a second
    ``instrument()`` on the same provider must feed the same totals, not new ones.
    """
    if meter_provider is None:
        return _global
    try:
        return _by_provider.setdefault(meter_provider, CostTotals())
    except TypeError:  # no weak reference to it: kept for good (providers are few and long-lived)
        return _pinned.setdefault(id(meter_provider), (meter_provider, CostTotals()))[1]
