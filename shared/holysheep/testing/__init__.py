"""Testing helpers: a local HolySheep relay emulator for offline tests and demos.

Names are loaded lazily so ``python -m holysheep.testing.emulator`` runs without the
"found in sys.modules" RuntimeWarning that an eager import here would cause.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from holysheep.testing.emulator import RelayEmulator, Reply

__all__ = ["RelayEmulator", "Reply"]


def __getattr__(name: str) -> Any:
    """Import ``RelayEmulator`` and ``Reply`` on first access."""
    if name in __all__:
        from holysheep.testing import emulator

        return getattr(emulator, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
