"""Tools and ``tool_choice`` in the chat-completions shape, for ``bind_tools``.

Conversion is langchain-core's own (``convert_to_openai_tool``); this module only maps
LangChain's ``tool_choice`` spellings onto the wire's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

__all__ = ["ToolLike", "format_tools", "wire_tool_choice"]

ToolLike = dict[str, Any] | type | Callable[..., Any] | BaseTool
"""Anything ``convert_to_openai_tool`` accepts: a tool, a function, a pydantic model, a schema."""

_WIRE_CHOICES = frozenset({"auto", "none", "required"})


def format_tools(tools: Sequence[ToolLike], strict: bool | None = None) -> list[dict[str, Any]]:
    """``{"type": "function", "function": {...}}`` for each tool (``strict`` set when given)."""
    return [convert_to_openai_tool(tool, strict=strict) for tool in tools]


def wire_tool_choice(
    choice: str | bool | dict[str, Any], tools: Sequence[dict[str, Any]]
) -> str | dict[str, Any]:
    """The wire ``tool_choice`` for LangChain's spellings.

    ``"auto"``, ``"none"`` and ``"required"`` pass through; ``"any"`` and ``True`` mean
    ``"required"``; a tool's name forces that tool; a dict is sent as given.

    Raises:
        ValueError: ``choice`` names no bound tool.
    """
    if isinstance(choice, dict):
        return choice
    if choice is True or choice == "any":
        return "required"
    if not isinstance(choice, str):
        raise ValueError(f"tool_choice must be a str, bool or dict, got {choice!r}")
    if choice in _WIRE_CHOICES:
        return choice
    names = [tool["function"]["name"] for tool in tools if "function" in tool]
    if choice not in names:
        raise ValueError(
            f"tool_choice={choice!r} names no bound tool (bound: {', '.join(names) or 'none'}); "
            "use a tool name, 'auto', 'none', 'any' or 'required'"
        )
    return {"type": "function", "function": {"name": choice}}
