"""``HolySheep`` chat, streams, completion and configuration against the loopback emulator.

Each test taking ``side`` runs its body through the sync methods and through the async twins.
"""

from __future__ import annotations

import asyncio
import json
import pickle

import holysheep
import pytest
from holysheep import ChatCompletion, ModelCatalog, Usage
from holysheep.calls import cost_metadata
from holysheep.testing import Reply
from llama_index.core.base.llms.types import (
    ChatMessage,
    ImageBlock,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.callbacks import CallbackManager, CBEventType, EventPayload
from llama_index.core.callbacks.base_handler import BaseCallbackHandler
from llama_index.core.constants import DEFAULT_CONTEXT_WINDOW

from llamaindex_holysheep import HolySheep

from ..conftest import FAKE_KEY
from .conftest import HELLO, chat, stream


def test_chat_returns_text_usage_cost_and_served_model(llm, emulator, side) -> None:
    emulator.script(Reply(content="Hi!", model="gpt-4.1-2025-04-14", cached_tokens=2))
    response = chat(llm, side)
    assert response.message.role == "assistant"
    assert response.message.content == "Hi!"
    raw = response.raw
    assert isinstance(raw, ChatCompletion) and raw.model == "gpt-4.1-2025-04-14"
    extra = response.additional_kwargs
    assert extra["prompt_tokens"] == raw.usage.prompt_tokens > 0
    assert extra["completion_tokens"] == raw.usage.completion_tokens > 0
    assert extra["total_tokens"] == raw.usage.total_tokens
    assert extra["cached_tokens"] == 2
    assert extra["model_name"] == "gpt-4.1-2025-04-14"
    assert extra["requested_model"] == "gpt-4.1"
    expected = ModelCatalog.default().cost("gpt-4.1", Usage.from_wire(raw.usage))
    assert extra["cost"] == cost_metadata(expected)  # numbers, not decimal strings
    assert extra["cost"]["total_usd"] == float(expected.total_usd) > 0
    assert emulator.requests[-1].json == {
        "model": "gpt-4.1",
        "messages": [{"role": "user", "content": "Hello there"}],
    }


def test_stream_yields_deltas_and_ends_with_usage(llm, emulator, side) -> None:
    emulator.script(Reply(content="one two three four", reasoning="thinking it over"))
    responses = stream(llm, side)
    *chunks, last = responses
    assert "".join(r.delta for r in chunks) == "one two three four"
    assert "".join(r.additional_kwargs.get("thinking_delta", "") for r in chunks) == (
        "thinking it over"
    )
    text = ""
    for r in chunks:  # every response is cumulative and stays as it was when yielded
        text += r.delta
        assert r.message.content == text
        assert r.raw.object == "chat.completion.chunk"
    assert last.delta == ""
    assert last.message.content == "one two three four"
    assert isinstance(last.message.blocks[0], ThinkingBlock)
    assert last.message.blocks[0].content == "thinking it over"
    assert isinstance(last.raw, ChatCompletion) and last.raw.call_info is not None
    assert last.additional_kwargs["prompt_tokens"] == last.raw.usage.prompt_tokens > 0
    assert last.additional_kwargs["reasoning_tokens"] > 0
    assert last.additional_kwargs["cost"]["model"] == "gpt-4.1"
    assert emulator.requests[-1].json["stream_options"] == {"include_usage": True}


def test_stream_usage_matches_chat_usage(llm, emulator, side) -> None:
    emulator.script("same words here", "same words here")
    direct = chat(llm, side).additional_kwargs
    streamed = stream(llm, side)[-1].additional_kwargs
    for key in ("prompt_tokens", "completion_tokens", "total_tokens", "cost"):
        assert direct[key] == streamed[key]


def test_complete_and_stream_complete(llm, emulator, side) -> None:
    if side == "sync":
        done = llm.complete("Say hi")
        pieces = list(llm.stream_complete("Say hi"))
    else:

        async def run() -> tuple:
            done = await llm.acomplete("Say hi")
            return done, [r async for r in await llm.astream_complete("Say hi")]

        done, pieces = asyncio.run(run())
    assert done.text == "Echo: Say hi"
    assert done.additional_kwargs["total_tokens"] > 0
    assert "".join(p.delta for p in pieces) == "Echo: Say hi"
    assert pieces[-1].text == "Echo: Say hi"
    assert pieces[-1].additional_kwargs["total_tokens"] == done.additional_kwargs["total_tokens"]


def test_async_side_survives_successive_event_loops(llm, emulator) -> None:
    for i in range(3):
        messages = [ChatMessage(role="user", content=f"loop {i}")]
        assert asyncio.run(llm.achat(messages)).message.content == f"Echo: loop {i}"


def test_settings_and_per_call_kwargs_reach_the_wire(make_llm, emulator) -> None:
    llm = make_llm(
        temperature=0.2,
        max_tokens=64,
        user="user-42",
        app="docs-bot",
        task="qa",
        additional_kwargs={"top_p": 0.9, "seed": 7},
    )
    response = llm.chat(HELLO, seed=8, task="summarization")
    body = emulator.requests[-1].json
    assert body["temperature"] == 0.2 and body["max_tokens"] == 64 and body["top_p"] == 0.9
    assert body["user"] == "user-42"
    assert body["seed"] == 8  # per-call kwargs win over additional_kwargs
    assert "task" not in body and "app" not in body  # attribution stays local
    attribution = response.raw.call_info.attribution
    assert attribution.task == "summarization"
    assert (attribution.user, attribution.app) == ("user-42", "docs-bot")
    assert response.additional_kwargs["task"] == "summarization"


def test_auto_routes_by_task_and_reports_the_route(make_llm, emulator, cost, side) -> None:
    llm = make_llm(model="auto", task="summarization")
    response = chat(llm, side)
    route = response.additional_kwargs["route"]  # JSON-safe: RouteDecision.as_dict()
    assert route["task"] == "summarization" and route["model"] == "deepseek-v3.2"
    assert response.additional_kwargs["model_name"] == "deepseek-v3.2"
    assert emulator.requests[-1].json["model"] == "deepseek-v3.2"
    last = stream(llm, side, task="code-generation")[-1]
    assert last.additional_kwargs["route"]["model"] == "gpt-4.1"
    assert emulator.requests[-1].json["model"] == "gpt-4.1"
    unlabelled = chat(
        llm, side, [ChatMessage(role="user", content="Translate 'bonjour'")], task=None
    )
    assert unlabelled.additional_kwargs["route"]["task_source"] == "classifier"
    assert cost.by_task.keys() == {"summarization", "code-generation", "translation"}


def test_reasoning_is_kept_on_chat(llm, emulator, side) -> None:
    emulator.script(Reply(content="42", reasoning="six times seven"))
    message = chat(llm, side).message
    assert [type(b) for b in message.blocks] == [ThinkingBlock, TextBlock]
    assert message.blocks[0].content == "six times seven" and message.content == "42"


def test_messages_translate_to_the_wire(make_llm, emulator) -> None:
    llm = make_llm(model="deepseek-v3.2")
    history = [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(
            role="user",
            blocks=[TextBlock(text="What is this?"), ImageBlock(url="https://x.test/a.png")],
        ),
        ChatMessage(
            role="assistant",
            blocks=[
                ThinkingBlock(content="Need the tool."),
                ToolCallBlock(tool_call_id="call_1", tool_name="look", tool_kwargs={"q": "a"}),
            ],
        ),
        ChatMessage(role="tool", content="a cat", additional_kwargs={"tool_call_id": "call_1"}),
    ]
    llm.chat(history)
    sent = emulator.requests[-1].json["messages"]
    assert sent[0] == {"role": "system", "content": "Be brief."}
    assert sent[1]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
    ]
    assert sent[2] == {
        "role": "assistant",  # content None: left out by the core
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "look", "arguments": '{"q": "a"}'},
            }
        ],
        # deepseek-chat-reasoning-parallel-tool-calls: thinking goes back in a tool loop
        "reasoning_content": "Need the tool.",
    }
    assert sent[3] == {"role": "tool", "content": "a cat", "tool_call_id": "call_1"}


