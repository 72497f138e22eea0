"""``with_structured_output`` for ChatHolySheep: a bound model piped into a langchain parser.

Three methods, as LangChain users know them: ``function_calling`` (a forced tool call),
``json_schema`` (``response_format`` with the schema) and ``json_mode``
(``response_format={"type": "json_object"}``). Parsing is langchain-core's own parsers.
"""

from __future__ import annotations

from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel, LanguageModelInput
    from langchain_core.output_parsers import BaseOutputParser

__all__ = ["Method", "structured_output"]

Method = Literal["function_calling", "json_schema", "json_mode"]


def _json_schema_format(schema: Any, strict: bool | None) -> dict[str, Any]:
    """``response_format`` of type ``json_schema`` (strict schemas made strict by langchain)."""
    function = convert_to_openai_tool(schema, strict=strict)["function"]
    spec: dict[str, Any] = {"name": function["name"], "schema": function["parameters"]}
    if function.get("description"):
        spec["description"] = function["description"]
    if strict is not None:
        spec["strict"] = strict
    return {"type": "json_schema", "json_schema": spec}


def _json_parser(schema: Any) -> BaseOutputParser[Any]:
    """A pydantic instance for a pydantic class, else the parsed JSON (partial while streaming)."""
    if isinstance(schema, type) and is_basemodel_subclass(schema):
        return PydanticOutputParser(pydantic_object=schema)
    return JsonOutputParser()


def structured_output(
    model: BaseChatModel,
    schema: Any,
    *,
    method: Method,
    include_raw: bool,
    strict: bool | None,
) -> Runnable[LanguageModelInput, Any]:
    """``model`` bound for ``method`` and piped into the matching parser.

    Raises:
        ValueError: unknown ``method``, or no ``schema`` where the method needs one.
    """
    trace: dict[str, Any] = {"kwargs": {"method": method, "strict": strict}, "schema": schema}
    if method == "json_mode":
        trace["kwargs"] = {"method": method}
    if schema is None and method != "json_mode":
        raise ValueError(f"method={method!r} needs a schema (a pydantic class, TypedDict or dict)")
    if method == "function_calling":
        name = convert_to_openai_tool(schema)["function"]["name"]
        bound = model.bind_tools(  # type: ignore[call-arg]
            [schema], tool_choice=name, strict=strict, ls_structured_output_format=trace
        )
        parser: BaseOutputParser[Any]
        if isinstance(schema, type) and is_basemodel_subclass(schema):
            parser = PydanticToolsParser(tools=[schema], first_tool_only=True)
        else:
            parser = JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
    elif method == "json_schema":
        bound = model.bind(
            response_format=_json_schema_format(schema, strict), ls_structured_output_format=trace
        )
        parser = _json_parser(schema)
    elif method == "json_mode":
        extra = {"ls_structured_output_format": trace} if schema is not None else {}
        bound = model.bind(response_format={"type": "json_object"}, **extra)
        parser = _json_parser(schema)
    else:
        raise ValueError(
            f"unknown method {method!r}; use 'function_calling', 'json_schema' or 'json_mode'"
        )
    if not include_raw:
        return bound | parser
    parsed = RunnablePassthrough.assign(
        parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
    )
    unparsed = RunnablePassthrough.assign(parsed=lambda _: None)
    fallback = parsed.with_fallbacks([unparsed], exception_key="parsing_error")
    return RunnableMap(raw=bound) | fallback
