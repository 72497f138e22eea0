"""``HolySheepCostHandler`` totals, and the usage TokenCountingHandler reads from our responses."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from holysheep import BudgetExceededError, ModelCatalog, UnknownModelPriceWarning, Usage
from holysheep.ledger import CostLedger
from holysheep.testing import Reply
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.dispatcher import instrument_tags
from llama_index.core.instrumentation.events.llm import LLMChatEndEvent
from llama_index.llms.openai_like import OpenAILike

from llamaindex_holysheep import HolySheepCostHandler

from ..conftest import FAKE_KEY
from .conftest import HELLO, chat, stream


@pytest.fixture
def openai_like(emulator):
    """LlamaIndex's own OpenAILike on the same emulator: the handler must price it too."""
    return OpenAILike(
        model="gpt-4.1",
        api_base=emulator.base_url,
        api_key=FAKE_KEY,
        is_chat_model=True,
        max_retries=0,
    )


def test_totals_per_model_and_task(make_llm, emulator, cost) -> None:
    gpt, deepseek = make_llm(task="qa"), make_llm(model="deepseek-v3.2")
    responses = [gpt.chat(HELLO), gpt.chat(HELLO, task="analysis"), deepseek.chat(HELLO)]
    infos = [r.raw.call_info for r in responses]
    assert cost.calls == 3
    assert cost.usage == sum((i.usage for i in infos), Usage.zero())
    assert cost.total_usd == sum(i.cost.total_usd for i in infos) > 0
    assert cost.by_model.keys() == {"gpt-4.1", "deepseek-v3.2"}
    assert cost.by_model["gpt-4.1"].calls == 2
    assert cost.by_model["deepseek-v3.2"].cost == infos[2].cost
    assert {task: t.calls for task, t in cost.by_task.items()} == {"qa": 1, "analysis": 1, None: 1}


def test_streams_count_once(llm, emulator, cost, side) -> None:
    emulator.script("a b c d e f g h")
    responses = stream(llm, side)
    assert len(responses) > 5
    assert cost.calls == 1
    assert cost.usage.total_tokens == responses[-1].additional_kwargs["total_tokens"]


def test_completions_count_once(llm, emulator, cost) -> None:
    llm.complete("one")
    list(llm.stream_complete("two"))
    asyncio.run(llm.acomplete("three"))
    assert cost.calls == 3


def test_a_response_seen_twice_counts_once(llm, emulator, cost) -> None:
    response = llm.chat(HELLO)
    get_dispatcher().event(LLMChatEndEvent(messages=HELLO, response=response))  # a wrapper
    assert cost.calls == 1


def test_other_llms_are_priced_from_the_catalogue(openai_like, emulator, cost) -> None:
    with instrument_tags({"task": "translation"}):
        response = openai_like.chat(HELLO)
    usage = Usage.from_wire(response.raw.usage.model_dump())
    assert cost.calls == 1 and cost.usage == usage
    assert cost.cost == ModelCatalog.default().cost("gpt-4.1", usage)
    assert cost.by_task.keys() == {"translation"}
    # A stream counts once when the LLM reports usage on its last chunk.
    openai_like.additional_kwargs = {"stream_options": {"include_usage": True}}
    list(openai_like.stream_chat(HELLO))
    assert cost.calls == 2


def test_unknown_model_warns_and_costs_none(
    make_llm, openai_like, emulator, cost, monkeypatch
) -> None:
    monkeypatch.setattr(emulator, "models", (*emulator.models, "mystery-model-7"))
    make_llm().chat(HELLO)
    with pytest.warns(UnknownModelPriceWarning, match="mystery-model-7"):
        make_llm(model="mystery-model-7").chat(HELLO)  # the core prices HolySheep calls
    emulator.script(Reply(content="hi", model="mystery-model-8"))
    with pytest.warns(UnknownModelPriceWarning, match="mystery-model-8"):
        openai_like.chat(HELLO)  # the handler prices other LLMs' calls
    by_model = cost.by_model
    assert by_model["mystery-model-7"].cost is None and by_model["mystery-model-8"].cost is None
    assert by_model["mystery-model-7"].usage.total_tokens > 0
    assert cost.calls == 3 and cost.unpriced_calls == 2  # counted and shown, never a silent 0
    assert cost.cost == by_model["gpt-4.1"].cost  # the priced calls still add up
    assert cost.total_usd == by_model["gpt-4.1"].total_usd > Decimal(0)
    assert "2 unpriced" in repr(cost)


def test_an_unknown_served_alias_is_priced_as_the_requested_model(llm, emulator, cost) -> None:
    emulator.script(Reply(content="hi", model="gpt-4.1-2099-01-01-preview"))
    info = llm.chat(HELLO).raw.call_info
    assert cost.by_model["gpt-4.1-2099-01-01-preview"].cost == info.cost
    assert info.cost.model == "gpt-4.1"


def test_reset_and_detach(llm, emulator) -> None:
    handler = HolySheepCostHandler().attach()
    llm.chat(HELLO)
    assert handler.calls == 1
    handler.reset()
    assert handler.calls == 0 and handler.by_model == {}
    handler.detach()
    llm.chat(HELLO)
    assert handler.calls == 0
    assert all(h is not handler for h in get_dispatcher().event_handlers)


def test_token_counting_handler_gets_the_relay_usage(make_llm, emulator, side) -> None:
    counter = TokenCountingHandler()
    llm = make_llm(callback_manager=CallbackManager([counter]))
    emulator.script("plain answer", "streamed answer with words")
    direct = chat(llm, side).additional_kwargs
    streamed = stream(llm, side)[-1].additional_kwargs
    assert counter.prompt_llm_token_count == direct["prompt_tokens"] + streamed["prompt_tokens"]
    assert counter.completion_llm_token_count == (
        direct["completion_tokens"] + streamed["completion_tokens"]
    )
    assert len(counter.llm_token_counts) == 2


def test_the_ledger_records_each_call_once_and_enforces_budgets(make_llm, emulator, cost) -> None:
    ledger = CostLedger("memory")
    llm = make_llm(ledger=ledger, user="alice", app="docs", task="qa")
    llm.chat(HELLO)
    list(llm.stream_chat(HELLO))
    (row,) = ledger.totals(["model", "task", "user", "app"])
    assert dict(row.group) == {"model": "gpt-4.1", "task": "qa", "user": "alice", "app": "docs"}
    assert row.calls == 2 == cost.calls  # the core's ledger and the handler agree
    assert row.total_tokens == cost.usage.total_tokens
    assert row.total_usd == cost.total_usd
    ledger.set_budget("0.000001", scope="user", key="alice", period="day")
    with pytest.raises(BudgetExceededError):
        llm.chat(HELLO)
    assert len(emulator.requests) == 2  # refused before sending