def test_reasoning_is_not_sent_to_models_without_a_reasoning_field(llm, emulator) -> None:
    thinking = ChatMessage(
        role="assistant",
        blocks=[ThinkingBlock(content="hmm"), ToolCallBlock(tool_call_id="c", tool_name="f")],
    )
    llm.chat([*HELLO, thinking, ChatMessage(role="tool", content="ok")])
    assert "reasoning_content" not in emulator.requests[-1].json["messages"][1]


# ---------------------------------------------------------------- errors and retries


def test_relay_errors_surface_as_holysheep_errors(make_llm, emulator, side) -> None:
    llm = make_llm(max_retries=0)
    emulator.fail(401)
    with pytest.raises(holysheep.AuthenticationError):
        chat(llm, side)
    emulator.error_in_stream(after_chunks=2)
    with pytest.raises(holysheep.StreamError):
        stream(llm, side)


def test_max_retries_is_the_core_retry_loop(make_llm, emulator) -> None:
    emulator.fail(503, times=1, retry_after=0)
    response = make_llm(max_retries=1).chat(HELLO)
    assert response.additional_kwargs["attempts"] == 2
    emulator.reset()
    emulator.fail(503, times=2, retry_after=0)
    with pytest.raises(holysheep.UpstreamError):
        make_llm(max_retries=0).chat(HELLO)
    assert len(emulator.requests) == 1  # no hidden second retry layer


