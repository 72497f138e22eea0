"""The Redis ledger backend: budgets shared by any number of processes on any number of machines.

Reserve and commit are Lua scripts (``_redis_lua.py``), so each is one atomic step on the server
and one round trip for the client. Units: entries keep exact decimal strings (their JSON is the
SQLite row's array, ``ENTRY_COLUMNS`` in order, as the journal has it already; entries stored by
earlier versions are ``LedgerEntry.as_dict`` objects, read as well); budget counters, limits and
holds are integer nano-dollars (1e-9 USD), charges rounded up and limits down, so rounding can
only ever refuse a call, never overspend. Totals read the entries (a sorted set scored by time)
and sum them here, exactly; the time range is narrowed on the server. Setting a budget recomputes
its window with WATCH/MULTI.

URL: ``redis://[:password@]host:port/db[?prefix=...]`` (``rediss://`` for TLS); the key prefix
defaults to ``holysheep:{ledger}:``. Connecting waits 2 s and a command 5 s at most unless the URL
says otherwise (``?socket_timeout=...``), and every ``redis.RedisError`` leaves as a
``LedgerError`` naming the URL (password redacted).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from pydantic_core import PydanticSerializationError, to_json

from holysheep.errors import ConfigurationError

from ._aggregate import Query, aggregate, matches
from ._backend import CommitItem, Facets
from ._budgets import from_nano, to_nano, window, window_start
from ._errors import redis_error, scrub
from ._lease import LEASE_CALLS, LEASE_FLOOR, LEASE_PREFIX, LEASE_SHARE
from ._lease_store import spend_nano
from ._model import Budget, BudgetStatus, LedgerEntry, Refusal, Reservation, TotalsRow
from ._redis_lua import COMMIT, COMMIT_MANY, GIVE_BACK, RESERVE, RESERVE_LEASED, RESERVE_MANY
from ._sqlite_schema import entry_from_row, entry_row

__all__ = ["DEFAULT_PREFIX", "RedisBackend"]

DEFAULT_PREFIX = "holysheep:{ledger}:"
_TIMEOUTS = {"socket_connect_timeout": 2.0, "socket_timeout": 5.0}
F = TypeVar("F", bound=Callable[..., Any])


def _translated(method: F) -> F:
    """Run ``method``; a ``redis.RedisError`` leaves as a ``LedgerError`` naming the URL."""

    @functools.wraps(method)
    def wrapper(self: RedisBackend, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except redis.RedisError as exc:
            raise redis_error(self.url, exc) from exc

    return wrapper  # type: ignore[return-value]


def _split_prefix(url: str) -> tuple[str, str]:
    """The URL without its ``prefix`` query parameter, and that prefix."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = next((v for k, v in query if k == "prefix"), DEFAULT_PREFIX)
    rest = urlencode([(k, v) for k, v in query if k != "prefix"])
    return urlunsplit(parts._replace(query=rest)), prefix


