"""HolySheepClient with a CostLedger: every billed call recorded once, budgets before sending."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import holysheep
import pytest
from holysheep import HolySheepClient, RetryPolicy
from holysheep.ledger import CostLedger
from holysheep.testing import RelayEmulator, Reply

from ..conftest import FAKE_KEY

HELLO = [{"role": "user", "content": "Hello there"}]
FAST = RetryPolicy(max_attempts=2, initial_delay=0.0, max_delay=0.0)


@pytest.fixture
def ledger() -> CostLedger:
    with CostLedger("memory") as led:
        yield led


@pytest.fixture
def client(emulator: RelayEmulator, ledger: CostLedger) -> HolySheepClient:
    with HolySheepClient(FAKE_KEY, emulator.base_url, retry=FAST, ledger=ledger) as c:
        yield c


def test_chat_is_recorded_once_with_attribution(client, ledger, emulator) -> None:
    emulator.fail(503)  # a retry must not make a second record
    reply = client.chat(model="gpt-4.1", messages=HELLO, user="u1", app="docs", task="qa")
    [entry] = ledger.entries()
    assert (entry.model, entry.task, entry.user, entry.app) == ("gpt-4.1", "qa", "u1", "docs")
    assert entry.cost.total_usd == reply.call_info.cost.total_usd
    [row] = ledger.totals(group_by=("model",))
    assert row.calls == 1 and row.total_usd == reply.call_info.cost.total_usd


def test_stream_is_recorded_once_after_it_ends(client, ledger, emulator) -> None:
    with client.stream(model="deepseek-v3.2", messages=HELLO, app="bot") as stream:
        first = next(iter(stream))
        assert ledger.entries() == []  # nothing is recorded before the stream ends
        rest = list(stream)
    assert first and rest
    [entry] = ledger.entries()
    assert entry.usage.total_tokens == stream.completion.usage.total_tokens
    assert entry.app == "bot"


def test_async_calls_are_recorded(client, ledger) -> None:
    async def run() -> None:
        await client.achat(model="gemini-2.5-flash", messages=HELLO)
        async with client.astream(model="gemini-2.5-flash", messages=HELLO) as stream:
            async for _ in stream:
                pass

    asyncio.run(run())
    [row] = ledger.totals(group_by=("model",))
    assert row.calls == 2


def test_budget_refuses_before_sending(client, ledger, emulator) -> None:
    ledger.set_budget("0.000001", scope="user", key="u-poor")
    with pytest.raises(holysheep.BudgetExceededError, match="u-poor"):
        client.chat(model="gpt-4.1", messages=HELLO, user="u-poor", max_tokens=500)
    assert emulator.requests == []
    # other users are not limited by that budget
    client.chat(model="gpt-4.1", messages=HELLO, user="u-rich", max_tokens=500)


def test_failed_call_releases_its_reservation(client, ledger, emulator) -> None:
    ledger.set_budget("1.00")
    emulator.fail(400)
    with pytest.raises(holysheep.BadRequestError):
        client.chat(model="gpt-4.1", messages=HELLO, max_tokens=1000)
    [status] = ledger.budget_status()
    assert status.reserved_usd == Decimal(0) and status.spent_usd == Decimal(0)
    assert ledger.entries() == []


def test_stream_cut_mid_way_is_still_recorded_once(client, ledger, emulator) -> None:
    emulator.script(Reply(content="one two three four five six"))
    emulator.cut_stream(after_chunks=3)
    stream = client.stream(model="gpt-4.1", messages=HELLO)
    with pytest.raises(holysheep.StreamError):
        for _ in stream:
            pass
    [entry] = ledger.entries()  # billed (the relay streamed tokens), so recorded, once
    # no usage arrived: the prompt and the two words received are estimated, never free
    assert entry.model == "gpt-4.1" and entry.usage.completion_tokens > 0
    assert entry.cost is not None and entry.cost.total_usd > 0
    assert stream.call_info.estimated and stream.call_info.usage == entry.usage


def test_spending_stops_at_the_budget(emulator) -> None:
    """Calls go through until the next one's worst case would cross the limit."""
    with (
        CostLedger("memory") as led,
        HolySheepClient(FAKE_KEY, emulator.base_url, ledger=led) as client,
    ):
        led.set_budget("0.0005", scope="app", key="demo")
        sent = 0
        with pytest.raises(holysheep.BudgetExceededError):
            for _ in range(100):
                client.chat(model="gpt-4.1", messages=HELLO, app="demo", max_tokens=20)
                sent += 1
        assert 0 < sent < 100
        [status] = led.budget_status(holysheep.calls.Attribution(app="demo"))
        assert status.spent_usd <= Decimal("0.0005")
        assert len(emulator.requests) == sent


def test_holysheep_ledger_env_attaches_a_ledger(emulator, monkeypatch, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'costs.db'}"
    monkeypatch.setenv("HOLYSHEEP_LEDGER", url)
    with HolySheepClient(FAKE_KEY, emulator.base_url) as client:
        client.chat(model="gpt-4.1", messages=HELLO, app="env-configured")
        client.ledger.close()
    with CostLedger(url) as ledger:
        [entry] = ledger.entries()
    assert entry.app == "env-configured"


def test_no_ledger_without_the_env_var(emulator) -> None:
    with HolySheepClient(FAKE_KEY, emulator.base_url) as client:
        client.chat(model="gpt-4.1", messages=HELLO)
        assert client.ledger is None


@pytest.mark.parametrize(
    ("created", "seconds"),
    [(1764556800.75, 1764556800), ("1764556800", 1764556800), ("soon", None), (None, None),
     (-1, -1), ([1], None)],
)
@pytest.mark.parametrize("streamed", [False, True])
def test_an_odd_created_stamp_never_costs_a_billed_answer_or_its_record(
    tmp_path, created: object, seconds: int | None, streamed: bool
) -> None:
    """Some servers stamp ``created`` as a float or a string; it is no field a call needs. The
    answer comes back, its record is written once, keyed by the stamp when it is a time."""
    from ..hostile import HostileUpstream, chunk, completion, json_response, sse_response

    with HostileUpstream() as up, CostLedger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        if streamed:
            body = [chunk("Hi", created=created), chunk(finish="stop", created=created),
                    {**chunk(created=created), "choices": [],
                     "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10}}]
            up.answer(sse_response(body))
        else:
            up.answer(json_response(completion("Hi", created=created)))
        with HolySheepClient(FAKE_KEY, up.base_url, retry=FAST, ledger=ledger) as client:
            if streamed:
                with client.stream(model="gpt-4.1", messages=HELLO) as stream:
                    list(stream)
                reply = stream.completion
            else:
                reply = client.chat(model="gpt-4.1", messages=HELLO)
            text, info = reply.choices[0].message.content, reply.call_info
        assert text == "Hi" and info.created == seconds
        [entry] = ledger.entries()
        timed = seconds is not None and seconds > 0
        assert entry.key.startswith(f"{seconds:010d}|" if timed else "chatcmpl-hostile|")
        assert ledger.record(info) is None  # recorded again: still once
