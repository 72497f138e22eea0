"""A real failing world for the ledger: a Redis server of our own, a SQLite file another process
locks, and an upstream that holds its answers until the test lets them go.

Nothing here is a mock: the Redis server is ``redis-server`` on a free port above 20000 (skipped
when it is not installed, as CI installs it), the lock is a second Python process holding
``BEGIN EXCLUSIVE``, and the upstream is ``tests/hostile.py``'s raw HTTP server.
"""

from __future__ import annotations

import itertools
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..hostile import Answer, HostileUpstream, completion

__all__ = ["GatedUpstream", "RedisServer", "SQLiteLock", "free_port", "wait_until"]

_GENEROUS_S = 30.0
"""Only a real hang takes this long (a busy machine takes a second or two)."""


def wait_until(condition: object, what: str, timeout: float = _GENEROUS_S) -> None:
    """Poll ``condition()`` until true; fail the test with ``what`` after a generous wait."""
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def free_port() -> int:
    """A TCP port above 20000 that nothing listens on right now."""
    for _ in range(200):
        port = random.randint(20001, 60000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail("no free port above 20000")


class RedisServer:
    """A ``redis-server`` of this test's own, on a free port, with its dump in ``folder``."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed (CI installs it)")
        self.binary, self.folder, self.port = binary, folder, free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start (or restart, loading the dump of the last shutdown) and wait until it answers."""
        import redis

        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.folder), "--dbfilename", "dump.rdb",
             "--save", "3600 1", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        probe = redis.Redis(port=self.port, socket_connect_timeout=1)

        def answers() -> bool:
            try:
                return bool(probe.ping())
            except redis.ConnectionError:
                return False

        try:
            wait_until(answers, f"redis-server on port {self.port}")
        finally:
            probe.close()

    def shutdown(self) -> None:
        """Stop as an operator does (SIGTERM to the pid this test started): saved, then gone."""
        self.stop()

    def stop(self) -> None:
        """Stop the process this test started, by its own pid (it saves its data first)."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=_GENEROUS_S)
            self.proc = None


_LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
"""


class SQLiteLock:
    """Another process holding ``BEGIN EXCLUSIVE`` on a SQLite file until ``release()``."""

    def __init__(self, path: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _LOCKER, str(path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == b"locked"

    def release(self) -> None:
        """End the other process's transaction (closing its stdin) and wait for it to exit."""
        if self.proc.poll() is None:
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=_GENEROUS_S)
            self.proc.stdout.close()

    def __enter__(self) -> SQLiteLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class GatedUpstream:
    """A ``HostileUpstream`` whose answers (unique completion ids) wait for ``open()``."""

    def __init__(self, model: str = "gpt-4.1", *, status: int = 200) -> None:
        self.gate = threading.Event()
        self._ids = itertools.count(1)
        self.up = HostileUpstream(
            Answer(status, headers={"Content-Type": "application/json"}, body=self._body)
        )
        self.model, self.status = model, status

    def _body(self, _request: object) -> Iterator[bytes]:
        import json

        n = next(self._ids)
        self.gate.wait(_GENEROUS_S)
        if self.status >= 400:
            yield json.dumps({"error": {"message": f"refused ({self.status})"}}).encode()
            return
        yield json.dumps(completion(f"answer {n}", model=self.model, id=f"chatcmpl-{n}")).encode()

    @property
    def base_url(self) -> str:
        return self.up.base_url

    @property
    def received(self) -> int:
        return len(self.up.received)

    def open(self) -> None:
        """Let every held answer (and every later one) go."""
        self.gate.set()

    def __enter__(self) -> GatedUpstream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate.set()
        self.up.stop()
