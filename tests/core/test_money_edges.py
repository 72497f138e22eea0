"""Every call the relay billed is counted, under hostile answers (#9 Money 1, 2, 5, 6).

A hostile loopback upstream sends what real relays were seen to send: streams cut before their
usage, usage after the finish reason but no ``[DONE]``, absurd or malformed usage, no choices,
Groq's ``x_groq.usage``. Each test checks what the caller gets and what the ledger records.
"""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import holysheep
import pytest
from holysheep import HolySheepClient, ImplausibleUsageWarning, RetryPolicy
from holysheep._billed import _warned
from holysheep.ledger import CostLedger
from holysheep.tokens import estimate_message_tokens, estimate_tokens

from ..conftest import FAKE_KEY, FIXTURES
from ..hostile import (
    HostileUpstream,
    chunk,
    completion,
    json_response,
    sse_response,
    usage_chunk,
)

HELLO = [{"role": "user", "content": "Hello there"}]
PROMPT_ESTIMATE = estimate_message_tokens(HELLO)
ONCE = RetryPolicy(max_attempts=1)
WORDS = ["The", " quick", " brown", " fox"]


@pytest.fixture(autouse=True)
def _fresh_warnings() -> Iterator[None]:
    """Each test sees its own first warning (they are shown once per model and problem)."""
    _warned.clear()
    yield
    _warned.clear()


@pytest.fixture
def up() -> Iterator[HostileUpstream]:
    with HostileUpstream() as server:
        yield server


@pytest.fixture
def ledger() -> Iterator[CostLedger]:
    with CostLedger("memory") as led:
        yield led


@pytest.fixture
def client(up: HostileUpstream, ledger: CostLedger) -> Iterator[HolySheepClient]:
    with HolySheepClient(FAKE_KEY, up.base_url, retry=ONCE, ledger=ledger) as c:
        yield c


@pytest.fixture(params=["sync", "async"])
def side(request: pytest.FixtureRequest) -> str:
    return request.param


def run_stream(client: HolySheepClient, side: str, **params: Any) -> tuple[Any, Exception | None]:
    """Read a whole stream; returns (the stream object, the error it ended with or None)."""
    params = {"model": "gpt-4.1", "messages": HELLO, **params}
    if side == "sync":
        stream = client.stream(**params)
        try:
            for _ in stream:
                pass
        except holysheep.HolySheepError as exc:
            return stream, exc
        return stream, None

    async def run() -> tuple[Any, Exception | None]:
        astream = client.astream(**params)
        try:
            async for _ in astream:
                pass
        except holysheep.HolySheepError as exc:
            return astream, exc
        return astream, None

    return asyncio.run(run())


def run_chat(client: HolySheepClient, side: str, **params: Any) -> holysheep.ChatCompletion:
    params = {"model": "gpt-4.1", "messages": HELLO, **params}
    if side == "sync":
        return client.chat(**params)
    return asyncio.run(client.achat(**params))


def words(*, finish: str | None = "stop") -> list[dict[str, Any]]:
    frames = [chunk(w) for w in WORDS]
    if finish:
        frames.append(chunk(finish=finish))
    return frames


# ---------------------------------------------------------------- 1: no usage is not free


def test_a_stream_cut_before_its_usage_is_billed_an_estimate(client, up, ledger, side) -> None:
    up.answer(sse_response(words(finish=None), done=False, cut=True))
    stream, error = run_stream(client, side)
    assert isinstance(error, holysheep.StreamError)
    info = stream.call_info
    assert info.estimated and info.as_metadata()["estimated"] is True
    assert info.usage.prompt_tokens == PROMPT_ESTIMATE
    assert info.usage.completion_tokens == estimate_tokens("".join(WORDS))
    [entry] = ledger.entries()
    assert entry.usage == info.usage and entry.cost.total_usd == info.cost.total_usd > 0


