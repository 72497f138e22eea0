"""Lone surrogates (``"\\ud800"``: not valid Unicode) in names never cost a billed call its record.

An app or task label is the caller's own text (``user`` and ``model`` go in the request body,
which refuses them before sending): SQLite and Redis refuse such text, which used to
spool the whole batch with the call in it (and then fail every replay with a raw
``UnicodeEncodeError``). Now such a name is stored with U+FFFD in place of each lone surrogate, on
every backend alike, and budgets, filters and status match it the same way.
"""

from __future__ import annotations

import asyncio
import json
import warnings
from decimal import Decimal
from pathlib import Path

import pytest
from holysheep import BudgetExceededError, HolySheepClient
from holysheep.calls import Attribution
from holysheep.ledger import CostLedger

from ..conftest import FAKE_KEY
from ..hostile import HostileUpstream, completion, json_response
from .helpers import CATALOG, call

HELLO = [{"role": "user", "content": "Hello there"}]
APP, TASK = "shop\ud800", "qa\udcff"
"""Names with lone surrogates, as a caller may pass them."""
STORED_APP, STORED_TASK = "shop\ufffd", "qa\ufffd"


def _answer(n: int) -> bytes:
    """A completion with its own id (each call a new entry)."""
    return json.dumps(completion(f"answer {n}", id=f"chatcmpl-{n}")).encode()


def test_names_with_lone_surrogates_are_recorded_once_and_budgeted(
    ledger_url: str, tmp_path: Path
) -> None:
    ledger = CostLedger(ledger_url, catalog=CATALOG, spool_dir=tmp_path / "spool")
    ledger.set_budget("5.00", scope="app", key=APP, period="day")
    with HostileUpstream() as up, HolySheepClient(FAKE_KEY, up.base_url, ledger=ledger) as client:
        up.answer(*(json_response(_answer(n)) for n in range(1, 5)))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # nothing spooled, nothing "billed but not recorded"
            for _ in range(2):
                client.chat(model="gpt-4.1", messages=HELLO, app=APP, task=TASK)

            async def two() -> None:
                await asyncio.gather(*(
                    client.achat(model="gpt-4.1", messages=HELLO, app=APP, task=TASK)
                    for _ in range(2)
                ))

            asyncio.run(two())
            entries = ledger.entries()
    assert sorted(e.id for e in entries) == [f"chatcmpl-{n}" for n in range(1, 5)]
    assert {(e.app, e.task) for e in entries} == {(STORED_APP, STORED_TASK)}
    [row] = ledger.totals([], app=APP)  # filters match as names are stored
    assert row.calls == 4
    [status] = ledger.budget_status(Attribution(app=APP))
    assert status.budget.key == STORED_APP
    assert status.spent_usd == row.total_usd > 0  # the budget counted every call
    assert status.reserved_usd == 0
    assert ledger.spool_dir is None or not list(ledger.spool_dir.glob("*.json"))
    ledger.close()


def test_a_budget_on_a_name_with_a_lone_surrogate_binds_the_calls_under_it(
    ledger_url: str, tmp_path: Path
) -> None:
    ledger = CostLedger(ledger_url, catalog=CATALOG, spool_dir=tmp_path / "spool")
    first = call(app=APP, task=None)
    ledger.set_budget(Decimal(first.cost.total_usd) * 3 / 2, scope="app",  # type: ignore[union-attr]
                      key=APP, period="day")
    ledger.settle(ledger.reserve("gpt-4.1", first.cost.total_usd, first.attribution), first)  # type: ignore[union-attr]
    with pytest.raises(BudgetExceededError):  # a second one would cross it
        ledger.reserve("gpt-4.1", first.cost.total_usd, Attribution(app=APP))  # type: ignore[union-attr]
    # another app is not held up by it
    ledger.reserve("gpt-4.1", first.cost.total_usd, Attribution(app="other"))  # type: ignore[union-attr]
    assert ledger.remove_budget(scope="app", key=APP, period="day")
    ledger.close()


def test_tags_keep_their_exact_text_and_are_found_by_it(ledger_url: str, tmp_path: Path) -> None:
    tags = {"team": "se\udc80rch", "équipe": "a"}
    ledger = CostLedger(ledger_url, catalog=CATALOG, spool_dir=tmp_path / "spool")
    with HostileUpstream() as up, HolySheepClient(FAKE_KEY, up.base_url, ledger=ledger) as client:
        up.answer(json_response(_answer(1)), json_response(_answer(2)))
        client.chat(model="gpt-4.1", messages=HELLO, tags=tags)
        client.chat(model="gpt-4.1", messages=HELLO, tags={"team": "other"})
        [entry] = ledger.entries(tags={"team": "se\udc80rch"})
        assert dict(entry.tags) == tags
        groups = {r.group["tag:team"]: r.calls for r in ledger.totals(["tag:team"])}
        assert groups == {"other": 1, "se\udc80rch": 1}
        assert [r.calls for r in ledger.totals([], tags={"équipe": "a"})] == [1]
        assert {r.group["tag:équipe"] for r in ledger.totals(["tag:équipe"])} == {"a", None}
    ledger.close()


def test_a_record_spooled_before_the_fix_is_replayed_cleaned(tmp_path: Path) -> None:
    """A spool written by an older version may hold a lone surrogate: it drains all the same."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = CostLedger(url, catalog=CATALOG)
    info = call(app=APP)
    from holysheep.ledger._model import LedgerEntry
    from holysheep.ledger._spool import keep

    old = LedgerEntry.from_call(info, 1.75e9, f"{info.id}|x")
    with pytest.warns(Warning):
        keep(ledger._spool, old, ("gpt-4.1", "gpt-4.1"), None, url, "test")
    [entry] = ledger.entries()  # replayed before reading, no raw UnicodeEncodeError
    assert entry.app == STORED_APP
    assert ledger.spool_dir is not None and not list(ledger.spool_dir.glob("*.json"))
    ledger.close()
