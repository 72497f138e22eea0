"""The cost callback counts other LangChain chat models too: ChatOpenAI on the same relay.

Needs langchain-openai; without it the module is skipped, saying so.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import holysheep
import httpx
import pytest
from holysheep import ModelCatalog, Usage
from holysheep.testing import Reply
from langchain_core.messages import AIMessage

from langchain_holysheep import get_holysheep_callback
from langchain_holysheep.callbacks import MissingUsageWarning

from .conftest import merged

ChatOpenAI = pytest.importorskip(
    "langchain_openai", reason="langchain-openai is not installed"
).ChatOpenAI


def chat_openai(emulator, **kwargs) -> Any:
    """ChatOpenAI on the emulator, on an httpx client the test closes (no leaked sockets)."""
    return ChatOpenAI(
        model="gpt-4.1", base_url=emulator.base_url, api_key="x", max_retries=0, **kwargs
    )


def test_chatopenai_calls_are_counted_and_priced_from_the_catalogue(emulator, side) -> None:
    def run_sync() -> tuple[AIMessage, AIMessage]:
        with httpx.Client() as http:
            openai = chat_openai(emulator, stream_usage=True, http_client=http)
            return openai.invoke("hello"), merged(list(openai.stream("hello again")))

    async def run_async() -> tuple[AIMessage, AIMessage]:
        async with httpx.AsyncClient() as http:  # ChatOpenAI's async client is loop-bound
            openai = chat_openai(emulator, stream_usage=True, http_async_client=http)
            chunks = [c async for c in openai.astream("hello again")]
            return await openai.ainvoke("hello"), merged(chunks)

    with get_holysheep_callback() as cb:
        invoked, streamed = run_sync() if side == "sync" else asyncio.run(run_async())
    assert cb.successful_requests == 2
    assert set(cb.by_model) == {"gpt-4.1"}
    expected = Decimal(0)
    for message in (invoked, streamed):
        u = message.usage_metadata
        usage = Usage(u["input_tokens"], u["output_tokens"], u["total_tokens"])
        expected += ModelCatalog.default().cost("gpt-4.1", usage).total_usd
    assert cb.total_cost_usd == expected > 0
    tokens = invoked.usage_metadata["total_tokens"] + streamed.usage_metadata["total_tokens"]
    assert cb.total_tokens == tokens


def test_unknown_model_warns_and_costs_none_never_zero(emulator) -> None:
    emulator.script(Reply(content="hi", model="mystery-model-9"))
    warns = pytest.warns(holysheep.UnknownModelPriceWarning)
    with httpx.Client() as http, get_holysheep_callback() as cb, warns:
        chat_openai(emulator, http_client=http).invoke("hello")
    totals = cb.by_model["mystery-model-9"]
    assert totals.requests == 1 and totals.cost is None and totals.total_usd is None
    assert totals.unpriced_requests == 1 and totals.usage.total_tokens > 0
    assert cb.records[0].cost is None


def test_a_call_without_usage_is_counted_and_warned_about(emulator) -> None:
    warns = pytest.warns(MissingUsageWarning, match="stream_usage")
    with httpx.Client() as http, get_holysheep_callback() as cb, warns:
        # ChatOpenAI on a custom base_url streams without usage unless asked
        merged(list(chat_openai(emulator, http_client=http).stream("hello")))
    assert cb.successful_requests == 1 and cb.totals.unpriced_requests == 1
    assert cb.records[0].usage is None and cb.records[0].model == "gpt-4.1"
