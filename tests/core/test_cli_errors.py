"""No traceback reaches a CLI user: one line on stderr with a hint, and a non-zero exit.

Issue #9, Hostile 13: ``holysheep models`` on a non-JSON answer, ``estimate gpt-4.1=1e400``,
``emulate --port 99999``, a broken base URL, a missing file, and JSON piped into ``head``.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from holysheep.cli import main

from ..hostile import HostileUpstream, raw_response

KEY = "cr_test_0123456789abcdef"


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_models_on_a_non_json_answer(capsys: pytest.CaptureFixture[str]) -> None:
    with HostileUpstream() as up:
        up.answer(raw_response(200, b"<html>welcome</html>", {"Content-Type": "text/html"}))
        assert main(["--api-key", KEY, "--base-url", up.base_url, "models"]) == 1
    line = one_line(capsys.readouterr().err)
    assert line.startswith("holysheep: ") and "HOLYSHEEP_BASE_URL" in line


def test_models_on_a_broken_base_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--api-key", KEY, "--base-url", "http://[::1", "models"]) == 1
    assert "HOLYSHEEP_BASE_URL" in one_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    "args",
    [
        ["estimate", "gpt-4.1=1e400"],
        ["estimate", "gpt-4.1=nan"],
        ["estimate", "--market-rate", "lots", "gpt-4.1=6M"],
        ["estimate", "--market-rate", "lots"],
    ],
)
def test_estimate_with_absurd_numbers(args: list[str], capsys) -> None:
    assert main(args) == 2
    assert "holysheep estimate:" in one_line(capsys.readouterr().err)


def test_emulate_on_an_impossible_port(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["emulate", "--port", "99999"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "99999 is not a port" in err and "Traceback" not in err


@pytest.mark.parametrize("path", ["/nonexistent/prompt.txt", "."])
def test_unreadable_prompt_file(path: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["route", "--file", path]) == 1
    line = one_line(capsys.readouterr().err)
    assert os.path.basename(path) in line and "check the path" in line


def test_json_piped_into_a_closed_reader_exits_quietly() -> None:
    """As ``holysheep estimate --json | head -c 1``: the reader is gone before the output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOLYSHEEP_")}
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has already exited
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "holysheep.cli", "estimate", "--json"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert proc.stderr == ""
    assert proc.returncode == 141