def test_a_stream_with_an_error_frame_charges_the_budget(client, up, ledger, side) -> None:
    ledger.set_budget("1.00")
    error_frame = 'event: error\ndata: {"error": {"message": "overloaded"}}\n'
    up.answer(sse_response([*words(finish=None), error_frame], done=False))
    stream, error = run_stream(client, side)
    assert isinstance(error, holysheep.StreamError) and "overloaded" in str(error)
    assert stream.call_info.estimated
    [status] = ledger.budget_status()
    assert status.spent_usd == stream.call_info.cost.total_usd > 0
    assert status.reserved_usd == 0


def test_tool_call_arguments_received_before_a_cut_are_counted(client, up, side) -> None:
    args = json.dumps({"city": "Paris", "days": 5, "units": "metric", "detail": "hourly"})
    head = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "weather"}}
    pieces = [chunk(tool_call=head)] + [
        chunk(tool_call={"index": 0, "function": {"arguments": args[i : i + 9]}})
        for i in range(0, len(args), 9)
    ]
    up.answer(sse_response(pieces, done=False, cut=True))
    stream, error = run_stream(client, side)
    assert isinstance(error, holysheep.StreamError)
    assert stream.call_info.usage.completion_tokens == estimate_tokens(args)


def test_reported_usage_is_not_flagged(client, up, side) -> None:
    up.answer(sse_response([*words(), usage_chunk(12, 4)]))
    stream, error = run_stream(client, side)
    assert error is None
    assert not stream.call_info.estimated and "estimated" not in stream.call_info.as_metadata()
    assert (stream.call_info.usage.prompt_tokens, stream.call_info.usage.completion_tokens) == (
        12,
        4,
    )


# ---------------------------------------------------------------- 2: no [DONE] after the end


def test_finish_and_usage_then_a_cut_is_a_complete_answer(client, up, ledger, side) -> None:
    up.answer(sse_response([*words(), usage_chunk(12, 4)], done=False, cut=True))
    stream, error = run_stream(client, side)
    assert error is None
    assert stream.completion.text == "".join(WORDS)
    assert stream.completion.choices[0].finish_reason == "stop"
    assert not stream.call_info.estimated and stream.call_info.usage.total_tokens == 16
    assert len(ledger.entries()) == 1


def test_an_error_frame_after_finish_and_usage_keeps_the_answer(client, up, side, caplog) -> None:
    error_frame = 'event: error\ndata: {"error": {"message": "late upstream error"}}\n'
    up.answer(sse_response([*words(), usage_chunk(12, 4), error_frame], done=False))
    stream, error = run_stream(client, side)
    assert error is None and stream.completion.text == "".join(WORDS)
    assert stream.call_info.usage.total_tokens == 16 and not stream.call_info.estimated
    assert "error frame after the finish reason was ignored" in caplog.text


def test_finish_then_a_cut_before_usage_keeps_the_answer(client, up, side) -> None:
    up.answer(sse_response(words(), done=False, cut=True))
    stream, error = run_stream(client, side)
    assert error is None and stream.completion.text == "".join(WORDS)
    assert stream.call_info.estimated


def test_a_cut_before_the_finish_reason_is_still_an_error(client, up, side) -> None:
    up.answer(sse_response(words(finish=None), done=False, cut=True))
    _, error = run_stream(client, side)
    assert isinstance(error, holysheep.StreamError) and "ended early" in str(error)
    assert error.text == "".join(WORDS)


def test_every_choice_must_finish_before_a_cut_is_harmless(client, up, side) -> None:
    second = chunk(" jumps")
    second["choices"][0]["index"] = 1
    up.answer(sse_response([*words(), second], done=False, cut=True))
    _, error = run_stream(client, side, n=2)
    assert isinstance(error, holysheep.StreamError)


# ---------------------------------------------------------------- 5: impossible usage


