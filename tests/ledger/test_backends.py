"""Choosing and opening backends: URLs, HOLYSHEEP_LEDGER, lazy imports, files and key prefixes."""

from __future__ import annotations

import pickle
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from holysheep.calls import Attribution
from holysheep.errors import ConfigurationError
from holysheep.ledger import CostLedger, LedgerBackend, open_backend, redact_url

from .helpers import CATALOG, call, usd


def test_default_is_memory_and_env_chooses(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with CostLedger() as ledger:
        assert ledger.url == "memory"
    path = tmp_path / "env.db"
    monkeypatch.setenv("HOLYSHEEP_LEDGER", f"sqlite:///{path}")
    with CostLedger() as ledger:
        assert ledger.url == f"sqlite:///{path}"
        assert isinstance(ledger.backend, LedgerBackend)
    assert path.exists()
    with CostLedger("memory") as ledger:  # the argument wins over the environment
        assert ledger.url == "memory"


@pytest.mark.parametrize("url", ["postgres://x/y", "sqlite://relative.db", "mongodb://"])
def test_unknown_ledger_urls_say_what_is_accepted(url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"sqlite:///path\.db"):
        CostLedger(url)


def test_in_memory_sqlite_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="use 'memory'"):
        open_backend("sqlite:///:memory:")


def test_sqlite_urls_relative_and_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with CostLedger("sqlite:///sub/dir/rel.db") as ledger:
        ledger.record(call())
    assert (tmp_path / "sub" / "dir" / "rel.db").exists()
    absolute = tmp_path / "abs.db"
    with CostLedger(f"sqlite:///{absolute}") as ledger:  # sqlite:////abs/path.db
        assert ledger.url == f"sqlite:///{absolute}"


def test_sqlite_keeps_everything_across_opens(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    info = call()
    with CostLedger(url, catalog=CATALOG) as ledger:
        ledger.set_budget("1", scope="user", key="alice")
        ledger.settle(ledger.reserve("gpt-4.1", Decimal("0.1"), Attribution(user="alice")), info)
    with CostLedger(url, catalog=CATALOG) as ledger:
        assert ledger.record(info) is None  # still exactly once
        [status] = ledger.budget_status()
        assert status.spent_usd == usd(info) and status.reserved_usd == 0
        assert ledger.entries()[0].cost == info.cost


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "wal.db"
    CostLedger(f"sqlite:///{path}").close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_a_closed_sqlite_ledger_refuses_work(tmp_path: Path) -> None:
    ledger = CostLedger(f"sqlite:///{tmp_path / 'closed.db'}")
    ledger.close()
    ledger.close()
    with pytest.raises(ConfigurationError, match="closed"):
        ledger.record(call())


def test_importing_holysheep_loads_no_backend() -> None:
    code = (
        "import sys, holysheep, holysheep.ledger; "
        "from holysheep.ledger import CostLedger; CostLedger('memory'); "
        "print(sorted(m for m in ('sqlite3', 'redis') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_redact_url_hides_passwords() -> None:
    assert redact_url("redis://:s3cret@host:6379/0") == "redis://:***@host:6379/0"
    assert redact_url("redis://user:s3cret@host/1") == "redis://user:***@host/1"
    assert redact_url("sqlite:///x.db") == "sqlite:///x.db"


def test_pickling(tmp_path: Path) -> None:
    with CostLedger("memory") as ledger, pytest.raises(TypeError, match="one process"):
        pickle.dumps(ledger)
    url = f"sqlite:///{tmp_path / 'p.db'}"
    with CostLedger(url, reservation_ttl_s=30) as ledger:
        clone = pickle.loads(pickle.dumps(ledger))
        try:
            assert clone.url == url and clone.reservation_ttl_s == 30
        finally:
            clone.close()


def test_bad_ttl() -> None:
    with pytest.raises(ValueError, match="reservation_ttl_s"):
        CostLedger("memory", reservation_ttl_s=0)


def test_redis_prefixes_keep_ledgers_apart(redis_url: str) -> None:
    sep = "&" if "?" in redis_url else "?"
    with (
        CostLedger(f"{redis_url}{sep}prefix=team-a:", catalog=CATALOG) as a,
        CostLedger(f"{redis_url}{sep}prefix=team-b:", catalog=CATALOG) as b,
    ):
        a.set_budget("1")
        a.record(call())
        assert b.entries() == [] and b.budgets() == []
        assert len(a.entries()) == 1
        assert repr(a).startswith("CostLedger('redis://")


def test_redis_keys_share_one_hash_tag(redis_url: str) -> None:
    import redis

    with CostLedger(redis_url, catalog=CATALOG) as ledger:
        ledger.set_budget("1")
        ledger.reserve("gpt-4.1", Decimal("0.1"))
        ledger.record(call())
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        keys = sorted(client.keys("*"))
    finally:
        client.close()
    assert keys == [
        f"holysheep:{{ledger}}:{k}" for k in ("budgets", "entries", "holds", "keys", "spent")
    ]


def test_redis_reads_entries_an_earlier_version_stored(redis_url: str) -> None:
    """Entries used to be stored as ``LedgerEntry.as_dict`` objects (now the SQLite row's array):
    a ledger upgraded in place still lists them, totals them and counts them in a new budget."""
    import json

    import redis
    from holysheep.ledger import LedgerEntry

    old = LedgerEntry.from_call(call(user="alice", route={"rule": "qa"}), 1_750_000_000.0,
                                "chatcmpl-old|req-old")
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        client.zadd("holysheep:{ledger}:entries",
                    {json.dumps(old.as_dict()): old.ts_us / 1_000_000})
        client.hset("holysheep:{ledger}:keys", old.key, "1")
    finally:
        client.close()
    with CostLedger(redis_url, catalog=CATALOG) as ledger:
        new = ledger.record(call(user="alice"))
        assert new is not None
        assert ledger.entries() == [old, new]
        [row] = ledger.totals(group_by="user")
        assert old.cost is not None and new.cost is not None
        assert row.calls == 2 and row.total_usd == old.cost.total_usd + new.cost.total_usd
        ledger.set_budget("100", scope="user", key="alice", period="all")
        [status] = ledger.budget_status()
        assert status.spent_usd == row.total_usd  # the window recomputed over both forms
