"""ChatHolySheep inside LCEL chains and a LangGraph agent loop, with the cost callback around."""

from __future__ import annotations

import asyncio

from holysheep.testing import Reply
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from pydantic import BaseModel

from langchain_holysheep import ChatHolySheep, get_holysheep_callback

PROMPT = ChatPromptTemplate.from_messages(
    [("system", "You answer in one sentence."), ("human", "Explain {topic}.")]
)


@tool
def get_weather(location: str) -> str:
    """Get the weather at a location."""
    return f"It's sunny in {location}."


def test_prompt_model_parser_chain(model, emulator) -> None:
    chain = PROMPT | model | StrOutputParser()
    with get_holysheep_callback() as cb:
        answer = chain.invoke({"topic": "SSE"}, config={"metadata": {"task": "qa"}})
        pieces = list(chain.stream({"topic": "HTTP"}))
    assert answer == "Echo: Explain SSE."
    assert pieces[:2] == ["Echo:", " Explain"] and "".join(pieces) == "Echo: Explain HTTP."
    assert emulator.requests[0].json["messages"][0] == {
        "role": "system",
        "content": "You answer in one sentence.",
    }
    assert cb.successful_requests == 2 and cb.by_task["qa"].requests == 1


def test_async_chain_and_batch(model) -> None:
    chain = PROMPT | model | StrOutputParser()

    async def run() -> list[str]:
        first = await chain.ainvoke({"topic": "a"})
        return [first, *await chain.abatch([{"topic": "b"}, {"topic": "c"}])]

    assert asyncio.run(run()) == ["Echo: Explain a.", "Echo: Explain b.", "Echo: Explain c."]


def test_structured_output_in_a_chain(model, emulator) -> None:
    class Answer(BaseModel):
        """The answer and how sure the model is."""

        answer: str
        confidence: float

    emulator.script(
        Reply(tool_calls=[{"name": "Answer", "arguments": {"answer": "42", "confidence": 0.9}}])
    )
    result = (PROMPT | model.with_structured_output(Answer)).invoke({"topic": "life"})
    assert result == Answer(answer="42", confidence=0.9)


def agent(model: ChatHolySheep):
    """The smallest ReAct loop: the model calls tools until it answers in text."""
    bound = model.bind_tools([get_weather])

    def call_model(state: MessagesState) -> dict:
        return {"messages": [bound.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", call_model)
    graph.add_node("tools", ToolNode([get_weather]))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition)
    graph.add_edge("tools", "agent")
    graph.add_edge("agent", END)
    return graph.compile()


def script_weather(emulator) -> None:
    call = {"name": "get_weather", "arguments": {"location": "San Francisco"}, "id": "call_sf"}
    emulator.script(Reply(tool_calls=[call]), Reply(content="It is sunny in San Francisco."))


def test_langgraph_agent_loop_with_a_tool(model, emulator) -> None:
    script_weather(emulator)
    with get_holysheep_callback() as cb:
        state = agent(model).invoke({"messages": [HumanMessage("Weather in SF?")]})
    kinds = [type(m) for m in state["messages"]]
    assert kinds == [HumanMessage, AIMessage, ToolMessage, AIMessage]
    assert state["messages"][2].content == "It's sunny in San Francisco."
    assert state["messages"][-1].text == "It is sunny in San Francisco."
    second = emulator.requests[1].json["messages"]
    assert second[1]["tool_calls"][0]["id"] == "call_sf"
    assert second[2] == {
        "role": "tool",
        "tool_call_id": "call_sf",
        "name": "get_weather",
        "content": "It's sunny in San Francisco.",
    }
    assert cb.successful_requests == 2


def test_langgraph_streams_tool_call_chunks(model, emulator) -> None:
    script_weather(emulator)
    graph = agent(model)
    chunks = [
        message
        for message, _meta in graph.stream(
            {"messages": [HumanMessage("Weather in SF?")]}, stream_mode="messages"
        )
        if isinstance(message, AIMessageChunk)
    ]
    tool_chunks = [c for c in chunks if c.tool_call_chunks]
    assert len(tool_chunks) > 1
    first_turn = tool_chunks[0]
    for chunk in tool_chunks[1:]:
        first_turn = first_turn + chunk
    assert first_turn.tool_call_chunks[0]["name"] == "get_weather"
    assert "".join(c.text for c in chunks) == "It is sunny in San Francisco."
