"""Both adapters get the core's spans for free: one span per relay call, with its cost, whether
the call came through LangChain or LlamaIndex, streamed or not."""

from __future__ import annotations

import pytest
from holysheep.testing import RelayEmulator

from ..conftest import FAKE_KEY
from .conftest import Telemetry


def test_a_langchain_invoke_and_stream_are_one_span_each(
    emulator: RelayEmulator, otel: Telemetry
) -> None:
    from langchain_holysheep import ChatHolySheep

    model = ChatHolySheep(model="gpt-4.1", api_key=FAKE_KEY, base_url=emulator.base_url)
    message = model.invoke("Hello", config={"metadata": {"task": "qa"}})
    text = "".join(str(chunk.content) for chunk in model.stream("Hello again"))
    assert message.content and text
    first, second = otel.spans()
    assert first.attributes["gen_ai.response.id"] == message.response_metadata["id"]
    assert first.attributes["holysheep.cost.usd"] == pytest.approx(
        message.response_metadata["cost"]["total_usd"])
    assert second.attributes["gen_ai.request.stream"] is True
    assert "gen_ai.response.time_to_first_chunk" in second.attributes


def test_a_llamaindex_chat_is_one_span(emulator: RelayEmulator, otel: Telemetry) -> None:
    from llama_index.core.llms import ChatMessage

    from llamaindex_holysheep import HolySheep

    llm = HolySheep(model="gpt-4.1", api_key=FAKE_KEY, base_url=emulator.base_url)
    reply = llm.chat([ChatMessage(role="user", content="Hello")])
    assert reply.message.content
    span = otel.span()
    assert span.name == "chat gpt-4.1"
    assert span.attributes["gen_ai.usage.output_tokens"] > 0
    assert span.attributes["holysheep.cost.usd"] > 0
