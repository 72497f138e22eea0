"""Serialization: the key appears only as a reference to HOLYSHEEP_API_KEY, and loads back."""

from __future__ import annotations

import json

import pytest
from langchain_core.load import dumpd, dumps, load, loads

from langchain_holysheep import ChatHolySheep

SECRET = "sk-holysheep-test-0123456789"

# langchain-core marks load()/loads() as beta and warns on every call; that is its notice, not ours.
loading = pytest.mark.filterwarnings(
    "ignore::langchain_core._api.beta_decorator.LangChainBetaWarning"
)


@pytest.fixture
def model() -> ChatHolySheep:
    return ChatHolySheep(
        model="deepseek-v3.2", api_key=SECRET, temperature=0.3, user="u1", app="docs"
    )


def test_key_is_only_a_secret_reference(model: ChatHolySheep) -> None:
    data = dumpd(model)
    assert data["id"] == ["langchain_holysheep", "chat_models", "ChatHolySheep"]
    assert data["kwargs"]["api_key"] == {"lc": 1, "type": "secret", "id": ["HOLYSHEEP_API_KEY"]}
    assert SECRET not in dumps(model)
    assert ChatHolySheep.is_lc_serializable() and model.lc_secrets == {
        "api_key": "HOLYSHEEP_API_KEY"
    }


@loading
def test_round_trip_reads_the_key_from_the_environment(model: ChatHolySheep, monkeypatch) -> None:
    monkeypatch.setenv("HOLYSHEEP_API_KEY", "key-from-env")
    text = dumps(model)
    loaded = loads(
        text,
        allowed_objects=[ChatHolySheep],
        secrets_from_env=True,
        valid_namespaces=["langchain_holysheep"],
    )
    assert isinstance(loaded, ChatHolySheep)
    assert loaded.api_key.get_secret_value() == "key-from-env"
    assert (loaded.model, loaded.temperature, loaded.user, loaded.app) == (
        "deepseek-v3.2",
        0.3,
        "u1",
        "docs",
    )
    assert loaded.asdict() == model.asdict()


@loading
def test_round_trip_with_an_explicit_secrets_map(model: ChatHolySheep) -> None:
    data = json.loads(json.dumps(dumpd(model)))
    loaded = load(
        data,
        allowed_objects=[ChatHolySheep],
        valid_namespaces=["langchain_holysheep"],
        secrets_map={"HOLYSHEEP_API_KEY": "mapped"},
    )
    assert loaded.api_key.get_secret_value() == "mapped"


def test_router_and_ledger_are_never_serialized() -> None:
    model = ChatHolySheep(model="auto", api_key=SECRET, router=object(), ledger=object())
    kwargs = dumpd(model)["kwargs"]
    assert "router" not in kwargs and "ledger" not in kwargs