@pytest.mark.parametrize("bad", ["abc", 5.5, -7, True, {"n": 1}])
def test_a_malformed_prompt_count_keeps_the_answer(client, up, side, bad) -> None:
    usage = {"prompt_tokens": bad, "completion_tokens": 2, "total_tokens": 12}
    up.answer(json_response(completion("Paris", usage=usage)))
    with pytest.warns(ImplausibleUsageWarning, match="prompt_tokens is not a count"):
        reply = run_chat(client, side)
    assert reply.text == "Paris"
    info = reply.call_info
    assert info.estimated
    assert (info.usage.prompt_tokens, info.usage.completion_tokens) == (PROMPT_ESTIMATE, 2)


@pytest.mark.parametrize("bad", ["n/a", [], 5, True])
def test_usage_that_is_not_an_object_keeps_the_answer_and_is_estimated(
    client, up, ledger, side, bad
) -> None:
    up.answer(json_response(completion("Paris", usage=bad)))
    reply = run_chat(client, side)
    assert reply.text == "Paris"
    [entry] = ledger.entries()
    assert entry.estimated and entry.usage.prompt_tokens == PROMPT_ESTIMATE


def test_a_malformed_cached_count_in_a_stream_keeps_the_answer(client, up, side) -> None:
    final = usage_chunk(12, 4)
    final["usage"]["prompt_tokens_details"] = {"cached_tokens": "lots"}
    up.answer(sse_response([*words(), final]))
    with pytest.warns(ImplausibleUsageWarning, match="cached_tokens is not a count"):
        stream, error = run_stream(client, side)
    assert error is None and stream.completion.text == "".join(WORDS)
    info = stream.call_info
    assert info.estimated and info.usage.prompt_tokens == 12 and info.usage.cached_tokens == 0


def test_absurd_usage_is_clamped_and_later_calls_still_fit_the_budget(client, up, ledger) -> None:
    ledger.set_budget("0.50")
    absurd = {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 10**15}
    up.answer(json_response(completion("ok", usage=absurd, id="chatcmpl-absurd")))
    with pytest.warns(ImplausibleUsageWarning, match="above 10 allowed"):
        reply = client.chat(model="gpt-4.1", messages=HELLO, max_tokens=10)
    info = reply.call_info
    assert info.estimated and info.usage.completion_tokens == 10
    assert info.usage.total_tokens == 20 and info.cost.total_usd < Decimal("0.001")
    up.answer(json_response(completion("ok", id="chatcmpl-later")))
    later = client.chat(model="gpt-4.1", messages=HELLO, max_tokens=10)  # not refused
    assert later.text == "ok" and not later.call_info.estimated
    [status] = ledger.budget_status()
    assert status.spent_usd == info.cost.total_usd + later.call_info.cost.total_usd


def test_without_max_tokens_the_catalogue_bounds_output_and_prompt(client, up) -> None:
    spec = client.catalog.find("gpt-4.1")
    absurd = {"prompt_tokens": 10**12, "completion_tokens": 10**12, "total_tokens": 2 * 10**12}
    up.answer(json_response(completion("ok", usage=absurd)))
    with pytest.warns(ImplausibleUsageWarning) as caught:
        info = client.chat(model="gpt-4.1", messages=HELLO).call_info
    assert "window" in str(caught[0].message) and "allowed" in str(caught[0].message)
    assert info.usage.prompt_tokens == spec.context_window
    assert info.usage.completion_tokens == spec.max_output_tokens


def test_the_warning_is_given_once_per_model_and_problem(client, up) -> None:
    bad = {"prompt_tokens": "abc", "completion_tokens": 2}
    up.answer(*(json_response(completion("ok", usage=bad)) for _ in range(3)))
    with pytest.warns(ImplausibleUsageWarning):
        client.chat(model="gpt-4.1", messages=HELLO)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(2):
            assert client.chat(model="gpt-4.1", messages=HELLO).call_info.estimated


# ---------------------------------------------------------------- 6: no choices, x_groq usage


