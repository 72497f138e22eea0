"""This process's id, read without a system call: ``os.getpid`` is one (a few microseconds amid a
real call's work, where caches are cold), and the ledger asks on every call whether it runs in a
forked child (whose parent's threads, files and connections are not its own)."""

from __future__ import annotations

import os

__all__ = ["pid"]

_pid = os.getpid()


def pid() -> int:
    """This process's id, kept current in a forked child."""
    return _pid


def _forked() -> None:
    global _pid
    _pid = os.getpid()


if hasattr(os, "register_at_fork"):  # POSIX; elsewhere there is no fork to follow
    os.register_at_fork(after_in_child=_forked)
