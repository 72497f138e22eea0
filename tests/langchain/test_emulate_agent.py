"""A LangGraph agent pointed at ``holysheep emulate --tools auto`` completes its tool loop."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition

from langchain_holysheep import ChatHolySheep, get_holysheep_callback

from ..emulate_cli import running_emulate


@tool
def lookup_population(city: str) -> str:
    """Population of a city."""
    return f"{city}: 2.1 million"


def test_a_langgraph_agent_calls_the_tool_and_answers_with_its_result() -> None:
    with running_emulate("--tools", "auto") as proc:
        llm = ChatHolySheep(model="gpt-4.1", api_key="any-key-works", base_url=proc.url)
        model = llm.bind_tools([lookup_population])

        def agent(state: MessagesState) -> dict:
            return {"messages": [model.invoke(state["messages"])]}

        graph = StateGraph(MessagesState)
        graph.add_node("agent", agent)
        graph.add_node("tools", ToolNode([lookup_population]))
        graph.add_edge(START, "agent")
        graph.add_conditional_edges("agent", tools_condition)
        graph.add_edge("tools", "agent")
        app = graph.compile()
        with get_holysheep_callback() as cb:
            result = app.invoke(
                {"messages": [HumanMessage("How many people live in Paris?")]},
                {"recursion_limit": 6},  # a model that kept calling tools would fail here
            )
        proc.wait_for("called lookup_population")
    call, tool_result, answer = result["messages"][1:]
    assert isinstance(call, AIMessage) and call.tool_calls[0]["name"] == "lookup_population"
    assert call.tool_calls[0]["args"] == {"city": "example"}  # shaped by the tool's schema
    assert isinstance(tool_result, ToolMessage) and tool_result.content == "example: 2.1 million"
    assert isinstance(answer, AIMessage) and not answer.tool_calls
    assert "example: 2.1 million" in answer.text
    assert cb.calls == 2 and cb.total_usd > 0
