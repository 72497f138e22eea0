"""The core's limits and ledger policies, set on ``ChatHolySheep`` and felt by its user.

Issues #9 and #11: ``max_response_bytes``, ``total_timeout``, ``stream_idle_timeout``,
``on_ledger_error`` and ``on_unpriced`` are fields with the core's names and defaults, handed to
the core client. Each test runs against a hostile loopback upstream; both sides run where the
adapter has two paths. Bounds are generous: only a hang would cross them.
"""

from __future__ import annotations

import gc
import json
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from holysheep import (
    APIError,
    APITimeoutError,
    BudgetExceededError,
    ConfigurationError,
    LedgerError,
    StreamError,
    UnknownModelPriceWarning,
)
from holysheep.ledger import CostLedger, LedgerSpoolWarning
from holysheep.testing import RelayEmulator

from langchain_holysheep import ChatHolySheep

from ..conftest import FAKE_KEY
from ..hostile import (
    Answer,
    HostileUpstream,
    Pause,
    chunk,
    completion,
    json_response,
    sse_response,
    usage_chunk,
)
from .conftest import invoke, partial_stream, stream

HANG = 8.0
"""Seconds only a hang would take."""
MYSTERY = "mystery-model-9000"
BIG = "x" * 8000


@pytest.fixture
def upstream() -> Any:
    with HostileUpstream() as up:
        yield up


def on(up: HostileUpstream, **settings: Any) -> ChatHolySheep:
    settings.setdefault("model", "gpt-4.1")
    return ChatHolySheep(api_key=FAKE_KEY, base_url=up.base_url, max_retries=0, **settings)


def test_the_core_defaults_are_the_fields_defaults() -> None:
    from holysheep import HolySheepClient

    model = ChatHolySheep(model="gpt-4.1", api_key=FAKE_KEY)
    core = HolySheepClient(FAKE_KEY)
    for name in (
        "max_response_bytes",
        "total_timeout",
        "stream_idle_timeout",
        "on_ledger_error",
        "on_unpriced",
    ):
        assert getattr(model, name) == getattr(core, name) == getattr(model.client, name), name


# ---------------------------------------------------------------- limits


def test_max_response_bytes_refuses_a_too_large_answer(upstream, side) -> None:
    upstream.answer(json_response(completion(BIG)), json_response(completion(BIG)))
    assert invoke(on(upstream), side, "Hello").text == BIG  # the default cap lets it through
    with pytest.raises(APIError, match="max_response_bytes"):
        invoke(on(upstream, max_response_bytes=1024), side, "Hello")


def test_max_response_bytes_bounds_each_stream_event(upstream, side) -> None:
    events = [chunk("Hi"), Pause(0.1), chunk(BIG, finish="stop"), usage_chunk(3, 2)]
    upstream.answer(sse_response(events))  # the pause: "Hi" arrives in a read of its own
    got, error = partial_stream(on(upstream, max_response_bytes=1024), side, "Hello")
    assert isinstance(error, APIError) and "max_response_bytes" in str(error)
    assert "".join(c.text for c in got) == "Hi"


def test_total_timeout_bounds_a_trickled_answer(upstream, side) -> None:
    body = json.dumps(completion("slow " * 40)).encode()  # one byte per 50 ms: ~20 s
    trickle = [p for b in body for p in (bytes([b]), Pause(0.05))]
    upstream.answer(
        Answer(
            headers={"Content-Type": "application/json", "Content-Length": str(len(body))},
            body=trickle,
        )
    )
    started = time.monotonic()
    with pytest.raises(APITimeoutError, match="total_timeout"):
        invoke(on(upstream, total_timeout=0.5), side, "Hello")
    assert time.monotonic() - started < HANG


