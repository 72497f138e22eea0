"""One cost tally: the same calls through LangChain and LlamaIndex give the same totals and names.

Both handlers sit on the core's ``CostTally``: priced calls are summed, an unpriced one is counted
and shown (never a silent 0, never voiding the total), an estimated stream is flagged.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from holysheep import UnknownModelPriceWarning
from holysheep.tally import CostTally, TallyReadout, TallyTotals
from holysheep.testing import RelayEmulator, Reply
from holysheep.testing._emulator_wire import stream_chunks
from langchain_core.messages import AIMessageChunk

from langchain_holysheep import ChatHolySheep, get_holysheep_callback
from llamaindex_holysheep import HolySheep, HolySheepCostHandler

from .conftest import FAKE_KEY

UNPRICED = "mystery-model-7"
NAMES = [n for n in dir(TallyReadout) if not n.startswith("_")]


def _cut_before_usage(emulator: RelayEmulator, text: str) -> None:
    """Script a stream that ends after its finish chunk: the usage chunk never arrives."""
    reply = Reply(content=text)
    frames = stream_chunks(reply, chat_id="x", created=0, model="m", tool_calls=[], usage={})
    emulator.script(reply)
    emulator.cut_stream(after_chunks=len(frames) - 1)


def _script(emulator: RelayEmulator) -> list[Callable[[Any], Any]]:
    """Four calls, each scripted on the emulator just before it runs."""

    def priced(run: Any) -> Any:
        emulator.script("a priced answer")
        return run("gpt-4.1", "qa", stream=False)

    def streamed(run: Any) -> Any:
        emulator.script("a streamed answer in several words")
        return run("deepseek-v3.2", "summarization", stream=True)

    def unpriced(run: Any) -> Any:
        emulator.script("nobody knows my price")
        with pytest.warns(UnknownModelPriceWarning, match=UNPRICED):
            return run(UNPRICED, None, stream=False)

    def estimated(run: Any) -> Any:
        _cut_before_usage(emulator, "cut before the usage")
        return run("gpt-4.1", "qa", stream=True)

    return [priced, streamed, unpriced, estimated]


def _through_langchain(emulator: RelayEmulator) -> Any:
    def run(model: str, task: str | None, *, stream: bool) -> Any:
        chat = ChatHolySheep(model=model, api_key=FAKE_KEY, base_url=emulator.base_url)
        if not stream:
            return chat.invoke("hello", task=task)
        chunks = list(chat.stream("hello", task=task))
        return sum(chunks[1:], chunks[0]) if isinstance(chunks[0], AIMessageChunk) else chunks

    with get_holysheep_callback() as cb:
        replies = [step(run) for step in _script(emulator)]
    return cb, replies


def _through_llamaindex(emulator: RelayEmulator) -> Any:
    from llama_index.core.llms import ChatMessage

    hello = [ChatMessage(role="user", content="hello")]

    def run(model: str, task: str | None, *, stream: bool) -> Any:
        llm = HolySheep(model=model, api_key=FAKE_KEY, base_url=emulator.base_url, task=task)
        try:
            return list(llm.stream_chat(hello))[-1] if stream else llm.chat(hello)
        finally:
            llm.close()

    with HolySheepCostHandler() as handler:
        replies = [step(run) for step in _script(emulator)]
    return handler, replies


@pytest.fixture
def both(emulator: RelayEmulator, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    monkeypatch.setattr(emulator, "models", (*emulator.models, UNPRICED))
    langchain, lc_replies = _through_langchain(emulator)
    llamaindex, li_replies = _through_llamaindex(emulator)
    assert [m.text for m in lc_replies] == [r.message.content for r in li_replies]
    return langchain, llamaindex


def test_both_frameworks_report_the_same_totals_under_the_same_names(both) -> None:
    langchain, llamaindex = both
    for name in NAMES:
        assert getattr(langchain, name) == getattr(llamaindex, name), name
    totals = langchain.totals
    assert (totals.calls, totals.streamed_calls) == (4, 2)
    assert totals.unpriced_calls == 1 and totals.estimated_calls == 1
    priced = [langchain.by_model["gpt-4.1"], langchain.by_model["deepseek-v3.2"]]
    assert totals.total_usd == sum(t.total_usd for t in priced) > 0  # unpriced never voids it
    assert 0 < totals.estimated_usd < langchain.by_model["gpt-4.1"].total_usd
    assert langchain.by_model[UNPRICED].total_usd is None  # nothing known: None, not 0
    assert langchain.by_model[UNPRICED].usage.total_tokens > 0  # but its tokens count
    assert langchain.by_task["qa"].calls == 2 and langchain.by_task[None].unpriced_calls == 1
    assert repr(langchain) == repr(llamaindex)
    assert "1 unpriced" in repr(langchain) and "1 estimated" in repr(langchain)


def test_old_names_still_answer(both) -> None:
    langchain, llamaindex = both
    assert langchain.successful_requests == llamaindex.calls == 4
    assert langchain.totals.requests == 4 and langchain.totals.unpriced_requests == 1
    assert langchain.total_cost_usd == llamaindex.total_usd
    assert llamaindex.totals.known_cost == langchain.cost


def test_metadata_carries_numbers(emulator: RelayEmulator) -> None:
    from llama_index.core.llms import ChatMessage

    emulator.script("one", "one")
    chat = ChatHolySheep(model="gpt-4.1", api_key=FAKE_KEY, base_url=emulator.base_url)
    cost = chat.invoke("hello").response_metadata["cost"]
    assert all(isinstance(cost[k], float) for k in cost if k != "model")
    assert cost["total_usd"] > 0 and cost["cached_input_usd"] == 0.0  # not '0E-8'
    llm = HolySheep(model="gpt-4.1", api_key=FAKE_KEY, base_url=emulator.base_url)
    try:
        response = llm.chat([ChatMessage(role="user", content="hello")])
    finally:
        llm.close()
    assert response.additional_kwargs["cost"] == cost


def test_the_core_tally_is_thread_safe_and_cheap() -> None:
    import threading

    from holysheep import Cost, Usage

    tally = CostTally()
    one = Cost("m", Decimal("0.001"), Decimal(0), Decimal("0.002"), Decimal("0.003"), Decimal(0))

    def work() -> None:
        for _ in range(2000):
            tally.add("m", Usage(3, 2, 5), one, task="t", streamed=True)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert tally.totals.calls == 8000 == tally.by_task["t"].streamed_calls
    assert tally.totals.total_usd == Decimal("0.003") * 8000
    assert tally.totals.usage.total_tokens == 40000
    assert TallyTotals().total_usd == 0  # nothing counted: zero, not unknown