class RedisBackend:
    """Ledger keys in one Redis database, under one prefix."""

    def __init__(self, url: str, *, client: redis.Redis | None = None) -> None:
        plain, self.prefix = _split_prefix(url)
        self.url = url
        if client is None:
            try:
                client = redis.Redis.from_url(plain, decode_responses=True, **_TIMEOUTS)
            except ValueError as exc:
                from ._ledger import redact_url

                raise ConfigurationError(
                    f"the Redis ledger URL {redact_url(url)!r} is malformed "
                    f"({scrub(str(exc), url)}); expected redis://[:password@]host:port/db"
                ) from None
        self._client = client
        p = self.prefix
        self._k_keys, self._k_entries = p + "keys", p + "entries"
        self._k_budgets, self._k_spent, self._k_holds = p + "budgets", p + "spent", p + "holds"
        self._reserve = self._client.register_script(RESERVE)
        self._commit = self._client.register_script(COMMIT)
        self._reserve_many = self._client.register_script(RESERVE_MANY)
        self._reserve_leased = self._client.register_script(RESERVE_LEASED)
        self._give_back = self._client.register_script(GIVE_BACK)
        self._commit_many = self._client.register_script(COMMIT_MANY)

    def close(self) -> None:
        """Close the connection pool; safe to call twice."""
        self._client.close()

    # ------------------------------------------------------------ budgets

    @_translated
    def put_budget(self, budget: Budget, now: float, canonical: Callable[[str], str]) -> None:
        """Add or replace a budget and recompute its window; retried if a call lands meanwhile."""
        data = json.dumps(
            {**budget.as_dict(), "limit_nano": str(to_nano(budget.limit_usd, up=False))}
        )
        slot = f"{budget.id}#{window(budget.period, now)}"
        since = window_start(budget.period, now)

        def update(pipe: Any) -> None:
            nano = 0
            for raw in pipe.zrangebyscore(self._k_entries, since, "+inf"):
                entry = _stored_entry(raw)
                models = (canonical(entry.model), canonical(entry.requested_model))
                if entry.cost is not None and budget.applies(
                    entry.user, entry.app, entry.task, models
                ):
                    nano += to_nano(entry.cost.total_usd, up=True)  # as commit charged it
            pipe.multi()
            pipe.hset(self._k_budgets, budget.id, data)
            pipe.hset(self._k_spent, slot, str(nano))

        self._client.transaction(update, self._k_entries, self._k_spent)

    @_translated
    def delete_budget(self, budget_id: str) -> bool:
        """Remove a budget."""
        return bool(self._client.hdel(self._k_budgets, budget_id))

    @_translated
    def budgets(self) -> list[Budget]:
        """Every budget, ordered by id."""
        raw = self._client.hgetall(self._k_budgets)
        return [_budget(raw[k]) for k in sorted(raw)]

    # ------------------------------------------------------------ holds and entries

    def _reserve_call(self, reservation: Reservation, now: float) -> tuple[list[str], list[str]]:
        """The keys and arguments of the reserve script for one reservation."""
        att = reservation.attribution
        return [self._k_budgets, self._k_spent, self._k_holds], [
            repr(now),
            reservation.id,
            str(to_nano(reservation.amount_usd, up=True)),
            repr(reservation.expires_at),
            att.user or "",
            att.app or "",
            att.task or "",
            reservation.model,
            window("day", now),
            window("month", now),
        ]

    @staticmethod
    def _reserve_outcome(reply: Any) -> bool | Refusal:
        if reply[0] == "held":
            return True
        if reply[0] == "free":
            return False
        return Refusal(_budget(reply[1]), from_nano(reply[2]), from_nano(reply[3]))

    @_translated
    def reserve(self, reservation: Reservation, now: float) -> bool | Refusal:
        """One script call: check every applicable budget, purge expired holds, hold."""
        keys, args = self._reserve_call(reservation, now)
        return self._reserve_outcome(self._reserve(keys=keys, args=args))

    def _commit_call(
        self, entry: LedgerEntry, models: tuple[str, ...], hold_id: str | None, now: float
    ) -> tuple[list[str], list[str]]:
        """The keys and arguments of the commit script for one entry."""
        cost = entry.cost
        served, requested = models[0], models[-1]  # the façade passes (served, requested)
        keys = [self._k_keys, self._k_entries, self._k_budgets, self._k_spent, self._k_holds]
        return keys, [
            entry.key,
            f"{entry.ts_us / 1_000_000:.6f}",
            _json(entry_row(entry)),
            "" if cost is None else str(spend_nano(entry)),
            entry.user or "",
            entry.app or "",
            entry.task or "",
            served,
            requested,
            window("day", now),
            window("month", now),
            hold_id or "",
        ]

    @_translated
    def commit(
        self, entry: LedgerEntry, models: tuple[str, ...], hold_id: str | None, now: float
    ) -> bool:
        """One script call: record once, charge budgets, release the hold."""
        keys, args = self._commit_call(entry, models, hold_id, now)
        return bool(self._commit(keys=keys, args=args))

    @_translated
    def commit_many(
        self, items: Sequence[CommitItem], rows: Sequence[tuple[Any, ...]] | None = None
    ) -> list[bool]:
        """Group commit: one script for the batch (``COMMIT_MANY``), one round trip.

        The batch goes as one JSON argument: redis-py packs each argument in Python, which cost
        more than the server's work when each entry was a script call of 17 arguments. ``rows``:
        the entries as ``entry_row`` built them already (the form the entries are stored in).
        """
        if not items:
            return []
        if rows is None:
            rows = [entry_row(entry) for entry, _m, _h, _n in items]
        windows: dict[int, tuple[str, str]] = {}
        records = []
        for (entry, models, hold_id, now), row in zip(items, rows, strict=True):
            day = int(now // 86_400)  # UTC days: one gmtime per day seen, not two per entry
            wins = windows.get(day)
            if wins is None:
                wins = windows[day] = (window("day", now), window("month", now))
            records.append((
                row[0], f"{row[3] / 1_000_000:.6f}", _json(row),
                "" if entry.cost is None else str(spend_nano(  # kept for the book's settle
                    entry, keep=hold_id is not None and hold_id.startswith(LEASE_PREFIX))),
                entry.user or "", entry.app or "", entry.task or "", models[0], models[-1],
                *wins, hold_id or "",
            ))
        keys = [self._k_keys, self._k_entries, self._k_budgets, self._k_spent, self._k_holds]
        [replies] = self._pipelined(
            self._commit_many, COMMIT_MANY, [(keys, [_json(records)])]
        )
        return [bool(r) for r in replies]

    @_translated
    def reserve_many(self, reservations: Sequence[Reservation], now: float) -> list[bool | Refusal]:
        """Each reservation as ``reserve`` would judge it, in order: one script for the batch
        (budgets and holds decoded once on the server, one reply to parse)."""
        if not reservations:
            return []
        args = [repr(now), window("day", now), window("month", now)]
        for reservation in reservations:
            att = reservation.attribution
            args += [reservation.id, str(to_nano(reservation.amount_usd, up=True)),
                     repr(reservation.expires_at), att.user or "", att.app or "",
                     att.task or "", reservation.model]
        keys = [self._k_budgets, self._k_spent, self._k_holds]
        [replies] = self._pipelined(self._reserve_many, RESERVE_MANY, [(keys, args)])
        return [self._reserve_outcome(reply) for reply in replies]

    @_translated
    def reserve_leased(self, items: Sequence[Any], now: float) -> list[Any]:
        """Holds and leases judged in order in one script (``SQLiteBackend.reserve_leased``)."""
        if not items:
            return []
        args = [repr(now), window("day", now), window("month", now),
                str(LEASE_SHARE), str(LEASE_CALLS), str(LEASE_FLOOR)]
        for kind, reservation, need, unit in items:
            if kind == "G":  # a lease given back: its id and nano-dollars
                args += ["G", reservation, str(need), "", "", "", "", "", "0"]
                continue
            att = reservation.attribution
            nano = need if kind == "L" else to_nano(reservation.amount_usd, up=True)
            args += [kind, reservation.id, str(nano), repr(reservation.expires_at),
                     att.user or "", att.app or "", att.task or "", reservation.model, str(unit)]
        keys = [self._k_budgets, self._k_spent, self._k_holds]
        [replies] = self._pipelined(self._reserve_leased, RESERVE_LEASED, [(keys, args)])
        return [None if reply[0] == "given" else int(reply[1]) if reply[0] == "lease"
                else self._reserve_outcome(reply) for reply in replies]

    @_translated
    def give_back(self, lease_id: str, nano: int) -> None:
        """Lower a lease by headroom its process no longer needs."""
        self._pipelined(self._give_back, GIVE_BACK, [([self._k_holds], [lease_id, str(nano)])])

    @_translated
    def give_back_many(self, returns: Sequence[tuple[str, int]]) -> None:
        """``give_back`` for several leases, in one pipeline."""
        self._pipelined(self._give_back, GIVE_BACK,
                        [([self._k_holds], [lease_id, str(nano)]) for lease_id, nano in returns])

    def _pipelined(
        self, script: Any, source: str, calls: list[tuple[list[str], list[str]]]
    ) -> list[Any]:
        """Run ``script`` once per (keys, args) in one pipeline (each run atomic); the replies."""
        replies: list[Any] = [None] * len(calls)
        todo = list(range(len(calls)))
        for attempt in range(2):  # again after loading the script into a restarted server
            pipe = self._client.pipeline(transaction=False)
            for i in todo:
                keys, args = calls[i]
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            results = pipe.execute(raise_on_error=False)
            missing = []
            for i, result in zip(todo, results, strict=True):
                if isinstance(result, redis.exceptions.NoScriptError):
                    missing.append(i)
                elif isinstance(result, Exception):
                    raise result
                else:
                    replies[i] = result
            if not missing:
                break
            if attempt:
                raise redis.exceptions.NoScriptError("a ledger script cannot be loaded")
            self._client.script_load(source)
            todo = missing
        return replies

    @_translated
    def release(self, hold_id: str) -> None:
        """Drop a hold."""
        self._client.hdel(self._k_holds, hold_id)

    # ------------------------------------------------------------ reading

    @_translated
    def status(self, facets: Facets | None, now: float) -> list[BudgetStatus]:
        """Where each (applicable) budget stands."""
        pipe = self._client.pipeline(transaction=True)
        pipe.hgetall(self._k_budgets)
        pipe.hgetall(self._k_holds)
        pipe.hgetall(self._k_spent)
        raw_budgets, raw_holds, spent = pipe.execute()
        budgets = [_budget(raw_budgets[k]) for k in sorted(raw_budgets)]
        if facets is not None:
            budgets = facets.applicable(budgets)
        holds = [json.loads(h) for h in raw_holds.values()]
        out = []
        for budget in budgets:
            win = window(budget.period, now)
            held = sum(
                int(h["nano"])
                for h in holds
                if float(h["exp"]) > now
                and budget.applies(h["user"], h["app"], h["task"], (h["model"],))
            )
            used = from_nano(spent.get(f"{budget.id}#{win}"))
            out.append(BudgetStatus(budget, win, used, from_nano(held)))
        return out

    def _scan(self, query: Query) -> list[LedgerEntry]:
        """Entries in the query's time range (narrowed on the server), then filtered here."""
        low = "-inf" if query.since is None else f"{query.since.timestamp() - 1:.6f}"
        high = "+inf" if query.until is None else f"{query.until.timestamp() + 1:.6f}"
        raws = self._client.zrangebyscore(self._k_entries, low, high)
        found = [_stored_entry(r) for r in raws]
        return [e for e in found if matches(e, query)]

    @_translated
    def entries(self, query: Query, limit: int | None) -> list[LedgerEntry]:
        """Matching entries, oldest first."""
        found = self._scan(query)
        found.sort(key=lambda e: e.ts)
        return found[-limit:] if limit else found

    @_translated
    def totals(self, query: Query) -> list[TotalsRow]:
        """Sums per group, over the entries read from the sorted set."""
        return aggregate(self._scan(query), query)


def _json(value: Any) -> str:
    """Compact JSON by pydantic-core (Rust); ``json`` for text with a lone surrogate."""
    try:
        return to_json(value).decode()
    except PydanticSerializationError:
        return json.dumps(value, separators=(",", ":"))


def _stored_entry(raw: str) -> LedgerEntry:
    """An entry from its stored JSON: the SQLite row's form (an array), or ``LedgerEntry.as_dict``
    (an object: an entry stored by an earlier version)."""
    data = json.loads(raw)
    if isinstance(data, list):
        return entry_from_row(tuple(data))
    return LedgerEntry.from_dict(data)


def _budget(raw: str) -> Budget:
    """A ``Budget`` from its stored JSON."""
    data = json.loads(raw)
    return Budget(data["scope"], data["key"], data["period"], Decimal(data["limit_usd"]))
