"""The HTML report's stylesheet, inlined in every page: screen layout plus rules for paper.

System fonts only (nothing fetched); print keeps the colours, drops the shadows and never splits
a section's table or chart across pages when it fits on one.
"""

from __future__ import annotations

__all__ = ["STYLE"]

STYLE = """
:root { --ink: #1d2433; --muted: #5b6474; --line: #d9dee7; --card: #f5f7fa;
  --relay: #0072b2; --direct: #c9ced8; --held: #e69f00; --warn: #d55e00; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1040px; padding: 24px 28px 40px; color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  background: #fff; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 0 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 4px 0 6px; }
.meta, .hint, footer, .note { color: var(--muted); }
.meta { margin: 0 0 18px; font-size: 12.5px; }
.hint { margin: 0 0 8px; font-size: 12.5px; }
section { margin: 0 0 26px; break-inside: avoid; page-break-inside: avoid; }
.cards { display: grid; grid-template-columns: repeat(5, 1fr); gap: 10px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 10px 12px; display: flex; flex-direction: column; }
.card .name { font-size: 12px; color: var(--muted); text-transform: uppercase;
  letter-spacing: .04em; }
.card .value { font-size: 21px; font-weight: 650; font-variant-numeric: tabular-nums;
  overflow-wrap: anywhere; }
.card .note { font-size: 11.5px; }
svg.chart { width: 100%; height: auto; display: block; }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg text { fill: var(--muted); font-size: 12px; font-family: inherit; }
svg .label { fill: var(--ink); font-size: 13px; }
svg .note { fill: var(--ink); font-size: 13px; }
svg .relay, .legend i.relay { fill: var(--relay); background: var(--relay); }
svg .direct, .legend i.direct { fill: var(--direct); background: var(--direct); }
.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 6px 16px; padding: 0;
  margin: 6px 0 8px; font-size: 12.5px; }
.legend i { display: inline-block; width: 11px; height: 11px; border-radius: 2px;
  margin-right: 6px; vertical-align: -1px; }
.lead { margin: 0 0 6px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: right;
  white-space: nowrap; }
th { font-size: 12px; color: var(--muted); font-weight: 600; }
th:first-child, td:first-child, .models { text-align: left; }
td.name, td.models { white-space: normal; overflow-wrap: break-word; }
td.models { font-size: 12.5px; }
tr.rest td { color: var(--muted); font-style: italic; }
td.bar { width: 34%; text-align: left; }
td.bar svg { width: calc(100% - 52px); height: 12px; vertical-align: -1px; }
td.bar span { display: inline-block; width: 48px; text-align: right; font-size: 12px; }
svg.meter .track { fill: #eef1f5; }
svg.meter .part, svg.meter .spent, svg.meter .first { fill: var(--relay); }
.legend i.first { background: var(--relay); }
.legend i.fell-back { background: var(--held); }
svg.meter .held, svg.meter .fell-back, svg.meter .estimated { fill: var(--held); }
svg.meter .unpriced { fill: var(--warn); }
tr.over td.name { color: var(--warn); font-weight: 600; }
tr.over svg.meter .spent { fill: var(--warn); }
.tops { display: grid; grid-template-columns: 1fr; gap: 14px; }
#quality ul { list-style: none; padding: 0; margin: 0; }
#quality li { display: flex; gap: 12px; align-items: center; margin: 0 0 8px; }
#quality svg { flex: 0 0 220px; width: 220px; height: 14px; }
.empty { font-size: 16px; padding: 30px 0; }
footer { border-top: 1px solid var(--line); padding-top: 8px; font-size: 12px; }
@media screen and (max-width: 760px) { .cards { grid-template-columns: repeat(2, 1fr); } }
@page { size: A4; margin: 12mm; }
@media print {
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  body { max-width: none; padding: 0; font-size: 11.5px; }
  .card { border-radius: 0; }
  .card { padding: 6px 8px; }
  .card .value { font-size: 16px; }
  svg text { font-size: 14px; }
  td.bar { width: 24%; }
  svg .label, svg .note { font-size: 15px; }
  h2 { break-after: avoid; }
  tr { break-inside: avoid; }
  svg title { display: none; }
}
"""
