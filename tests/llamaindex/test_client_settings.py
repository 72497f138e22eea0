"""The core's limits and ledger policies, set on ``HolySheep`` and felt by its user.

Issues #9 and #11: ``max_response_bytes``, ``total_timeout``, ``stream_idle_timeout``,
``on_ledger_error`` and ``on_unpriced`` are fields with the core's names and defaults, handed to
the core client; an ``http_client`` the user gave stays the user's. Each test runs against a
real loopback server. Bounds are generous: only a hang would cross them.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from holysheep import (
    APIError,
    BudgetExceededError,
    ConfigurationError,
    HolySheepClient,
    LedgerError,
    StreamError,
    UnknownModelPriceWarning,
)
from holysheep.ledger import CostLedger, LedgerSpoolWarning
from holysheep.testing import RelayEmulator

from llamaindex_holysheep import HolySheep

from ..conftest import FAKE_KEY
from ..hostile import HostileUpstream, Pause, chunk, completion, json_response, sse_response
from .conftest import HELLO

HANG = 8.0
"""Seconds only a hang would take."""
MYSTERY = "mystery-model-9000"
BIG = "x" * 8000
LIMITS = ("max_response_bytes", "total_timeout", "stream_idle_timeout", "on_ledger_error",
          "on_unpriced")


@pytest.fixture
def hostile() -> Iterator[HostileUpstream]:
    with HostileUpstream() as up:
        yield up


@pytest.fixture
def make_on(hostile: HostileUpstream) -> Iterator[Any]:
    """Build ``HolySheep`` LLMs on the hostile upstream (no retries); all closed afterwards."""
    made: list[HolySheep] = []

    def make(**settings: Any) -> HolySheep:
        settings.setdefault("model", "gpt-4.1")
        llm = HolySheep(api_key=FAKE_KEY, base_url=hostile.base_url, max_retries=0, **settings)
        made.append(llm)
        return llm

    yield make
    for llm in made:
        llm.close()


def chat(llm: HolySheep, side: str) -> str:
    if side == "sync":
        return llm.chat(HELLO).message.content or ""
    return asyncio.run(llm.achat(HELLO)).message.content or ""


def test_the_core_defaults_are_the_fields_defaults() -> None:
    llm = HolySheep(model="gpt-4.1", api_key=FAKE_KEY)
    core = HolySheepClient(FAKE_KEY)
    for name in LIMITS:
        assert getattr(llm, name) == getattr(core, name) == getattr(llm.client, name), name


def test_max_response_bytes_refuses_a_too_large_answer(hostile, make_on, side) -> None:
    hostile.answer(json_response(completion(BIG)), json_response(completion(BIG)))
    assert chat(make_on(), side) == BIG  # the default cap lets it through
    with pytest.raises(APIError, match="max_response_bytes"):
        chat(make_on(max_response_bytes=1024), side)


def test_stream_idle_timeout_ends_a_stream_that_only_pings(hostile, make_on) -> None:
    pings = [p for _ in range(500) for p in (": ping", Pause(0.02))]  # 10 s of keep-alives
    hostile.answer(sse_response([chunk("Hi"), *pings]))
    deltas: list[str] = []
    started = time.monotonic()
    with pytest.raises(StreamError, match="stream_idle_timeout"):
        for response in make_on(stream_idle_timeout=0.3).stream_chat(HELLO):
            deltas.append(response.delta or "")
    assert time.monotonic() - started < HANG
    assert "".join(deltas) == "Hi"


@pytest.mark.parametrize(
    ("name", "value"),
    [("on_unpriced", "sometimes"), ("on_ledger_error", "ignore"), ("max_response_bytes", 0),
     ("total_timeout", -1)],
)
def test_unusable_values_are_refused_when_the_llm_is_built(name: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=name):
        HolySheep(model="gpt-4.1", api_key=FAKE_KEY, **{name: value})


def test_on_unpriced_allow_lets_an_unpriced_call_through_a_budget(side) -> None:
    with HostileUpstream(json_response(completion("ok", model=MYSTERY))) as up, CostLedger(
        "memory"
    ) as ledger:
        ledger.set_budget("0.000001")
        settings = {"api_key": FAKE_KEY, "base_url": up.base_url, "model": MYSTERY,
                    "ledger": ledger, "context_window": 8000, "is_function_calling_model": True}
        refused, allowed = HolySheep(**settings), HolySheep(**settings, on_unpriced="allow")
        try:
            with pytest.raises(BudgetExceededError, match="on_unpriced='allow'"):
                chat(refused, side)
            assert up.received == []  # refused before sending
            with pytest.warns(UnknownModelPriceWarning):
                assert chat(allowed, side) == "ok"
        finally:
            refused.close()
            allowed.close()
        assert len(up.received) == 1
        [row] = ledger.totals(())
        assert row.calls == 1 and row.unpriced_calls == 1


def test_on_ledger_error_allow_sends_while_the_ledger_is_down(
    hostile, make_on, tmp_path: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    with CostLedger(f"redis://127.0.0.1:{port}/10", spool_dir=tmp_path) as ledger:
        with pytest.raises(LedgerError, match="on_ledger_error='allow'"):
            make_on(ledger=ledger).chat(HELLO)
        assert hostile.received == []
        with pytest.warns(LedgerSpoolWarning):
            assert make_on(ledger=ledger, on_ledger_error="allow").chat(HELLO).message.content
            ledger.flush()  # the record is spooled for later, not lost
        assert len(hostile.received) == 1


def test_a_given_http_client_stays_open_through_per_call_clients(emulator: RelayEmulator) -> None:
    """``reuse_client=False`` closes each per-call pool it built, never the user's client."""
    with httpx.Client(headers={"x-own": "yes"}) as own:
        llm = HolySheep(
            model="gpt-4.1",
            api_key=FAKE_KEY,
            base_url=emulator.base_url,
            http_client=own,
            reuse_client=False,
        )
        for _ in range(2):
            assert (llm.chat(HELLO).message.content or "").startswith("Echo:")
        llm.close()
        assert not own.is_closed
        assert [r.headers["x-own"] for r in emulator.requests] == ["yes", "yes"]
