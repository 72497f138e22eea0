"""A LlamaIndex tokenizer that works offline: the core's token estimate, not a download.

LlamaIndex counts tokens through a callable (``Settings.tokenizer``) or an object with
``encode`` (OpenAI-style ``_tokenizer``). Both count with ``holysheep.tokens``, the estimate the
router and budgets use: tiktoken's ``o200k_base`` ids when its data is cached, else a heuristic
that errs high (the ids are then placeholders; only their number means anything).
"""

from __future__ import annotations

from typing import Any

from holysheep.tokens import estimate_tokens, token_ids

__all__ = ["EstimatingTokenizer"]


class EstimatingTokenizer:
    """``tokenizer(text)`` and ``tokenizer.encode(text)``: a list as long as the token count."""

    __slots__ = ()

    def encode(self, text: str, *args: Any, **kwargs: Any) -> list[int]:
        """Token ids when tiktoken's data is cached offline, else ``[0] * estimated count``."""
        ids = token_ids(text)
        return ids if ids is not None else [0] * estimate_tokens(text)

    def __call__(self, text: str) -> list[int]:
        return self.encode(text)
