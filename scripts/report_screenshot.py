"""Make the README's picture of the HTML cost report, ``docs/report.png``, from a demo ledger.

Run ``python scripts/report_screenshot.py`` from the repository with ``shared`` and the root on
``PYTHONPATH`` (``.venv`` made by ``scripts/test`` has both). It builds the tests' seeded demo
ledger (three weeks, about a thousand calls), renders ``ledger.report_html``, and photographs
the whole page in Debian's headless ``chromium`` (``apt-get install chromium``; ``$CHROMIUM``
names another binary). Same seed, same numbers: rerun it after changing the page.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]

from tests.report.browser import Browser, find_chromium  # noqa: E402
from tests.report.demo import demo_ledger  # noqa: E402


async def _shoot(binary: str, page: Path, png: Path, width: int) -> None:
    async with Browser(binary, width=width) as browser:
        await browser.open(page)
        await browser.screenshot(png)


def main(argv: list[str] | None = None) -> int:
    """Write the demo report's HTML and PNG; 1 when no Chromium is installed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "report.png")
    parser.add_argument("--html", type=Path, default=None, help="also keep the page here")
    parser.add_argument("--width", type=int, default=1100, help="browser width in CSS pixels")
    args = parser.parse_args(argv)
    binary = find_chromium()
    if binary is None:
        print("no chromium found: apt-get install chromium (or set CHROMIUM)", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        page = args.html or Path(tmp) / "report.html"
        with demo_ledger() as ledger:
            ledger.report_html(page, title="HolySheep cost report (demo data)")
        asyncio.run(_shoot(binary, page, args.out, args.width))
    print(f"wrote {args.out}" + (f" and {args.html}" if args.html else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
