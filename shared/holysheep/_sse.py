"""Server-sent events from raw bytes: a line splitter that never decodes text it does not need.

Sans-I/O and shared by both stream twins. It accepts LF, CRLF and CR line endings, a leading BOM,
comment lines (``: ping``), multi-line ``data:`` fields and pieces split anywhere, even inside a
UTF-8 sequence (lines stay bytes; pydantic reads the JSON from bytes). Every line and every
event is capped, so a relay that never sends a newline cannot grow memory past the cap.
"""

from __future__ import annotations

__all__ = ["Event", "EventTooLarge", "SSEDecoder"]

Event = tuple[str, bytes]
"""One event: its type (``""`` when the frame had no ``event:`` line) and its data bytes."""

_BOM = b"\xef\xbb\xbf"


class EventTooLarge(Exception):
    """A line or an event grew past the decoder's limit (the caller names the setting)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"an event-stream line or event exceeded {limit} bytes ({size} so far)")
        self.size = size
        self.limit = limit


class SSEDecoder:
    """Feed raw body pieces, get complete events; ``end()`` flushes the last one at EOF.

    Follows the WHATWG event-stream rules for the fields we use: ``data`` lines are joined with
    ``\\n``, ``event`` names the type, comments and other fields (``id``, ``retry``) are skipped,
    and a blank line ends an event. One relay omits the final blank line
    (gateway-anthropic-stream-tool-call-index-1), so ``end()`` also dispatches an event whose
    lines were complete; an unterminated last line is dropped, as the spec says.
    """

    __slots__ = (
        "_clean",
        "_cr",
        "_data",
        "_event",
        "_failed",
        "_head",
        "_limit",
        "_pending",
        "_pending_size",
        "_size",
    )

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._head: bytes | None = b""  # bytes seen while a BOM is still possible, then None
        self._cr = False  # the last piece ended in CR: a LF opening the next one is its pair
        self._pending: list[bytes] = []  # an unterminated line, in pieces
        self._pending_size = 0
        self._data: list[bytes] = []  # data lines of the event being read
        self._size = 0
        self._event = ""
        self._clean = False  # nothing carried over from earlier pieces (and no BOM to look for)
        self._failed: EventTooLarge | None = None  # raised once the events before it were used

    def feed(self, piece: bytes) -> list[Event]:
        """The events completed by ``piece`` (often one, often none)."""
        # The hot path: relays flush one "data: {...}\n\n" per write, so most pieces are
        # exactly one event. Two C-level scans prove it; everything else takes the full path.
        if (
            self._clean
            and piece[:6] == b"data: "
            and piece.find(b"\n") == len(piece) - 2
            and piece[-1:] == b"\n"
            and b"\r" not in piece
            and len(piece) <= self._limit
        ):
            return [("", piece[6:-2])]
        events = self._feed(piece)
        self._clean = not (
            self._head is not None
            or self._cr
            or self._pending
            or self._data
            or self._event
            or self._failed
        )
        return events

    def _feed(self, piece: bytes) -> list[Event]:
        if self._failed is not None:
            raise self._failed
        if self._head is not None:
            piece = self._strip_bom(piece)
        if self._cr:
            self._cr = False
            if piece[:1] == b"\n":
                piece = piece[1:]
        if b"\r" in piece:
            self._cr = piece[-1:] == b"\r"
            piece = piece.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if b"\n" not in piece:
            if piece:
                self._hold(piece)
            return []
        if self._pending:
            piece = b"".join(self._pending) + piece
            self._pending, self._pending_size = [], 0
        lines = piece.split(b"\n")
        tail = lines.pop()
        events = self._lines(lines)
        if tail and self._failed is None:
            try:
                self._hold(tail)
            except EventTooLarge as exc:
                if not events:
                    raise
                self._failed = exc
        return events

    def end(self) -> list[Event]:
        """At end of body: the last event if its lines were complete but no blank line came."""
        if self._failed is not None:
            raise self._failed
        self._pending, self._pending_size = [], 0
        events = self._lines([b""])
        self._clean = self._head is None and not self._cr
        return events

    def _lines(self, lines: list[bytes]) -> list[Event]:
        events: list[Event] = []
        data = self._data
        for line in lines:
            if not line:  # a blank line ends the event
                if data or self._event:
                    events.append((self._event, data[0] if len(data) == 1 else b"\n".join(data)))
                    data = self._data = []
                    self._size = 0
                    self._event = ""
                continue
            if line[:6] == b"data: ":  # the hot path
                value = line[6:]
            elif line[:1] == b":":  # a comment, such as ": ping" keep-alives
                continue
            else:
                name, colon, value = line.partition(b":")
                if colon and value[:1] == b" ":
                    value = value[1:]
                if name == b"event":
                    self._event = value.decode("utf-8", "replace")
                    continue
                if name != b"data":
                    continue  # id, retry and unknown fields: nothing we use
            self._size += len(value)
            if self._size > self._limit:
                error = EventTooLarge(self._size, self._limit)
                if not events:
                    raise error
                # the events before it in this piece are whole: hand them over first; the
                # next feed() or end() raises
                self._failed = error
                return events
            data.append(value)
        return events

    def _hold(self, piece: bytes) -> None:
        self._pending.append(piece)
        self._pending_size += len(piece)
        if self._pending_size > self._limit:
            raise EventTooLarge(self._pending_size, self._limit)

    def _strip_bom(self, piece: bytes) -> bytes:
        """Drop a UTF-8 BOM at the very start, even when it arrives split across pieces."""
        piece = self._head + piece  # type: ignore[operator]
        if len(piece) < len(_BOM) and _BOM.startswith(piece):
            self._head = piece
            return b""
        self._head = None
        return piece[3:] if piece.startswith(_BOM) else piece
