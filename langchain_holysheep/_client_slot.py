"""Where a ChatHolySheep keeps its lazily built core client (one per set of client settings)."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from holysheep import HolySheepClient

__all__ = ["ClientSlot"]


class ClientSlot:
    """The core clients built lazily for one model (and for copies that share its private state).

    Keyed by the settings a client is built from, so ``model_copy(update=...)`` with other
    settings gets its own client. Copies and pickles start empty (a client holds sockets); a
    client's sync pool is closed when the slot is collected (the async per-loop pools close
    when their loop shuts down).
    """

    __slots__ = ("__weakref__", "clients", "lock")

    def __init__(self) -> None:
        self.clients: list[tuple[tuple[Any, ...], HolySheepClient]] = []
        self.lock = threading.Lock()

    def __copy__(self) -> ClientSlot:
        return ClientSlot()

    def __deepcopy__(self, memo: dict[int, Any]) -> ClientSlot:
        return ClientSlot()

    def __reduce__(self) -> tuple[Any, ...]:
        return (ClientSlot, ())

    def get(self, key: tuple[Any, ...], build: Callable[[], HolySheepClient]) -> HolySheepClient:
        """The client built for ``key``, building it on first use."""
        for known, client in self.clients:
            if known == key:
                return client
        with self.lock:
            for known, client in self.clients:
                if known == key:
                    return client
            client = build()
            self.clients.append((key, client))
            weakref.finalize(self, client.close)
            return client