def test_missing_key_names_the_environment_variable(emulator) -> None:
    llm = HolySheep(base_url=emulator.base_url)  # construction does no I/O and needs no key
    assert llm.metadata.context_window > 0
    with pytest.raises(holysheep.MissingAPIKeyError, match="HOLYSHEEP_API_KEY"):
        llm.chat(HELLO)
    llm.close()


def test_client_is_lazy_cached_and_rebuilt_on_new_settings(llm) -> None:
    first = llm.client
    assert llm.client is first
    llm.timeout = 5.0
    second = llm.client
    assert second is not first
    first.close()


# ---------------------------------------------------------------- metadata


@pytest.mark.parametrize("model", ["gpt-4.1", "deepseek-v3.2", "claude-sonnet-4.5", "deepseek-r1"])
def test_metadata_comes_from_the_catalogue(make_llm, model) -> None:
    spec = ModelCatalog.default().get(model)
    metadata = make_llm(model=model).metadata
    assert metadata.context_window == spec.context_window != DEFAULT_CONTEXT_WINDOW
    assert metadata.num_output == spec.max_output_tokens
    assert metadata.is_function_calling_model is spec.tools
    assert metadata.is_chat_model is True
    assert metadata.model_name == model
    assert make_llm(model=model, max_tokens=100).metadata.num_output == 100


def test_unknown_model_warns_once_and_stays_conservative(make_llm) -> None:
    llm = make_llm(model="mystery-model-9")
    with pytest.warns(holysheep.UnknownModelPriceWarning, match="mystery-model-9"):
        metadata = llm.metadata
    assert metadata.context_window == 8192 and metadata.num_output == 4096
    assert metadata.is_function_calling_model is False
    assert llm.metadata is metadata  # cached: no second warning


def test_auto_metadata_holds_for_every_candidate_of_the_route(make_llm) -> None:
    catalog = ModelCatalog.default()
    routed = make_llm(model="auto", task="code-generation")
    specs = [catalog.get(m) for m in routed.client.routing().routes["code-generation"]]
    metadata = routed.metadata
    assert metadata.is_function_calling_model is True
    assert metadata.context_window == min(s.context_window for s in specs)
    assert metadata.num_output == min(s.max_output_tokens for s in specs)
    anything = make_llm(model="auto").metadata  # no label: any routed model may serve
    everyone = {m for models in routed.client.routing().routes.values() for m in models}
    assert anything.context_window == min(catalog.get(m).context_window for m in everyone)


# ---------------------------------------------------------------- the key stays secret


class _Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        super().__init__([], [])
        self.payloads: list = []

    def on_event_start(self, event_type, payload=None, event_id="", parent_id="", **kw):
        self.payloads.append(payload)
        return event_id

    def on_event_end(self, event_type, payload=None, event_id="", **kw) -> None:
        self.payloads.append(payload)

    def start_trace(self, trace_id=None) -> None: ...

    def end_trace(self, trace_id=None, trace_map=None) -> None: ...


def test_key_never_leaves_in_serialization_payloads_or_pickle(make_llm, emulator) -> None:
    recorder = _Recorder()
    llm = make_llm(callback_manager=CallbackManager([recorder]))
    llm.chat(HELLO)
    serialized = recorder.payloads[0][EventPayload.SERIALIZED]
    assert serialized["model"] == "gpt-4.1" and serialized["context_window"] > 0
    exposed = [
        repr(llm),
        str(llm),
        llm.to_json(),
        json.dumps(llm.to_dict(), default=str),
        llm.model_dump_json(),
        str(llm.to_payload()),
        str(recorder.payloads),
        repr(llm.client),
    ]
    for text in exposed:
        assert FAKE_KEY not in text
    assert FAKE_KEY.encode() not in pickle.dumps(llm)
    assert "api_key" not in llm.to_dict()
    assert CBEventType.LLM  # the recorder saw LLM events


def test_unpickled_copy_reads_the_key_from_the_environment(llm, emulator, monkeypatch) -> None:
    copy = pickle.loads(pickle.dumps(llm))
    assert copy.api_key is None and copy.model == llm.model
    monkeypatch.setenv("HOLYSHEEP_API_KEY", FAKE_KEY)
    assert copy.chat(HELLO).message.content == "Echo: Hello there"
    copy.close()


def test_dict_round_trip(llm) -> None:
    rebuilt = HolySheep.from_dict(llm.to_dict())
    assert (rebuilt.model, rebuilt.base_url) == (llm.model, llm.base_url)
    assert rebuilt.api_key is None
