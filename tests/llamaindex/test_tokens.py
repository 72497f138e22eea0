"""LlamaIndex's tokenizer hooks count offline, with the core's estimate (no tokenizer download)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from holysheep.tokens import _encoder, estimate_tokens
from llama_index.core import Settings
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.utilities.token_counting import TokenCounter

from llamaindex_holysheep import HolySheep

from ..conftest import FAKE_KEY

TEXT = "Relays bill one yuan per dollar of list price. " * 30


@pytest.fixture
def no_tokenizer_data(tmp_path, monkeypatch) -> Iterator[None]:
    """tiktoken finds no cached encoding (a fresh offline machine); Settings restored after."""
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    _encoder.cache_clear()
    before = Settings._tokenizer
    yield
    Settings._tokenizer = before
    _encoder.cache_clear()


def test_the_llm_tokenizer_counts_as_the_core_does(no_tokenizer_data) -> None:
    llm = HolySheep(model="gpt-4.1", api_key=FAKE_KEY)
    assert len(llm.tokenizer(TEXT)) == len(llm._tokenizer.encode(TEXT)) == estimate_tokens(TEXT)
    Settings.tokenizer = llm.tokenizer
    assert TokenCounter().get_string_tokens(TEXT) == estimate_tokens(TEXT)
    chunks = SentenceSplitter(chunk_size=64, chunk_overlap=0).split_text(TEXT)
    assert len(chunks) > 1
    assert all(estimate_tokens(chunk) <= 64 for chunk in chunks)
