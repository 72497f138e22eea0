"""``HolySheep(model="auto")`` under injected faults: fallbacks, streams, task labels, the ledger.

The core routes and falls back; the adapter passes the task label (at construction or per call)
and reports the decision: ``additional_kwargs["route"]`` (JSON-safe) and ``raw.call_info.route``.
Faults come from the emulator: a model down (503), a 429 storm, a context-length error, a cut.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import holysheep
import pytest
from holysheep.ledger import CostLedger
from holysheep.testing import Reply
from llama_index.core.base.llms.types import ChatMessage

from .conftest import chat, stream

CODE = [ChatMessage(role="user", content="Write a Python function that reverses a linked list.")]
SUMMARY = [ChatMessage(role="user", content="Summarize this report in three bullets: sales rose.")]
TRANSLATE = [ChatMessage(role="user", content="Translate to French: good morning")]
# code-generation: gpt-4.1, then claude-sonnet-4.5, then deepseek-v3.2 (DEFAULT_ROUTES)
FIRST, NEXT = "gpt-4.1", "claude-sonnet-4.5"


@pytest.fixture
def auto(make_llm):
    """HolySheep(model="auto", task="code-generation") with one retry per candidate."""
    return make_llm(model="auto", task="code-generation", max_retries=1)


def sent_models(emulator) -> list[str]:
    return [r.json["model"] for r in emulator.requests]


# ---------------------------------------------------------------- fallbacks on chat


def test_a_model_down_falls_back_to_the_next_candidate(auto, emulator, cost, side) -> None:
    emulator.fail(503, times=10, model=FIRST)
    response = chat(auto, side, CODE)
    extra = response.additional_kwargs
    assert extra["model_name"] == NEXT and response.message.content.startswith("Echo:")
    assert sent_models(emulator) == [FIRST, FIRST, NEXT]  # its one retry, then the next
    route = extra["route"]  # JSON-safe
    assert route["model"] == NEXT and route["task"] == "code-generation"
    [fallback] = route["fallbacks"]
    assert (fallback["from_model"], fallback["to_model"]) == (FIRST, NEXT)
    assert (fallback["status_code"], fallback["error_type"]) == (503, "UpstreamError")
    assert response.raw.call_info.route.verdict(FIRST).status == "failed"
    assert cost.calls == 1 and cost.by_model.keys() == {NEXT}  # failed attempts cost nothing


def test_a_429_storm_falls_back_and_the_next_call_skips_the_cooling_model(auto, emulator):
    emulator.fail(429, times=50, retry_after=30, model=FIRST)
    started = time.monotonic()
    first = auto.chat(CODE)
    assert time.monotonic() - started < 10  # not the 30 s Retry-After: the next model answers
    [fallback] = first.additional_kwargs["route"]["fallbacks"]
    assert (fallback["from_model"], fallback["status_code"]) == (FIRST, 429)
    assert first.additional_kwargs["model_name"] == NEXT
    assert sent_models(emulator) == [FIRST, NEXT]  # a 429 is not retried on a routed call

    started = time.monotonic()
    second = auto.chat(CODE)  # within the Retry-After
    assert time.monotonic() - started < 10
    assert sent_models(emulator)[2:] == [NEXT]  # the rate-limited model is not asked again
    assert second.raw.call_info.route.verdict(FIRST).status == "cooling"


def test_a_context_length_error_moves_to_a_larger_window(make_llm, emulator, side) -> None:
    llm = make_llm(model="auto", task="summarization", max_retries=1)
    emulator.fail(400, code="context_length_exceeded", model="deepseek-v3.2")
    response = chat(llm, side, SUMMARY)
    served = response.additional_kwargs["model_name"]
    catalog = llm.client.catalog
    assert catalog.get(served).context_window > catalog.get("deepseek-v3.2").context_window
    assert sent_models(emulator) == ["deepseek-v3.2", served]  # a 400 is never retried
    [fallback] = response.additional_kwargs["route"]["fallbacks"]
    assert fallback["error_type"] == "ContextLengthError" and fallback["to_model"] == served


# ---------------------------------------------------------------- fallbacks on streams


def test_a_stream_falls_back_before_its_first_chunk(auto, emulator, cost, side) -> None:
    emulator.fail(503, times=10, model=FIRST)
    *chunks, last = stream(auto, side, CODE)
    text = "".join(r.delta for r in chunks)
    assert text.startswith("Echo:") and last.message.content == text
    assert last.additional_kwargs["model_name"] == NEXT
    [fallback] = last.additional_kwargs["route"]["fallbacks"]
    assert (fallback["from_model"], fallback["to_model"]) == (FIRST, NEXT)
    assert sent_models(emulator) == [FIRST, FIRST, NEXT]
    assert cost.calls == 1 and cost.usage.total_tokens == last.additional_kwargs["total_tokens"]


def test_a_stream_falls_back_on_a_429_storm(auto, emulator) -> None:
    emulator.fail(429, times=50, retry_after=0.2, model=FIRST)
    last = list(auto.stream_chat(CODE))[-1]
    assert last.additional_kwargs["model_name"] == NEXT
    assert last.additional_kwargs["route"]["fallbacks"][0]["status_code"] == 429


def test_a_stream_cut_after_chunks_does_not_fall_back(auto, emulator, side) -> None:
    emulator.script(Reply(content="alpha beta gamma delta epsilon"))
    emulator.cut_stream(after_chunks=3)
    got: list = []

    async def collect() -> None:
        async for response in await auto.astream_chat(CODE):
            got.append(response)

    with pytest.raises(holysheep.StreamError) as caught:
        if side == "sync":
            for response in auto.stream_chat(CODE):
                got.append(response)
        else:
            asyncio.run(collect())
    text = "".join(r.delta for r in got)
    assert text and "alpha beta gamma delta epsilon".startswith(text)
    assert caught.value.text == text  # the error carries what the caller already has
    assert sent_models(emulator) == [FIRST]  # no retry, no other model after the first chunk


# ---------------------------------------------------------------- the task label


def test_the_task_comes_from_construction_or_the_call(make_llm, emulator, cost) -> None:
    llm = make_llm(model="auto", task="code-generation")
    built = llm.chat(SUMMARY).additional_kwargs
    assert built["route"]["task"] == "code-generation" and built["model_name"] == FIRST
    assert built["route"]["task_source"] == "caller"
    per_call = llm.chat(CODE, task="summarization").additional_kwargs
    assert per_call["route"]["task"] == "summarization"  # the call's label wins
    assert per_call["model_name"] == "deepseek-v3.2"
    classified = make_llm(model="auto").chat(TRANSLATE).additional_kwargs
    assert classified["route"]["task_source"] == "classifier"
    assert classified["task"] == classified["route"]["task"] == "translation"
    assert sent_models(emulator) == [FIRST, "deepseek-v3.2", "gemini-2.5-flash"]
    assert cost.by_task.keys() == {"code-generation", "summarization", "translation"}


# ---------------------------------------------------------------- the ledger and the handler


def test_handler_totals_agree_with_the_ledger_across_fallbacks(make_llm, emulator, cost) -> None:
    ledger = CostLedger("memory")
    llm = make_llm(model="auto", max_retries=1, ledger=ledger, user="u", app="a")
    emulator.fail(503, times=2, model=FIRST)  # the first code call falls back: billed once

    async def async_calls() -> None:
        await llm.achat(CODE, task="code-generation")
        async for _ in await llm.astream_chat(TRANSLATE):
            pass

    llm.chat(CODE, task="code-generation")
    llm.chat(SUMMARY)  # the classifier's label
    list(llm.stream_chat(CODE, task="reasoning"))
    asyncio.run(async_calls())

    assert cost.calls == 5 == len(ledger.entries())
    assert len(emulator.requests) == 7  # two failed attempts, billed to nobody
    [total] = ledger.totals(())
    assert (cost.usage.prompt_tokens, cost.usage.completion_tokens, cost.usage.total_tokens) == (
        total.prompt_tokens,
        total.completion_tokens,
        total.total_tokens,
    )
    assert cost.total_usd == total.total_usd > Decimal(0)
    by_model = {row["model"]: row for row in ledger.totals("model")}
    assert by_model.keys() == cost.by_model.keys() >= {NEXT, FIRST, "deepseek-v3.2"}
    for name, row in by_model.items():
        mine = cost.by_model[name]
        assert (mine.calls, mine.usage.total_tokens, mine.total_usd) == (
            row.calls,
            row.total_tokens,
            row.total_usd,
        )
    by_task = {row["task"]: row for row in ledger.totals("task")}
    assert by_task.keys() == cost.by_task.keys()
    assert by_task.keys() == {"code-generation", "summarization", "reasoning", "translation"}
    for task, row in by_task.items():
        assert (cost.by_task[task].calls, cost.by_task[task].total_usd) == (
            row.calls,
            row.total_usd,
        )
    assert {(e.user, e.app) for e in ledger.entries()} == {("u", "a")}


def test_a_budget_refusal_raises_and_sends_nothing(make_llm, emulator, cost, side) -> None:
    ledger = CostLedger("memory")
    ledger.set_budget("0.000001", scope="app", key="a")
    llm = make_llm(model="auto", task="code-generation", ledger=ledger, app="a")
    with pytest.raises(holysheep.BudgetExceededError, match="app 'a'"):
        chat(llm, side, CODE)
    with pytest.raises(holysheep.BudgetExceededError):
        stream(llm, side, CODE)
    assert emulator.requests == [] and ledger.entries() == []
    assert cost.calls == 0
