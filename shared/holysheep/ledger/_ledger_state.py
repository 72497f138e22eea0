"""What every layer of ``CostLedger`` shares: its state, canonical model ids, ``flush``, helpers.

The façade is built in layers, each a mixin with one job, each building on the one before:
``_ledger_spool`` (the spool), ``_ledger_budgets`` (budgets), ``_ledger_holds`` (reservations),
``_ledger_record`` (settling), ``_ledger_async`` (the event-loop twins) and ``_ledger`` itself
(opening, closing, reading). The attributes they read are declared here; ``CostLedger`` sets them.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from holysheep.calls import Attribution
from holysheep.costs import non_negative_amount

from ._text import clean

if TYPE_CHECKING:
    from holysheep.catalog import ModelCatalog

    from ._backend import LedgerBackend
    from ._holdbatch import HoldBatcher
    from ._lease import LeaseBook
    from ._model import Budget
    from ._recorder import Recorder
    from ._spool import Spool

__all__ = [
    "CLOSE_WAIT_S", "NO_ATTRIBUTION", "Applicable", "LedgerState", "decimal_arg", "redact_url",
]

NO_ATTRIBUTION = Attribution()
CLOSE_WAIT_S = 30.0
"""``close()`` and interpreter exit wait this long at most for the writer (then the journal
keeps what is left, for the next process to record)."""


Applicable = tuple[tuple["Budget", ...], str, str, bool]
"""What ``_ask`` remembers for a call's names: the budgets that apply, their leases' key
(``lease_key``), the model's catalogue id, whether the names are clean as given."""


class LedgerState:
    """The state of a ``CostLedger`` that its layers share (set by ``CostLedger.__init__``)."""

    reservation_ttl_s: float
    _backend: LedgerBackend
    _catalog: ModelCatalog | None
    _clock: Callable[[], float]
    _canonical_ids: dict[str, str]
    _spool_dir: Path | None
    _budget_cache_s: float
    _budget_view: tuple[float, list[Budget]] | None
    """Monotonic expiry and the budget list this process read."""
    _budget_generation: int
    """Bumped by each budget set or removed here: a list read before it no longer counts."""
    _applicable: tuple[list[Budget] | None, dict[tuple[Any, ...], Applicable]]
    """The budget list these were worked out for, and by a call's names as given (user, app,
    task, model): ``Applicable``."""
    _budget_refresh: tuple[int, Future[list[Budget]]] | None
    _budget_thread: tuple[int, ThreadPoolExecutor] | None
    _spool: Spool | None
    _recorder: Recorder | None
    _batcher: HoldBatcher | None
    _leases: LeaseBook | None

    def canonical_model(self, model: str) -> str:
        """The catalogue id of ``model`` (aliases and dated ids resolved), else ``model`` (any
        lone surrogate in it as U+FFFD, as the stores keep it: ``_text.py``)."""
        found = self._canonical_ids.get(model)
        if found is None:
            if self._catalog is None:
                from holysheep.catalog import ModelCatalog

                self._catalog = ModelCatalog.default()
            spec = self._catalog.find(model)
            found = clean(spec.id if spec is not None else model) or ""
            if len(self._canonical_ids) < 4096:
                self._canonical_ids[model] = found
        return found

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every call settled so far is committed (or spooled); False on timeout.

        Billed calls are written in batches a few milliseconds after they settle; reads
        (``totals``, ``entries``, ``budget_status``) and ``close()`` flush on their own.
        """
        recorder = self._recorder
        return True if recorder is None else recorder.flush(timeout)


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for reprs, logs and reports)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def decimal_arg(value: Decimal | str | float | int, name: str) -> Decimal:
    """A finite, non-negative Decimal (floats through ``str``, so 0.1 stays 0.1)."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got {value!r}")
    return non_negative_amount(value, name, "a finite number >= 0")
