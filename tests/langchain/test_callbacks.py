"""The cost callback: per model and per task, streams once, unknown prices, attribution."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import holysheep
import pytest
from holysheep import ModelCatalog
from holysheep.calls import cost_from_metadata
from holysheep.testing import Reply
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from langchain_holysheep import HolySheepCostCallbackHandler, get_holysheep_callback

from .conftest import ModelFactory, merged, stream


def cost_of(message) -> Decimal:
    """The exact USD behind the float in ``response_metadata["cost"]``."""
    return cost_from_metadata(message.response_metadata["cost"]).total_usd


def test_totals_per_model_and_per_task(make_model: ModelFactory) -> None:
    gpt, deepseek = make_model(), make_model(model="deepseek-v3.2")
    with get_holysheep_callback() as cb:
        a = gpt.invoke("one", task="qa")
        b = merged(list(gpt.stream("two", config={"metadata": {"task": "summarization"}})))
        c = deepseek.invoke("three")
    assert cb.successful_requests == 3
    assert set(cb.by_model) == {"gpt-4.1", "deepseek-v3.2"}
    assert cb.by_model["gpt-4.1"].requests == 2
    assert set(cb.by_task) == {"qa", "summarization", None}
    assert cb.by_task["qa"].total_usd == cost_of(a)
    assert cb.by_task["summarization"].total_usd == cost_of(b)
    assert cb.total_cost_usd == cost_of(a) + cost_of(b) + cost_of(c)
    usage = [m.usage_metadata for m in (a, b, c)]
    assert cb.total_tokens == sum(u["total_tokens"] for u in usage)
    assert cb.prompt_tokens == sum(u["input_tokens"] for u in usage)
    assert cb.completion_tokens == sum(u["output_tokens"] for u in usage)
    assert "Calls: 3 (1 streamed)" in repr(cb)


def test_a_stream_counts_once_with_its_usage(model, emulator, side) -> None:
    emulator.script(Reply(content="a b c d e f", cached_tokens=2, reasoning="r s t"))
    with get_holysheep_callback() as cb:
        full = merged(stream(model, side, "hi"))
    assert cb.successful_requests == 1
    assert cb.totals.usage.cached_tokens == 2
    assert (
        cb.totals.usage.reasoning_tokens == full.usage_metadata["output_token_details"]["reasoning"]
    )
    assert cb.total_cost_usd == cost_of(full)


def test_chatholysheep_costs_are_taken_not_repriced(model) -> None:
    expensive = ModelCatalog.from_mapping(
        {
            "extends": "default",
            "models": {
                "gpt-4.1": {
                    "input_usd_per_mtok": "1000",
                    "cached_input_usd_per_mtok": "1000",
                    "output_usd_per_mtok": "1000",
                }
            },
        }
    )
    with get_holysheep_callback(catalog=expensive) as cb:
        message = model.invoke("hi")
    assert cb.total_cost_usd == cost_of(message)  # the core's price, not the handler's catalogue


def test_missing_model_name_never_drops_the_usage() -> None:
    usage = {"input_tokens": 10, "output_tokens": 4, "total_tokens": 14}
    fake = GenericFakeChatModel(messages=iter([AIMessage("hi", usage_metadata=usage)]))
    with get_holysheep_callback() as cb, pytest.warns(holysheep.UnknownModelPriceWarning):
        fake.invoke("hello")
    assert cb.total_tokens == 14
    assert cb.by_model["unknown"].usage.prompt_tokens == 10
    assert cb.by_model["unknown"].cost is None


def test_user_and_app_are_on_every_record(make_model: ModelFactory) -> None:
    model = make_model(user="alice", app="crm")
    with get_holysheep_callback() as cb:
        model.invoke("a")
        merged(list(model.stream("b")))
        model.invoke("c", user="bob")
    assert [(r.user, r.app) for r in cb.records] == [
        ("alice", "crm"),
        ("alice", "crm"),
        ("bob", "crm"),
    ]


def test_thread_safe_under_batch(model) -> None:
    with get_holysheep_callback() as cb:
        replies = model.batch([f"q{i}" for i in range(24)], config={"max_concurrency": 8})
    assert cb.successful_requests == 24
    assert cb.total_tokens == sum(r.usage_metadata["total_tokens"] for r in replies)
    assert cb.total_cost_usd == sum(cost_of(r) for r in replies)


def test_async_calls_are_counted(model) -> None:
    async def run() -> None:
        await asyncio.gather(*(model.ainvoke(f"q{i}") for i in range(5)))

    with get_holysheep_callback() as cb:
        asyncio.run(run())
    assert cb.successful_requests == 5


def test_context_is_reset_even_when_the_block_raises(model) -> None:
    with pytest.raises(RuntimeError), get_holysheep_callback() as cb:
        model.invoke("a")
        raise RuntimeError("boom")
    model.invoke("after")
    assert cb.successful_requests == 1


def test_failed_calls_are_not_counted(make_model: ModelFactory, emulator) -> None:
    emulator.fail(400)
    with get_holysheep_callback() as cb, pytest.raises(holysheep.BadRequestError):
        make_model().invoke("a")
    assert cb.successful_requests == 0


def test_handler_can_be_passed_explicitly(model) -> None:
    handler = HolySheepCostCallbackHandler()
    model.invoke("a", config={"callbacks": [handler]})
    assert handler.successful_requests == 1 and handler.total_cost_usd > 0
