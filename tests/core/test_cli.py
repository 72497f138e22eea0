"""The holysheep command as a user runs it: models, chat, emulate, demo."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import httpx
import pytest
from holysheep.cli import main
from holysheep.testing import Reply

from ..conftest import FAKE_KEY


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """``holysheep ARGS`` in a fresh interpreter, as from a shell."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HOLYSHEEP_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "holysheep.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )


def test_models_lists_served_models_with_prices(emulator, capsys) -> None:
    assert main(["--api-key", FAKE_KEY, "--base-url", emulator.base_url, "models"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"gpt-4\.1\s+2\.00\s+0\.50\s+8\.00", out)
    assert "deepseek-v3.2" in out


def test_chat_streams_and_prints_cost(emulator, capsys) -> None:
    emulator.script(Reply(content="Hello from the relay"))
    args = ["--api-key", FAKE_KEY, "--base-url", emulator.base_url, "chat", "hi", "-m", "gpt-4.1"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "Hello from the relay"
    assert "[gpt-4.1]" in captured.err and "saves" in captured.err


def test_missing_key_is_a_clear_error(emulator, capsys) -> None:
    assert main(["--base-url", emulator.base_url, "models"]) == 1
    assert "HOLYSHEEP_API_KEY" in capsys.readouterr().err


def test_emulate_serves_until_interrupted() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "holysheep.cli", "emulate", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://\S+/v1", line).group(0)
        models = httpx.get(f"{url}/models", headers={"authorization": "Bearer k"}).json()
        assert any(m["id"] == "gpt-4.1" for m in models["data"])
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_demo_runs_offline_end_to_end() -> None:
    start = time.monotonic()
    result = run("demo")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "embedded relay emulator" in out
    assert "fallback: gpt-4.1 ->" in out
    assert "LangChain:" in out and "LlamaIndex:" in out
    assert re.search(
        r"total: relay ¥[\d.]+ against ¥[\d.]+ direct at 7\.3 CNY/USD: 86\.3% saved", out
    )
    assert time.monotonic() - start < 60


@pytest.mark.parametrize("command", ["route", "report", "estimate", "emulate", "demo", "models"])
def test_help_for_every_command(command: str) -> None:
    result = run(command, "--help")
    assert result.returncode == 0 and "usage: holysheep" in result.stdout

