"""ChatHolySheep on the emulator: calls, usage, metadata, reasoning, settings, configuration."""

from __future__ import annotations

import asyncio
import json
import pickle
from decimal import Decimal

import holysheep
import pytest
from holysheep import ModelCatalog, Usage
from holysheep.calls import Attribution, CallInfo
from holysheep.testing import RelayEmulator, Reply
from langchain_core.rate_limiters import BaseRateLimiter

from langchain_holysheep import ChatHolySheep
from langchain_holysheep._convert import response_metadata

from ..conftest import FAKE_KEY
from .conftest import ModelFactory, invoke, merged, stream


def catalogue_cost(model: str, usage_metadata: dict) -> Decimal:
    usage = Usage(
        usage_metadata["input_tokens"],
        usage_metadata["output_tokens"],
        usage_metadata["total_tokens"],
        usage_metadata["input_token_details"]["cache_read"],
        usage_metadata["output_token_details"]["reasoning"],
    )
    return ModelCatalog.default().cost(model, usage).total_usd


# ---------------------------------------------------------------- invoke and stream


def test_invoke_returns_text_usage_reasoning_and_metadata(model, emulator, side) -> None:
    served = "gpt-4.1-2025-04-14"
    emulator.script(Reply(content="Hi!", reasoning="short thought", model=served, cached_tokens=2))
    message = invoke(model, side, "Hello there")
    assert message.text == "Hi!"
    assert message.additional_kwargs == {"reasoning_content": "short thought"}
    usage = message.usage_metadata
    assert usage["input_tokens"] > 2 and usage["output_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["input_token_details"] == {"cache_read": 2}
    assert usage["output_token_details"]["reasoning"] > 0
    meta = message.response_metadata
    assert meta["model_name"] == served
    assert meta["model_provider"] == "holysheep"
    assert meta["finish_reason"] == "stop"
    assert meta["id"].startswith("chatcmpl-") and message.id != meta["id"]
    assert meta["system_fingerprint"] == "fp_emulator"
    assert meta["requested_model"] == "gpt-4.1" and meta["attempts"] == 1
    assert meta["cost"]["total_usd"] == float(catalogue_cost(served, usage)) > 0  # a number
    assert emulator.requests[-1].json == {
        "model": "gpt-4.1",
        "messages": [{"role": "user", "content": "Hello there"}],
    }


def test_stream_yields_text_chunks_then_one_closing_chunk(model, emulator, side) -> None:
    emulator.script(Reply(content="one two three four", reasoning="a b c d e", cached_tokens=1))
    chunks = stream(model, side, "Hello")
    body = emulator.requests[-1].json
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    last = chunks[-1]
    assert last.chunk_position == "last"
    # usage, model and cost are on the closing chunk only: merging never double counts them
    assert [c for c in chunks if c.usage_metadata] == [last]
    assert [c for c in chunks if c.response_metadata.get("model_name")] == [last]
    assert [c.text for c in chunks if c.text] == ["one", " two", " three", " four"]
    full = merged(chunks)
    assert full.text == "one two three four"
    assert full.additional_kwargs["reasoning_content"] == "a b c d e"
    assert full.usage_metadata["input_token_details"] == {"cache_read": 1}
    assert full.usage_metadata["output_token_details"]["reasoning"] > 0
    meta = full.response_metadata
    assert meta["model_name"] == "gpt-4.1" and meta["finish_reason"] == "stop"
    assert meta["id"].startswith("chatcmpl-") and meta["system_fingerprint"] == "fp_emulator"
    assert meta["cost"]["total_usd"] == float(catalogue_cost("gpt-4.1", full.usage_metadata))


def test_stream_usage_can_be_turned_off(make_model: ModelFactory, emulator, side) -> None:
    for model, kwargs in (
        (make_model(stream_usage=False), {}),
        (make_model(), {"stream_usage": False}),
    ):
        full = merged(stream(model, side, "Hello", **kwargs))
        assert emulator.requests[-1].json["stream_options"] == {"include_usage": False}
        assert full.usage_metadata is None
        assert full.response_metadata["model_name"] == "gpt-4.1"
        # the relay bills it all the same: the cost is estimated, and says so
        assert full.response_metadata["cost"]["total_usd"] > 0
        assert full.response_metadata["estimated"] is True
        assert full.text == "Echo: Hello"


def test_streaming_true_makes_invoke_use_the_stream(make_model: ModelFactory, emulator) -> None:
    message = make_model(streaming=True).invoke("Hello")
    assert emulator.requests[-1].json["stream"] is True
    assert message.text == "Echo: Hello"
    assert message.usage_metadata["total_tokens"] > 0


def test_batch_and_abatch(model, emulator) -> None:
    assert [m.text for m in model.batch(["a", "b", "c"])] == ["Echo: a", "Echo: b", "Echo: c"]
    replies = asyncio.run(model.abatch(["d", "e"]))
    assert [m.text for m in replies] == ["Echo: d", "Echo: e"]


def test_async_side_survives_successive_event_loops(model) -> None:
    for i in range(3):
        assert asyncio.run(model.ainvoke(f"hi {i}")).text == f"Echo: hi {i}"


def test_output_version_v1_gives_reasoning_and_text_blocks(
    make_model: ModelFactory, emulator
) -> None:
    model = make_model(output_version="v1")
    emulator.script(Reply(content="Answer", reasoning="Thinking"))
    blocks = model.invoke("q").content
    assert [b["type"] for b in blocks] == ["reasoning", "text"]
    assert blocks[0]["reasoning"] == "Thinking" and blocks[1]["text"] == "Answer"


# ---------------------------------------------------------------- settings reach the wire


def test_settings_reach_the_request(make_model: ModelFactory, emulator, side) -> None:
    model = make_model(
        temperature=0.2,
        max_tokens=50,
        stop=["STOP"],
        user="user-7",
        app="billing-app",
        top_p=0.5,
        model_kwargs={"verbosity": "low"},
        extra_body={"provider": {"order": ["a"]}},
        default_headers={"X-Team": "search"},
    )
    message = invoke(model, side, "hi", extra_body={"seed_hint": 1})
    sent = emulator.requests[-1]
    assert sent.json == {
        "model": "gpt-4.1",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.2,
        "max_tokens": 50,
        "stop": ["STOP"],
        "user": "user-7",
        "top_p": 0.5,
        "verbosity": "low",
        "provider": {"order": ["a"]},
        "seed_hint": 1,
    }
    assert sent.headers["x-team"] == "search"
    assert message.response_metadata["user"] == "user-7"
    assert message.response_metadata["app"] == "billing-app"


def test_per_call_stop_model_and_body_fields(model, emulator, side) -> None:
    message = invoke(model, side, "hi", stop=["x"], model="deepseek-v3.2", seed=3)
    assert emulator.requests[-1].json["stop"] == ["x"]
    assert emulator.requests[-1].json["seed"] == 3
    assert emulator.requests[-1].json["model"] == "deepseek-v3.2"
    assert message.response_metadata["model_name"] == "deepseek-v3.2"


def test_unknown_constructor_arguments_become_model_kwargs() -> None:
    with pytest.warns(UserWarning, match="verbosity was transferred to model_kwargs"):
        model = ChatHolySheep(model="gpt-4.1", api_key=FAKE_KEY, verbosity="low")
    assert model.model_kwargs == {"verbosity": "low"}


def test_task_label_from_keyword_or_config_metadata(model, side) -> None:
    assert invoke(model, side, "a", task="qa").response_metadata["task"] == "qa"
    config = {"metadata": {"task": "summarization"}}
    assert invoke(model, side, "b", config=config).response_metadata["task"] == "summarization"
    streamed = merged(stream(model, side, "c", config={"metadata": {"task": "translation"}}))
    assert streamed.response_metadata["task"] == "translation"
    assert "task" not in invoke(model, side, "d").response_metadata


def test_timeout_and_max_retries_reach_the_core_retry_loop(
    make_model: ModelFactory, emulator
) -> None:
    emulator.fail(503, times=2, retry_after=0)
    message = make_model(max_retries=2).invoke("hi")
    assert message.response_metadata["attempts"] == 3
    emulator.reset()
    emulator.fail(503, times=1, retry_after=0)
    with pytest.raises(holysheep.UpstreamError):
        make_model(max_retries=0).invoke("hi")
    assert len(emulator.requests) == 1
    emulator.reset()
    emulator.latency = 0.5
    with pytest.raises(holysheep.APITimeoutError):
        make_model(timeout=0.05, max_retries=0).invoke("hi")


def test_rate_limiter_is_acquired_before_each_call(make_model: ModelFactory, side) -> None:
    class Counting(BaseRateLimiter):
        def __init__(self) -> None:
            self.acquired = 0

        def acquire(self, *, blocking: bool = True) -> bool:
            self.acquired += 1
            return True

        async def aacquire(self, *, blocking: bool = True) -> bool:
            self.acquired += 1
            return True

    limiter = Counting()
    model = make_model(rate_limiter=limiter)
    invoke(model, side, "a")
    stream(model, side, "b")
    assert limiter.acquired == 2


def test_images_are_sent_as_image_url_parts(model, emulator) -> None:
    from langchain_core.messages import HumanMessage

    message = HumanMessage(
        [
            {"type": "text", "text": "Describe both."},
            {"type": "image_url", "image_url": {"url": "https://example.test/a.png"}},
            {"type": "image", "base64": "iVBORw0KGgo=", "mime_type": "image/png"},
        ]
    )
    model.invoke([message])
    assert emulator.requests[-1].json["messages"][0]["content"] == [
        {"type": "text", "text": "Describe both."},
        {"type": "image_url", "image_url": {"url": "https://example.test/a.png"}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]


# ---------------------------------------------------------------- configuration and secrets


def test_key_and_url_from_the_environment(monkeypatch, emulator) -> None:
    monkeypatch.setenv("HOLYSHEEP_API_KEY", "env-key")
    monkeypatch.setenv("HOLYSHEEP_BASE_URL", emulator.base_url)
    model = ChatHolySheep(model="gpt-4.1")
    assert model.api_key.get_secret_value() == "env-key"
    assert model.base_url == emulator.base_url
    assert model.invoke("hi").text == "Echo: hi"


def test_defaults_without_environment() -> None:
    model = ChatHolySheep(model="gpt-4.1")
    assert model.api_key is None
    assert model.base_url == "https://api.holysheep.ai/v1"
    assert model.stream_usage is True


def test_missing_key_fails_at_call_time_naming_the_variable(emulator) -> None:
    model = ChatHolySheep(model="gpt-4.1", base_url=emulator.base_url)  # construction is fine
    with pytest.raises(holysheep.MissingAPIKeyError, match="HOLYSHEEP_API_KEY"):
        model.invoke("hi")
    assert emulator.requests == []


def test_construction_and_binding_do_no_io(make_model: ModelFactory, emulator) -> None:
    model = make_model()
    model.bind_tools([{"type": "function", "function": {"name": "f", "parameters": {}}}])
    model.with_structured_output({"title": "T", "type": "object", "properties": {}})
    assert emulator.requests == []


def test_client_is_reused_and_rebuilt_when_settings_change(make_model: ModelFactory) -> None:
    model = make_model()
    assert model.client is model.client
    other = model.model_copy(update={"base_url": "http://127.0.0.1:9/v1"})
    assert other.client is not model.client
    assert other.client.base_url == "http://127.0.0.1:9/v1"
    assert model.client.base_url != other.client.base_url


def test_key_never_in_repr_dump_or_pickle(make_model: ModelFactory) -> None:
    model = make_model(api_key="sk-very-secret-value")
    model.client  # noqa: B018 - build the client, it must not leak either
    for text in (repr(model), str(model), model.model_dump_json(), repr(model.client)):
        assert "sk-very-secret-value" not in text
    data = pickle.dumps(model)
    assert b"sk-very-secret-value" not in data
    restored = pickle.loads(data)
    assert restored.api_key is None and restored.model == "gpt-4.1"


def test_langsmith_params_name_the_provider_and_the_per_call_model(
    make_model: ModelFactory,
) -> None:
    model = make_model(temperature=0.1, max_tokens=9, stop=["s"])
    assert model._llm_type == "holysheep-chat"
    params = model._get_ls_params()
    assert params == {
        "ls_provider": "holysheep",
        "ls_model_name": "gpt-4.1",
        "ls_model_type": "chat",
        "ls_temperature": 0.1,
        "ls_max_tokens": 9,
        "ls_stop": ["s"],
    }
    assert model._get_ls_params(model="deepseek-v3.2")["ls_model_name"] == "deepseek-v3.2"


def test_route_decision_goes_into_response_metadata() -> None:
    from holysheep.routing import TaskRouter

    route = TaskRouter().route([{"role": "user", "content": "Summarize: a, b."}])
    info = CallInfo(
        id="c1",
        requested_model="auto",
        model="deepseek-v3.2",
        usage=None,
        cost=None,
        attribution=Attribution(task="summarization"),
        latency_s=0.1,
        attempts=1,
        streamed=False,
        route=route,
    )
    meta = response_metadata(
        info, completion_id="c1", finish_reason="stop", system_fingerprint=None
    )
    assert meta["route"] == route.as_dict()  # JSON-safe, so the message serializes
    json.dumps(meta["route"])
    assert meta["task"] == "summarization" and meta["requested_model"] == "auto"
    info_without = CallInfo("c2", "gpt-4.1", "gpt-4.1", None, None, Attribution(), 0.1, 1, False)
    no_route = response_metadata(
        info_without, completion_id="c2", finish_reason=None, system_fingerprint=None
    )
    assert "route" not in no_route


def test_unknown_served_model_warns_once_and_costs_none() -> None:
    with RelayEmulator(models=["mystery-model"]) as relay:
        model = ChatHolySheep(model="mystery-model", api_key=FAKE_KEY, base_url=relay.base_url)
        with pytest.warns(holysheep.UnknownModelPriceWarning) as caught:
            message = model.invoke("hi")
    assert len(caught) == 1
    assert message.response_metadata["cost"] is None
    assert message.usage_metadata["total_tokens"] > 0
