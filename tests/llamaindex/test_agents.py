"""FunctionAgent and ReActAgent loops with tools, on the emulator, counted by the cost handler."""

from __future__ import annotations

import pytest
from holysheep.testing import Reply
from llama_index.core.agent.workflow import (
    AgentStream,
    AgentWorkflow,
    FunctionAgent,
    ReActAgent,
    ToolCallResult,
)
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler

from .test_tools import add

# llama-index-workflows finds steps with inspect.getmembers(agent), which touches pydantic's
# deprecated instance properties (__fields__, model_computed_fields...): their warnings, raised
# from the inspect module, not ours.
pytestmark = pytest.mark.filterwarnings(
    "ignore::pydantic.warnings.PydanticDeprecationWarning:inspect"
)

SUM_CALL = {"name": "add", "arguments": {"a": 2, "b": 3}}


@pytest.mark.parametrize("streaming", [True, False])
async def test_function_agent_calls_the_tool_then_answers(
    make_llm, emulator, cost, streaming
) -> None:
    emulator.script(Reply(tool_calls=[SUM_CALL]), Reply(content="2 + 3 = 5."))
    counter = TokenCountingHandler()
    llm = make_llm(callback_manager=CallbackManager([counter]))
    agent = FunctionAgent(tools=[add], llm=llm, streaming=streaming)
    handler = agent.run("What is 2 + 3?")
    events = [event async for event in handler.stream_events()]
    result = await handler
    assert str(result) == "2 + 3 = 5."
    tool_results = [e for e in events if isinstance(e, ToolCallResult)]
    assert [(r.tool_name, r.tool_kwargs, r.tool_output.content) for r in tool_results] == [
        ("add", {"a": 2, "b": 3}, "5")
    ]
    if streaming:  # partial tool calls reached the stream before the call was complete
        streamed = [e for e in events if isinstance(e, AgentStream)]
        assert any(e.tool_calls for e in streamed)
        assert "".join(e.delta for e in streamed).endswith("2 + 3 = 5.")
    first, second = (r.json for r in emulator.requests)
    assert first["tools"][0]["function"]["name"] == "add"
    assistant, tool = second["messages"][-2:]
    call_id = assistant["tool_calls"][0]["id"]
    assert assistant["tool_calls"][0]["function"]["name"] == "add"
    assert tool == {"role": "tool", "content": "5", "tool_call_id": call_id}
    assert cost.calls == 2  # each LLM call once, however many chunks it streamed
    # TokenCountingHandler reads the relay's usage, not its tokenizer's guess.
    assert counter.prompt_llm_token_count == cost.usage.prompt_tokens > 0
    assert counter.completion_llm_token_count == cost.usage.completion_tokens > 0


# ReActAgent.take_step reads ctx.is_running, which llama-index-workflows deprecates (their code).
@pytest.mark.filterwarnings("ignore:is_running called from within a step:DeprecationWarning")
async def test_react_agent_loop(make_llm, emulator, cost) -> None:
    emulator.script(
        'Thought: I need a tool.\nAction: add\nAction Input: {"a": 2, "b": 3}',
        "Thought: I can answer without using any more tools.\nAnswer: The sum is 5.",
    )
    agent = ReActAgent(tools=[add], llm=make_llm(model="deepseek-r1"))
    handler = agent.run("What is 2 + 3?")
    events = [event async for event in handler.stream_events()]
    result = await handler
    assert "The sum is 5." in str(result)
    assert [e.tool_output.content for e in events if isinstance(e, ToolCallResult)] == ["5"]
    assert "Observation: 5" in str(emulator.requests[-1].json["messages"])
    assert cost.calls == 2 and cost.by_model.keys() == {"deepseek-r1"}


def test_agent_workflow_picks_the_agent_from_catalogue_capabilities(make_llm) -> None:
    tools = AgentWorkflow.from_tools_or_functions([add], llm=make_llm(model="gpt-4.1"))
    assert isinstance(tools.agents["Agent"], FunctionAgent)
    react = AgentWorkflow.from_tools_or_functions([add], llm=make_llm(model="deepseek-r1"))
    assert isinstance(react.agents["Agent"], ReActAgent)
