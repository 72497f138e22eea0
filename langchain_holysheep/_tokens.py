"""Token counts for LangChain that work offline: the core's estimator, not a GPT-2 download.

langchain-core's defaults need ``transformers`` (and its tokenizer data) for ``get_num_tokens``,
``get_num_tokens_from_messages`` and ``trim_messages(token_counter=model)``. The core's estimate is
the one routing and budgets use: exact with tiktoken when its data is cached, else a heuristic
that errs high.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from holysheep.errors import ConfigurationError
from holysheep.tokens import (
    estimate_message_tokens,
    estimate_tokens,
    estimate_tools_tokens,
    token_ids,
)
from langchain_core.messages import BaseMessage

from ._convert import to_wire_messages
from ._tools import format_tools

__all__ = ["TokenCounting"]


class TokenCounting:
    """``get_num_tokens*`` and ``get_token_ids`` for ``ChatHolySheep`` (a ``custom_get_token_ids``
    given by the user still wins, as in langchain-core)."""

    custom_get_token_ids: Callable[[str], list[int]] | None

    def get_num_tokens(self, text: str) -> int:
        """Tokens in ``text``: the core's estimate (exact with tiktoken's cached data)."""
        if self.custom_get_token_ids is not None:
            return len(self.custom_get_token_ids(text))
        return estimate_tokens(text)

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        """Prompt tokens of ``messages`` (and ``tools``), as the router and budgets count them."""
        if self.custom_get_token_ids is not None:
            return super().get_num_tokens_from_messages(messages, tools)  # type: ignore[misc]
        formatted = format_tools(tools) if tools else None
        return estimate_message_tokens(to_wire_messages(messages)) + estimate_tools_tokens(
            formatted
        )

    def get_token_ids(self, text: str) -> list[int]:
        """Token ids of ``text`` from tiktoken's ``o200k_base``, when its data is cached.

        Raises:
            ConfigurationError: no tokenizer data offline (counting still works without it).
        """
        if self.custom_get_token_ids is not None:
            return self.custom_get_token_ids(text)
        ids = token_ids(text)
        if ids is None:
            raise ConfigurationError(
                "token ids need tiktoken with its o200k_base data cached (pip install tiktoken, "
                "fetch the encoding once, or set TIKTOKEN_CACHE_DIR); get_num_tokens() and "
                "trim_messages(token_counter=model) count without it"
            )
        return ids
