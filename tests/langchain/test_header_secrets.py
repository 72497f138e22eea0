"""Credential headers in ``default_headers`` are secrets, like the key (issue #9, item 10).

``default_headers={"X-Api-Key": ...}`` used to show in ``model_dump()``, reprs, serialization and
the invocation params every callback and tracer receives. The value must still be sent.
"""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumpd, dumps, loads
from langchain_core.messages import BaseMessage
from pydantic import SecretStr

from langchain_holysheep import ChatHolySheep

from ..conftest import FAKE_KEY
from ..hostile import HostileUpstream

HEADER_SECRET = "gw-secret-value-0123456789"
HEADERS = {"X-Api-Key": HEADER_SECRET, "Authorization-Gateway": HEADER_SECRET, "X-Team": "search"}


class _Params(BaseCallbackHandler):
    """Keeps what callbacks are told about the model (``invocation_params``)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[BaseMessage]], **kwargs: Any
    ) -> None:
        self.seen.append(repr(serialized) + repr(kwargs.get("invocation_params")))


def test_credential_headers_are_masked_everywhere_but_sent() -> None:
    with HostileUpstream() as up:
        model = ChatHolySheep(
            model="gpt-4.1", api_key=FAKE_KEY, base_url=up.base_url, default_headers=HEADERS
        )
        spy = _Params()
        model.invoke("hi", config={"callbacks": [spy]})
        sent = up.received[-1].headers
    assert sent["x-api-key"] == sent["authorization-gateway"] == HEADER_SECRET
    assert sent["x-team"] == "search"
    views = {
        "repr": repr(model),
        "str": str(model),
        "model_dump": repr(model.model_dump()),
        "model_dump_json": model.model_dump_json(),
        "dumps": dumps(model),
        "pickle": pickle.dumps(model).decode("latin-1"),
        "callbacks": "".join(spy.seen),
    }
    for where, text in views.items():
        assert HEADER_SECRET not in text, where
        assert FAKE_KEY not in text, where
    assert "search" in views["model_dump_json"]  # other headers stay readable
    assert isinstance(model.default_headers["X-Api-Key"], SecretStr)


@pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning")
def test_serialization_leaves_credential_headers_out_and_keeps_the_rest() -> None:
    model = ChatHolySheep(model="gpt-4.1", api_key=FAKE_KEY, default_headers=HEADERS)
    assert dumpd(model)["kwargs"]["default_headers"] == {"X-Team": "search"}
    loaded = loads(
        dumps(model),
        allowed_objects=[ChatHolySheep],
        valid_namespaces=["langchain_holysheep"],
        secrets_map={"HOLYSHEEP_API_KEY": FAKE_KEY},
    )
    assert loaded.default_headers == {"X-Team": "search"}
    assert loaded.api_key.get_secret_value() == FAKE_KEY


def test_an_unpickled_model_drops_credential_headers_and_keeps_the_rest() -> None:
    model = ChatHolySheep(model="gpt-4.1", api_key=FAKE_KEY, default_headers=HEADERS)
    copy = pickle.loads(pickle.dumps(model))
    assert copy.default_headers == {"X-Team": "search"}
    assert copy.api_key is None


def test_openai_api_key_is_the_key_never_a_body_field() -> None:
    with HostileUpstream() as up:
        model = ChatHolySheep(model="gpt-4.1", openai_api_key=FAKE_KEY, base_url=up.base_url)
        model.invoke("hi")
        received = up.received[-1]
    assert received.headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert FAKE_KEY.encode() not in received.body
    assert FAKE_KEY not in repr(model) and model.model_kwargs == {}
