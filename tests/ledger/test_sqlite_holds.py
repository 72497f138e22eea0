"""The SQLite budget check's shortcuts stay exact: holds summed in SQL, budgets re-read on change.

Each thread keeps its copy of the budget list until another connection commits
(``PRAGMA data_version``), and holds are summed as integer nano-dollars by SQLite; neither may
let a call through that another process's spending, holds or new limit made impossible.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from holysheep.calls import Attribution
from holysheep.errors import BudgetExceededError
from holysheep.ledger import CostLedger

from .helpers import CATALOG, Clock, call, usd

ALICE = Attribution(user="alice")


def _pair(tmp_path: Path) -> tuple[CostLedger, CostLedger]:
    """Two ledgers on one file: two connections, as two processes would have."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    clock = Clock()
    return (CostLedger(url, catalog=CATALOG, clock=clock),
            CostLedger(url, catalog=CATALOG, clock=clock))


def test_a_limit_lowered_elsewhere_binds_the_next_check(tmp_path: Path) -> None:
    mine, other = _pair(tmp_path)
    mine.set_budget("1.00", scope="user", key="alice", period="day")
    mine.release(mine.reserve("gpt-4.1", "0.10", ALICE))  # this side's budget view is warm
    other.set_budget("0.05", scope="user", key="alice", period="day")
    with pytest.raises(BudgetExceededError) as refused:
        mine.reserve("gpt-4.1", "0.10", ALICE)
    assert refused.value.limit_usd == Decimal("0.05")
    mine.close()
    other.close()


def test_holds_and_spending_elsewhere_refuse_what_no_longer_fits(tmp_path: Path) -> None:
    mine, other = _pair(tmp_path)
    mine.set_budget("0.10", scope="user", key="alice", period="day")
    mine.release(mine.reserve("gpt-4.1", "0.01", ALICE))
    other.reserve("gpt-4.1", "0.04", ALICE)  # in flight elsewhere
    billed = call(completion=1000, user="alice")
    other.settle(other.reserve("gpt-4.1", "0.01", ALICE), billed)
    other.flush()
    left = Decimal("0.10") - Decimal("0.04") - usd(billed)
    with pytest.raises(BudgetExceededError) as refused:
        mine.reserve("gpt-4.1", left + Decimal("0.000000001"), ALICE)
    assert refused.value.reserved_usd == Decimal("0.04")
    assert refused.value.spent_usd == usd(billed)
    mine.reserve("gpt-4.1", left, ALICE)  # an exact fit still goes through
    mine.close()
    other.close()


def test_a_hold_written_by_an_older_holysheep_still_counts(tmp_path: Path) -> None:
    ledger = CostLedger(f"sqlite:///{tmp_path / 'ledger.db'}", catalog=CATALOG, clock=Clock())
    ledger.set_budget("0.10", scope="user", key="alice", period="day")
    conn = sqlite3.connect(tmp_path / "ledger.db")  # schema 2 wrote no amount_nano
    conn.execute(
        "INSERT INTO reservations (id, user, app, task, model, amount_usd, expires_at) "
        "VALUES ('old', 'alice', NULL, NULL, 'gpt-4.1', '0.07', ?)",
        (Clock()() + 600,),
    )
    conn.commit()
    conn.close()
    with pytest.raises(BudgetExceededError):
        ledger.reserve("gpt-4.1", "0.03", ALICE)  # 0.07 held (+ a nano-dollar) + 0.03 > 0.10
    ledger.reserve("gpt-4.1", "0.02", ALICE)
    ledger.close()
