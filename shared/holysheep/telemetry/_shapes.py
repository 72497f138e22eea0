"""Attribute dicts shared by every call of one shape (model, server, attribution), built once.

Most of a span's request attributes and all of a metric point's attributes depend only on the
model, the server, the task/user/app and whether the call streams. Building them per call was a
good part of telemetry's own cost, so they are built once per shape, in a small bounded cache.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._attributes import base_attributes

if TYPE_CHECKING:
    import httpx

    from .._base import _Call

__all__ = ["Answered", "Shape", "Shapes"]

_MAX_SHAPES = 256
_MAX_ANSWERS = 16
Answered = tuple[dict[str, Any], dict[str, Any], dict[str, Any]]
"""Metric attributes of an answered call: duration, input tokens, output tokens."""


class Shape:
    """One shape's span name, span base attributes and metric attributes (never mutated)."""

    __slots__ = ("_answered", "metric", "name", "span", "url")

    def __init__(self, call: _Call, host: str, port: int) -> None:
        self.url = call.url
        self.name = f"chat {call.model}"
        self.metric, self.span = base_attributes(call, host, port)
        self._answered: dict[str, Answered] = {}

    def answered(self, response_model: str) -> Answered:
        """Metric attributes once ``response_model`` answered: duration, input and output tokens."""
        found = self._answered.get(response_model)
        if found is None:
            if len(self._answered) >= _MAX_ANSWERS:
                self._answered.clear()
            base = {**self.metric, "gen_ai.response.model": response_model}
            found = (base, {**base, "gen_ai.token.type": "input"},
                     {**base, "gen_ai.token.type": "output"})
            self._answered[response_model] = found
        return found


class Shapes:
    """A bounded cache of shapes, keyed by the client's URL object (one per client), model,
    attribution and streaming."""

    def __init__(self) -> None:
        self._shapes: dict[tuple[Any, ...], Shape] = {}

    def get(self, call: _Call) -> Shape:
        """The shape of ``call`` (built on first sight; the cache empties itself when full)."""
        who = call.attribution
        key = (id(call.url), call.model, who.task, who.user, who.app, call.stream)
        shape = self._shapes.get(key)  # a cached shape holds its URL, so the id stays its own
        if shape is None:
            if len(self._shapes) >= _MAX_SHAPES:
                self._shapes.clear()
            host, port = server(call.url)
            shape = self._shapes[key] = Shape(call, host, port)
        return shape


def server(url: httpx.URL) -> tuple[str, int]:
    """``server.address`` and ``server.port`` of a client's URL (the scheme's port by default)."""
    return url.host, url.port or (443 if url.scheme == "https" else 80)
