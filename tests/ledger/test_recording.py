"""Recording on every backend: exactly once, what an entry keeps, totals and their groupings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from holysheep.ledger import CostLedger, LedgerEntry
from holysheep.ledger._model import dedup_key

from .helpers import CATALOG, Clock, call, usd


class Route:
    """A stand-in for the router's ``RouteDecision``."""

    def as_dict(self) -> dict[str, Any]:
        return {"model": "deepseek-v3.2", "candidates": ["deepseek-v3.2", "gpt-4.1"]}


def test_each_call_is_recorded_exactly_once(ledger: CostLedger) -> None:
    info = call()
    hold = ledger.reserve("gpt-4.1", Decimal("0.1"))
    entry = ledger.settle(hold, info)
    assert isinstance(entry, LedgerEntry)
    assert ledger.settle(hold, info) is None
    assert ledger.record(info) is None
    assert ledger.settle(None, info) is None
    [row] = ledger.totals([])
    assert row.calls == 1 and row.total_usd == usd(info)
    assert len(ledger.entries()) == 1


def test_the_key_is_created_time_call_id_and_request_id(ledger: CostLedger) -> None:
    at = 1_767_225_600
    ledger.record(call(call_id="chatcmpl-1", request_id="req_a", created=at))
    assert ledger.record(call(call_id="chatcmpl-1", request_id="req_b", created=at)) is not None
    assert ledger.record(call(call_id="chatcmpl-1", request_id="req_a", created=at)) is None
    assert ledger.record(call(call_id="chatcmpl-2", request_id=None, created=at)) is not None
    assert ledger.record(call(call_id="chatcmpl-2", request_id=None, created=at)) is None
    # a relay that reuses an id (no request id) a second later has made another call
    assert ledger.record(call(call_id="chatcmpl-2", request_id=None, created=at + 1)) is not None
    # nothing identifies these calls: each is recorded (it cannot be deduplicated)
    assert ledger.record(call(call_id="", request_id=None, created=at)) is not None
    assert ledger.record(call(call_id="", request_id=None, created=at)) is not None
    assert len(ledger.entries()) == 6


def test_the_relays_created_time_leads_the_key_so_keys_come_in_time_order(
    ledger: CostLedger,
) -> None:
    """A relay's ids are random; with its ``created`` first, each new key sorts after the last
    (a store's unique index grows at its end). The same call recorded again still counts once."""
    calls = [call(call_id=f"chatcmpl-{tag}", created=created)
             for tag, created in (("zz", 1_767_225_600), ("aa", 1_767_225_601),
                                  ("mm", 1_767_225_601), ("00", 1_767_312_000))]
    for info in calls:
        ledger.record(info)
    assert all(ledger.record(info) is None for info in calls)
    keys = [entry.key for entry in ledger.entries()]
    assert sorted(keys) == [dedup_key(info) for info in calls[:1]] + sorted(
        dedup_key(info) for info in calls[1:3]) + [dedup_key(calls[3])]
    assert len(keys) == 4


@pytest.mark.parametrize("created", [None, 0, -5, 10**13, 2**70])
def test_a_created_that_is_no_time_leaves_the_key_as_ids_alone(
    ledger: CostLedger, created: int | None
) -> None:
    info = call(call_id="chatcmpl-x", request_id="req_x", created=created)
    entry = ledger.record(info)
    assert entry is not None and entry.key == "chatcmpl-x|req_x"
    assert ledger.record(info) is None
    assert len(ledger.entries()) == 1


