"""``holysheep emulate`` in a child process, as a user starts it from a shell."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class EmulateProcess:
    """The running command: its base URL and every line it printed so far."""

    url: str
    lines: list[str] = field(default_factory=list)

    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str) -> str:
        """The first printed line containing ``text`` (generous bound: only a hang crosses it)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if text in line:
                    return line
            time.sleep(0.02)
        raise AssertionError(f"{text!r} never printed; output:\n{self.output()}")


@contextmanager
def running_emulate(*args: str) -> Iterator[EmulateProcess]:
    """Start ``holysheep emulate --port 0 ARGS``; stop it (SIGTERM) on exit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOLYSHEEP_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "holysheep.cli", "emulate", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        first = proc.stdout.readline()
        found = re.search(r"http://\S+/v1", first)
        assert found, f"no URL in the first line: {first!r}"
        running = EmulateProcess(found.group(0), [first.rstrip("\n")])

        def pump() -> None:
            for line in proc.stdout:
                running.lines.append(line.rstrip("\n"))

        threading.Thread(target=pump, daemon=True).start()
        running.wait_for("Ctrl-C stops it")  # the startup lines are out
        yield running
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()
