"""``CostLedger``: every billed call recorded once, totals by any attribution, enforced budgets.

The façade does what needs no storage (choosing the backend, canonical model ids, the clock,
building entries and refusal messages); the backend (``memory``, ``sqlite``, ``redis``) does each
reserve and settle atomically. Backends are imported only when chosen, so ``import holysheep``
loads neither ``sqlite3`` nor ``redis``.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from holysheep.calls import Attribution, CallInfo
from holysheep.errors import ConfigurationError, LedgerError

from ._aggregate import build_query
from ._backend import Facets, LedgerBackend
from ._budgets import exceeded_error, unpriced_error
from ._model import PERIODS, SCOPES, Budget, BudgetStatus, LedgerEntry, Reservation, TotalsRow
from ._spool import Spool, default_spool_dir, keep

if TYPE_CHECKING:
    from holysheep.catalog import ModelCatalog

    from ._model import Period, Scope

__all__ = ["LEDGER_ENV", "CostLedger", "open_backend", "redact_url"]

LEDGER_ENV = "HOLYSHEEP_LEDGER"
"""Chooses the ledger: ``memory`` (default), ``sqlite:///path.db`` or ``redis://host:port/db``."""
_NO_ATTRIBUTION = Attribution()
_REPLAY_BATCH = 32
"""Spooled records replayed after one successful call (the rest after the next ones)."""
logger = logging.getLogger("holysheep.ledger")


