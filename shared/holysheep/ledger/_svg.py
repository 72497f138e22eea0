"""Inline SVG charts for the HTML report: stacked columns, paired bars and meters, no JavaScript.

Each function returns one ``<svg>`` element as text, sized by ``viewBox`` so it scales to the page
and to paper. Every mark carries a ``<title>`` (the browser's tooltip) and ``data-*`` attributes
with its exact value; all text is HTML-escaped here, so callers pass plain strings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from html import escape

from holysheep._money_text import money_text

__all__ = [
    "OTHER_COLOUR",
    "PALETTE",
    "exact",
    "meter",
    "nice_ticks",
    "paired_bars",
    "stacked_columns",
]

PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#8c6d31")
"""Okabe-Ito colours (distinct for colour-blind readers), one per series."""
OTHER_COLOUR = "#9a9a9a"
"""The colour of the ``other models`` series."""


def exact(value: Decimal | int) -> str:
    """``value`` as a plain decimal string without trailing zeros (``2.79495``, ``100``).

    Backends keep different scales for the same amount; the page shows one form for each.
    """
    return f"{Decimal(value).normalize():f}"


def _a(text: object) -> str:
    """``text`` escaped for an attribute or element body."""
    return escape(str(text), quote=True)


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Round axis ticks from 0 covering ``top`` (steps of 1, 2 or 5 times a power of ten)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    n = math.ceil(top / step - 1e-9)
    return [i * step for i in range(n + 1)]


def _tick_text(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.4g}"


def stacked_columns(
    columns: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[Decimal]]],
    *,
    unit: str,
    label: str,
) -> str:
    """One column per ``columns`` entry, stacked by ``series`` of ``(name, colour, values)``.

    Zero values draw nothing; each drawn part is a ``rect.bar`` with ``data-series``,
    ``data-column`` and ``data-value`` (the exact decimal).
    """
    width, height, left, right, bottom, top_pad = 960, 310, 64, 36, 40, 26
    plot_w, plot_h = width - left - right, height - bottom - top_pad
    sums = [sum((s[2][i] for s in series), Decimal(0)) for i in range(len(columns))]
    ticks = nice_ticks(float(max(sums, default=Decimal(0))))
    scale = plot_h / ticks[-1]
    slot = plot_w / max(len(columns), 1)
    bar_w = max(slot * 0.72, 1.0)
    out = [
        f'<svg class="chart columns" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_a(label)}" preserveAspectRatio="xMidYMid meet">'
    ]
    for tick in ticks:
        y = top_pad + plot_h - tick * scale
        out.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_tick_text(tick)}</text>"
        )
    every = max(1, math.ceil(len(columns) / (plot_w // 100)))  # labels ~100 units apart
    for i, column in enumerate(columns):
        x = left + i * slot + (slot - bar_w) / 2
        y = top_pad + plot_h
        out.append(f'<g class="column" data-column="{_a(column)}">')
        for name, colour, values in series:
            value = values[i]
            if not value:
                continue
            h = float(value) * scale
            y -= h
            out.append(
                f'<rect class="bar" x="{x:.2f}" y="{y:.2f}" width="{bar_w:.2f}" '
                f'height="{max(h, 0.5):.2f}" fill="{colour}" data-series="{_a(name)}" '
                f'data-column="{_a(column)}" data-value="{exact(value)}">'
                f"<title>{_a(column)} · {_a(name)}: {_a(_short(value))} {_a(unit)}</title></rect>"
            )
        out.append("</g>")
        if i % every == 0:
            out.append(
                f'<text class="tick" x="{x + bar_w / 2:.1f}" y="{height - bottom + 16}" '
                f'text-anchor="middle">{_a(column)}</text>'
            )
    out.append(
        f'<text class="unit" x="{left - 6}" y="{top_pad - 12}" text-anchor="end">{_a(unit)}</text>'
    )
    out.append("</svg>")
    return "".join(out)


def paired_bars(rows: Sequence[tuple[str, Decimal, Decimal, str]], *, label: str) -> str:
    """Per row ``(name, relay, direct, note)``: the relay bar over the direct bar, one scale."""
    width, row_h, left, right = 960, 44, 190, 190
    height = row_h * len(rows) + 8
    top = float(max((max(r[1], r[2]) for r in rows), default=Decimal(0))) or 1.0
    scale = (width - left - right) / top
    out = [
        f'<svg class="chart pairs" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_a(label)}">'
    ]
    for i, (name, relay, direct, note) in enumerate(rows):
        y = 4 + i * row_h
        out.append(
            f'<g class="pair" data-model="{_a(name)}">'
            f'<text class="label" x="{left - 8}" y="{y + 22}" text-anchor="end">'
            f"{_a(_clip(name))}</text>"
            f'<rect class="relay" x="{left}" y="{y + 4}" height="16" '
            f'width="{max(float(relay) * scale, 0.5):.2f}" data-value="{exact(relay)}">'
            f"<title>relay: {_a(_short(relay))} CNY</title></rect>"
            f'<rect class="direct" x="{left}" y="{y + 22}" height="16" '
            f'width="{max(float(direct) * scale, 0.5):.2f}" data-value="{exact(direct)}">'
            f"<title>direct: {_a(_short(direct))} CNY</title></rect>"
            f'<text class="note" x="{width - right + 8}" y="{y + 26}">{_a(note)}</text></g>'
        )
    out.append("</svg>")
    return "".join(out)


def meter(parts: Sequence[tuple[str, Decimal, str]], whole: Decimal, *, label: str) -> str:
    """A horizontal bar for ``whole`` filled left to right by ``(css class, value, title)`` parts.

    Parts beyond the whole are clipped at its end, so an overspent budget fills the bar.
    """
    width, height = 400, 18
    out = [
        f'<svg class="meter" viewBox="0 0 {width} {height}" role="img" aria-label="{_a(label)}" '
        f'preserveAspectRatio="none"><rect class="track" x="0" y="0" width="{width}" '
        f'height="{height}"/>'
    ]
    x = 0.0
    for cls, value, title in parts:
        share = float(value / whole) if whole else 0.0
        w = min(max(share, 0.0) * width, width - x)
        if w <= 0:
            continue
        out.append(
            f'<rect class="{_a(cls)}" x="{x:.2f}" y="0" width="{w:.2f}" height="{height}" '
            f'data-value="{exact(value)}"><title>{_a(title)}</title></rect>'
        )
        x += w
    out.append("</svg>")
    return "".join(out)


def _short(value: Decimal) -> str:
    return money_text(value)


def _clip(text: str, size: int = 26) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"
