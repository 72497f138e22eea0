"""HolySheep is a drop-in for OpenAILike: each of its arguments lands where OpenAILike puts it.

Both LLMs are built with the same argument against the same loopback emulator (one that accepts
only its own key) and the test compares what each request carried, or what each LLM tells
LlamaIndex (``metadata``). ``model_name`` is the one row without a peer value: OpenAILike drops it
silently (its calls then name ``gpt-3.5-turbo``); HolySheep takes it as ``model``.
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from holysheep.testing import RelayEmulator
from holysheep.testing._emulator_wire import RecordedRequest
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.tools import FunctionTool
from llama_index.llms.openai_like import OpenAILike

from llamaindex_holysheep import HolySheep

KEY = "hs-parity-key-0123456789"
HELLO = [ChatMessage(role="user", content="Hello")]
_CLIENT_HEADER = {"x-parity-client": "own-httpx-client"}


def lookup(city: str) -> str:
    """Look a city up."""
    return city


# argument, value, other arguments both get, where it lands
PARITY: list[tuple[str, Any, dict[str, Any], str]] = [
    ("api_base", None, {}, "url"),
    ("default_headers", {"X-Team": "search"}, {}, "header"),
    ("http_client", _CLIENT_HEADER, {}, "client"),
    ("reuse_client", False, {}, "connections"),
    ("reuse_client", True, {}, "connections"),
    ("reasoning_effort", "low", {"model": "o4-mini"}, "body:reasoning_effort"),
    ("logprobs", True, {}, "body:logprobs"),
    ("top_logprobs", 3, {"logprobs": True}, "body:logprobs,top_logprobs"),
    ("strict", True, {"is_function_calling_model": True}, "tools"),
    ("context_window", 50_000, {}, "metadata:context_window"),
    ("is_function_calling_model", False, {}, "metadata:is_function_calling_model"),
    ("is_chat_model", False, {}, "metadata:is_chat_model"),
    ("is_chat_model", True, {}, "metadata:is_chat_model"),
    ("model_name", "deepseek-v3.2", {}, "model"),
]


@pytest.fixture(scope="module")
def keyed() -> Iterator[RelayEmulator]:
    """An emulator that answers 401 to any key but ``KEY``."""
    with RelayEmulator(api_key=KEY) as emulator:
        yield emulator


def _build(cls: type, name: str, value: Any, extra: dict[str, Any], url: str) -> Any:
    kwargs: dict[str, Any] = {"model": "gpt-4.1", "api_key": KEY, **extra}
    if cls is OpenAILike:
        kwargs.setdefault("is_chat_model", True)  # OpenAILike's default is the completions API
        kwargs["api_base"] = url
    else:
        kwargs["base_url"] = url
    if name == "api_base":
        kwargs.pop("base_url", None)
        kwargs["api_base"] = url
    elif name == "http_client":
        kwargs[name] = httpx.Client(headers=value)
    elif name == "model_name":
        kwargs.pop("model")
        kwargs[name] = value
    else:
        kwargs[name] = value
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an argument HolySheep ignored would warn
        return cls(**kwargs)


def _chat(llm: Any, emulator: RelayEmulator, times: int = 1) -> list[RecordedRequest]:
    emulator.requests.clear()
    for _ in range(times):
        assert llm.chat(HELLO).message.content.startswith("Echo: Hello")
    return list(emulator.requests)


@pytest.mark.parametrize(
    ("name", "value", "extra", "lands"), PARITY, ids=[f"{r[0]}={r[1]}" for r in PARITY]
)
def test_an_openailike_argument_lands_where_openailike_puts_it(
    keyed: RelayEmulator, name: str, value: Any, extra: dict[str, Any], lands: str
) -> None:
    peer = _build(OpenAILike, name, value, extra, keyed.base_url)
    ours = _build(HolySheep, name, value, extra, keyed.base_url)
    try:
        kind, _, keys = lands.partition(":")
        if kind == "metadata":
            assert getattr(ours.metadata, keys) == getattr(peer.metadata, keys) == value
        elif kind == "tools":
            tool = FunctionTool.from_defaults(lookup)
            sent = []
            for llm in (peer, ours):
                keyed.requests.clear()
                llm.chat_with_tools([tool], user_msg="Hello")
                sent.append(keyed.requests[-1].json["tools"])
            assert sent[1] == sent[0]
            assert sent[1][0]["function"]["strict"] is True
        elif kind == "connections":  # one kept-alive connection, or a new one per call
            ports = [{r.client_port for r in _chat(llm, keyed, times=2)} for llm in (peer, ours)]
            assert len(ports[1]) == len(ports[0]) == (1 if value else 2)
        elif kind == "model":
            (request,) = _chat(ours, keyed)
            assert request.json["model"] == value
        else:
            (theirs,) = _chat(peer, keyed)
            (mine,) = _chat(ours, keyed)
            if kind == "body":
                for key in keys.split(","):
                    assert mine.json[key] == theirs.json[key]
            elif kind == "header":
                assert mine.headers["x-team"] == theirs.headers["x-team"] == "search"
            elif kind == "client":
                assert mine.headers["x-parity-client"] == theirs.headers["x-parity-client"]
            assert mine.path == theirs.path == "/v1/chat/completions"
            assert KEY not in str(mine.json)
    finally:
        ours.close()
        if name == "http_client":
            ours.http_client.close()
        del peer  # OpenAILike never closes its clients (one per call with reuse_client=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()


def test_unknown_arguments_warn_once_instead_of_vanishing() -> None:
    with pytest.warns(UserWarning, match="ignores frobnicate_level"):
        HolySheep(model="gpt-4.1", api_key=KEY, frobnicate_level=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        HolySheep(model="gpt-4.1", api_key=KEY, frobnicate_level=4)  # said once is enough


def test_an_unknown_model_warns_and_names_the_arguments_that_fix_it(keyed) -> None:
    with pytest.warns(UserWarning, match=r"context_window=\.\.\. and is_function_calling_model"):
        assert HolySheep(model="my-finetune", api_key=KEY).metadata.context_window == 8192
    told = HolySheep(
        model="my-finetune", api_key=KEY, context_window=32_000, is_function_calling_model=True
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the user said what the catalogue does not know
        metadata = told.metadata
    assert (metadata.context_window, metadata.is_function_calling_model) == (32_000, True)