def open_backend(url: str) -> LedgerBackend:
    """The backend a ledger URL names; ``ConfigurationError`` for anything else.

    ``sqlite:///relative/path.db`` and ``sqlite:////absolute/path.db`` follow SQLAlchemy.
    """
    url = url.strip()
    if url in ("", "memory", "memory://"):
        from ._memory import MemoryBackend

        return MemoryBackend()
    if url.startswith("sqlite:///"):
        from ._sqlite import SQLiteBackend

        return SQLiteBackend(url[len("sqlite:///") :])
    if url.startswith(("redis://", "rediss://", "unix://")):
        try:
            from ._redis import RedisBackend
        except ImportError as exc:
            raise ConfigurationError(
                "a Redis ledger needs the redis package: pip install 'holysheep[redis]'"
            ) from exc
        return RedisBackend(url)
    raise ConfigurationError(
        f"unknown ledger {redact_url(url)!r}: use 'memory', 'sqlite:///path.db' or "
        f"'redis://host:port/db' (the backend argument or {LEDGER_ENV})"
    )


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for reprs, logs and reports)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def _decimal(value: Decimal | str | float | int, name: str) -> Decimal:
    """A finite, non-negative Decimal (floats through ``str``, so 0.1 stays 0.1)."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got {value!r}")
    try:
        dec = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except ArithmeticError:
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not dec.is_finite() or dec < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return dec


class CostLedger:
    """Records every billed call once and enforces budgets with reservations.

    Example:
        ```python
        ledger = CostLedger("sqlite:///ledger.db")
        ledger.set_budget("5.00", scope="user", key="alice", period="day")
        hold = ledger.reserve("gpt-4.1", estimate_call_usd(spec, messages, 500), attribution)
        try:
            reply = client.chat(model="gpt-4.1", messages=messages, max_tokens=500)
        except Exception:
            ledger.release(hold)
            raise
        ledger.settle(hold, reply.call_info)
        ledger.totals(["user", "model"])
        ```
    """

    def __init__(
        self,
        backend: str | LedgerBackend | None = None,
        *,
        catalog: ModelCatalog | None = None,
        reservation_ttl_s: float = 900.0,
        clock: Callable[[], float] | None = None,
        spool_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        """Open a ledger.

        Args:
            backend: ``memory``, ``sqlite:///path.db``, ``redis://host:port/db`` or a backend
                object; ``None`` reads ``HOLYSHEEP_LEDGER`` (default ``memory``).
            catalog: Resolves model names to catalogue ids for ``model`` budgets (default:
                ``ModelCatalog.default()``, loaded on first use).
            reservation_ttl_s: Seconds after which an unsettled reservation stops counting (the
                caller crashed); longer than your slowest call.
            clock: Epoch seconds now (``time.time``); tests inject their own.
            spool_dir: Where billed calls wait when the ledger cannot record them (default:
                ``<file>.spool`` beside a SQLite file, else under ``$XDG_DATA_HOME/holysheep``).

        Raises:
            ConfigurationError: an unknown URL, or a SQLite path that is a folder.
            LedgerError: the SQLite file is locked for long or is not a database.
        """
        if reservation_ttl_s <= 0:
            raise ValueError("reservation_ttl_s must be > 0 seconds")
        if backend is None:
            backend = os.environ.get(LEDGER_ENV, "").strip() or "memory"
        self._backend: LedgerBackend = (
            open_backend(backend) if isinstance(backend, str) else backend
        )
        self._catalog = catalog
        self.reservation_ttl_s = float(reservation_ttl_s)
        self._clock = clock or time.time
        self._canonical_ids: dict[str, str] = {}
        self._spool_dir = None if spool_dir is None else Path(spool_dir)
        self._spool = self._open_spool()

    def _open_spool(self) -> Spool | None:
        """The spool of this ledger (none for ``memory``, which cannot fail)."""
        url = self._backend.url
        if url == "memory" and self._spool_dir is None:
            return None
        sqlite_path = getattr(self._backend, "path", None) if url.startswith("sqlite:") else None
        return Spool(self._spool_dir or default_spool_dir(url, sqlite_path))

    @classmethod
    def from_url(cls, url: str, **options: Any) -> CostLedger:
        """The ledger a URL names (``memory``, ``sqlite:///...``, ``redis://...``)."""
        return cls(url, **options)

    @property
    def url(self) -> str:
        """The backend's URL (pass it to another process to share this ledger)."""
        return self._backend.url

    @property
    def backend(self) -> LedgerBackend:
        """The storage backend."""
        return self._backend

    def __repr__(self) -> str:
        return f"CostLedger({redact_url(self.url)!r})"

    def __reduce__(self) -> Any:
        if self.url == "memory":
            raise TypeError(
                "a memory ledger lives in one process; share sqlite:///... or redis://... instead"
            )
        state = {"reservation_ttl_s": self.reservation_ttl_s, "spool_dir": self._spool_dir}
        return (CostLedger, (self.url,), state)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.reservation_ttl_s = state["reservation_ttl_s"]
        self._spool_dir = state.get("spool_dir")
        self._spool = self._open_spool()

    def close(self) -> None:
        """Release the backend's connections; safe to call twice."""
        self._backend.close()

    def __enter__(self) -> CostLedger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------ models

    def canonical_model(self, model: str) -> str:
        """The catalogue id of ``model`` (aliases and dated ids resolved), else ``model``."""
        found = self._canonical_ids.get(model)
        if found is None:
            if self._catalog is None:
                from holysheep.catalog import ModelCatalog

                self._catalog = ModelCatalog.default()
            spec = self._catalog.find(model)
            found = spec.id if spec is not None else model
            if len(self._canonical_ids) < 4096:
                self._canonical_ids[model] = found
        return found

    # ------------------------------------------------------------ budgets

    def set_budget(
        self,
        limit_usd: Decimal | str | float,
        *,
        scope: Scope = "global",
        key: str | None = None,
        period: Period = "month",
    ) -> Budget:
        """Add or replace the budget for ``scope``/``key``/``period`` (shared by the backend).

        Spending in the current window is recomputed from the recorded calls, so a budget set
        mid-month already counts what the month has cost.

        Args:
            limit_usd: The most calls in one window may cost, in USD at list price.
            scope: ``global``, ``user``, ``app``, ``task`` or ``model``.
            key: The user, app, task label or model (any alias) the budget is for; none for
                ``global``.
            period: ``day`` or ``month`` (UTC calendar windows) or ``all``.

        Raises:
            ValueError: a bad scope, period, key or limit.
        """
        budget = self._budget(limit_usd, scope, key, period)
        self._backend.put_budget(budget, self._clock(), self.canonical_model)
        return budget

    def remove_budget(
        self, *, scope: Scope = "global", key: str | None = None, period: Period = "month"
    ) -> bool:
        """Remove a budget; False when there was none."""
        return self._backend.delete_budget(self._budget(0, scope, key, period).id)

    def _budget(self, limit: Any, scope: str, key: str | None, period: str) -> Budget:
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
        if period not in PERIODS:
            raise ValueError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")
        if scope == "global":
            if key is not None:
                raise ValueError("a global budget takes no key")
        elif not isinstance(key, str) or not key.strip():
            raise ValueError(f"a {scope} budget needs key=<the {scope} it is for>")
        elif scope == "model":
            key = self.canonical_model(key)
        return Budget(scope, key, period, _decimal(limit, "limit_usd"))  # type: ignore[arg-type]

    def budgets(self) -> list[Budget]:
        """Every budget, ordered by id."""
        return self._backend.budgets()

    def budget_status(
        self, attribution: Attribution | None = None, model: str | None = None
    ) -> list[BudgetStatus]:
        """Spent, reserved and remaining per budget in its current window.

        With neither argument, every budget; otherwise those a call with this attribution (and
        model) would count against.
        """
        facets = None
        if attribution is not None or model is not None:
            att = attribution or _NO_ATTRIBUTION
            models = (self.canonical_model(model),) if model else ()
            facets = Facets(att.user, att.app, att.task, models)
        return self._backend.status(facets, self._clock())

    def remaining_usd(self, attribution: Attribution, model: str | None = None) -> Decimal | None:
        """The tightest remaining budget for such a call; ``None`` when no budget applies."""
        status = self.budget_status(attribution or _NO_ATTRIBUTION, model)
        return min((s.remaining_usd for s in status), default=None)

    # ------------------------------------------------------------ calls

    def reserve(
        self,
        model: str,
        estimated_usd: Decimal | str | float | None,
        attribution: Attribution | None = None,
    ) -> Reservation:
        """Hold ``estimated_usd`` against every budget that applies, or refuse the call.

        Args:
            model: The model about to be called (for ``model`` budgets).
            estimated_usd: What the call may cost at most (``estimate_call_usd``); ``None``
                when it cannot be priced (a model without catalogue prices).
            attribution: Task, user, app and tags of the call.

        Returns:
            The reservation to pass to ``settle`` (or ``release`` if the call fails).

        Raises:
            BudgetExceededError: the call could cross a budget, or it cannot be priced and a
                budget applies (fail closed); nothing should be sent.
            LedgerError: the ledger cannot be reached; nothing should be sent.
        """
        amount = Decimal(0) if estimated_usd is None else _decimal(estimated_usd, "estimated_usd")
        att = attribution or _NO_ATTRIBUTION
        canonical = self.canonical_model(model)
        now = self._clock()
        reservation = Reservation(
            uuid.uuid4().hex, canonical, amount, att, now + self.reservation_ttl_s
        )
        if estimated_usd is None:
            facets = Facets(att.user, att.app, att.task, (canonical,))
            binding = self._backend.status(facets, now)
            if binding:
                raise unpriced_error(binding[0].budget, model)
            outcome: Any = False
        else:
            outcome = self._backend.reserve(reservation, now)
        self._drain()
        if outcome is True:
            return reservation
        if outcome is False:
            return Reservation(
                reservation.id, canonical, amount, att, reservation.expires_at, False
            )
        raise exceeded_error(outcome, canonical, amount, now)

    def settle(self, reservation: Reservation | None, info: CallInfo) -> LedgerEntry | None:
        """Record the call once, charge its budgets and release its reservation, atomically.

        When the ledger cannot be reached the record is spooled to local disk instead (a
        ``LedgerSpoolWarning`` says where) and replayed once the ledger answers again; this
        method never raises ``LedgerError``, so a billed call's answer is never lost.

        Returns:
            The new (or spooled) entry, or ``None`` when this call (id and request id) was
            recorded before.
        """
        now = self._clock()
        if info.id or info.request_id:
            key = f"{info.id}|{info.request_id or ''}"
        else:  # nothing identifies the call: it cannot be deduplicated
            key = f"anon-{uuid.uuid4().hex}"
        entry = LedgerEntry.from_call(info, now, key)
        models = (self.canonical_model(info.model), self.canonical_model(info.requested_model))
        hold = reservation.id if reservation is not None and reservation.held else None
        try:
            recorded = self._backend.commit(entry, models, hold, now)
        except LedgerError as exc:
            self._spool_record(entry, models, hold, exc)
            return entry
        self._drain()
        return entry if recorded else None

    def record(self, info: CallInfo) -> LedgerEntry | None:
        """Record a call made without a reservation (callbacks, other clients); idempotent."""
        return self.settle(None, info)

    def release(self, reservation: Reservation | None) -> None:
        """Drop the reservation of a call that failed (nothing was billed).

        Raises:
            LedgerError: the ledger cannot be reached (the hold expires on its own).
        """
        if reservation is not None and reservation.held:
            self._backend.release(reservation.id)

    # ------------------------------------------------------------ the spool

    @property
    def spool_dir(self) -> Path | None:
        """Where billed calls wait while the ledger cannot record them (None for ``memory``)."""
        return None if self._spool is None else self._spool.directory

    def replay_spool(self) -> int:
        """Record every spooled call now (each exactly once); returns how many were replayed.

        Runs on its own after any successful ledger call and before reports, so calling it is
        only needed to drain the spool at a moment of your choosing.

        Raises:
            LedgerError: the ledger still cannot be reached; the records stay spooled.
        """
        if self._spool is None:
            return 0
        return self._spool.replay(self._replay_commit)

    def _replay_commit(self, entry: LedgerEntry, models: tuple[str, ...], hold: str | None) -> bool:
        """Commit a spooled record, charged to the budget windows of when it was billed."""
        return self._backend.commit(entry, models, hold, entry.ts.timestamp())

    def _spool_record(
        self, entry: LedgerEntry, models: tuple[str, ...], hold: str | None, exc: LedgerError
    ) -> None:
        """Keep a billed call the ledger refused; never raises (the caller keeps its answer)."""
        reason = getattr(exc, "reason", None) or str(exc)  # a custom backend's may lack it
        keep(self._spool, entry, models, hold, exc.url or redact_url(self.url), reason)

    def _drain(self, *, force: bool = False) -> None:
        """After a ledger call succeeded: replay a batch of spooled records, if any wait."""
        spool = self._spool
        if spool is None or not (spool.pending() or force):
            return
        try:
            spool.replay(self._replay_commit, limit=None if force else _REPLAY_BATCH)
        except LedgerError as exc:  # down again: the records wait for the next success
            logger.debug("holysheep: spool replay stopped: %s", exc)

    # ------------------------------------------------------------ reading

    def totals(
        self,
        group_by: Sequence[str] | str = ("model",),
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        **filters: Any,
    ) -> list[TotalsRow]:
        """Sums of the recorded calls per group, ordered by group keys.

        Args:
            group_by: Any of ``model`` (served), ``requested_model``, ``task``, ``user``,
                ``app``, ``tag:<name>``, ``day``, ``month``; empty for one grand total.
            since: Only calls at or after this time (naive means UTC).
            until: Only calls before this time.
            **filters: Equality filters on the same names (``user="alice"``), and
                ``tags={"team": "search"}``.
        """
        query = build_query(group_by, since, until, filters)
        self._drain(force=True)
        return self._backend.totals(query)

    def entries(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        **filters: Any,
    ) -> list[LedgerEntry]:
        """Recorded calls, oldest first (the newest ``limit`` when given); filters as ``totals``."""
        query = build_query((), since, until, filters)
        self._drain(force=True)
        return self._backend.entries(query, limit)

    def report_html(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        title: str = "HolySheep cost report",
    ) -> str:
        """The cost report as one self-contained HTML page (inline SVG, no network), as text.

        Spend per day by model, relay against direct CNY, top users/apps/tasks, budgets, routing
        and the share of estimated or unpriced calls, for calls in ``[since, until)``. With
        ``path``, the page is also written there (UTF-8); a path that cannot be written raises
        ``ConfigurationError``.
        """
        from ._html import build_report_html, write_page

        page = build_report_html(self, since=since, until=until, title=title)
        if path is not None:
            write_page(Path(path), page)
        return page
