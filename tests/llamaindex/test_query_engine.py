"""A ``VectorStoreIndex`` query engine answering through ``HolySheep`` (local mock embedding)."""

from __future__ import annotations

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding

DOCS = [
    "HolySheep bills 1 CNY per 1 USD of list price.",
    "The emulator runs on loopback and needs no key.",
    "DeepSeek V3.2 costs 0.42 USD per million output tokens.",
]


@pytest.fixture(scope="module")
def index() -> VectorStoreIndex:
    documents = [Document(text=text) for text in DOCS]
    return VectorStoreIndex.from_documents(documents, embed_model=MockEmbedding(embed_dim=8))


def test_query_engine_answers_with_context_and_cost(index, make_llm, emulator, cost) -> None:
    engine = index.as_query_engine(llm=make_llm(model="gemini-2.5-flash"), similarity_top_k=3)
    answer = engine.query("What does HolySheep bill?")
    assert str(answer).startswith("Echo: Context information is below.")
    assert len(answer.source_nodes) == 3
    prompt = emulator.requests[-1].json["messages"][-1]["content"]
    assert all(doc in prompt for doc in DOCS) and "What does HolySheep bill?" in prompt
    assert cost.calls == 1 and cost.by_model.keys() == {"gemini-2.5-flash"}
    assert cost.total_usd is not None and cost.total_usd > 0


async def test_streaming_async_query_engine(index, make_llm, emulator, cost) -> None:
    engine = index.as_query_engine(llm=make_llm(), streaming=True)
    response = await engine.aquery("Does the emulator need a key?")
    text = "".join([token async for token in response.async_response_gen()])
    assert text.startswith("Echo: Context information is below.")
    assert emulator.requests[-1].json["stream"] is True
    assert cost.calls == 1 and cost.usage.total_tokens > 0