def test_stream_idle_timeout_ends_a_stream_that_only_pings(upstream, side) -> None:
    pings = [p for _ in range(500) for p in (": ping", Pause(0.02))]  # 10 s of keep-alives
    upstream.answer(sse_response([chunk("Hi"), *pings]))
    started = time.monotonic()
    got, error = partial_stream(on(upstream, stream_idle_timeout=0.3), side, "Hello")
    assert time.monotonic() - started < HANG
    assert isinstance(error, StreamError) and "stream_idle_timeout" in str(error)
    assert "".join(c.text for c in got) == "Hi"


def test_a_changed_limit_gets_a_client_with_it(upstream) -> None:
    upstream.answer(json_response(completion(BIG)), json_response(completion(BIG)))
    model = on(upstream)
    assert model.invoke("Hello").text == BIG
    strict = model.model_copy(update={"max_response_bytes": 1024})
    with pytest.raises(APIError, match="max_response_bytes"):
        strict.invoke("Hello")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("on_unpriced", "sometimes"),
        ("on_ledger_error", "ignore"),
        ("max_response_bytes", 0),
        ("total_timeout", -1),
        ("stream_idle_timeout", 0),
    ],
)
def test_unusable_values_are_refused_when_the_model_is_built(name: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=name):
        ChatHolySheep(model="gpt-4.1", api_key=FAKE_KEY, **{name: value})


# ---------------------------------------------------------------- ledger policies


def test_on_unpriced_allow_lets_an_unpriced_call_through_a_budget(side) -> None:
    with HostileUpstream(json_response(completion("ok", model=MYSTERY))) as up, CostLedger(
        "memory"
    ) as ledger:
        ledger.set_budget("0.000001")
        with pytest.raises(BudgetExceededError, match="on_unpriced='allow'"):
            invoke(on(up, model=MYSTERY, ledger=ledger), side, "Hello")
        assert up.received == []  # refused before sending
        allowed = on(up, model=MYSTERY, ledger=ledger, on_unpriced="allow")
        with pytest.warns(UnknownModelPriceWarning):
            assert invoke(allowed, side, "Hello").text == "ok"
        assert len(up.received) == 1
        [row] = ledger.totals(())
        assert row.calls == 1 and row.unpriced_calls == 1


def _refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again: nothing listens there


def test_on_ledger_error_allow_sends_while_the_ledger_is_down(upstream, tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{_refused_port()}/10"
    with CostLedger(url, spool_dir=tmp_path) as ledger:
        with pytest.raises(LedgerError, match="on_ledger_error='allow'"):
            on(upstream, ledger=ledger).invoke("Hello")
        assert upstream.received == []
        allowed = on(upstream, ledger=ledger, on_ledger_error="allow")
        with pytest.warns(LedgerSpoolWarning):
            assert allowed.invoke("Hello").text == "ok"
            ledger.flush()  # the record is spooled for later, not lost
        assert len(upstream.received) == 1
        assert list(tmp_path.iterdir())


# ---------------------------------------------------------------- query and httpx clients


def test_default_query_reaches_streams_too(emulator: RelayEmulator, side) -> None:
    model = ChatHolySheep(
        model="gpt-4.1",
        api_key=FAKE_KEY,
        base_url=emulator.base_url,
        default_query={"api-version": "2025-01-01"},
    )
    assert "".join(c.text for c in stream(model, side, "Hello")).startswith("Echo: Hello")
    (request,) = emulator.requests
    assert parse_qs(urlsplit(request.path).query) == {"api-version": ["2025-01-01"]}


def test_a_given_http_client_outlives_the_model(emulator: RelayEmulator) -> None:
    """Dropping the model closes the pools it built, never the user's own httpx client."""
    with httpx.Client() as own:
        model = ChatHolySheep(
            model="gpt-4.1", api_key=FAKE_KEY, base_url=emulator.base_url, http_client=own
        )
        assert model.invoke("Hello").text.startswith("Echo: Hello")
        del model
        gc.collect()
        assert not own.is_closed
        assert own.get(f"{emulator.base_url}/models").status_code == 401  # still usable