@pytest.mark.parametrize("choices", [[], None])
def test_no_choices_with_usage_is_recorded_then_raised(client, up, ledger, side, choices) -> None:
    body = completion("unused")
    if choices is None:
        del body["choices"]
    else:
        body["choices"] = choices
    up.answer(json_response(body))
    with pytest.raises(holysheep.UpstreamError, match="no choices") as info:
        run_chat(client, side)
    assert info.value.status_code == 200 and info.value.code == "no_choices"
    assert info.value.usage.prompt_tokens == 10
    [entry] = ledger.entries()  # the relay reported (so billed) usage: recorded once
    assert entry.usage.prompt_tokens == 10
    assert len(up.received) == 1  # a billed call is not retried behind the caller's back


def test_no_choices_and_no_usage_records_nothing(client, up, ledger) -> None:
    ledger.set_budget("1.00")
    body = completion("unused")
    body["choices"], body["usage"] = [], None
    up.answer(json_response(body))
    with pytest.raises(holysheep.UpstreamError, match="no choices"):
        client.chat(model="gpt-4.1", messages=HELLO)
    assert ledger.entries() == []
    [status] = ledger.budget_status()
    assert status.reserved_usd == 0 and status.spent_usd == 0


METADATA_ODDITIES = [
    ("id", 4217), ("model", ["gpt-4.1"]), ("object", 1.5), ("system_fingerprint", {"v": 1}),
    ("finish_reason", 7), ("role", None), ("refusal", 0), ("index", "first"),
]
"""A field no answer, tool call or bill is read from, with a value of the wrong type."""


