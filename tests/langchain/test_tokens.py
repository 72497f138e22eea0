"""Token counting works offline: the core's estimator, never a GPT-2 tokenizer download.

langchain-core's defaults raise an ImportError about ``transformers`` (and would fetch its data);
``trim_messages(token_counter=model)`` is how users keep a chat inside a window.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from holysheep.errors import ConfigurationError
from holysheep.tokens import _encoder, estimate_message_tokens, estimate_tokens
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, trim_messages
from langchain_core.tools import tool

from langchain_holysheep import ChatHolySheep

from ..conftest import FAKE_KEY

CHAT = [
    SystemMessage("You are terse."),
    HumanMessage("first question " * 40),
    AIMessage("first answer " * 40),
    HumanMessage("second question"),
]


@tool
def lookup(city: str) -> str:
    """Look a city up in the gazetteer."""
    return city


@pytest.fixture
def no_tokenizer_data(tmp_path, monkeypatch) -> Iterator[None]:
    """tiktoken finds no cached encoding (as on a fresh offline machine)."""
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    _encoder.cache_clear()
    yield
    _encoder.cache_clear()


@pytest.fixture
def model() -> ChatHolySheep:
    return ChatHolySheep(model="gpt-4.1", api_key=FAKE_KEY)


def test_counts_are_the_core_estimate(model, no_tokenizer_data) -> None:
    text = "How many tokens does this sentence hold, roughly?"
    assert model.get_num_tokens(text) == estimate_tokens(text) > 0
    wire = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "first question " * 40},
        {"role": "assistant", "content": "first answer " * 40},
        {"role": "user", "content": "second question"},
    ]
    assert model.get_num_tokens_from_messages(CHAT) == estimate_message_tokens(wire)
    with_tools = model.get_num_tokens_from_messages(CHAT, tools=[lookup])
    assert with_tools > estimate_message_tokens(wire) + 10  # the schema counts too


def test_trim_messages_with_the_model_as_counter(model, no_tokenizer_data) -> None:
    kept = trim_messages(
        CHAT, token_counter=model, max_tokens=60, strategy="last", include_system=True
    )
    assert kept == [CHAT[0], CHAT[-1]]
    everything = trim_messages(CHAT, token_counter=model, max_tokens=10_000, strategy="last")
    assert everything == CHAT


def test_token_ids_without_tokenizer_data_say_what_to_do(model, no_tokenizer_data) -> None:
    with pytest.raises(ConfigurationError, match=r"tiktoken.+get_num_tokens"):
        model.get_token_ids("hello")


def test_a_custom_token_counter_still_wins() -> None:
    model = ChatHolySheep(
        model="gpt-4.1", api_key=FAKE_KEY, custom_get_token_ids=lambda text: [1] * len(text)
    )
    assert model.get_num_tokens("abcd") == 4
    assert model.get_token_ids("ab") == [1, 1]