def test_an_entry_keeps_everything(ledger: CostLedger, clock: Clock) -> None:
    info = call(
        "gpt-4.1-2025-04-14",
        requested="auto",
        prompt=1200,
        completion=300,
        cached=200,
        tags={"team": "search", "env": "prod"},
        route=Route(),
    )
    ledger.record(info)
    [entry] = ledger.entries()
    assert entry.key == f"{info.created:010d}|{info.id}|{info.request_id}"
    assert (entry.id, entry.request_id) == (info.id, info.request_id)
    assert entry.ts == datetime.fromtimestamp(clock.now, timezone.utc)
    assert (entry.model, entry.requested_model) == ("gpt-4.1-2025-04-14", "auto")
    assert (entry.task, entry.user, entry.app) == ("qa", "alice", "web")
    assert dict(entry.tags) == {"team": "search", "env": "prod"}
    assert entry.usage == info.usage
    assert entry.cost == info.cost
    assert (entry.latency_s, entry.attempts, entry.streamed) == (0.25, 1, False)
    assert entry.route == Route().as_dict()
    assert LedgerEntry.from_dict(entry.as_dict()) == entry


def test_unpriced_and_usageless_calls_count_but_never_as_zero_money(ledger: CostLedger) -> None:
    priced = call()
    ledger.record(priced)
    ledger.record(call("mystery-model", priced=False, prompt=10, completion=5))
    [row] = ledger.totals([])
    assert (row.calls, row.unpriced_calls) == (2, 1)
    assert row.prompt_tokens == 1010 and row.completion_tokens == 505
    assert row.total_usd == usd(priced)
    [mystery] = ledger.entries(model="mystery-model")
    assert mystery.cost is None


def _fill(ledger: CostLedger, clock: Clock) -> list[Any]:
    """Seven calls over two days and two months, across models, users, apps, tasks and tags."""
    calls = []
    plan = [
        ("2025-05-31T10:00", "gpt-4.1", "alice", "web", "qa", {"team": "a"}),
        ("2025-06-01T09:00", "gpt-4.1", "alice", "web", "qa", {"team": "a"}),
        ("2025-06-01T10:00", "deepseek-v3.2", "bob", "batch", "summarization", {"team": "b"}),
        ("2025-06-01T11:00", "deepseek-v3.2", "bob", "batch", "summarization", {}),
        ("2025-06-02T12:00", "gemini-2.5-flash", None, "web", "qa", {"team": "a"}),
        ("2025-06-02T13:00", "claude-sonnet-4.5", "carol", None, None, {"team": "b"}),
        ("2025-06-02T14:00", "gpt-4.1-2025-04-14", "alice", "web", "analysis", {}),
    ]
    for when, model, user, app, task, tags in plan:
        clock.set(datetime.fromisoformat(when).replace(tzinfo=timezone.utc))
        info = call(model, user=user, app=app, task=task, tags=tags, requested=model.lower())
        ledger.record(info)
        calls.append(info)
    return calls


def _expected(calls: list[Any], key: Callable[[Any], Any]) -> dict[Any, tuple[int, Decimal]]:
    out: dict[Any, tuple[int, Decimal]] = {}
    for info in calls:
        n, total = out.get(key(info), (0, Decimal(0)))
        out[key(info)] = (n + 1, total + usd(info))
    return out


def _got(rows: list, *keys: str) -> dict[Any, tuple[int, Decimal]]:
    def k(row: Any) -> Any:
        return row[keys[0]] if len(keys) == 1 else tuple(row[x] for x in keys)

    return {k(row): (row.calls, row.total_usd) for row in rows}


@pytest.mark.parametrize(
    ("group_by", "key"),
    [
        (["model"], lambda c: c.model),
        (["requested_model"], lambda c: c.requested_model),
        (["user"], lambda c: c.attribution.user),
        (["app"], lambda c: c.attribution.app),
        (["task"], lambda c: c.attribution.task),
        (["tag:team"], lambda c: c.attribution.tags.get("team")),
        (["user", "model"], lambda c: (c.attribution.user, c.model)),
    ],
)
def test_totals_group_by(
    ledger: CostLedger, clock: Clock, group_by: list[str], key: Callable[[Any], Any]
) -> None:
    calls = _fill(ledger, clock)
    rows = ledger.totals(group_by)
    assert _got(rows, *group_by) == _expected(calls, key)
    assert [list(r.group) for r in rows] == [group_by] * len(rows)
    keys = [tuple(r.group.values()) for r in rows]
    assert keys == sorted(keys, key=lambda t: tuple((v is None, v or "") for v in t))


