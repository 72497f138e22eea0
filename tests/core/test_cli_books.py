"""The command line keeps its own books: chat records, report reads them, tables fit, help helps."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from holysheep.cli import build_parser, main

from ..conftest import FAKE_KEY

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh user data dir, so the CLI's default ledger is a new file."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    return tmp_path / "holysheep" / "ledger.db"


def test_chat_records_into_the_ledger_that_report_reads(emulator, capsys, data_home) -> None:
    emulator.script("first answer", "second answer")
    relay = ["--api-key", FAKE_KEY, "--base-url", emulator.base_url]
    assert main([*relay, "chat", "hi", "-m", "gpt-4.1"]) == 0
    assert main([*relay, "chat", "hello again", "-m", "deepseek-v3.2"]) == 0
    err = capsys.readouterr().err
    assert f"recorded in sqlite:///{data_home}" in err and "holysheep report" in err
    assert main(["report", "--by", "model"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line[:1].isalnum()}
    assert rows["gpt-4.1"][1] == "1" and rows["deepseek-v3.2"][1] == "1"
    usd = rows["TOTAL"][5]
    assert re.fullmatch(r"0\.0000\d*[1-9]\d*", usd), usd  # under a cent, still not 0.0000
    assert "\x1b[" not in out  # captured, not a terminal: plain text


def test_no_record_leaves_the_ledger_alone(emulator, capsys, data_home) -> None:
    relay = ["--api-key", FAKE_KEY, "--base-url", emulator.base_url]
    assert main([*relay, "chat", "hi", "--no-record"]) == 0
    assert "recorded in" not in capsys.readouterr().err
    assert not data_home.exists()


def test_an_empty_ledger_says_how_to_start_recording(capsys, data_home, tmp_path) -> None:
    from holysheep.ledger import CostLedger

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    CostLedger(url).close()  # the file exists, with no calls in it
    for argv in (["report"], ["report", "--ledger", url]):
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert out.startswith("no calls recorded yet in sqlite:///")
        assert 'holysheep chat "hello"' in out and "HOLYSHEEP_LEDGER=" in out


def test_estimate_without_arguments_says_its_mix_is_a_sample(capsys) -> None:
    assert main(["estimate"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("A SAMPLE mix") and "MODEL=TOKENS" in out
    assert main(["estimate", "gpt-4.1:1000:500:200"]) == 0
    assert "SAMPLE" not in capsys.readouterr().out


def test_every_subcommand_help_has_a_description_and_its_defaults() -> None:
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {"models", "chat", "route", "report", "estimate", "emulate", "demo"} <= set(commands)
    for name, sub in commands.items():
        text = sub.format_help()
        description = text.split("\n\n")[1]
        assert not description.startswith(("options:", "positional")), name
        assert "``" not in text and "``" not in parser.format_help(), name
    assert "(default: deepseek-v3.2)" in commands["chat"].format_help()
    assert "(default: 7.3)" in commands["estimate"].format_help()
    assert "(default: model,user,app,task)" in " ".join(commands["report"].format_help().split())


def _on_a_terminal(args: list[str], columns: int, *, hide_rich: bool = False) -> str:
    """Run ``holysheep ARGS`` with stdout on a pseudo-terminal ``columns`` wide."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOLYSHEEP_")}
    env.update(COLUMNS=str(columns), LINES="50", TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    prelude = "import sys; sys.modules['rich'] = None; " if hide_rich else ""
    code = f"{prelude}from holysheep.cli import main; raise SystemExit(main({args!r}))"
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=follower, stderr=subprocess.PIPE, env=env
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    assert proc.wait(timeout=120) == 0, proc.stderr.read()
    proc.stderr.close()
    return b"".join(chunks).decode().replace("\r\n", "\n")


MIX = ["deepseek-v3.2=6M", "gemini-2.5-flash=2.5M", "gpt-4.1=1M", "claude-sonnet-4.5=0.5M"]


def test_a_terminal_gets_coloured_tables_that_fit_its_width() -> None:
    pytest.importorskip("rich", reason="rich (extra holysheep[cli]) is not installed")
    out = _on_a_terminal(["estimate", *MIX], columns=100)
    assert ANSI.search(out)  # coloured
    plain = ANSI.sub("", out)
    assert "claude-sonnet-4.5" in plain and "24.27" in plain
    assert max(len(line) for line in plain.splitlines()) <= 100


def test_without_rich_a_terminal_gets_plain_text() -> None:
    out = _on_a_terminal(["estimate", *MIX], columns=100, hide_rich=True)
    assert not ANSI.search(out)
    assert any(line.split()[:2] == ["TOTAL", "10,000,000"] for line in out.splitlines())


def test_piped_output_is_plain_text() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOLYSHEEP_")}
    result = subprocess.run(
        [sys.executable, "-m", "holysheep.cli", "estimate", *MIX],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0 and not ANSI.search(result.stdout)
    assert "TOTAL" in result.stdout
