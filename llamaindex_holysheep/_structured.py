"""Structured prediction: ``response_format`` json_schema where the catalogue says it works.

For a model whose catalogue entry has ``json_schema = true`` (and the default program mode), one
chat call asks for a JSON document matching the output class. Every other case goes to
LlamaIndex's own path: a forced tool call (``FunctionCallingProgram``) for tool-capable models,
JSON in the prompt otherwise. ``as_structured_llm`` builds on this, unchanged.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.events.llm import (
    LLMStructuredPredictEndEvent,
    LLMStructuredPredictStartEvent,
)
from llama_index.core.output_parsers.pydantic import PydanticOutputParser
from llama_index.core.types import PydanticProgramMode

if TYPE_CHECKING:
    from llama_index.core.base.llms.types import ChatMessage, ChatResponse
    from llama_index.core.llms.function_calling import FunctionCallingLLM
    from llama_index.core.prompts.base import BasePromptTemplate
    from llama_index.core.types import Model

    from ._facts import ModelFacts

    _Base = FunctionCallingLLM
else:
    _Base = object

__all__ = ["StructuredMixin", "json_schema_format"]

dispatcher = get_dispatcher(__name__)
_NAME = re.compile(r"[^a-zA-Z0-9_-]")


def json_schema_format(output_cls: type[Model]) -> dict[str, Any]:
    """The ``response_format`` asking for a JSON document of ``output_cls``'s schema.

    Not ``strict``: strict mode rejects ordinary pydantic schemas (optional fields, defaults).
    """
    return {
        "type": "json_schema",
        "json_schema": {
            "name": _NAME.sub("_", output_cls.__name__)[:64],
            "schema": output_cls.model_json_schema(),
            "strict": False,
        },
    }


class StructuredMixin(_Base):
    """``structured_predict`` and its async twin over ``response_format`` json_schema."""

    if TYPE_CHECKING:

        def model_facts(self, model: str | None = None) -> ModelFacts: ...

    def _schema_request(
        self,
        output_cls: type[Model],
        prompt: BasePromptTemplate,
        llm_kwargs: dict[str, Any] | None,
        prompt_args: dict[str, Any],
    ) -> tuple[list[ChatMessage], dict[str, Any]] | None:
        """Messages and chat kwargs for the json_schema path, or None to use LlamaIndex's."""
        if self.pydantic_program_mode != PydanticProgramMode.DEFAULT:
            return None
        if not self.model_facts().json_schema:
            return None
        dispatcher.event(
            LLMStructuredPredictStartEvent(
                output_cls=output_cls, template=prompt, template_args=prompt_args
            )
        )
        messages = self._extend_messages(prompt.format_messages(llm=self, **prompt_args))
        kwargs = {k: v for k, v in (llm_kwargs or {}).items() if k != "tool_choice"}
        kwargs["response_format"] = json_schema_format(output_cls)
        return messages, kwargs

    @staticmethod
    def _parse(output_cls: type[Model], response: ChatResponse) -> Model:
        """The output object from the answer (code fences and surrounding text tolerated)."""
        output = PydanticOutputParser(output_cls=output_cls).parse(response.message.content or "")
        dispatcher.event(LLMStructuredPredictEndEvent(output=output))
        return output

    @dispatcher.span
    def structured_predict(
        self,
        output_cls: type[Model],
        prompt: BasePromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """An ``output_cls`` instance predicted from ``prompt`` (json_schema or a tool call)."""
        request = self._schema_request(output_cls, prompt, llm_kwargs, prompt_args)
        if request is None:
            return super().structured_predict(output_cls, prompt, llm_kwargs, **prompt_args)
        return self._parse(output_cls, self.chat(request[0], **request[1]))

    @dispatcher.span
    async def astructured_predict(
        self,
        output_cls: type[Model],
        prompt: BasePromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """An ``output_cls`` instance predicted from ``prompt`` (async twin)."""
        request = self._schema_request(output_cls, prompt, llm_kwargs, prompt_args)
        if request is None:
            return await super().astructured_predict(output_cls, prompt, llm_kwargs, **prompt_args)
        return self._parse(output_cls, await self.achat(request[0], **request[1]))
