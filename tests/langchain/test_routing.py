"""model="auto": the task label reaches the core's router, and its decision comes back.

Routing is the core's (``HolySheepClient(router=...)``); the adapter only passes the label
(per-call ``task=`` or ``config["metadata"]["task"]``) and reports the decision. Faults are
injected in the emulator: a model down (503), a 429 storm, a context-length error, a stream cut.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import holysheep
import pytest
from holysheep.ledger import CostLedger
from holysheep.routing import TaskRouter
from holysheep.testing import Reply
from holysheep.tokens import estimate_message_tokens
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from langchain_holysheep import get_holysheep_callback
from langchain_holysheep._convert import to_wire_messages

from .conftest import ModelFactory, invoke, merged, partial_stream, stream

CODE = "Write a Python function that reverses a linked list."
SUMMARY = "Summarize this report in three bullet points: sales rose, costs fell."
# code-generation: gpt-4.1, then claude-sonnet-4.5, then deepseek-v3.2 (DEFAULT_ROUTES)
FIRST, NEXT = "gpt-4.1", "claude-sonnet-4.5"


@pytest.fixture
def auto(make_model: ModelFactory):
    """ChatHolySheep(model="auto") with one retry per candidate."""
    return make_model(model="auto", max_retries=1)


def verdict(route: dict, model: str) -> dict:
    """One candidate's verdict in a route (``response_metadata["route"]`` is JSON-safe)."""
    return next(v for v in route["candidates"] if v["model"] == model)


def sent_models(emulator) -> list[str]:
    return [r.json["model"] for r in emulator.requests]


def test_task_label_routes_and_the_decision_is_reported(make_model: ModelFactory, emulator, side):
    model = make_model(model="auto")
    message = invoke(model, side, "Summarize: the relay bills in CNY.", task="summarization")
    meta = message.response_metadata
    sent = emulator.requests[-1].json["model"]
    assert sent != "auto" and meta["model_name"] == sent
    assert meta["task"] == "summarization"
    assert meta["route"]["model"] == sent and meta["route"]["task"] == "summarization"


def test_config_metadata_task_routes_streams_too(make_model: ModelFactory, emulator, side):
    model = make_model(model="auto")
    config = {"metadata": {"task": "translation"}}
    with get_holysheep_callback() as cb:
        full = merged(stream(model, side, "Translate to French: hello", config=config))
    assert full.response_metadata["route"]["task"] == "translation"
    assert full.response_metadata["model_name"] == emulator.requests[-1].json["model"]
    assert cb.by_task["translation"].requests == 1


# ---------------------------------------------------------------- fallbacks on invoke


def test_a_model_down_falls_back_to_the_next_candidate(auto, emulator, side) -> None:
    emulator.fail(503, times=10, model=FIRST)
    message = invoke(auto, side, CODE, task="code-generation")
    meta = message.response_metadata
    assert meta["model_name"] == NEXT and message.text.startswith("Echo:")
    assert sent_models(emulator) == [FIRST, FIRST, NEXT]  # its one retry, then the next
    route = meta["route"]
    assert route["model"] == NEXT and route["task"] == "code-generation"
    [fallback] = route["fallbacks"]
    assert (fallback["from_model"], fallback["to_model"]) == (FIRST, NEXT)
    assert fallback["status_code"] == 503
    assert fallback["error_type"] == "UpstreamError"
    assert verdict(route, FIRST)["status"] == "failed"
    assert meta["requested_model"] == NEXT and meta["attempts"] == 1  # the call that served


def test_a_429_storm_falls_back_and_the_next_call_skips_the_cooling_model(auto, emulator):
    emulator.fail(429, times=50, retry_after=30, model=FIRST)
    started = time.monotonic()
    first = auto.invoke(CODE, task="code-generation")
    assert time.monotonic() - started < 10  # not the 30 s Retry-After: the next model answers
    [fallback] = first.response_metadata["route"]["fallbacks"]
    assert (fallback["from_model"], fallback["status_code"]) == (FIRST, 429)
    assert fallback["error_type"] == "RateLimitError"
    assert first.response_metadata["model_name"] == NEXT
    assert sent_models(emulator) == [FIRST, NEXT]  # a 429 is not retried on a routed call

    started = time.monotonic()
    second = auto.invoke(CODE, task="code-generation")  # within the Retry-After
    assert time.monotonic() - started < 10
    assert sent_models(emulator)[2:] == [NEXT]  # the rate-limited model is not asked again
    route = second.response_metadata["route"]
    assert route["fallbacks"] == [] and verdict(route, FIRST)["status"] == "cooling"


