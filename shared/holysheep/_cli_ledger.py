"""The ledger's commands: ``holysheep report`` and the ``MODEL=TOKENS`` form of ``estimate``.

``report`` reads a ledger (``--ledger``, else ``HOLYSHEEP_LEDGER``, else the command line's own
SQLite file, where ``holysheep chat`` records) and prints per-group tokens, USD, relay CNY against
direct CNY, and savings: aligned text (coloured ``rich`` tables that fit the terminal when rich is
installed and stdout is a terminal), ``--json``, ``--csv`` or a web page (``--html FILE``). An
empty ledger says how to record.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .costs import DEFAULT_MARKET_CNY_PER_USD, DEFAULT_RELAY_CNY_PER_USD
from .errors import HolySheepError

if TYPE_CHECKING:
    from .costs import Estimate

__all__ = [
    "cmd_report",
    "default_cli_ledger_url",
    "estimate_json",
    "estimate_tokens_mix",
    "register",
]

_CENT = Decimal("0.01")
_SUFFIXES = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9}


def default_cli_ledger_url() -> str:
    """``HOLYSHEEP_LEDGER``, else SQLite in ``$XDG_DATA_HOME/holysheep/ledger.db``.

    The command line keeps its ledger in a file (WAL, safe for several processes) so that
    ``holysheep report`` sees what earlier commands spent.
    """
    env = os.environ.get("HOLYSHEEP_LEDGER", "").strip()
    if env:
        return env
    from .ledger._spool import data_home

    return f"sqlite:///{data_home() / 'ledger.db'}"


def register(subparsers: Any) -> None:
    """Add ``report`` to the ``holysheep`` sub-commands."""
    report_cmd = subparsers.add_parser("report", help=cmd_report.__doc__)
    report_cmd.add_argument(
        "--ledger", default=None, help="ledger URL; default $HOLYSHEEP_LEDGER, else the CLI file"
    )
    report_cmd.add_argument(
        "--by",
        default="model,user,app,task",
        help="tables to print, comma-separated; join keys with + for a cross table (model+user); "
        "keys: model, requested_model, task, user, app, tag:<name>, day, month",
    )
    report_cmd.add_argument("--since", default=None, help="from this UTC date or time (ISO)")
    report_cmd.add_argument("--until", default=None, help="before this UTC date or time (ISO)")
    form = report_cmd.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="print JSON (exact decimal strings)")
    form.add_argument("--csv", action="store_true", help="print CSV (exact decimal strings)")
    form.add_argument(
        "--html",
        metavar="FILE",
        default=None,
        help="write the report as one self-contained web page (charts, no network, prints "
        "well) to FILE; its sections are fixed, so --by does not apply",
    )
    report_cmd.set_defaults(run=cmd_report)


def _when(text: str | None, flag: str) -> datetime | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{flag} {text!r}: expected a date like 2025-06-01 or an ISO time"
        ) from None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when


def cmd_report(args: argparse.Namespace) -> int:
    """Ledger totals per model, user, app and task: tokens, USD, relay vs direct CNY, savings."""
    from ._cli_report import how_to_record, report_text
    from .ledger import CostLedger
    from .ledger._ledger import redact_url
    from .ledger._report import report

    url = args.ledger or default_cli_ledger_url()
    try:
        since, until = _when(args.since, "--since"), _when(args.until, "--until")
        tables = [t.strip() for t in args.by.split(",") if t.strip()]
        if url.strip() == "memory":
            raise ValueError(
                "a memory ledger lives inside one process, so there is nothing to report; "
                "use --ledger sqlite:///path.db or redis://host:port/db"
            )
        if url.startswith("sqlite:///") and not Path(url[10:]).expanduser().exists():
            ledger = None  # nothing recorded yet: said below, with how to start
        else:
            ledger = CostLedger(url)
    except ValueError as exc:
        print(f"holysheep report: {exc}", file=sys.stderr)
        return 2
    except HolySheepError as exc:  # a ledger that cannot be opened or reached: say so, no trace
        print(f"holysheep report: {exc}", file=sys.stderr)
        return 1
    try:
        if args.html:
            return _write_html(ledger, url, args.html, since, until)
        form = "json" if args.json else "csv" if args.csv else "text"
        if form != "text":
            print(report(ledger, tables, since=since, until=until, form=form))
            return 0
        text = None if ledger is None else report_text(ledger, tables, since=since, until=until)
        if text is None and (since or until):
            print("no calls recorded in this period")
        elif text is None:
            print(how_to_record(redact_url(url)))
        else:
            print(text)
    except ValueError as exc:
        print(f"holysheep report: {exc}", file=sys.stderr)
        return 2
    except HolySheepError as exc:
        print(f"holysheep report: {exc}", file=sys.stderr)
        return 1
    finally:
        if ledger is not None:
            ledger.close()
    return 0


def _write_html(
    ledger: Any, url: str, path: str, since: datetime | None, until: datetime | None
) -> int:
    """``report --html FILE``: write the page, say where; nothing to write for a missing file."""
    from ._cli_report import how_to_record
    from .ledger._ledger import redact_url

    if ledger is None:
        print(f"holysheep report: nothing written to {path}", file=sys.stderr)
        print(how_to_record(redact_url(url)))
        return 0
    ledger.report_html(path, since=since, until=until)
    print(f"wrote the report to {path} (open it in a browser; it prints on A4)")
    return 0


# ---------------------------------------------------------------- estimate MODEL=TOKENS


def _tokens(text: str, item: str) -> int:
    """``6M`` -> 6_000_000, ``2.5M``, ``500k``, ``1B``, ``1_000_000``."""
    raw = text.strip().replace("_", "").replace(",", "")
    suffix = raw[-1:].upper() if raw[-1:].isalpha() else ""
    try:
        value = Decimal(raw[: len(raw) - len(suffix)]) * _SUFFIXES[suffix]
    except (KeyError, ArithmeticError):
        value = Decimal(-1)
    if not value.is_finite() or value < 0 or value != value.to_integral_value():
        raise ValueError(
            f"bad item {item!r}: expected MODEL=TOKENS with whole monthly output tokens "
            "like 6M, 2.5M, 500k or 1B"
        )
    return int(value)


def estimate_tokens_mix(
    items: list[str],
    *,
    as_json: bool = False,
    market_rate: Decimal = DEFAULT_MARKET_CNY_PER_USD,
    relay_rate: Decimal = DEFAULT_RELAY_CNY_PER_USD,
) -> str:
    """Monthly cost of ``MODEL=TOKENS`` items (output tokens per month at the output price).

    The seed's mix ``deepseek-v3.2=6M gemini-2.5-flash=2.5M gpt-4.1=1M claude-sonnet-4.5=0.5M``
    comes to $24.27 of list price: CNY 24.27 through the relay against CNY 177.17 direct, 86.3%
    saved. JSON money is rounded half-up to cents, like the table.

    Raises:
        ValueError: a malformed item or an unpriced model.
        ModelNotFoundError: a model the catalogue does not know (close names suggested).
    """
    from ._cli_report import render_table
    from .catalog import ModelCatalog

    catalog = ModelCatalog.default()
    lines = []
    for item in items:
        name, sep, amount = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"bad item {item!r}: expected MODEL=TOKENS, e.g. gpt-4.1=1M")
        spec = catalog.get(name.strip())
        if spec.output_usd_per_mtok is None:
            raise ValueError(f"model {spec.id!r} has no output price in the catalogue")
        tokens = _tokens(amount, item)
        lines.append((spec.id, tokens, spec.output_usd_per_mtok))
    rows = [_mix_row(m, t, p, market_rate, relay_rate) for m, t, p in lines]
    usd = sum((r["usd"] for r in rows), Decimal(0))
    total = _mix_row("TOTAL", sum(t for _, t, _ in lines), None, market_rate, relay_rate, usd)
    if as_json:
        return json.dumps(
            {
                "items": [_mix_json(r) for r in rows],
                **{k: v for k, v in _mix_json(total).items() if k != "model"},
                "market_cny_per_usd": str(market_rate),
                "relay_cny_per_usd": str(relay_rate),
            },
            indent=2,
        )
    head = ["model", "output tokens", "$/M out", "USD", "relay CNY", "direct CNY", "savings CNY"]
    body = [_mix_cells(r) for r in rows]
    table = render_table(None, [*head, "saved"], body, _mix_cells(total), 1)
    return (
        f"{table}\n\n${_cents(usd)} of list price: CNY {_cents(total['relay'])} through "
        f"the relay against CNY {_cents(total['direct'])} direct, {total['pct']:.1f}% saved."
    )


def _mix_row(
    model: str,
    tokens: int,
    price: Decimal | None,
    market: Decimal,
    relay: Decimal,
    usd: Decimal | None = None,
) -> dict[str, Any]:
    if usd is None:
        usd = (tokens * (price or Decimal(0))).scaleb(-6)
    direct, relay_cny = usd * market, usd * relay
    pct = (direct - relay_cny) / direct * 100 if direct else Decimal(0)
    return {
        "model": model,
        "tokens": tokens,
        "price": price,
        "usd": usd,
        "relay": relay_cny,
        "direct": direct,
        "pct": pct,
    }


def _cents(value: Decimal) -> str:
    """Rounded half-up to cents, with thousands separators."""
    return f"{value.quantize(_CENT, ROUND_HALF_UP):,}"


def _mix_cells(r: dict[str, Any]) -> list[str]:
    price = "" if r["price"] is None else f"{r['price']:f}"
    money = [_cents(r[k]) for k in ("usd", "relay", "direct")]
    saved = _cents(r["direct"] - r["relay"])
    return [r["model"], f"{r['tokens']:,}", price, *money, saved, f"{r['pct']:.1f}%"]


def _mix_json(r: dict[str, Any]) -> dict[str, Any]:
    def cents(value: Decimal) -> str:
        return str(value.quantize(_CENT, ROUND_HALF_UP))

    out: dict[str, Any] = {"model": r["model"], "output_tokens": r["tokens"]}
    if r["price"] is not None:
        out["output_usd_per_mtok"] = str(r["price"])
    out.update(
        list_usd=cents(r["usd"]),
        relay_cny=cents(r["relay"]),
        direct_cny=cents(r["direct"]),
        savings_cny=cents(r["direct"] - r["relay"]),
        savings_pct=float(r["pct"].quantize(Decimal("0.1"), ROUND_HALF_UP)),
    )
    return out


def estimate_json(estimate: Estimate) -> str:
    """The ``model:requests:in:out`` estimate as JSON (exact decimal strings)."""
    from .ledger._model import usage_dict

    def cost(c: Any) -> dict[str, str] | None:
        return None if c is None else c.as_dict()

    lines = [
        {
            "model": line.workload.model,
            "task": line.workload.label or None,
            "requests": line.workload.requests_per_month,
            "usage": usage_dict(line.usage),
            "cost": cost(line.cost),
        }
        for line in estimate.lines
    ]
    total = estimate.total
    return json.dumps(
        {
            "lines": lines,
            "total": total.as_dict(),
            "list_usd": str(total.total_usd),
            "relay_cny": str(total.relay_cny),
            "direct_cny": str(total.direct_cny),
            "savings_pct": float((total.savings_ratio * 100).quantize(Decimal("0.1"))),
            "unpriced": list(estimate.unpriced),
        },
        indent=2,
    )
