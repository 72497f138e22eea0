"""Unscripted replies that follow the request's contract: forced tool calls and JSON modes.

A real model asked with ``tool_choice`` naming a function answers with a call to it; asked for a
``json_schema`` response it answers with a matching JSON document. The emulator does the same
with the smallest instance of the schema, so adapters' tool and structured-output paths run
end to end offline. Values are deterministic: they test plumbing, not intelligence.
"""

from __future__ import annotations

import json
from typing import Any

from ._emulator_wire import Reply, echo_text

__all__ = ["contract_reply", "schema_instance"]

_MAX_DEPTH = 6


def schema_instance(schema: Any, defs: dict[str, Any] | None = None, depth: int = 0) -> Any:
    """The smallest plausible instance of a JSON schema (required properties only)."""
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return None
    if defs is None:
        defs = {**schema.get("$defs", {}), **schema.get("definitions", {})}
    if "$ref" in schema:
        target = defs.get(str(schema["$ref"]).rsplit("/", 1)[-1], {})
        return schema_instance(target, defs, depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(key, []) if o.get("type") != "null"]
        if options:
            return schema_instance(options[0], defs, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        required = schema.get("required", list(props))
        return {name: schema_instance(props.get(name, {}), defs, depth + 1) for name in required}
    if kind == "array":
        item = schema_instance(schema.get("items", {}), defs, depth + 1)
        return [item] if item is not None and schema.get("minItems", 0) > 0 else []
    return {"string": "example", "integer": 1, "number": 1.5, "boolean": True}.get(kind)


def _forced_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The tool the request forces (a name, or "required"/"any" with tools), if any."""
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and t.get("function")]
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        return next((t["function"] for t in tools if t["function"].get("name") == name), None)
    if choice in ("required", "any") and tools:
        return tools[0]["function"]
    return None


def _auto_tool(body: dict[str, Any], messages: list[Any]) -> dict[str, Any] | None:
    """``tools="auto"``: the first offered tool, unless the turn already has a tool result."""
    if body.get("tool_choice") == "none":
        return None
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and t.get("function")]
    if not tools or _tool_results(messages):
        return None
    return tools[0]["function"]


def _tool_results(messages: list[Any]) -> list[str]:
    """Contents of the tool messages after the last user message (this turn's results)."""
    results: list[str] = []
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") == "user":
            break
        if message.get("role") == "tool":
            content = message.get("content")
            if isinstance(content, list):  # content parts
                content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            results.insert(0, str(content))
    return results


def contract_reply(body: dict[str, Any], messages: list[Any], *, tools: str = "off") -> Reply:
    """An unscripted reply honouring ``tool_choice`` and ``response_format``; else the echo.

    With ``tools="auto"`` an offered tool is called once per turn (the first one, with
    schema-shaped arguments), and the answer after its result quotes that result, so an agent
    completes its tool loop.
    """
    tool = _forced_tool(body)
    if tool is None and tools == "auto":
        tool = _auto_tool(body, messages)
        if tool is None and (results := _tool_results(messages)):
            return Reply(content="The tool returned: " + "; ".join(results))
    if tool is not None:
        args = schema_instance(tool.get("parameters") or {"type": "object"}) or {}
        return Reply(tool_calls=[{"name": tool.get("name", ""), "arguments": args}])
    response_format = body.get("response_format")
    if isinstance(response_format, dict):
        kind = response_format.get("type")
        if kind == "json_schema":
            schema = (response_format.get("json_schema") or {}).get("schema") or {}
            return Reply(content=json.dumps(schema_instance(schema)))
        if kind == "json_object":
            return Reply(content=json.dumps({"answer": echo_text(messages)}))
    return Reply(content=echo_text(messages))