def test_a_context_length_error_moves_to_a_larger_window(auto, emulator, side) -> None:
    emulator.fail(400, code="context_length_exceeded", model="deepseek-v3.2")
    message = invoke(auto, side, SUMMARY, task="summarization")
    served = message.response_metadata["model_name"]
    catalog = auto.client.catalog
    assert catalog.get(served).context_window > catalog.get("deepseek-v3.2").context_window
    assert sent_models(emulator) == ["deepseek-v3.2", served]  # a 400 is never retried
    [fallback] = message.response_metadata["route"]["fallbacks"]
    assert fallback["error_type"] == "ContextLengthError" and fallback["to_model"] == served


def test_a_caller_error_does_not_fall_back(auto, emulator) -> None:
    emulator.fail(401, model=FIRST)
    with pytest.raises(holysheep.AuthenticationError):
        auto.invoke(CODE, task="code-generation")
    assert sent_models(emulator) == [FIRST]


# ---------------------------------------------------------------- fallbacks on streams


def test_a_stream_falls_back_before_its_first_chunk(auto, emulator, side) -> None:
    emulator.fail(503, times=10, model=FIRST)
    chunks = stream(auto, side, CODE, task="code-generation")
    full = merged(chunks)
    assert full.text.startswith("Echo:") and len(chunks) > 2
    assert full.response_metadata["model_name"] == NEXT
    [fallback] = full.response_metadata["route"]["fallbacks"]
    assert (fallback["from_model"], fallback["to_model"]) == (FIRST, NEXT)
    assert full.usage_metadata["total_tokens"] > 0  # the serving model's usage, once
    assert sent_models(emulator) == [FIRST, FIRST, NEXT]


def test_a_stream_falls_back_on_a_429_storm(auto, emulator) -> None:
    emulator.fail(429, times=50, retry_after=0.2, model=FIRST)
    full = merged(list(auto.stream(CODE, task="code-generation")))
    assert full.response_metadata["model_name"] == NEXT
    assert full.response_metadata["route"]["fallbacks"][0]["status_code"] == 429


def test_a_stream_cut_after_chunks_does_not_fall_back(auto, emulator, side) -> None:
    emulator.script(Reply(content="alpha beta gamma delta epsilon"))
    emulator.cut_stream(after_chunks=3)
    got, error = partial_stream(auto.bind(task="code-generation"), side, CODE)
    assert isinstance(error, holysheep.StreamError)
    text = "".join(c.text for c in got)
    assert text and "alpha beta gamma delta epsilon".startswith(text)
    assert error.text == text  # the error carries what the caller already has
    assert sent_models(emulator) == [FIRST]  # no retry, no other model after the first chunk


# ---------------------------------------------------------------- the task label


def test_the_task_comes_from_config_metadata_or_the_task_keyword(auto, emulator) -> None:
    classified = auto.invoke(SUMMARY).response_metadata
    assert classified["route"]["task_source"] == "classifier"
    assert classified["task"] == classified["route"]["task"] == "summarization"
    assert classified["model_name"] == "deepseek-v3.2"

    config = {"metadata": {"task": "code-generation"}}
    from_config = auto.invoke(SUMMARY, config=config).response_metadata
    assert from_config["route"]["task_source"] == "caller"
    assert from_config["task"] == "code-generation" and from_config["model_name"] == FIRST

    keyword = auto.invoke(SUMMARY, task="code-generation").response_metadata
    assert keyword["route"]["task"] == "code-generation" and keyword["model_name"] == FIRST

    both = auto.invoke(SUMMARY, config=config, task="translation").response_metadata
    assert both["route"]["task"] == "translation"  # the per-call keyword wins
    assert sent_models(emulator) == ["deepseek-v3.2", FIRST, FIRST, "gemini-2.5-flash"]


# ---------------------------------------------------------------- the ledger and the callback


def test_callback_totals_agree_with_the_ledger(make_model: ModelFactory, emulator) -> None:
    ledger = CostLedger("memory")
    model = make_model(model="auto", max_retries=1, ledger=ledger, user="u", app="a")
    emulator.fail(503, times=2, model=FIRST)  # the first code call falls back: billed once

    async def async_calls() -> None:
        await model.ainvoke(CODE, task="code-generation")
        async for _ in model.astream("Translate to French: good morning"):
            pass

    with get_holysheep_callback() as cb:
        model.invoke(CODE, task="code-generation")
        model.invoke(SUMMARY)  # the classifier's label
        merged(list(model.stream(CODE, config={"metadata": {"task": "reasoning"}})))
        asyncio.run(async_calls())

    assert cb.successful_requests == 5 == len(ledger.entries())
    assert len(emulator.requests) == 7  # two failed attempts, billed to nobody
    [total] = ledger.totals(())
    assert (cb.prompt_tokens, cb.completion_tokens, cb.total_tokens) == (
        total.prompt_tokens,
        total.completion_tokens,
        total.total_tokens,
    )
    assert cb.total_cost_usd == total.total_usd > Decimal(0)
    by_model = {row["model"]: row for row in ledger.totals("model")}
    assert by_model.keys() == cb.by_model.keys() >= {NEXT, FIRST, "deepseek-v3.2"}
    for name, row in by_model.items():
        mine = cb.by_model[name]
        assert (mine.requests, mine.usage.total_tokens) == (row.calls, row.total_tokens)
        assert mine.total_usd == row.total_usd
    by_task = {row["task"]: row for row in ledger.totals("task")}
    assert by_task.keys() == cb.by_task.keys()
    assert by_task.keys() == {"code-generation", "summarization", "reasoning", "translation"}
    for task, row in by_task.items():
        mine = cb.by_task[task]
        assert (mine.requests, mine.total_usd) == (row.calls, row.total_usd)
    assert {(r.user, r.app) for r in cb.records} == {("u", "a")}
    assert {(e.user, e.app) for e in ledger.entries()} == {("u", "a")}


