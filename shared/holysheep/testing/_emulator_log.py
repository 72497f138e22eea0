"""One line per request for ``holysheep emulate``: model, tokens and cost, never a header.

Users point an app or an agent at the emulator and watch what it sends and what it would cost
on the relay; the key is never part of a line (no header is ever read here).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["CallLog"]


class CallLog:
    """Formats and writes the request lines; ``write`` receives each line (e.g. ``print``)."""

    def __init__(self, write: Callable[[str], None]) -> None:
        """Write lines through ``write``; prices come from the default catalogue."""
        self._write = write
        self._catalog: Any = None
        self._lock = threading.Lock()  # lines from concurrent requests never interleave

    def answered(
        self, model: str, usage: dict[str, Any], *, streamed: bool, tools: list[str]
    ) -> None:
        """A chat request answered: model, stream or not, tokens, cost, tools called."""
        prompt = int(usage.get("prompt_tokens") or 0)
        completion = int(usage.get("completion_tokens") or 0)
        kind = "stream" if streamed else "chat"
        line = f"{kind} {model}: {prompt}+{completion} tokens, {self._cost(model, usage)}"
        if tools:
            line += f", called {', '.join(tools)}"
        self._emit(line)

    def refused(self, method: str, path: str, status: int, model: Any = None) -> None:
        """A request answered with an error status (auth, unknown model, injected fault)."""
        what = f" {model}" if isinstance(model, str) and model else ""
        self._emit(f"{method} {path}{what}: HTTP {status}")

    def _cost(self, model: str, usage: dict[str, Any]) -> str:
        from holysheep._money_text import money_text
        from holysheep.catalog import ModelCatalog
        from holysheep.costs import price
        from holysheep.usage import Usage

        if self._catalog is None:
            self._catalog = ModelCatalog.default()
        spec = self._catalog.find(model)
        parsed = Usage.from_wire(usage)
        if spec is None or not spec.priced or parsed is None:
            return "price unknown (not in the catalogue)"
        cost = price(spec, parsed)
        return f"${money_text(cost.total_usd)} (relay ¥{money_text(cost.relay_cny)})"

    def _emit(self, line: str) -> None:
        with self._lock:
            self._write(f"{time.strftime('%H:%M:%S')} {line}")
