"""Fixtures for the LlamaIndex adapter: LLMs on the session emulator, a cost handler, both sides.

Every ``HolySheep`` made here is closed after the test, so no socket outlives it (an unclosed
one would warn, and warnings are errors).
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from holysheep.testing import RelayEmulator
from llama_index.core.base.llms.types import ChatMessage, ChatResponse

from llamaindex_holysheep import HolySheep, HolySheepCostHandler

from ..conftest import FAKE_KEY

HELLO = [ChatMessage(role="user", content="Hello there")]


@pytest.fixture(autouse=True)
def _close_llamaindex_event_loop() -> Iterator[None]:
    """Close the event loop LlamaIndex's ``asyncio_run`` leaves behind in sync code.

    PromptHelper estimates tokens through ``asyncio_run``, which creates a loop with
    ``asyncio.get_event_loop()`` and never closes it; garbage-collected later, it would warn
    (ResourceWarning) inside some other test.
    """
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            loop = asyncio.get_event_loop_policy().get_event_loop()
        except RuntimeError:  # no current loop: nothing was left behind
            return
    if not loop.is_running() and not loop.is_closed():
        loop.close()
    asyncio.set_event_loop(None)


@pytest.fixture(params=["sync", "async"])
def side(request: pytest.FixtureRequest) -> str:
    """Run the test body once through the sync methods and once through the async twins."""
    return request.param


@pytest.fixture
def make_llm(emulator: RelayEmulator) -> Iterator[Callable[..., HolySheep]]:
    """A factory of ``HolySheep`` LLMs on the emulator (gpt-4.1 unless told otherwise)."""
    made: list[HolySheep] = []

    def make(**settings: Any) -> HolySheep:
        settings.setdefault("model", "gpt-4.1")
        settings.setdefault("api_key", FAKE_KEY)
        settings.setdefault("base_url", emulator.base_url)
        llm = HolySheep(**settings)
        made.append(llm)
        return llm

    yield make
    for llm in made:
        llm.close()


@pytest.fixture
def llm(make_llm: Callable[..., HolySheep]) -> HolySheep:
    """A gpt-4.1 ``HolySheep`` on the emulator."""
    return make_llm()


@pytest.fixture
def cost() -> Iterator[HolySheepCostHandler]:
    """A cost handler attached to the root dispatcher for the test, detached after."""
    with HolySheepCostHandler() as handler:
        yield handler


def chat(
    llm: Any, side: str, messages: Sequence[ChatMessage] = HELLO, **kwargs: Any
) -> ChatResponse:
    """``chat`` or ``achat`` (in its own ``asyncio.run``, as users call it)."""
    if side == "sync":
        return llm.chat(messages, **kwargs)
    return asyncio.run(llm.achat(messages, **kwargs))


def stream(
    llm: Any, side: str, messages: Sequence[ChatMessage] = HELLO, **kwargs: Any
) -> list[ChatResponse]:
    """Every response of ``stream_chat`` or ``astream_chat``."""
    if side == "sync":
        return list(llm.stream_chat(messages, **kwargs))

    async def run() -> list[ChatResponse]:
        return [response async for response in await llm.astream_chat(messages, **kwargs)]

    return asyncio.run(run())
