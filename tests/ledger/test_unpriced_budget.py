"""Issue #9 (money 4): a model without prices cannot slip past a budget.

With a budget that covers the call, a model the catalogue cannot price is refused before anything
is sent, with a message that says how to add the price; ``on_unpriced="allow"`` opts out. Run on
every backend, through a real client against a loopback upstream that serves any model.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import holysheep
import pytest
from holysheep import HolySheepClient
from holysheep.costs import UnknownModelPriceWarning
from holysheep.ledger import CostLedger

from ..conftest import FAKE_KEY
from ..hostile import HostileUpstream, completion, json_response

HELLO = [{"role": "user", "content": "Hello there"}]
MYSTERY = "mystery-model-9000"


@pytest.fixture
def upstream() -> HostileUpstream:
    with HostileUpstream(json_response(completion("ok", model=MYSTERY))) as up:
        yield up


def test_unpriced_calls_under_a_budget_are_refused_before_sending(
    make_ledger: Callable[..., CostLedger], upstream: HostileUpstream
) -> None:
    ledger = make_ledger()
    ledger.set_budget("0.000001")
    with HolySheepClient(FAKE_KEY, upstream.base_url, ledger=ledger) as client:
        for _ in range(5):
            with pytest.raises(holysheep.BudgetExceededError) as info:
                client.chat(model=MYSTERY, messages=HELLO, max_tokens=100_000)
    assert upstream.received == []  # nothing sent, nothing billed
    assert ledger.entries() == []
    message = str(info.value)
    assert MYSTERY in message and "no price" in message
    assert "HOLYSHEEP_CATALOG" in message and "on_unpriced='allow'" in message
    assert f'[models."{MYSTERY}"]' in message  # the exact table to add


def test_a_budget_that_does_not_cover_the_call_does_not_refuse_it(
    make_ledger: Callable[..., CostLedger], upstream: HostileUpstream
) -> None:
    ledger = make_ledger()
    ledger.set_budget("0.000001", scope="user", key="someone-else")
    with HolySheepClient(FAKE_KEY, upstream.base_url, ledger=ledger) as client, pytest.warns(
        UnknownModelPriceWarning
    ):
        client.chat(model=MYSTERY, messages=HELLO, user="alice", max_tokens=100_000)
    [entry] = ledger.entries()
    assert entry.cost is None and entry.model == MYSTERY  # counted, never as $0


def test_on_unpriced_allow_sends_and_records_without_a_cost(
    make_ledger: Callable[..., CostLedger], upstream: HostileUpstream
) -> None:
    ledger = make_ledger()
    ledger.set_budget("0.000001")
    with HolySheepClient(
        FAKE_KEY, upstream.base_url, ledger=ledger, on_unpriced="allow"
    ) as client, pytest.warns(UnknownModelPriceWarning):
        client.chat(model=MYSTERY, messages=HELLO, max_tokens=100_000)
    assert len(upstream.received) == 1
    [row] = ledger.totals(())
    assert row.calls == 1 and row.unpriced_calls == 1


def test_adding_the_price_makes_the_budget_bound_the_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, upstream: HostileUpstream
) -> None:
    """The fix the message gives works: a catalogue file in HOLYSHEEP_CATALOG prices the model."""
    catalog = tmp_path / "prices.toml"
    catalog.write_text(
        f'extends = "default"\n[models."{MYSTERY}"]\n'
        "input_usd_per_mtok = 1\noutput_usd_per_mtok = 2\n"
        "context_window = 200000\nmax_output_tokens = 100000\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("HOLYSHEEP_CATALOG", str(catalog))
    with CostLedger("memory") as ledger, HolySheepClient(
        FAKE_KEY, upstream.base_url, ledger=ledger
    ) as client:
        ledger.set_budget("0.01")
        with pytest.raises(holysheep.BudgetExceededError, match=r"could cost up to \$0\.2"):
            client.chat(model=MYSTERY, messages=HELLO, max_tokens=100_000)
        reply = client.chat(model=MYSTERY, messages=HELLO, max_tokens=100)
        [status] = ledger.budget_status()
    assert reply.call_info.cost is not None and status.spent_usd == reply.call_info.cost.total_usd


@pytest.mark.parametrize("setting", [{"on_unpriced": "sometimes"}, {"on_ledger_error": "ignore"}])
def test_unknown_settings_are_configuration_errors(setting: dict[str, str]) -> None:
    with pytest.raises(holysheep.ConfigurationError, match="'allow'"):
        HolySheepClient(FAKE_KEY, "http://127.0.0.1:9/v1", **setting)
