"""``holysheep route``: the explanation printed for people and the JSON for scripts."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from holysheep._cli_route import register


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--api-key")
    parser.add_argument("--base-url")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["route", *argv])
    code = args.run(args)
    return code, capsys.readouterr().out


def test_explains_a_classified_prompt(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "Summarize this article about the economy in two lines")
    assert code == 0
    assert out.startswith("task: summarization (confidence ")
    assert "%; classified in " in out.splitlines()[0]
    assert "* deepseek-v3.2" in out and "+ gemini-2.5-flash" in out
    assert "chosen: deepseek-v3.2" in out
    assert "max_tokens: not sent" in out and "estimated cost: $" in out


def test_an_unsure_label_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "hmm")
    assert code == 0
    assert "was unsure; used anyway" in out.splitlines()[0]


def test_constraints_show_as_skips(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "anything", "--task", "code", "--json-schema", "--max-tokens", "100000")
    assert code == 0
    assert "task: code-generation (given)" in out
    assert "- claude-sonnet-4.5  skipped: does not support json_schema" in out
    assert "max_tokens: 32,768 (output cap 32,768)" in out


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "Translate 'hello' to German", "--json", "--tools")
    data = json.loads(out)
    assert code == 0 and data["task"] == "translation" and data["task_source"] == "classifier"
    assert data["model"] == "gemini-2.5-flash"


def test_prompt_from_a_file_and_routes_from_toml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("What is the boiling point of water?")
    routes = tmp_path / "routes.toml"
    routes.write_text('[routes]\nqa = ["gpt-4o-mini"]\n')
    code, out = run(capsys, "--file", str(prompt), "--routes", str(routes))
    assert code == 0 and "chosen: gpt-4o-mini" in out


def test_no_model_exits_1_and_no_prompt_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run(
        capsys, "x", "--task", "reasoning", "--tools", "--max-tokens", "5", "--routes", "/dev/null"
    )
    assert code == 0  # an empty TOML file means the defaults
    code, _ = run(capsys)
    assert code == 2
