"""Budgets on every backend: reservations, refusals, release, expiry, scopes and periods."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from holysheep.calls import Attribution
from holysheep.errors import BudgetExceededError, LocalError
from holysheep.ledger import Budget, CostLedger

from .helpers import Clock, call, usd

ALICE = Attribution(task="qa", user="alice", app="web")
BOB = Attribution(task="summarization", user="bob", app="batch")


def test_no_budget_means_nothing_is_held(ledger: CostLedger) -> None:
    hold = ledger.reserve("gpt-4.1", Decimal("1000"), ALICE)
    assert not hold.held
    assert ledger.remaining_usd(ALICE, "gpt-4.1") is None
    assert ledger.settle(hold, call()) is not None


def test_refusal_names_the_budget_and_what_to_do(ledger: CostLedger) -> None:
    ledger.set_budget("0.01", scope="user", key="alice", period="day")
    ledger.record(call(completion=500))  # $0.006 spent
    with pytest.raises(BudgetExceededError) as caught:
        ledger.reserve("gpt-4.1", Decimal("0.005"), ALICE)
    err = caught.value
    assert isinstance(err, LocalError)
    text = str(err)
    assert "daily budget for user 'alice'" in text
    assert "limit $0.01" in text and "$0.006 spent" in text and "$0.004 left" in text
    assert "Set a lower max_tokens" in text and "set_budget" in text and "Nothing was sent" in text
    assert "2025-06-16 00:00 UTC" in text  # when the daily window resets
    assert err.budget == Budget("user", "alice", "day", Decimal("0.01"))
    assert err.spent_usd == Decimal("0.006") and err.estimated_usd == Decimal("0.005")
    assert err.reserved_usd == 0 and err.remaining_usd == Decimal("0.004")
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is BudgetExceededError and again.budget == err.budget
    # a call that fits still goes through; another user is not affected at all
    assert ledger.reserve("gpt-4.1", Decimal("0.004"), ALICE).held
    assert not ledger.reserve("gpt-4.1", Decimal("5"), BOB).held


def test_reservations_count_until_settled(ledger: CostLedger) -> None:
    ledger.set_budget("1.00")
    first = ledger.reserve("gpt-4.1", Decimal("0.60"), ALICE)
    with pytest.raises(BudgetExceededError, match=r"\$0.60 held by calls in flight"):
        ledger.reserve("gpt-4.1", Decimal("0.60"), BOB)
    assert ledger.remaining_usd(BOB) == Decimal("0.40")
    info = call()  # costs $0.006: settling frees the rest of the estimate
    assert ledger.settle(first, info) is not None
    assert ledger.remaining_usd(BOB) == Decimal("1.00") - usd(info)
    assert ledger.reserve("gpt-4.1", Decimal("0.60"), BOB).held


def test_release_frees_a_failed_call(ledger: CostLedger) -> None:
    ledger.set_budget("1.00", scope="app", key="web")
    hold = ledger.reserve("gpt-4.1", Decimal("0.90"), ALICE)
    with pytest.raises(BudgetExceededError):
        ledger.reserve("gpt-4.1", Decimal("0.20"), ALICE)
    ledger.release(hold)
    ledger.release(hold)  # twice is harmless
    ledger.release(None)
    assert ledger.remaining_usd(ALICE) == Decimal("1.00")
    assert ledger.entries() == []  # a failed call records nothing


def test_exact_fit_is_allowed(ledger: CostLedger) -> None:
    ledger.set_budget("0.5")
    ledger.reserve("gpt-4.1", Decimal("0.25"), ALICE)
    ledger.reserve("gpt-4.1", Decimal("0.25"), ALICE)
    with pytest.raises(BudgetExceededError):
        ledger.reserve("gpt-4.1", Decimal("0.000001"), ALICE)


def test_a_crashed_process_reservation_expires(
    make_ledger: Callable[..., CostLedger], clock: Clock
) -> None:
    crashed = make_ledger(reservation_ttl_s=60)
    crashed.set_budget("1.00")
    crashed.reserve("gpt-4.1", Decimal("0.80"), ALICE)  # never settled nor released
    survivor = make_ledger(reservation_ttl_s=60)
    with pytest.raises(BudgetExceededError):
        survivor.reserve("gpt-4.1", Decimal("0.50"), BOB)
    clock.advance(59)
    assert survivor.remaining_usd(BOB) == Decimal("0.20")
    clock.advance(1)  # the hold is past its expiry: it counts nowhere and is purged
    assert survivor.remaining_usd(BOB) == Decimal("1.00")
    hold = survivor.reserve("gpt-4.1", Decimal("0.50"), BOB)
    assert hold.held and hold.expires_at == clock.now + 60
    assert survivor.budget_status()[0].reserved_usd == Decimal("0.50")


def test_settle_after_expiry_still_records(ledger: CostLedger, clock: Clock) -> None:
    ledger.set_budget("1.00")
    hold = ledger.reserve("gpt-4.1", Decimal("0.50"), ALICE)
    clock.advance(ledger.reservation_ttl_s + 1)
    info = call()
    assert ledger.settle(hold, info) is not None
    assert ledger.budget_status()[0].spent_usd == usd(info)


@pytest.mark.parametrize(
    ("scope", "key", "refused", "allowed"),
    [
        ("user", "alice", ALICE, BOB),
        ("app", "web", ALICE, BOB),
        ("task", "qa", ALICE, BOB),
    ],
)
def test_scopes_apply_to_their_own_calls(
    ledger: CostLedger, scope: str, key: str, refused: Attribution, allowed: Attribution
) -> None:
    ledger.set_budget("0.10", scope=scope, key=key)  # type: ignore[arg-type]
    with pytest.raises(BudgetExceededError, match=f"{scope} '{key}'"):
        ledger.reserve("gpt-4.1", Decimal("0.11"), refused)
    assert not ledger.reserve("gpt-4.1", Decimal("0.11"), allowed).held


def test_model_budget_resolves_aliases(ledger: CostLedger) -> None:
    budget = ledger.set_budget("0.10", scope="model", key="gpt-4.1-2025-04-14")
    assert budget.key == "gpt-4.1"
    with pytest.raises(BudgetExceededError, match=r"model 'gpt-4\.1'"):
        ledger.reserve("GPT-4.1", Decimal("0.11"), ALICE)
    assert not ledger.reserve("deepseek-v3.2", Decimal("0.11"), ALICE).held
    # a served alias is charged to the model's budget
    info = call("gpt-4.1-2025-04-14", completion=5000, requested="gpt-4.1")
    ledger.record(info)
    assert ledger.remaining_usd(ALICE, "gpt-4.1") == Decimal("0.10") - usd(info)
    assert ledger.remaining_usd(ALICE) is None  # model budgets need the model


def test_every_applicable_budget_is_checked_and_charged(ledger: CostLedger) -> None:
    ledger.set_budget("10")
    ledger.set_budget("0.05", scope="user", key="alice", period="day")
    ledger.set_budget("1", scope="task", key="qa", period="all")
    info = call(completion=2000)  # $0.018
    ledger.settle(ledger.reserve("gpt-4.1", Decimal("0.02"), ALICE), info)
    spent = {s.budget.id: s.spent_usd for s in ledger.budget_status()}
    assert spent == {
        "all|task|qa": usd(info),
        "day|user|alice": usd(info),
        "month|global|": usd(info),
    }
    assert ledger.remaining_usd(ALICE) == Decimal("0.05") - usd(info)
    assert [s.budget.id for s in ledger.budget_status(BOB)] == ["month|global|"]
    with pytest.raises(BudgetExceededError, match="daily budget for user 'alice'"):
        ledger.reserve("gpt-4.1", Decimal("0.04"), ALICE)


def test_day_and_month_windows_reset_at_utc_midnight(ledger: CostLedger, clock: Clock) -> None:
    ledger.set_budget("0.02", period="day")
    ledger.set_budget("0.03", period="month")
    clock.set(datetime(2025, 6, 30, 23, 59, 59, tzinfo=timezone.utc))
    ledger.record(call(completion=2000))  # $0.018 on June 30th
    with pytest.raises(BudgetExceededError, match="daily global budget"):
        ledger.reserve("gpt-4.1", Decimal("0.005"), ALICE)
    clock.set(datetime(2025, 7, 1, 0, 0, 0, tzinfo=timezone.utc))  # a new day and month
    assert ledger.remaining_usd(ALICE) == Decimal("0.02")
    ledger.record(call(completion=2000))
    clock.set(datetime(2025, 7, 2, 8, 0, tzinfo=timezone.utc))  # a new day, same month
    statuses = {s.budget.period: s for s in ledger.budget_status()}
    assert statuses["day"].spent_usd == 0 and statuses["day"].window == "2025-07-02"
    assert statuses["month"].spent_usd == Decimal("0.018") and statuses["month"].window == "2025-07"
    with pytest.raises(BudgetExceededError, match=r"monthly global budget.*resets 2025-08-01"):
        ledger.reserve("gpt-4.1", Decimal("0.013"), ALICE)


def test_all_time_budget_never_resets(ledger: CostLedger, clock: Clock) -> None:
    ledger.set_budget("0.02", period="all")
    ledger.record(call(completion=2000))
    clock.advance(400 * 86_400)
    with pytest.raises(BudgetExceededError, match="all-time global budget") as caught:
        ledger.reserve("gpt-4.1", Decimal("0.005"), ALICE)
    assert "resets" not in str(caught.value)


def test_new_budget_counts_what_its_window_already_spent(ledger: CostLedger, clock: Clock) -> None:
    clock.set(datetime(2025, 6, 14, 12, tzinfo=timezone.utc))
    ledger.record(call(completion=1000, user="alice"))  # yesterday: not in today's window
    clock.set(datetime(2025, 6, 15, 12, tzinfo=timezone.utc))
    today = call(completion=1000, user="alice")
    ledger.record(today)
    ledger.record(call(completion=1000, user="bob"))
    ledger.record(call(completion=1000, user="alice", priced=False))  # no price: no money
    ledger.set_budget("1", scope="user", key="alice", period="day")
    assert ledger.budget_status()[0].spent_usd == usd(today)
    ledger.set_budget("2", scope="user", key="alice", period="day")  # replaced, not doubled
    assert ledger.budgets() == [Budget("user", "alice", "day", Decimal("2"))]
    assert ledger.budget_status()[0].spent_usd == usd(today)


def test_budgets_are_shared_through_the_backend(
    ledger_url: str, make_ledger: Callable[..., CostLedger]
) -> None:
    first = make_ledger()
    first.set_budget("3", scope="user", key="alice")
    first.set_budget("1.5", period="day")
    second = make_ledger()
    assert [b.id for b in second.budgets()] == ["day|global|", "month|user|alice"]
    assert second.remove_budget(period="day")
    assert not second.remove_budget(period="day")
    assert [b.id for b in first.budgets()] == ["month|user|alice"]


def test_unpriced_models_reserve_nothing_and_cost_nothing(ledger: CostLedger) -> None:
    ledger.set_budget("0.01")
    hold = ledger.reserve("some-new-model", Decimal(0), ALICE)
    assert hold.held and hold.amount_usd == 0
    entry = ledger.settle(hold, call("some-new-model", priced=False))
    assert entry is not None and entry.cost is None
    assert ledger.budget_status()[0].spent_usd == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scope": "team", "key": "x"}, "scope must be one of"),
        ({"period": "week"}, "period must be one of"),
        ({"key": "alice"}, "global budget takes no key"),
        ({"scope": "user"}, "needs key=<the user"),
        ({"scope": "app", "key": " "}, "needs key="),
    ],
)
def test_budget_arguments_are_checked(ledger: CostLedger, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ledger.set_budget("1", **kwargs)


@pytest.mark.parametrize("limit", ["-1", "nan", "abc", float("inf")])
def test_budget_limit_must_be_a_non_negative_number(ledger: CostLedger, limit: object) -> None:
    with pytest.raises(ValueError, match="limit_usd"):
        ledger.set_budget(limit)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "estimate", [Decimal("-0.01"), Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), "abc"]
)
@pytest.mark.parametrize("lazy", [False, True], ids=["value", "callable"])
def test_an_estimate_that_is_not_a_finite_amount_is_refused_plainly(
    ledger: CostLedger, estimate: object, lazy: bool
) -> None:
    """Even a signalling NaN (which cannot be hashed) gets the ValueError naming the argument,
    given as is or by the callable the client passes."""
    ledger.set_budget("10")
    with pytest.raises(ValueError, match="estimated_usd"):
        ledger.reserve("gpt-4.1", (lambda: estimate) if lazy else estimate, ALICE)  # type: ignore[arg-type]
    assert ledger.reserve("gpt-4.1", Decimal("0.01"), ALICE).held  # the good one still holds


def test_limits_accept_floats_exactly(ledger: CostLedger) -> None:
    assert ledger.set_budget(0.1).limit_usd == Decimal("0.1")
    with pytest.raises(ValueError, match="estimated_usd"):
        ledger.reserve("gpt-4.1", Decimal("-0.01"), ALICE)
