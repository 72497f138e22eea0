"""``holysheep._tool_deltas.ToolCallIndexer``: the same calls the core's accumulator assembles."""

from __future__ import annotations

import json

import pytest
from holysheep._accumulate import StreamAccumulator
from holysheep._tool_deltas import ToolCallIndexer
from holysheep.wire import ChatCompletionChunk
from langchain_core.messages import AIMessageChunk

from langchain_holysheep._chunks import ChunkTranslator

from .conftest import merged

# (index, id, name, arguments) fragments as providers send them
MISTRAL_NO_INDEX = [
    (None, "a1", "weather", '{"city": '),
    (None, None, None, '"Paris"}'),
    (None, "b2", "time", "{}"),
]
QWEN_EMPTY_IDS = [
    (0, "call_q", "weather", ""),
    (0, "", None, '{"city":'),
    (0, "", None, '"Rome"}'),
]
REPEATED_ID_AND_NAME = [
    (1, "x9", "lookup", '{"q"'),
    (1, "x9", "lookup", ': "sse"}'),
]


@pytest.mark.parametrize(
    ("fragments", "expected"),
    [
        (MISTRAL_NO_INDEX, [("a1", "weather", {"city": "Paris"}), ("b2", "time", {})]),
        (QWEN_EMPTY_IDS, [("call_q", "weather", {"city": "Rome"})]),
        (REPEATED_ID_AND_NAME, [("x9", "lookup", {"q": "sse"})]),
    ],
    ids=["mistral-no-index", "qwen-empty-ids", "repeated-id-and-name"],
)
def test_langchain_merge_and_core_accumulator_agree(fragments, expected) -> None:
    chunks = [
        ChatCompletionChunk.model_validate(
            {
                "choices": [
                    {
                        "index": 0,
                        "delta": {
                            "tool_calls": [
                                {"index": i, "id": c, "function": {"name": n, "arguments": a}}
                            ]
                        },
                    }
                ]
            }
        )
        for i, c, n, a in fragments
    ]
    acc = StreamAccumulator()
    translator = ChunkTranslator()
    generations = []
    for chunk in chunks:
        acc.add(chunk)
        generations.append(translator.translate(chunk).message)
    core = [
        (c.id, c.function.name, json.loads(c.function.arguments))
        for c in acc.result().message.tool_calls
    ]
    last = merged(generations) + AIMessageChunk(content="", chunk_position="last")
    ours = [(c["id"], c["name"], c["args"]) for c in last.tool_calls]
    assert core == ours == expected


def test_indexer_reports_each_id_and_name_once() -> None:
    indexer = ToolCallIndexer()
    assert indexer.place(None, "a", "f") == (0, "a", "f")
    assert indexer.place(None, "a", "f") == (0, None, None)  # same call, nothing new
    assert indexer.place(None, "", None) == (0, None, None)
    assert indexer.place(None, "b", "g") == (1, "b", "g")  # a new id starts a call
    assert indexer.place(3, None, "h") == (3, None, "h")  # explicit indices are kept
