"""``holysheep report`` and ``holysheep estimate MODEL=TOKENS``: text, JSON and CSV output."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from holysheep._cli_ledger import default_cli_ledger_url, estimate_tokens_mix
from holysheep.cli import main
from holysheep.ledger import CostLedger
from holysheep.ledger._report import render_table

from .helpers import CATALOG, Clock, call

SEED = ["deepseek-v3.2=6M", "gemini-2.5-flash=2.5M", "gpt-4.1=1M", "claude-sonnet-4.5=0.5M"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- estimate


def test_seed_estimate_comes_out_exactly(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "estimate", *SEED)
    assert code == 0
    assert out.strip().endswith(
        "$24.27 of list price: CNY 24.27 through the relay against CNY 177.17 direct, 86.3% saved."
    )
    total = next(line for line in out.splitlines() if line.startswith("TOTAL"))
    assert total.split() == ["TOTAL", "10,000,000", "24.27", "24.27", "177.17", "152.90", "86.3%"]
    assert "deepseek-v3.2" in out and "6,000,000" in out


def test_seed_estimate_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "estimate", "--json", *SEED)
    assert code == 0
    data = json.loads(out)
    assert data["list_usd"] == "24.27"
    assert data["relay_cny"] == "24.27"
    assert data["direct_cny"] == "177.17"
    assert data["savings_pct"] == 86.3
    assert data["output_tokens"] == 10_000_000
    assert [i["model"] for i in data["items"]] == [s.split("=")[0] for s in SEED]
    assert data["items"][0]["list_usd"] == "2.52"


def test_token_amounts_and_rates() -> None:
    data = json.loads(
        estimate_tokens_mix(
            ["gpt-4.1=500k", "gpt-4.1-2025-04-14=1_000_000", "deepseek-v3.2=0.001B"],
            as_json=True,
            market_rate=Decimal("7"),
        )
    )
    assert [i["output_tokens"] for i in data["items"]] == [500_000, 1_000_000, 1_000_000]
    assert data["items"][1]["model"] == "gpt-4.1"  # aliases resolve
    assert data["list_usd"] == "12.42" and data["direct_cny"] == "86.94"
    assert data["market_cny_per_usd"] == "7"


@pytest.mark.parametrize("item", ["gpt-4.1=lots", "gpt-4.1=1.5", "gpt-4.1=-1M", "=1M", "x:1:2:3"])
def test_bad_items_exit_2(capsys: pytest.CaptureFixture[str], item: str) -> None:
    code, _, err = run(capsys, "estimate", "gpt-4.1=1M", item)
    assert code == 2
    assert "holysheep estimate: bad item" in err


def test_unknown_model_suggests(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "estimate", "gpt4.1=1M")
    assert code == 1 and "did you mean 'gpt-4.1'" in err


def test_the_old_workload_form_still_works(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "estimate", "gpt-4.1:1000:1000:100")
    assert code == 0 and "TOTAL" in out and "1,000,000" in out
    code, out, _ = run(capsys, "estimate", "--json", "gpt-4.1:1000:1000:100")
    data = json.loads(out)
    assert Decimal(data["list_usd"]) == Decimal("2.80")  # 1M input at $2, 100k output at $8
    assert data["lines"][0]["usage"]["prompt_tokens"] == 1_000_000
    assert data["savings_pct"] == 86.3


# ---------------------------------------------------------------- report


@pytest.fixture
def ledger_file(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'report.db'}"
    clock = Clock(datetime(2025, 6, 1, 9, tzinfo=timezone.utc).timestamp())
    with CostLedger(url, clock=clock, catalog=CATALOG) as ledger:
        ledger.record(call("gpt-4.1", completion=1000, user="alice", task="qa"))
        ledger.record(call("deepseek-v3.2", completion=4000, user="bob", task="summarization"))
        clock.advance(86_400)
        ledger.record(call("gpt-4.1", completion=500, user="alice", app="api", task="qa"))
        ledger.record(call("mystery", priced=False, user="bob"))
        ledger.set_budget("5", scope="user", key="alice")
    return url


def test_report_text(capsys: pytest.CaptureFixture[str], ledger_file: str) -> None:
    code, out, _ = run(capsys, "report", "--ledger", ledger_file)
    assert code == 0
    for title in ("by model", "by user", "by app", "by task", "budgets (USD)"):
        assert title in out
    model_table = out.split("\n\n")[0].splitlines()
    assert model_table[1].split()[:3] == ["model", "calls", "prompt"]
    assert model_table[3].split()[:2] == ["gpt-4.1", "2"]  # most USD first
    assert model_table[-1].split()[:2] == ["TOTAL", "4"]
    assert "86.3%" in model_table[-1]
    assert "1 call(s) had no price" in out
    assert "monthly budget for user 'alice'" in out


def test_report_json(capsys: pytest.CaptureFixture[str], ledger_file: str) -> None:
    code, out, _ = run(capsys, "report", "--ledger", ledger_file, "--json", "--by", "model+user")
    assert code == 0
    data = json.loads(out)
    rows = data["tables"]["model+user"]
    assert [(r["model"], r["user"], r["calls"]) for r in rows] == [
        ("deepseek-v3.2", "bob", 1),
        ("gpt-4.1", "alice", 2),
        ("mystery", "bob", 1),
    ]
    gpt = (
        CATALOG.cost("gpt-4.1", call(completion=1000).usage).total_usd
        + CATALOG.cost("gpt-4.1", call(completion=500).usage).total_usd
    )
    assert Decimal(rows[1]["total_usd"]) == gpt
    assert data["total"]["calls"] == 4 and data["total"]["unpriced_calls"] == 1
    assert data["budgets"][0]["limit_usd"] == "5"
    assert data["ledger"] == ledger_file


def test_report_csv_and_since(capsys: pytest.CaptureFixture[str], ledger_file: str) -> None:
    code, out, _ = run(
        capsys,
        "report",
        "--ledger",
        ledger_file,
        "--csv",
        "--by",
        "app,day",
        "--since",
        "2025-06-02",
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["table"], r["app"], r["day"], r["calls"]) for r in rows] == [
        ("app", "api", "", "1"),
        ("app", "web", "", "1"),
        ("day", "", "2025-06-02", "2"),
        ("total", "", "", "2"),
    ]
    assert Decimal(rows[-1]["savings_cny"]) == Decimal(rows[-1]["direct_cny"]) - Decimal(
        rows[-1]["relay_cny"]
    )


def test_report_reads_holysheep_ledger(
    capsys: pytest.CaptureFixture[str], ledger_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOLYSHEEP_LEDGER", ledger_file)
    assert default_cli_ledger_url() == ledger_file
    code, out, _ = run(capsys, "report", "--by", "task")
    assert code == 0 and "summarization" in out


def test_report_without_a_ledger_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_cli_ledger_url() == f"sqlite:///{tmp_path / 'holysheep' / 'ledger.db'}"
    code, out, err = run(capsys, "report")
    assert code == 0 and "no calls recorded yet" in out and err == ""
    assert 'holysheep chat "hello"' in out and "HOLYSHEEP_LEDGER=" in out  # how to start
    assert not (tmp_path / "holysheep").exists()  # reporting creates nothing


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--ledger", "memory"], "memory ledger lives inside one process"),
        (["--since", "last week"], "--since 'last week'"),
        (["--by", "colour"], "cannot group by 'colour'"),
    ],
)
def test_report_errors_exit_2(
    capsys: pytest.CaptureFixture[str], ledger_file: str, argv: list[str], message: str
) -> None:
    argv = ["--ledger", ledger_file, *argv] if argv[0] != "--ledger" else argv
    code, _, err = run(capsys, "report", *argv)
    assert code == 2 and message in err


def test_rich_tables_when_asked() -> None:
    pytest.importorskip("rich")
    text = render_table(
        "by model", ["model", "USD"], [["gpt-4.1", "1.00"]], ["TOTAL", "1.00"], 1, True
    )
    assert "by model" in text and "gpt-4.1" in text and "TOTAL" in text
    assert any(ch in text for ch in "┃━─") or "\x1b[" in text  # drawn by rich, not plain
    plain = render_table(None, ["model", "USD"], [["gpt-4.1", "1.00"]], None, 1, False)
    assert plain.splitlines() == ["model     USD", "-------  ----", "gpt-4.1  1.00"]
