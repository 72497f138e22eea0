"""What a budget adds to a call, counted in CPU instructions (valgrind): a figure without noise.

The async benchmark's budget gap moves by several points from run to run on a shared machine;
this one counts the instructions a call executes (``valgrind --tool=cachegrind``, no cache
simulation), which the same code repeats to within a few hundred. Each figure is per call: a
child run of N+1000 calls minus one of N calls, so start-up and imports cancel out.

Two kinds of call, each with a SQLite ledger without budgets (``plain``) and with one budget per
user (``budgets``, 8 users, each call under one of them, as in ``bench_ledger_async.py``):

- ``ledger``: what the client does around a call with its ledger and no network: ``Metering``
  (reserve: the estimate, the budgets that apply, a share of a lease) and its settle (journal,
  group commit, the budget charges, the lease's book), for a ``CallInfo`` made fresh per call;
- ``call``: a whole sync ``chat`` against the loopback upstream (``_server.py``).

Time is held still in the children, so that valgrind's slowness (50x) changes nothing the code
decides by the clock: batches are written by size (150, as at full speed), the budget list is
read once, leases neither age nor idle. ``--before REV`` adds the same rows with the ledger
package at git REV.

    python benchmarks/bench_budget_instructions.py [--before REV] [--what ledger --what call]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import _harness as harness

USERS = tuple(f"user-{i}" for i in range(8))
MODEL = "gpt-4.1"
MESSAGES = [{"role": "user", "content": "Say hello in one short sentence."}]
WARM = 300
"""Calls made before counting starts (imports, caches, the first leases)."""
BATCH = 150
"""Records a batch holds when written (about what 64 concurrent calls give at full speed)."""


# ---------------------------------------------------------------- the child, under valgrind


def _ledger_class(before: str | None) -> Any:
    if before is None:
        from holysheep.ledger import CostLedger

        return CostLedger
    return harness.load_package_at(before, "shared/holysheep/ledger", "_ledger_before").CostLedger


def _hold_time_still(ledger_class: Any) -> None:
    """Make the ledger package decide nothing by the clock (see the module docstring)."""
    package = ledger_class.__module__.rsplit(".", 1)[0]
    writer = sys.modules[f"{package}._writer"]
    writer._PATIENT_S = writer._BACKSTOP_S = 3600.0  # type: ignore[attr-defined]
    writer._MAX_BATCH = BATCH  # type: ignore[attr-defined]
    lease = sys.modules[f"{package}._lease"]
    lease.LeaseBook.__init__.__kwdefaults__.update(idle_s=3600.0, max_age_s=3600.0)


def _ledger(ledger_class: Any, budgets: bool, folder: str) -> Any:
    path = Path(folder) / "ledger.db"
    ledger = ledger_class(f"sqlite:///{path}", budget_cache_s=3600)
    if budgets:
        for user in USERS:
            ledger.set_budget("1000000", scope="user", key=user, period="day")
    return ledger


def child(what: str, case: str, calls: int, before: str | None, url: str | None) -> None:
    """``WARM + calls`` calls of kind ``what`` with a ledger of ``case``."""
    from holysheep import HolySheepClient

    ledger_class = _ledger_class(before)
    _hold_time_still(ledger_class)
    folder = tempfile.TemporaryDirectory()  # removed when the child exits
    ledger = _ledger(ledger_class, case == "budgets", folder.name)
    if what == "call":
        client = HolySheepClient("bench", url, ledger=ledger)
        for i in range(WARM + calls):
            client.chat(model=MODEL, messages=MESSAGES, max_tokens=50, user=USERS[i % 8])
    else:
        from holysheep._orchestrate import Metering
        from holysheep.calls import CallInfo
        from holysheep.costs import Cost
        from holysheep.usage import Usage

        client = HolySheepClient("bench", "http://127.0.0.1:9/v1", ledger=ledger)
        prepared = [client._prepare(None, {"model": MODEL, "messages": MESSAGES,
                                           "max_tokens": 50, "user": user}, False)
                    for user in USERS]
        created = int(time.time())
        for i in range(WARM + calls):
            call = prepared[i % 8]
            meter = Metering(client, call)
            cost = Cost(MODEL, Decimal("0.000024"), Decimal(0), Decimal("0.000072"),
                        Decimal("0.000096"), Decimal("0.0007008"))
            meter.settle(CallInfo(f"chatcmpl-{i}", MODEL, MODEL, Usage(12, 9, 21), cost,
                                  call.attribution, 0.01, 1, False, request_id=f"req-{i}",
                                  created=created))
    ledger.flush()
    ledger.close()


# ---------------------------------------------------------------- the parent


def _instructions(argv: list[str]) -> int:
    """Instructions a child run executed, as cachegrind counts them."""
    out = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         sys.executable, __file__, "--child", *argv],
        capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"}, check=True,
    ).stderr
    found = re.search(r"I\s+refs:\s+([\d,]+)", out)
    if found is None:
        raise SystemExit(f"valgrind printed no instruction count:\n{out[-2000:]}")
    return int(found.group(1).replace(",", ""))


def per_call(what: str, case: str, before: str | None, url: str | None, calls: int) -> float:
    """Instructions per call: a run of ``calls`` more calls, less one of none more."""
    common = [what, case, *(["--before", before] if before else []),
              *(["--url", url] if url else [])]
    base = _instructions([*common, "--calls", "0"])
    more = _instructions([*common, "--calls", str(calls)])
    return (more - base) / calls


@contextmanager
def _upstream(needed: bool) -> Iterator[str | None]:
    if not needed:
        yield None
        return
    from bench_ledger_async import unique_server  # a new completion id for every call

    with unique_server() as url:
        yield url


def main(argv: list[str] | None = None) -> int:
    """Count, print the table, write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--what", action="append", choices=("ledger", "call"))
    parser.add_argument("--before", metavar="REV")
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--child", nargs=2, metavar=("WHAT", "CASE"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path,
                        default=harness.HERE / "results" / "budget-instructions-latest.json")
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child, args.calls, args.before, args.url)
        return 0
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install -y valgrind)")
    kinds = args.what or ["ledger", "call"]
    codes = [None, *([args.before] if args.before else [])]
    rows = []
    with _upstream("call" in kinds) as url:
        for what in kinds:
            for code in codes:
                plain = per_call(what, "plain", code, url, args.calls)
                budgets = per_call(what, "budgets", code, url, args.calls)
                rows.append({"what": what, "code": code or "current", "plain": plain,
                             "budgets": budgets, "budget_extra": budgets - plain})
    print(f"{'per call':8} {'code':10} {'plain':>12} {'budgets':>12} {'extra':>10} {'extra %':>8}")
    for row in rows:
        print(f"{row['what']:8} {row['code'][:10]:10} {row['plain']:>12,.0f} "
              f"{row['budgets']:>12,.0f} {row['budget_extra']:>10,.0f} "
              f"{row['budget_extra'] / row['plain'] * 100:>7.1f}%")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "calls": args.calls,
        "revision": subprocess.run(["git", "-C", str(harness.ROOT), "rev-parse", "--short",
                                    "HEAD"], capture_output=True, text=True).stdout.strip(),
        "machine": harness.machine_info(("httpx",)), "rows": rows,
    }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
