"""The report in a real browser: headless Chromium lays it out, prints it, and photographs it.

The DOM Chromium builds is checked against the demo calls (totals, one bar per day and model,
one series per model), every bar must be drawn inside its chart, nothing may overflow the window
or an A4 page, and the screenshot and PDF are kept under the test's tmp dir for a person to see.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from holysheep._money_text import money_text

from .browser import Browser
from .demo import demo_calls, demo_ledger, expected_usd

CALLS = demo_calls()

_LAYOUT = """(() => {
  const box = e => { const r = e.getBoundingClientRect();
                     return [r.left, r.top, r.right, r.bottom]; };
  const chart = document.querySelector('#spend svg');
  return {
    totals: Object.fromEntries([...document.querySelectorAll('[data-total]')]
      .map(e => [e.dataset.total, [e.dataset.value, e.textContent]])),
    bars: [...chart.querySelectorAll('rect.bar')]
      .map(e => [e.dataset.column, e.dataset.series, e.dataset.value, box(e)]),
    chart: box(chart),
    columns: chart.querySelectorAll('g.column').length,
    series: [...document.querySelectorAll('#spend li.series')].map(e => e.dataset.series),
    scripts: document.scripts.length,
    overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
  };
})()"""


def _page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))


async def test_the_report_renders_in_chromium(chromium: str, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    with demo_ledger(CALLS) as ledger:
        ledger.report_html(page)
    spend: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for c in CALLS:
        if c.info.cost is not None:
            day = datetime.fromtimestamp(c.ts, timezone.utc).strftime("%Y-%m-%d")
            spend[(day, c.info.model)] += c.info.cost.total_usd

    async with Browser(chromium, width=1100, height=900) as browser:
        await browser.open(page)
        dom = await browser.evaluate(_LAYOUT)
        shot = await browser.screenshot(tmp_path / "report.png")
        await browser.call("Emulation.setEmulatedMedia", media="print")
        await browser.call(
            "Emulation.setDeviceMetricsOverride",
            width=718,
            height=1000,
            deviceScaleFactor=1,
            mobile=False,
        )  # fmt: skip  (A4 less the 12 mm margins, in CSS pixels)
        printed = await browser.evaluate(_LAYOUT)
        pdf = await browser.pdf()
    (tmp_path / "report.pdf").write_bytes(pdf)

    usd, shown = dom["totals"]["total_usd"]
    assert Decimal(usd) == expected_usd(CALLS) and money_text(Decimal(usd)) in shown
    assert dom["totals"]["calls"] == [str(len(CALLS)), f"{len(CALLS):,}"]
    assert dom["columns"] == 21
    assert len(dom["series"]) == len({model for _, model in spend}) == 4
    drawn = {(day, model): Decimal(value) for day, model, value, _ in dom["bars"]}
    assert len(dom["bars"]) == len(drawn) == len(spend) and drawn == spend
    left, top, right, bottom = dom["chart"]
    for *_, (x0, y0, x1, y1) in dom["bars"]:
        assert left <= x0 < x1 <= right and top <= y0 < y1 <= bottom + 0.5
    assert dom["scripts"] == 0 and dom["overflow"] <= 0

    assert printed["overflow"] <= 0  # nothing cut off at the paper's edge
    assert printed["totals"] == dom["totals"]
    assert 2 <= _page_count(pdf) <= 6, _page_count(pdf)

    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 50_000
    (tmp_path / "dom.json").write_text(json.dumps(dom, indent=1))
