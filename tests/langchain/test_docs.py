"""The docstring examples run, on the emulator, so they cannot drift from the code."""

from __future__ import annotations

import re

import pytest

import langchain_holysheep
from langchain_holysheep import ChatHolySheep, HolySheepRouter, get_holysheep_callback

from ..conftest import FAKE_KEY

FENCE = re.compile(r"```python\n(.*?)```", re.DOTALL)


def examples(doc: str | None) -> list[str]:
    """The python code fences of a docstring, dedented."""
    import textwrap

    return [textwrap.dedent(block) for block in FENCE.findall(doc or "")]


@pytest.mark.parametrize(
    "obj", [ChatHolySheep, HolySheepRouter, get_holysheep_callback], ids=lambda o: o.__name__
)
def test_docstring_example_runs(obj, emulator, monkeypatch, capsys) -> None:
    monkeypatch.setenv("HOLYSHEEP_API_KEY", FAKE_KEY)
    monkeypatch.setenv("HOLYSHEEP_BASE_URL", emulator.base_url)
    [code] = examples(obj.__doc__)
    exec(compile(code, f"<{obj.__name__} docstring>", "exec"), {})
    assert capsys.readouterr().out.strip()
    assert emulator.requests, "the example talked to the relay"


def test_public_names_are_sorted_and_exported() -> None:
    assert langchain_holysheep.__all__ == sorted(langchain_holysheep.__all__)
    assert set(langchain_holysheep.__all__) == {
        "ChatHolySheep",
        "HolySheepCostCallbackHandler",
        "HolySheepRouter",
        "get_holysheep_callback",
    }
    for name in langchain_holysheep.__all__:
        assert getattr(langchain_holysheep, name).__doc__


def test_importing_the_adapter_pulls_in_no_other_framework_or_sdk() -> None:
    import subprocess
    import sys

    others = ("openai", "langchain_openai", "llama_index")
    code = f"import sys, langchain_holysheep; print(sorted(set({others!r}) & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_langchain_demo_runs_on_the_emulator(emulator, capsys) -> None:
    from holysheep._demo_langchain import run_langchain_demo

    run_langchain_demo(FAKE_KEY, emulator.base_url)
    out = capsys.readouterr().out
    assert "invoke > Echo: What does an LLM relay do?" in out
    assert "task summarization" in out and "task translation" in out
    assert "chain total:" in out