def test_totals_by_day_and_month(ledger: CostLedger, clock: Clock) -> None:
    calls = _fill(ledger, clock)
    days = _got(ledger.totals("day"), "day")
    assert {d: n for d, (n, _) in days.items()} == {
        "2025-05-31": 1,
        "2025-06-01": 3,
        "2025-06-02": 3,
    }
    months = _got(ledger.totals(["month"]), "month")
    assert months["2025-06"] == (6, sum(usd(c) for c in calls[1:]))
    assert list(_got(ledger.totals(["month", "app"]), "month", "app")) == [
        ("2025-05", "web"),
        ("2025-06", "batch"),
        ("2025-06", "web"),
        ("2025-06", None),
    ]


def test_totals_filters_and_time_range(ledger: CostLedger, clock: Clock) -> None:
    calls = _fill(ledger, clock)
    june = datetime(2025, 6, 1, tzinfo=timezone.utc)
    [row] = ledger.totals([], since=june, user="alice")
    assert (row.calls, row.total_usd) == (2, usd(calls[1]) + usd(calls[6]))
    [row] = ledger.totals([], tags={"team": "b"})
    assert row.calls == 2
    [row] = ledger.totals([], since=june, until=june + timedelta(days=1))
    assert row.calls == 3
    naive = datetime(2025, 6, 2)  # naive datetimes are UTC
    assert ledger.totals([], since=naive)[0].calls == 3
    assert ledger.totals([], app=None)[0].calls == 1
    assert ledger.totals(["model"], user="nobody") == []
    rows = ledger.totals(["model"], **{"tag:team": "a"})
    assert sum(r.calls for r in rows) == 3


def test_totals_sum_every_field(ledger: CostLedger, clock: Clock) -> None:
    calls = _fill(ledger, clock)
    [row] = ledger.totals([])
    assert row.calls == len(calls) and row.unpriced_calls == 0
    assert row.prompt_tokens == sum(c.usage.prompt_tokens for c in calls)
    assert row.completion_tokens == sum(c.usage.completion_tokens for c in calls)
    assert row.total_tokens == sum(c.usage.total_tokens for c in calls)
    assert row.relay_cny == sum(c.cost.relay_cny for c in calls)
    assert row.direct_cny == sum(c.cost.direct_cny for c in calls)
    assert row.savings_cny == row.direct_cny - row.relay_cny
    assert row.savings_ratio.quantize(Decimal("0.001")) == Decimal("0.863")
    data = row.as_dict()
    assert data["total_usd"] == str(row.total_usd) and data["calls"] == len(calls)


def test_entries_filters_order_and_limit(ledger: CostLedger, clock: Clock) -> None:
    calls = _fill(ledger, clock)
    assert [e.id for e in ledger.entries()] == [c.id for c in calls]
    assert [e.id for e in ledger.entries(limit=2)] == [c.id for c in calls[-2:]]
    assert [e.id for e in ledger.entries(user="bob")] == [calls[2].id, calls[3].id]
    since = datetime(2025, 6, 2, 13, tzinfo=timezone.utc)
    assert [e.id for e in ledger.entries(since=since)] == [calls[5].id, calls[6].id]


@pytest.mark.parametrize(
    ("call_", "message"),
    [
        (lambda lg: lg.totals(["colour"]), "cannot group by 'colour'"),
        (lambda lg: lg.totals(["tag:"]), "cannot group by"),
        (lambda lg: lg.totals(["model"], day="2025-06-01"), "cannot filter on 'day'"),
        (lambda lg: lg.entries(colour="red"), "cannot filter on 'colour'"),
    ],
)
def test_unknown_group_keys_and_filters_are_refused(
    ledger: CostLedger, call_: Callable[[CostLedger], Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        call_(ledger)


def test_catalogue_is_priced_like_the_client(ledger: CostLedger) -> None:
    info = call("deepseek-v3.2", prompt=2_000, completion=300, cached=600)
    ledger.record(info)
    expected = CATALOG.cost("deepseek-v3.2", info.usage)
    assert ledger.totals([])[0].total_usd == expected.total_usd