def test_a_budget_refusal_raises_and_sends_nothing(make_model: ModelFactory, emulator) -> None:
    ledger = CostLedger("memory")
    ledger.set_budget("0.000001", scope="user", key="u")
    model = make_model(model="auto", ledger=ledger, user="u", app="a")
    with get_holysheep_callback() as cb:
        with pytest.raises(holysheep.BudgetExceededError, match="user 'u'"):
            model.invoke(CODE, task="code-generation")
        with pytest.raises(holysheep.BudgetExceededError):
            list(model.stream(CODE, task="code-generation"))
    assert emulator.requests == [] and ledger.entries() == []
    assert cb.successful_requests == 0


# ---------------------------------------------------------------- trim_to_fit


def long_chat(turns: int = 60) -> list:
    """A system prompt, ~200k estimated tokens of old turns, then the latest question."""
    chat: list = [SystemMessage("You are terse.")]
    for i in range(turns):
        chat += [HumanMessage(f"note {i}: " + "lorem ipsum " * 1100), AIMessage(f"noted {i}")]
    chat.append(HumanMessage("So what was note 59 about?"))
    return chat


def test_trim_to_fit_drops_the_oldest_messages_and_keeps_the_system_prompt(
    make_model: ModelFactory, emulator, side
) -> None:
    chat = long_chat()
    assert estimate_message_tokens(to_wire_messages(chat)) > 190_000  # deepseek-v3.2: 128k
    model = make_model(model="deepseek-v3.2", trim_to_fit=True, max_tokens=1000)
    invoke(model, side, chat)
    sent = emulator.requests[-1].json["messages"]
    assert len(sent) < len(chat)
    assert sent[0] == {"role": "system", "content": "You are terse."}
    assert sent[1]["role"] == "user" and sent[1]["content"].startswith("note ")
    assert sent[-1] == {"role": "user", "content": "So what was note 59 about?"}
    assert 120_000 < estimate_message_tokens(sent) <= 128_000 - 1000  # the newest that fit

    emulator.reset()
    invoke(make_model(model="deepseek-v3.2"), side, chat)  # trim_to_fit=False: all of it
    assert len(emulator.requests[-1].json["messages"]) == len(chat)


def test_trim_to_fit_on_streams_and_small_chats(make_model: ModelFactory, emulator) -> None:
    model = make_model(model="deepseek-v3.2", trim_to_fit=True)
    merged(list(model.stream(long_chat())))
    sent = emulator.requests[-1].json["messages"]
    assert len(sent) < len(long_chat()) and sent[0]["role"] == "system"
    assert estimate_message_tokens(sent) <= 128_000 - 8192  # no max_tokens: the model's output
    short = [SystemMessage("Be brief."), HumanMessage("hi"), AIMessage("hello"), HumanMessage("?")]
    model.invoke(short)
    assert len(emulator.requests[-1].json["messages"]) == 4  # what fits is never trimmed


def test_trim_to_fit_with_auto_lets_the_router_trim(make_model: ModelFactory, emulator) -> None:
    router = TaskRouter({"qa": ["deepseek-v3.2"]}, extends=False, default_task="qa")
    chat = long_chat()
    untrimmed = make_model(model="auto", router=router)
    with pytest.raises(holysheep.NoModelAvailableError):
        untrimmed.invoke(chat, task="qa")
    assert emulator.requests == []  # nothing fits: nothing is sent

    trimmed = make_model(model="auto", router=router, trim_to_fit=True)
    message = trimmed.invoke(chat, task="qa")
    sent = emulator.requests[-1].json
    assert message.response_metadata["model_name"] == sent["model"] == "deepseek-v3.2"
    assert "trim" not in sent
    assert 2 < len(sent["messages"]) < len(chat)
    assert sent["messages"][0]["role"] == "system" and sent["messages"][1]["role"] == "user"
    assert sent["messages"][-1] == {"role": "user", "content": "So what was note 59 about?"}
    assert "trimmed" in verdict(message.response_metadata["route"], "deepseek-v3.2")["reason"]
