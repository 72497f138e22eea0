"""``client.batch``/``abatch`` against the emulator: results, dedup, order, budget, 429s, resume.

Every test body runs twice, through the sync and the async driver (fixture ``run_batch``).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from holysheep import BadRequestError, BudgetExceededError, HolySheepClient, RateLimitError
from holysheep.batch import JournalError
from holysheep.testing import RelayEmulator

from .conftest import KEY, Runner, requests


def test_every_request_gets_one_result_with_its_call(
    client: HolySheepClient, emulator: RelayEmulator, run_batch: Runner
) -> None:
    results, summary = run_batch(client, requests(12))
    assert sorted(r.custom_id for r in results) == sorted(f"r{i}" for i in range(12))
    for result in results:
        assert result.ok and result.completion.text == f"Echo: question {result.custom_id[1:]}"
        assert result.call_info.cost.total_usd > 0
    assert len(emulator.billed) == summary.billed_calls == summary.succeeded == 12
    assert summary.total_usd == sum(r.call_info.cost.total_usd for r in results)
    assert summary.relay_cny < summary.direct_cny
    assert summary.prompt_tokens == sum(u["prompt_tokens"] for _, u in emulator.billed)


def test_identical_bodies_are_sent_once_and_fanned_out(
    client: HolySheepClient, emulator: RelayEmulator, run_batch: Runner
) -> None:
    results, summary = run_batch(client, requests(30, distinct=4))
    assert len(emulator.billed) == summary.billed_calls == 4
    assert summary.deduplicated == 26 and summary.succeeded == 30
    by_id = {r.custom_id: r for r in results}
    assert by_id["r5"].completion.text == by_id["r1"].completion.text == "Echo: question 1"
    assert sum(r.deduplicated for r in results) == 26


def test_dedup_off_sends_every_request(
    client: HolySheepClient, emulator: RelayEmulator, run_batch: Runner
) -> None:
    _, summary = run_batch(client, requests(10, distinct=2), dedup=False)
    assert len(emulator.billed) == summary.billed_calls == 10 and summary.deduplicated == 0


def test_ordered_results_follow_the_input(
    client: HolySheepClient, emulator: RelayEmulator, run_batch: Runner
) -> None:
    emulator.latency = 0.01
    items = requests(40)
    items[0]["messages"][0]["content"] = "x " * 3000  # a slower first answer (longer echo)
    results, _ = run_batch(client, items, ordered=True)
    assert [r.custom_id for r in results] == [f"r{i}" for i in range(40)]


def test_a_bad_request_fails_alone(
    client: HolySheepClient, emulator: RelayEmulator, run_batch: Runner
) -> None:
    items = requests(5)
    items.insert(2, {"custom_id": "no-messages", "model": "deepseek-v3.2"})
    items.insert(3, {"messages": [{"role": "user", "content": "no id"}]})
    emulator.fail(400, model="gpt-4.1", body={"error": {"message": "bad", "type": "x"}})
    items.append({"custom_id": "rejected", "model": "gpt-4.1",
                  "messages": [{"role": "user", "content": "hi"}]})
    results, summary = run_batch(client, items)
    by_id = {r.custom_id: r for r in results}
    assert isinstance(by_id["no-messages"].error, BadRequestError)
    assert "messages" in str(by_id["no-messages"].error)
    assert "custom_id" in str(by_id["line-3"].error)
    assert isinstance(by_id["rejected"].error, BadRequestError)
    assert summary.succeeded == 5 and summary.failed == 3
    assert summary.failed_by_type == {"BadRequestError": 3}


def _reservation(client: HolySheepClient, item: dict) -> Decimal:
    from holysheep.ledger import estimate_call_usd

    spec = client.catalog.find(item["model"])
    return estimate_call_usd(spec, item["messages"], item["max_tokens"])


def test_budget_stops_sending_and_counts_the_unsent(
    client: HolySheepClient, emulator: RelayEmulator, run_batch: Runner
) -> None:
    items = requests(50, model="gpt-4.1", max_tokens=1000)
    reservation = _reservation(client, items[0])  # about $0.008; a call costs about $0.00007
    budget = reservation + Decimal("0.0012")
    results, summary = run_batch(client, items, budget=budget, concurrency=4)
    assert 0 < summary.billed_calls < 50
    assert summary.unsent == 50 - summary.billed_calls
    assert summary.total_usd <= budget < summary.total_usd + reservation  # the next would cross
    unsent = [r for r in results if r.error is not None]
    assert all(isinstance(r.error, BudgetExceededError) for r in unsent)
    assert "budget" in str(unsent[0].error) and len(emulator.billed) == summary.billed_calls
    assert summary.failed == 0


def test_budget_in_cny_is_the_relay_amount(
    client: HolySheepClient, emulator: RelayEmulator, run_batch: Runner
) -> None:
    items = requests(30, model="gpt-4.1", max_tokens=1000)
    budget = _reservation(client, items[0]) + Decimal("0.0005")
    _, summary = run_batch(client, items, budget=f"¥{budget}", concurrency=1)
    assert 0 < summary.billed_calls < 30 and summary.relay_cny <= budget


def test_a_rerun_with_a_budget_counts_what_the_job_spent_before(
    client: HolySheepClient, emulator: RelayEmulator, run_batch: Runner, tmp_path: Path
) -> None:
    items = requests(30, model="gpt-4.1", max_tokens=1000)
    budget = _reservation(client, items[0]) + Decimal("0.0006")
    _, first = run_batch(client, items, budget=budget, journal=tmp_path / "j.db")
    _, again = run_batch(client, items, budget=budget, journal=tmp_path / "j.db")
    assert first.billed_calls > 0 and again.billed_calls == 0  # the job's budget, not the run's
    assert again.from_journal == first.billed_calls and again.unsent == first.unsent


def test_rate_limits_halve_concurrency_and_every_request_still_finishes(
    client: HolySheepClient, emulator: RelayEmulator, run_batch: Runner
) -> None:
    emulator.latency = 0.02
    emulator.fail(429, times=6, retry_after=0.05)
    _, summary = run_batch(client, requests(24))
    assert summary.succeeded == 24 and summary.failed == 0
    assert len(emulator.billed) == 24
    assert len(emulator.requests) == 30  # each 429 answered once, then sent again


def test_a_request_rate_limited_for_good_fails_with_the_429(
    client: HolySheepClient, emulator: RelayEmulator, run_batch: Runner
) -> None:
    emulator.fail(429, times=100, retry_after=0.0, model="gpt-4.1")
    busy = {"custom_id": "busy", "model": "gpt-4.1", "messages": [{"role": "user", "content": "?"}]}
    items = [*requests(3), busy]
    results, summary = run_batch(client, items)
    assert summary.succeeded == 3
    assert isinstance({r.custom_id: r for r in results}["busy"].error, RateLimitError)


def test_a_rerun_pays_nothing_that_finished(
    client: HolySheepClient, emulator: RelayEmulator, run_batch: Runner, tmp_path: Path
) -> None:
    journal = tmp_path / "job.db"
    emulator.fail(503, times=3, model="gpt-4.1")  # one request fails (retries spent)
    flaky = {"custom_id": "f", "model": "gpt-4.1", "messages": [{"role": "user", "content": "?"}]}
    items = [*requests(8), flaky]
    _, first = run_batch(client, items, journal=journal)
    assert first.succeeded == 8 and first.failed == 1
    billed = len(emulator.billed)
    results, again = run_batch(client, items, journal=journal)
    assert again.from_journal == 8 and again.billed_calls == 1 and again.succeeded == 9
    assert len(emulator.billed) == billed + 1  # only the failed one is sent again
    resumed = {r.custom_id: r for r in results}["r3"]
    assert resumed.from_journal and resumed.completion.text == "Echo: question 3"
    assert resumed.call_info.cost.total_usd > 0  # rebuilt from the journal


def test_a_changed_body_under_a_done_custom_id_is_refused(
    client: HolySheepClient, run_batch: Runner, tmp_path: Path
) -> None:
    journal = f"sqlite:///{tmp_path / 'job.db'}"
    run_batch(client, requests(2), journal=journal)
    changed = requests(2)
    changed[1]["messages"][0]["content"] = "something else"
    results, summary = run_batch(client, changed, journal=journal)
    error = {r.custom_id: r for r in results}["r1"].error
    assert isinstance(error, BadRequestError) and "new custom_id" in str(error)
    assert summary.from_journal == 1


def test_the_key_is_nowhere_in_the_journal(
    client: HolySheepClient, run_batch: Runner, tmp_path: Path
) -> None:
    run_batch(client, requests(3), journal=tmp_path / "job.db")
    for path in tmp_path.iterdir():
        assert KEY.encode() not in path.read_bytes()


def test_a_journal_that_cannot_open_is_a_typed_error(
    client: HolySheepClient, run_batch: Runner, tmp_path: Path
) -> None:
    with pytest.raises(JournalError, match="folder"):
        run_batch(client, requests(1), journal=tmp_path)


def test_async_iterable_input_and_await(client: HolySheepClient, emulator: RelayEmulator) -> None:
    import asyncio

    async def source():
        for item in requests(5):
            yield item

    async def go() -> tuple[int, int]:
        job = client.abatch(source())
        results = await job
        return len(results), job.summary.succeeded

    assert asyncio.run(go()) == (5, 5)
