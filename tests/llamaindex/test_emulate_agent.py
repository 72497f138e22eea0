"""A LlamaIndex FunctionAgent pointed at ``holysheep emulate --tools auto`` finishes its loop."""

from __future__ import annotations

import pytest
from llama_index.core.agent.workflow import FunctionAgent, ToolCallResult

from llamaindex_holysheep import HolySheep

from ..emulate_cli import running_emulate

# llama-index-workflows inspects the agent's members, touching pydantic's deprecated properties
pytestmark = pytest.mark.filterwarnings(
    "ignore::pydantic.warnings.PydanticDeprecationWarning:inspect"
)


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


async def test_a_function_agent_calls_the_tool_and_answers_with_its_result(cost) -> None:
    with running_emulate("--tools", "auto") as proc:
        llm = HolySheep(model="gpt-4.1", api_key="any-key-works", base_url=proc.url)
        agent = FunctionAgent(tools=[multiply], llm=llm)
        handler = agent.run("What is 6 times 7?")
        events = [event async for event in handler.stream_events()]
        result = await handler
        await llm.aclose()
        proc.wait_for("called multiply")
    calls = [e for e in events if isinstance(e, ToolCallResult)]
    assert [(c.tool_name, c.tool_kwargs) for c in calls] == [("multiply", {"a": 1, "b": 1})]
    assert str(result) == "The tool returned: 1"
    assert cost.calls == 2 and cost.total_usd > 0
