"""HolySheepRouter, the routing chain: {"task", "input"} in, the picked model's message out."""

from __future__ import annotations

import holysheep
import pytest
from holysheep.routing import TaskRouter
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda

from langchain_holysheep import ChatHolySheep, HolySheepRouter

from ..conftest import FAKE_KEY
from .conftest import invoke, merged, stream


@pytest.fixture
def router(emulator) -> HolySheepRouter:
    return HolySheepRouter(api_key=FAKE_KEY, base_url=emulator.base_url, max_retries=1)


def test_the_label_picks_the_model(router, emulator, side) -> None:
    reply = invoke(router, side, {"task": "code-generation", "input": "Reverse a list."})
    assert reply.response_metadata["model_name"] == "gpt-4.1"
    assert emulator.requests[-1].json["model"] == "gpt-4.1"
    reply = invoke(router, side, {"task": "translation", "input": "Say thanks in German."})
    assert reply.response_metadata["model_name"] == "gemini-2.5-flash"


def test_no_label_is_classified(router, emulator, side) -> None:
    reply = invoke(router, side, {"task": None, "input": "Summarize this report in 3 bullets."})
    assert reply.response_metadata["model_name"] == "deepseek-v3.2"
    assert reply.response_metadata["task"] == "summarization"


def test_messages_and_streams(router, emulator, side) -> None:
    messages = [SystemMessage("Be brief."), HumanMessage("Explain TCP slow start.")]
    chunks = stream(router, side, {"task": "qa", "input": messages})
    whole = merged(chunks)
    assert whole.content == "Echo: Explain TCP slow start."
    assert whole.response_metadata["model_name"] == "gemini-2.5-flash"
    assert whole.usage_metadata["total_tokens"] > 0


def test_falls_back_when_the_picked_model_is_down(router, emulator) -> None:
    emulator.fail(503, times=4, model="deepseek-v3.2")
    reply = router.invoke({"task": "summarization", "input": "Summarize: a, b, c."})
    assert reply.response_metadata["model_name"] != "deepseek-v3.2"
    assert [r.json["model"] for r in emulator.requests][:2] == ["deepseek-v3.2"] * 2


def test_in_an_lcel_chain(emulator) -> None:
    llm = ChatHolySheep(
        model="auto", api_key=FAKE_KEY, base_url=emulator.base_url, router=TaskRouter()
    )
    prompt = ChatPromptTemplate.from_messages([("human", "Translate to French: {text}")])
    chain = (
        RunnableLambda(lambda d: {"task": "translation", "input": prompt.invoke(d)})
        | HolySheepRouter(llm)
        | StrOutputParser()
    )
    assert chain.invoke({"text": "good morning"}) == "Echo: Translate to French: good morning"
    assert chain.batch([{"text": "a"}, {"text": "b"}]) == [
        "Echo: Translate to French: a",
        "Echo: Translate to French: b",
    ]


def test_bad_input_says_what_to_pass(router) -> None:
    with pytest.raises(TypeError, match=r"'task'.*'input'"):
        router.invoke("just a string")
    with pytest.raises(TypeError, match="unknown keys"):
        router.invoke({"task": "qa", "input": "x", "temperature": 0})
    with pytest.raises(ValueError, match=r"model='auto'"):
        HolySheepRouter(ChatHolySheep(model="gpt-4.1", api_key=FAKE_KEY))


def test_errors_stay_holysheep_errors(router, emulator) -> None:
    emulator.fail(401)
    with pytest.raises(holysheep.AuthenticationError):
        router.invoke({"task": "qa", "input": "hi"})
