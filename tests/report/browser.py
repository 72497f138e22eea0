"""Headless Chromium driven over the DevTools protocol, with aiohttp (already a dependency).

Enough for the report tests and the README screenshot: open a file, evaluate JavaScript, take a
full-page screenshot, print to PDF. The browser is Debian's ``chromium`` (no download); it runs
with a throwaway profile and a debugging port on loopback chosen by the browser itself.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

__all__ = ["Browser", "BrowserError", "find_chromium"]

_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_START_TIMEOUT_S = 90.0
"""Generous: only a hung browser takes this long, even on a busy machine."""
_CALL_TIMEOUT_S = 90.0


class BrowserError(RuntimeError):
    """Chromium did not start or did not answer a DevTools call."""


def find_chromium() -> str | None:
    """The path of a Chromium binary (``$CHROMIUM`` first), or None."""
    named = os.environ.get("CHROMIUM", "").strip()
    if named:
        return shutil.which(named) or (named if Path(named).is_file() else None)
    return next((p for p in map(shutil.which, _NAMES) if p), None)


class Browser:
    """One headless Chromium and one page; ``async with Browser(path) as page: ...``."""

    def __init__(self, binary: str, width: int = 1100, height: int = 900) -> None:
        self.binary, self.width, self.height = binary, width, height
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._events: dict[str, asyncio.Event] = {}

    async def __aenter__(self) -> Browser:
        self._profile = tempfile.mkdtemp(prefix="holysheep-chromium-")
        self._proc = await asyncio.create_subprocess_exec(
            self.binary,
            "--headless",
            "--no-sandbox",  # root in CI containers
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            f"--user-data-dir={self._profile}",
            f"--window-size={self.width},{self.height}",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            port = await asyncio.wait_for(self._port(), _START_TIMEOUT_S)
            self._http = aiohttp.ClientSession()
            async with self._http.get(f"http://127.0.0.1:{port}/json/list") as resp:
                targets = await resp.json()
            url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
            self._ws = await self._http.ws_connect(url, max_msg_size=0)
            self._reader = asyncio.create_task(self._read())
            await self.call("Page.enable")
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        reader = getattr(self, "_reader", None)
        if reader is not None:
            reader.cancel()
        ws, http = getattr(self, "_ws", None), getattr(self, "_http", None)
        if ws is not None:
            await ws.close()
        if http is not None:
            await http.close()
        if self._proc.returncode is None:
            self._proc.kill()
        await self._proc.wait()
        shutil.rmtree(self._profile, ignore_errors=True)

    async def _port(self) -> int:
        assert self._proc.stderr is not None
        seen = []
        while line := await self._proc.stderr.readline():
            text = line.decode(errors="replace")
            seen.append(text)
            found = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", text)
            if found:
                return int(found.group(1))
        raise BrowserError("chromium exited before DevTools listened:\n" + "".join(seen[-20:]))

    async def _read(self) -> None:
        async for msg in self._ws:
            data = msg.json()
            if "id" in data and data["id"] in self._pending:
                self._pending.pop(data["id"]).set_result(data)
            elif "method" in data and data["method"] in self._events:
                self._events[data["method"]].set()

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result."""
        ident = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        await self._ws.send_json({"id": ident, "method": method, "params": params})
        reply = await asyncio.wait_for(future, _CALL_TIMEOUT_S)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def open(self, path: Path) -> None:
        """Load a local file and wait for its load event."""
        loaded = self._events["Page.loadEventFired"] = asyncio.Event()
        await self.call("Page.navigate", url=path.resolve().as_uri())
        await asyncio.wait_for(loaded.wait(), _CALL_TIMEOUT_S)

    async def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page."""
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def screenshot(self, path: Path) -> Path:
        """Save a PNG of the whole page (every section, not just the window)."""
        height = await self.evaluate("document.documentElement.scrollHeight")
        await self.call(
            "Emulation.setDeviceMetricsOverride",
            width=self.width,
            height=int(height),
            deviceScaleFactor=1,
            mobile=False,
        )
        shot = await self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    async def pdf(self) -> bytes:
        """The page printed to PDF with its own print CSS (A4 from ``@page``)."""
        printed = await self.call("Page.printToPDF", printBackground=True, preferCSSPageSize=True)
        return base64.b64decode(printed["data"])
