"""Message ids: each AIMessage gets its own, so a relay that repeats a completion id loses no turn.

Relays that replay cached answers send the same ``chatcmpl-...`` id twice. LangGraph's
``add_messages`` replaces a message whose id it has seen, so an id taken from the completion made
an agent's tool-call turn vanish from its state. The completion id stays in
``response_metadata["id"]``, as ChatOpenAI keeps it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition

from langchain_holysheep import ChatHolySheep

from ..conftest import FAKE_KEY
from ..hostile import HostileUpstream, chunk, completion, json_response, sse_response, usage_chunk
from .conftest import invoke, merged, stream

REPEATED_ID = "chatcmpl-hostile"  # every answer of the hostile upstream carries this id


@tool
def get_weather(city: str) -> str:
    """The weather in ``city``."""
    return f"sunny in {city}"


def _tool_call_answer() -> dict:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    return completion(choices=[{"index": 0, "message": message, "finish_reason": "tool_calls"}])


def _agent(model: ChatHolySheep) -> Any:
    """A two-node agent (model, tools), as LangGraph users write it."""
    bound = model.bind_tools([get_weather])

    def agent(state: MessagesState) -> dict:
        return {"messages": [bound.invoke(state["messages"])]}

    async def aagent(state: MessagesState) -> dict:
        return {"messages": [await bound.ainvoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", RunnableLambda(agent, afunc=aagent))
    graph.add_node("tools", ToolNode([get_weather]))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition)
    graph.add_edge("tools", "agent")
    return graph.compile()


def test_an_agent_keeps_its_tool_call_turn_when_the_relay_repeats_an_id(side) -> None:
    with HostileUpstream() as up:
        up.answer(json_response(_tool_call_answer()), json_response(completion("Sunny in Paris.")))
        model = ChatHolySheep(model="gpt-4.1", api_key=FAKE_KEY, base_url=up.base_url)
        app = _agent(model)
        question = {"messages": [HumanMessage("Weather in Paris?")]}
        state = app.invoke(question) if side == "sync" else asyncio.run(app.ainvoke(question))
    kinds = [type(m) for m in state["messages"]]
    assert kinds == [HumanMessage, AIMessage, ToolMessage, AIMessage]
    call_turn, answer = state["messages"][1], state["messages"][3]
    assert call_turn.tool_calls[0]["name"] == "get_weather"
    assert answer.text == "Sunny in Paris."
    assert call_turn.id != answer.id
    assert call_turn.response_metadata["id"] == answer.response_metadata["id"] == REPEATED_ID


def test_invoke_and_stream_give_each_message_its_own_id(side) -> None:
    streamed = sse_response([chunk("Hi"), chunk(" there", finish="stop"), usage_chunk(3, 2)])
    with HostileUpstream() as up:
        up.answer(json_response(completion("Hi")), json_response(completion("Hi")), streamed)
        model = ChatHolySheep(model="gpt-4.1", api_key=FAKE_KEY, base_url=up.base_url)
        first, second = invoke(model, side, "Hello"), invoke(model, side, "Hello")
        whole = merged(stream(model, side, "Hello"))
    ids = {first.id, second.id, whole.id}
    assert len(ids) == 3 and all(i and i.startswith("lc_run-") for i in ids)
    assert whole.text == "Hi there"
    for message in (first, second, whole):
        assert message.response_metadata["id"] == REPEATED_ID
