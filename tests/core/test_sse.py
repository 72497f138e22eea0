"""The bytes-level SSE splitter on the real wire: every fixture, split anywhere, any line ending.

httpx-sse (a separate, text-level implementation) is the oracle for what each fixture's events
are; the splitter must give the same events however the bytes are cut into pieces.
"""

from __future__ import annotations

import random
from pathlib import Path

import httpx
import pytest
from holysheep._sse import EventTooLarge, SSEDecoder
from httpx_sse import EventSource

from ..conftest import FIXTURES

SSE_FIXTURES = sorted(FIXTURES.glob("*.sse"))
LIMIT = 1 << 20


def events_of(pieces: list[bytes], limit: int = LIMIT) -> list[tuple[str, bytes]]:
    decoder = SSEDecoder(limit)
    out = []
    for piece in pieces:
        out += decoder.feed(piece)
    return out + decoder.end()


def oracle(body: bytes) -> list[tuple[str, bytes]]:
    """httpx-sse's events for ``body``, in our shape (event type ``""`` when unnamed)."""
    response = httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})
    return [
        ("" if sse.event == "message" else sse.event, sse.data.encode())
        for sse in EventSource(response).iter_sse()
        if sse.data or sse.event != "message"
    ]


def ending_with_blank_line(body: bytes) -> bytes:
    # httpx-sse drops an event whose closing blank line never came; we keep it (see end()).
    return body if body.endswith(b"\n\n") else body + b"\n"


def random_pieces(body: bytes, rng: random.Random, cuts: int) -> list[bytes]:
    marks = sorted(rng.sample(range(1, len(body)), min(cuts, len(body) - 1)))
    return [body[a:b] for a, b in zip([0, *marks], [*marks, len(body)], strict=True)]


@pytest.mark.parametrize("path", SSE_FIXTURES, ids=lambda p: p.name.removesuffix(".response.sse"))
def test_fixture_events_match_an_independent_parser(path: Path) -> None:
    body = path.read_bytes()
    got = events_of([body])
    assert got == oracle(ending_with_blank_line(body))
    assert got, "every fixture carries events"


@pytest.mark.parametrize("path", SSE_FIXTURES, ids=lambda p: p.name.removesuffix(".response.sse"))
def test_any_split_gives_the_same_events(path: Path) -> None:
    body = path.read_bytes()
    whole = events_of([body])
    # every two-piece split for the small fixtures, 300 random ones for the large
    positions = range(1, len(body)) if len(body) <= 6000 else random.Random(7).sample(
        range(1, len(body)), 300
    )
    for at in positions:
        assert events_of([body[:at], body[at:]]) == whole, f"split at byte {at}"
    rng = random.Random(path.name)
    for _ in range(20):  # many pieces at once, one-byte pieces included
        assert events_of(random_pieces(body, rng, rng.randint(2, 200))) == whole
    assert events_of([body[i : i + 1] for i in range(len(body))]) == whole


@pytest.mark.parametrize("ending", [b"\r\n", b"\r"], ids=["crlf", "cr"])
@pytest.mark.parametrize("path", SSE_FIXTURES, ids=lambda p: p.name.removesuffix(".response.sse"))
def test_crlf_and_cr_line_endings_split_anywhere(path: Path, ending: bytes) -> None:
    body = path.read_bytes()
    whole = events_of([body])
    converted = body.replace(b"\n", ending)
    assert events_of([converted]) == whole
    rng = random.Random(path.name + ending.decode())
    for _ in range(30):
        assert events_of(random_pieces(converted, rng, rng.randint(1, 50))) == whole
    # a CRLF cut between its CR and its LF is still one line ending
    at = converted.index(b"\r\n") + 1 if ending == b"\r\n" else converted.index(b"\r") + 1
    assert events_of([converted[:at], converted[at:]]) == whole


def test_utf8_sequence_split_inside_a_character() -> None:
    body = (FIXTURES / "deepseek-stream-reasoning-content.response.sse").read_bytes()
    emoji = "😊".encode()
    start = body.index(emoji)
    whole = events_of([body])
    for at in range(start, start + len(emoji) + 1):
        assert events_of([body[:at], body[at:]]) == whole
    assert any(emoji in data for _, data in whole)


@pytest.mark.parametrize("cut", range(0, 5))
def test_bom_is_dropped_even_when_split(cut: int) -> None:
    body = b"\xef\xbb\xbfdata: {}\n\n"
    assert events_of([body[:cut], body[cut:]]) == [("", b"{}")]
    assert events_of([b"data: \xef\xbb\xbf\n\n"]) == [("", b"\xef\xbb\xbf")], "only at the start"


def test_fields_per_the_event_stream_rules() -> None:
    body = (
        b": ping\n"
        b"id: 7\nretry: 1000\n"
        b"data:{\"a\":\n"  # no space after the colon
        b"data:  1}\n\n"  # only the first space is dropped
        b"event: error\ndata: {\"error\": {\"message\": \"boom\"}}\n\n"
        b"data\n\n"  # a field name alone: empty data
        b"event: error\n\n"  # an error frame with no data still counts
        b": only a comment\n\n"
        b"data: last\n"
    )
    assert events_of([body]) == [
        ("", b'{"a":\n 1}'),
        ("error", b'{"error": {"message": "boom"}}'),
        ("", b""),
        ("error", b""),
        ("", b"last"),
    ]


def test_an_unterminated_last_line_is_dropped() -> None:
    assert events_of([b'data: {"id": 1}\n\ndata: {"cho']) == [("", b'{"id": 1}')]


def test_a_line_without_newline_past_the_limit_is_refused() -> None:
    decoder = SSEDecoder(1000)
    decoder.feed(b"data: " + b"x" * 500)
    with pytest.raises(EventTooLarge) as info:
        for _ in range(10):
            decoder.feed(b"x" * 200)
    assert info.value.limit == 1000
    assert info.value.size <= 1000 + 200, "refused as soon as the cap is crossed"


def test_an_event_of_many_lines_past_the_limit_is_refused() -> None:
    decoder = SSEDecoder(1000)
    with pytest.raises(EventTooLarge):
        for _ in range(100):
            decoder.feed(b"data: " + b"y" * 50 + b"\n")
    ok = SSEDecoder(1000)
    assert ok.feed(b"data: " + b"y" * 990 + b"\n\n") == [("", b"y" * 990)]


def test_a_crlf_cut_between_cr_and_lf_is_one_line_ending() -> None:
    body = b"data: {\"a\":\r\ndata: 1}\r\n\r\n"
    for at in range(1, len(body)):
        assert events_of([body[:at], body[at:]]) == [("", b'{"a":\n1}')], f"split at byte {at}"


@pytest.mark.parametrize("too_big", [b"data: " + b"x" * 200 + b"\n\n", b"data: " + b"x" * 200])
def test_events_before_an_oversized_one_in_the_same_read_are_kept(too_big: bytes) -> None:
    """A good event and an oversized one in one network read: the good one is handed over, then
    the next read (or the end of the body) raises, so no whole answer chunk is lost."""
    decoder = SSEDecoder(100)
    good = b'data: {"ok": 1}\n\n'
    assert decoder.feed(good + too_big) == [("", b'{"ok": 1}')]
    with pytest.raises(EventTooLarge):
        decoder.feed(b"data: more\n\n")
    with pytest.raises(EventTooLarge):
        decoder.end()
