"""Issue #9 (item 1, ledger side): estimated calls are flagged in entries, totals and reports.

``CallInfo.estimated`` (usage estimated because the relay reported none, e.g. a cut stream) is
kept by every backend, summed as a count and a USD share, and shown by ``holysheep report``; an
existing SQLite file from before the flag is migrated in place. Also: the report of a ledger
that cannot be reached says so instead of printing a traceback.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import holysheep
import pytest
from holysheep.cli import main
from holysheep.ledger import CostLedger

from ._world import free_port
from .helpers import CATALOG, Clock, call, usd


def _estimated(**kwargs: object):
    return dataclasses.replace(call(**kwargs), estimated=True)


def test_estimated_calls_are_flagged_and_summed(ledger: CostLedger) -> None:
    reported = call("gpt-4.1", user="alice")
    guessed = _estimated(model="gpt-4.1", user="bob")
    ledger.record(reported)
    ledger.record(guessed)
    flags = {e.user: e.estimated for e in ledger.entries()}
    assert flags == {"alice": False, "bob": True}
    [row] = ledger.totals(("model",))
    assert row.calls == 2 and row.estimated_calls == 1
    assert row.estimated_usd == usd(guessed)
    assert row.total_usd == usd(reported) + usd(guessed)
    by_user = {r["user"]: r for r in ledger.totals(("user",))}
    assert by_user["alice"].estimated_calls == 0 and by_user["alice"].estimated_usd == 0
    assert by_user["bob"].as_dict()["estimated_usd"] == str(usd(guessed))


def test_an_older_sqlite_file_is_migrated_in_place(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with CostLedger(f"sqlite:///{db}", catalog=CATALOG, clock=Clock()) as ledger:
        old = call("gpt-4.1")
        ledger.record(old)
    conn = sqlite3.connect(db)  # make it the file an earlier holysheep wrote (schema 1)
    conn.execute("ALTER TABLE entries DROP COLUMN estimated")
    conn.execute("ALTER TABLE reservations DROP COLUMN amount_nano")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()

    with CostLedger(f"sqlite:///{db}", catalog=CATALOG, clock=Clock()) as ledger:
        ledger.record(_estimated(model="deepseek-v3.2"))
        entries = ledger.entries()
        [row] = ledger.totals(())
    assert (entries[0].id, entries[0].estimated) == (old.id, False)
    assert entries[1].estimated is True
    assert row.calls == 2 and row.estimated_calls == 1
    version = sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0]
    assert version == 3


def test_a_file_from_a_newer_holysheep_is_refused_with_a_hint(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    CostLedger(f"sqlite:///{db}").close()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(holysheep.LedgerError, match=r"newer holysheep.*Upgrade"):
        CostLedger(f"sqlite:///{db}")


@pytest.fixture
def ledger_file(tmp_path: Path) -> tuple[str, Decimal]:
    url = f"sqlite:///{tmp_path / 'report.db'}"
    with CostLedger(url, catalog=CATALOG, clock=Clock()) as ledger:
        ledger.record(call("gpt-4.1"))
        guessed = _estimated(model="gpt-4.1", completion=2000)
        ledger.record(guessed)
    return url, usd(guessed)


def test_report_shows_the_estimated_share(
    capsys: pytest.CaptureFixture[str], ledger_file: tuple[str, Decimal]
) -> None:
    url, guessed = ledger_file
    assert main(["report", "--ledger", url, "--by", "model"]) == 0
    out = capsys.readouterr().out
    assert "1 call(s) are estimated" in out and f"{guessed:.4f} USD" in out
    assert main(["report", "--ledger", url, "--json"]) == 0
    total = json.loads(capsys.readouterr().out)["total"]
    assert total["estimated_calls"] == 1 and Decimal(total["estimated_usd"]) == guessed
    assert main(["report", "--ledger", url, "--csv", "--by", "model"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.endswith("estimated_calls,estimated_usd")
    assert rows[-1].endswith(f",1,{guessed}")


def test_report_on_an_unreachable_ledger_says_what_to_do(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["report", "--ledger", f"redis://:pw-123@127.0.0.1:{free_port()}/0"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("holysheep report: ") and "Start Redis" in err
    assert "Traceback" not in err and "pw-123" not in err