def _odd(body: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    """``body`` with ``field`` set where it belongs: the top, the first choice or its message."""
    choice = body["choices"][0]
    holder = {"finish_reason": choice, "index": choice}.get(field, body)
    if field in ("role", "refusal"):
        holder = choice.get("message", choice.get("delta"))
    holder[field] = value
    return body


@pytest.mark.parametrize(("field", "value"), METADATA_ODDITIES)
def test_a_wrong_type_in_metadata_keeps_the_answer_and_its_record(
    client, up, ledger, side, field, value
) -> None:
    """Strict validation refused the whole body for, say, a numeric id: a billed answer lost."""
    body = completion("Paris", id="chatcmpl-odd")
    up.answer(json_response(_odd(body, field, value)))
    reply = run_chat(client, side)
    assert reply.text == "Paris" and reply.usage.prompt_tokens == 10
    [entry] = ledger.entries()
    assert entry.usage.prompt_tokens == 10 and entry.cost == reply.call_info.cost


@pytest.mark.parametrize(("field", "value"), METADATA_ODDITIES)
def test_a_wrong_type_in_a_chunks_metadata_keeps_the_stream(
    client, up, ledger, side, field, value
) -> None:
    frames = words()
    frames[1] = _odd(frames[1], field, value)
    up.answer(sse_response([*frames, usage_chunk(12, 4)]))
    stream, error = run_stream(client, side)
    assert error is None and stream.completion.text == "".join(WORDS)
    [entry] = ledger.entries()
    assert entry.usage.completion_tokens == 4 and not entry.estimated


@pytest.mark.parametrize("choices", ["Paris", [{"message": "Paris"}], [{"index": 0}], {"0": 1}])
def test_an_unreadable_answer_that_reports_usage_is_recorded_then_raised(
    client, up, ledger, side, choices
) -> None:
    """No repair reads it (its choices are wrong), but the relay billed it: recorded once."""
    up.answer(json_response(completion("unused", choices=choices)))
    with pytest.raises(holysheep.APIError, match=r"not a chat completion.*it was billed") as info:
        run_chat(client, side)
    assert info.value.status_code == 200 and info.value.code == "unreadable_answer"
    assert info.value.usage.prompt_tokens == 10
    [entry] = ledger.entries()
    assert entry.usage.prompt_tokens == 10 and entry.id == "chatcmpl-hostile"
    assert len(up.received) == 1


def test_an_unreadable_answer_without_usage_is_refused_and_holds_nothing(
    client, up, ledger
) -> None:
    ledger.set_budget("1.00")
    body = completion("unused", choices="Paris")
    del body["usage"]
    up.answer(json_response(body))
    with pytest.raises(holysheep.APIError, match="not a chat completion") as info:
        client.chat(model="gpt-4.1", messages=HELLO)
    assert info.value.code != "unreadable_answer"
    assert ledger.entries() == []
    [status] = ledger.budget_status()
    assert status.reserved_usd == 0 and status.spent_usd == 0


def test_groq_usage_only_under_x_groq_is_read(client, up, side) -> None:
    groq = {"id": "req_1", "usage": {"prompt_tokens": 210, "completion_tokens": 15}}
    body = completion("ok", x_groq=groq)
    del body["usage"]
    up.answer(json_response(body))
    reply = run_chat(client, side)
    assert reply.usage.prompt_tokens == 210
    assert not reply.call_info.estimated and reply.call_info.usage.completion_tokens == 15


def test_groq_stream_with_usage_only_under_x_groq(client, up, side) -> None:
    recorded = (FIXTURES / "groq-stream-tool-call-x_groq-usage.response.sse").read_text()
    frames = []
    for block in recorded.split("\n\n"):
        if block.startswith("data: {"):
            frame = json.loads(block[len("data: ") :])
            frame.pop("usage", None)  # keep only x_groq.usage, as the recorded stream did
            frame["model"] = "gpt-4.1"  # priced in the catalogue
            frames.append(frame)
    up.answer(sse_response(frames))
    stream, error = run_stream(client, side)
    assert error is None
    usage = stream.call_info.usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (210, 15)
    assert not stream.call_info.estimated


# ---------------------------------------------------------------- a small soak, in process


def test_under_random_faults_the_ledger_matches_what_the_relay_billed(emulator) -> None:
    """Concurrent streams and chats with 429s, 503s, cuts and error frames against a budget:
    every billed call recorded once, dollars within 1 %, the relay never past the budget by
    more than one call's reservation (benchmarks/soak.py is the same check at scale)."""
    from holysheep.ledger import estimate_call_usd
    from holysheep.testing import RelayEmulator
    from holysheep.usage import Usage

    relay: RelayEmulator = emulator
    prompt = [{"role": "user", "content": " ".join(["budget ledger stream"] * 12)}]
    params = {"model": "gpt-4.1", "messages": prompt, "max_tokens": 100}
    retry = RetryPolicy(max_attempts=8, initial_delay=0.0, max_delay=0.0, deadline=30.0)
    client = HolySheepClient(FAKE_KEY, relay.base_url, retry=retry)
    limit = (client.chat(**params).call_info.cost.total_usd * 72).quantize(Decimal("0.000001"))
    relay.reset()  # the budget fits about 72 of the 120 calls
    reservation = estimate_call_usd(client.catalog.find("gpt-4.1"), prompt, 100)
    relay.random_faults(rate_limited=0.1, unavailable=0.05, cut=0.15, stream_error=0.1, seed=1)
    outcomes: list[str] = []

    async def call(n: int) -> None:
        try:
            if n % 4:
                async with client.astream(**params) as stream:
                    async for _ in stream:
                        pass
            else:
                await client.achat(**params)
            outcomes.append("ok")
        except holysheep.HolySheepError as exc:
            outcomes.append(type(exc).__name__)

    async def soak() -> None:
        for start in range(0, 120, 8):
            await asyncio.gather(*(call(n) for n in range(start, start + 8)))
        await client.aclose()

    with CostLedger("memory") as led:
        led.set_budget(limit, period="all")
        client.ledger = led
        asyncio.run(soak())
        [total] = led.totals([])
        [status] = led.budget_status()
    catalog = client.catalog
    billed = sum(
        (catalog.cost(m, Usage.from_wire(u)).total_usd for m, u in relay.billed), Decimal(0)
    )
    assert set(outcomes) <= {"ok", "StreamError", "BudgetExceededError"}, outcomes
    assert "StreamError" in outcomes and "BudgetExceededError" in outcomes
    assert total.calls == len(relay.billed)
    assert abs(billed - total.total_usd) / billed < Decimal("0.01")
    assert status.spent_usd <= limit and status.reserved_usd == 0
    assert billed <= limit + reservation


def test_wire_usage_names_the_counts_it_dropped() -> None:
    from holysheep.wire import ChatCompletion

    body = completion("kept", usage={
        "prompt_tokens": 5.0,  # a whole number as a float is a count
        "completion_tokens": "3",
        "total_tokens": -1,
        "prompt_tokens_details": {"cached_tokens": 2.5, "audio_tokens": 0},
        "completion_tokens_details": "n/a",
    })
    reply = ChatCompletion.model_validate_json(json.dumps(body))
    assert reply.text == "kept"
    usage = reply.usage
    assert usage.prompt_tokens == 5 and usage.completion_tokens is None
    assert usage.prompt_tokens_details.audio_tokens == 0
    assert set(usage.invalid_fields) == {
        "completion_tokens",
        "total_tokens",
        "prompt_tokens_details.cached_tokens",
        "completion_tokens_details",
    }


def test_the_no_choices_error_pickles_with_its_usage(client, up) -> None:
    import pickle

    up.answer(json_response(completion("unused", choices=[])))
    with pytest.raises(holysheep.UpstreamError) as info:
        client.chat(model="gpt-4.1", messages=HELLO)
    again = pickle.loads(pickle.dumps(info.value))
    assert again.code == "no_choices" and again.usage == info.value.usage


def test_wire_usage_drops_negative_and_boolean_counts_but_keeps_plain_ones() -> None:
    from holysheep.wire import WireUsage

    clean = WireUsage.model_validate({
        "prompt_tokens": 7, "completion_tokens": 0, "total_tokens": 7,
        "prompt_tokens_details": {"cached_tokens": 3, "audio_tokens": None},
    })
    assert clean.invalid_fields == ()
    assert (clean.prompt_tokens, clean.prompt_tokens_details.cached_tokens) == (7, 3)
    odd = WireUsage.model_validate({
        "prompt_tokens": True,
        "completion_tokens": 4,
        "prompt_tokens_details": 9,  # a number where a breakdown belongs
        "completion_tokens_details": {"reasoning_tokens": -2, "audio_tokens": False,
                                      "accepted_prediction_tokens": 1},
    })
    assert odd.prompt_tokens is None and odd.completion_tokens == 4
    assert odd.prompt_tokens_details is None
    assert odd.completion_tokens_details.reasoning_tokens is None
    assert odd.completion_tokens_details.accepted_prediction_tokens == 1
    assert set(odd.invalid_fields) == {
        "prompt_tokens",
        "prompt_tokens_details",
        "completion_tokens_details.reasoning_tokens",
        "completion_tokens_details.audio_tokens",
    }


def test_a_chunk_no_repair_reads_ends_the_stream_and_its_partial_is_recorded(
    client, up, ledger, side
) -> None:
    """Content of the wrong type cannot be guessed: the stream ends there, billed as estimated."""
    frames = words(finish=None)
    frames.insert(2, {**chunk(), "choices": [{"index": 0, "delta": {"content": {"t": 1}}}]})
    up.answer(sse_response([*frames, usage_chunk(12, 4)]))
    _, error = run_stream(client, side)
    assert isinstance(error, holysheep.StreamError) and "malformed" in str(error)
    assert error.text == "".join(WORDS[:2])
    [entry] = ledger.entries()
    assert entry.estimated and entry.usage.prompt_tokens == PROMPT_ESTIMATE
