"""A hostile upstream against the reading loops: bombs, trickles, endless pings, pooled streams.

Issue #9 items 11 (memory), 12 (time) and 16 (connection reuse). Each test runs the sync and the
async side. Time limits are small and bounds generous: a test fails on a hang, not on a slow
machine.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
import tracemalloc
from typing import Any

import holysheep
import pytest
from holysheep import APIError, APITimeoutError, HolySheepClient, RetryPolicy, StreamError

from ..conftest import FAKE_KEY
from ..hostile import (
    Answer,
    HostileUpstream,
    Pause,
    chunk,
    completion,
    gzip_bomb,
    json_response,
    sse_response,
    usage_chunk,
)

ONCE = RetryPolicy(max_attempts=1)
HELLO = [{"role": "user", "content": "Hello"}]
MIB = 1 << 20
HANG = 8.0
"""Seconds only a hang would take: every slow answer below would last at least twice as long."""


@pytest.fixture(params=["sync", "async"])
def side(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def upstream() -> Any:
    with HostileUpstream() as up:
        yield up


def make_client(up: HostileUpstream, **settings: Any) -> HolySheepClient:
    settings.setdefault("retry", ONCE)
    return HolySheepClient(api_key=FAKE_KEY, base_url=up.base_url, **settings)


def chat(client: HolySheepClient, side: str, **params: Any) -> holysheep.ChatCompletion:
    params = {"model": "gpt-4.1", "messages": HELLO, **params}
    if side == "sync":
        return client.chat(**params)
    return asyncio.run(client.achat(**params))


def stream(client: HolySheepClient, side: str, **params: Any) -> tuple[list[str], Exception | None]:
    """The texts of the chunks received, and the error that ended the stream (or None)."""
    params = {"model": "gpt-4.1", "messages": HELLO, **params}
    got: list[str] = []

    def text(c: holysheep.ChatCompletionChunk) -> str:
        return (c.choices[0].delta.content or "") if c.choices and c.choices[0].delta else ""

    try:
        if side == "sync":
            with client.stream(**params) as s:
                got.extend(text(c) for c in s)
        else:

            async def run() -> None:
                async with client.astream(**params) as s:
                    async for c in s:
                        got.append(text(c))

            asyncio.run(run())
    except holysheep.HolySheepError as exc:
        return got, exc
    return got, None


def timed(fn: Any) -> tuple[Any, float]:
    started = time.monotonic()
    result = fn()
    return result, time.monotonic() - started


# ---------------------------------------------------------------- item 11: memory


def peak_bytes(fn: Any) -> tuple[Any, int]:
    """Run ``fn``; its result (or error) and the peak Python memory it allocated."""
    tracemalloc.start()
    try:
        try:
            result: Any = fn()
        except holysheep.HolySheepError as exc:
            result = exc
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_gzip_bomb_body_is_refused_in_bounded_memory(upstream, side) -> None:
    bomb = gzip_bomb(64)  # 64 MiB once inflated, built before measuring
    upstream.answer(bomb)
    client = make_client(upstream, max_response_bytes=MIB)
    error, peak = peak_bytes(lambda: chat(client, side))
    assert isinstance(error, APIError)
    assert "max_response_bytes" in str(error)
    assert error.status_code == 200
    assert peak < 6 * MIB, f"peak {peak / MIB:.1f} MiB for a 1 MiB cap"
    assert len(upstream.received) == 1, "a bomb is not retried"


def test_gzip_bomb_stream_is_refused_in_bounded_memory(upstream, side) -> None:
    bomb = gzip_bomb(64, stream=True)
    upstream.answer(bomb)
    client = make_client(upstream, max_response_bytes=MIB, retry=RetryPolicy(initial_delay=0))
    (chunks, error), peak = peak_bytes(lambda: stream(client, side))
    assert chunks == []
    assert isinstance(error, StreamError)
    assert "max_response_bytes" in str(error)
    assert peak < 6 * MIB, f"peak {peak / MIB:.1f} MiB for a 1 MiB cap"
    assert len(upstream.received) == 1, "a bomb is not retried"


def test_gzip_bomb_on_the_models_endpoint_is_refused(upstream, side) -> None:
    upstream.answer(gzip_bomb(16))
    client = make_client(upstream, max_response_bytes=MIB)
    with pytest.raises(APIError, match="max_response_bytes"):
        client.list_models() if side == "sync" else asyncio.run(client.alist_models())


def test_an_endless_line_mid_stream_keeps_the_partial_text(upstream, side) -> None:
    upstream.answer(sse_response([chunk("Hi"), b"data: " + b"x" * (3 * MIB)], done=False))
    client = make_client(upstream, max_response_bytes=MIB)
    chunks, error = stream(client, side)
    assert chunks == ["Hi"]
    assert isinstance(error, StreamError)
    assert error.text == "Hi"
    assert "max_response_bytes" in str(error)


def test_gzip_answers_under_the_cap_still_read(upstream, side) -> None:
    events = [chunk("Hello"), chunk(" there", finish="stop"), usage_chunk(5, 2)]
    sse = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
    upstream.answer(
        json_response(gzip.compress(json.dumps(completion("zipped")).encode()),
                      headers={"Content-Encoding": "gzip"}),
        Answer(headers={"Content-Type": "text/event-stream", "Content-Encoding": "gzip"},
               body=[gzip.compress(sse + b"data: [DONE]\n\n")]),
    )
    client = make_client(upstream, max_response_bytes=64 * 1024)
    assert chat(client, side).text == "zipped"
    chunks, error = stream(client, side)
    assert error is None
    assert "".join(chunks) == "Hello there"


def test_an_encoding_never_asked_for_is_refused(upstream, side) -> None:
    upstream.answer(json_response(b"\x28\xb5\x2f\xfd junk", headers={"Content-Encoding": "zstd"}))
    client = make_client(upstream)
    with pytest.raises(APIError, match="Content-Encoding 'zstd'"):
        chat(client, side)
    assert upstream.received[0].headers["accept-encoding"] == "gzip, deflate"


def test_cap_setting_is_checked() -> None:
    with pytest.raises(holysheep.ConfigurationError, match="max_response_bytes"):
        HolySheepClient(api_key=FAKE_KEY, max_response_bytes=0)
    with pytest.raises(holysheep.ConfigurationError, match="total_timeout"):
        HolySheepClient(api_key=FAKE_KEY, total_timeout=-1)


# ---------------------------------------------------------------- item 12: time


def trickle(data: bytes, every: float) -> list[bytes | Pause]:
    """One byte, then a pause, for every byte of ``data``."""
    return [p for b in data for p in (bytes([b]), Pause(every))]


def test_trickled_body_hits_the_total_deadline(upstream, side) -> None:
    body = json.dumps(completion("slow " * 40)).encode()  # ~400 bytes: 20 s at 20 bytes/s
    upstream.answer(Answer(headers={"Content-Type": "application/json",
                                    "Content-Length": str(len(body))},
                           body=trickle(body, 0.05)))
    client = make_client(upstream, total_timeout=0.5, retry=RetryPolicy(initial_delay=0))
    started = time.monotonic()
    with pytest.raises(APITimeoutError, match="total_timeout") as info:
        chat(client, side)
    assert time.monotonic() - started < HANG
    assert not info.value.is_retryable
    assert len(upstream.received) == 1, "a spent deadline is not retried"


def test_trickled_stream_hits_the_total_deadline_after_first_chunk(upstream, side) -> None:
    first = b"data: " + json.dumps(chunk("Hi")).encode() + b"\n\n"
    rest = b"data: " + json.dumps(chunk(" there" * 60, finish="stop")).encode() + b"\n\n"
    upstream.answer(sse_response([first, *trickle(rest, 0.02)]))  # ~500 bytes: 10 s
    client = make_client(upstream, total_timeout=0.5, stream_idle_timeout=30)
    (chunks, error), took = timed(lambda: stream(client, side))
    assert chunks == ["Hi"]
    assert isinstance(error, StreamError) and error.text == "Hi"
    assert "total_timeout" in str(error)
    assert took < HANG


def test_pings_forever_after_the_first_chunk_hit_the_idle_limit(upstream, side) -> None:
    pings = [p for _ in range(500) for p in (": ping", Pause(0.02))]  # 10 s of keep-alives
    upstream.answer(sse_response([chunk("Hi"), *pings]))
    client = make_client(upstream, stream_idle_timeout=0.3)
    (chunks, error), took = timed(lambda: stream(client, side))
    assert chunks == ["Hi"]
    assert isinstance(error, StreamError) and error.text == "Hi"
    assert "stream_idle_timeout" in str(error)
    assert took < HANG


def test_pings_before_any_chunk_are_a_retryable_timeout(upstream, side) -> None:
    pings = [p for _ in range(500) for p in (": ping", Pause(0.02))]
    upstream.answer(sse_response(pings), sse_response([chunk("Hi", finish="stop")]))
    client = make_client(upstream, stream_idle_timeout=0.3,
                         retry=RetryPolicy(max_attempts=2, initial_delay=0))
    (chunks, error), took = timed(lambda: stream(client, side))
    assert error is None and chunks == ["Hi"], "the idle attempt was retried"
    assert len(upstream.received) == 2
    assert took < HANG


def test_silence_mid_stream_is_bounded_by_the_idle_limit(upstream, side) -> None:
    upstream.answer(sse_response([chunk("Hi"), Pause(20), chunk(" late", finish="stop")]))
    client = make_client(upstream, stream_idle_timeout=0.3, total_timeout=None)
    (chunks, error), took = timed(lambda: stream(client, side))
    assert chunks == ["Hi"]
    assert isinstance(error, StreamError) and error.text == "Hi"
    assert took < HANG


def test_events_spaced_under_the_idle_limit_are_fine(upstream, side) -> None:
    events = [chunk("a"), ": ping", Pause(0.05), chunk("b"), Pause(0.05), ": ping",
              Pause(0.05), chunk("c", finish="stop"), usage_chunk(3, 3)]
    upstream.answer(sse_response(events))
    client = make_client(upstream, stream_idle_timeout=2.0)
    chunks, error = stream(client, side)
    assert error is None
    assert "".join(chunks) == "abc"


def test_per_call_timeout_still_works(upstream, side) -> None:
    body = json.dumps(completion("late")).encode()
    upstream.answer(Answer(headers={"Content-Type": "application/json",
                                    "Content-Length": str(len(body))},
                           body=[Pause(20), body]))
    client = make_client(upstream)  # default total deadline: minutes
    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        chat(client, side, timeout=0.3)
    assert time.monotonic() - started < HANG


# ---------------------------------------------------------------- item 16: pooled connections


def answers(n: int) -> list[Answer]:
    return [sse_response([chunk("Hi"), chunk(finish="stop"), usage_chunk(3, 1)])
            for _ in range(n)]


def test_sync_streams_reuse_one_connection(upstream) -> None:
    upstream.answer(*answers(20))
    with make_client(upstream) as client:
        for _ in range(20):
            chunks, error = stream(client, "sync")
            assert error is None and chunks == ["Hi", "", ""]
    assert len(upstream.received) == 20
    assert upstream.connections == 1


def test_async_streams_reuse_one_connection(upstream) -> None:
    upstream.answer(*answers(20))
    client = make_client(upstream)

    async def run() -> None:
        for _ in range(20):
            async with client.astream(model="gpt-4.1", messages=HELLO) as s:
                assert [c async for c in s]
        await client.aclose()

    asyncio.run(run())
    assert upstream.connections == 1


def test_a_loop_left_at_the_finish_reason_reuses_the_connection(upstream) -> None:
    upstream.answer(*answers(20))
    with make_client(upstream) as client:
        for _ in range(20):  # a careless caller: break, no with, no close
            for c in client.stream(model="gpt-4.1", messages=HELLO):
                if c.choices and c.choices[0].finish_reason:
                    break
    assert len(upstream.received) == 20
    assert upstream.connections == 1


def test_usage_after_the_finish_reason_is_still_counted(upstream) -> None:
    upstream.answer(*answers(1))
    with make_client(upstream) as client, client.stream(model="gpt-4.1", messages=HELLO) as s:
        for c in s:
            if c.choices and c.choices[0].finish_reason:
                break
    assert s.call_info is not None
    assert (s.call_info.usage.prompt_tokens, s.call_info.usage.completion_tokens) == (3, 1)


def test_a_stream_abandoned_early_does_not_poison_the_pool(upstream) -> None:
    long_answer = sse_response([chunk(f"{i} ") for i in range(50)] + [chunk(finish="stop")])
    upstream.answer(long_answer, *answers(1))
    with make_client(upstream) as client:
        with client.stream(model="gpt-4.1", messages=HELLO) as s:
            next(iter(s))  # the caller stops after one chunk
        chunks, error = stream(client, "sync")
    assert error is None and chunks[0] == "Hi"
