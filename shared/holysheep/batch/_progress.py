"""The live view of a bulk job on the command line: a bar on a terminal, plain lines otherwise.

Shows done/failed/deduplicated, tokens, spend in USD and CNY, rate and ETA. ``rich`` draws the
bar when it is installed and stderr is a terminal; without it (or in a log file) a plain line is
printed every few seconds, so a job under ``nohup`` or CI still reports progress.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from ._model import BatchSummary

__all__ = ["Progress", "count_lines"]

_PLAIN_EVERY_S = 5.0


def count_lines(path: str) -> int | None:
    """Non-blank lines of a file, read in 1 MiB blocks (for the ETA); None if unreadable."""
    try:
        with open(path, "rb") as handle:
            count, last = 0, b"\n"
            while block := handle.read(1 << 20):
                count += block.count(b"\n")
                last = block[-1:]
            return count + (last != b"\n")
    except OSError:
        return None


def _status(summary: BatchSummary, elapsed: float, total: int | None) -> str:
    done = summary.succeeded + summary.failed + summary.unsent
    rate = done / elapsed if elapsed > 0 else 0.0
    eta = ""
    if total and rate > 0 and done < total:
        eta = f", ETA {(total - done) / rate:,.0f} s"
    of = f"/{total:,}" if total else ""
    return (
        f"{done:,}{of} done: {summary.succeeded:,} ok, {summary.failed:,} failed, "
        f"{summary.deduplicated:,} dedup; {summary.tokens:,} tokens, ${summary.total_usd:.4f} "
        f"(relay ¥{summary.relay_cny:.4f} vs direct ¥{summary.direct_cny:.4f}); "
        f"{rate:,.1f}/s{eta}"
    )


class Progress:
    """Reports a run's summary as it changes; ``update`` is cheap enough to call per result."""

    def __init__(self, total: int | None, *, stream: TextIO | None = None) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self._started = time.monotonic()
        self._next = self._started + _PLAIN_EVERY_S
        self._bar: Any = None
        self._task: Any = None
        if self.stream.isatty():
            try:
                from rich.progress import BarColumn, TextColumn
                from rich.progress import Progress as RichProgress
            except ImportError:
                return
            from rich.console import Console

            self._bar = RichProgress(
                BarColumn(), TextColumn("{task.description}"),
                console=Console(file=self.stream), transient=True,
            )
            self._task = self._bar.add_task("starting", total=total)
            self._bar.start()

    def update(self, summary: BatchSummary, *, force: bool = False) -> None:
        """Show the latest counts (a bar redraw, or a plain line every few seconds)."""
        now = time.monotonic()
        if self._bar is not None:
            done = summary.succeeded + summary.failed + summary.unsent
            line = _status(summary, now - self._started, self.total)
            self._bar.update(self._task, completed=done, description=line)
            return
        if force or now >= self._next:
            self._next = now + _PLAIN_EVERY_S
            print(_status(summary, now - self._started, self.total), file=self.stream,
                  flush=True)

    def close(self) -> None:
        """Remove the bar (the summary is printed after it)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
