"""The package surface, its docstring examples and the LlamaIndex part of the demo."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest
from holysheep._demo_llamaindex import DOCUMENTS, QUESTION, run_llamaindex_demo

import llamaindex_holysheep
from llamaindex_holysheep import HolySheep, HolySheepCostHandler

from ..conftest import FAKE_KEY


def test_public_names_are_sorted_and_exported() -> None:
    assert llamaindex_holysheep.__all__ == sorted(llamaindex_holysheep.__all__)
    assert llamaindex_holysheep.__all__ == ["HolySheep", "HolySheepCostHandler"]
    for name in llamaindex_holysheep.__all__:
        assert getattr(llamaindex_holysheep, name).__module__.startswith("llamaindex_holysheep")


def test_the_adapter_does_not_pull_in_langchain_or_openai() -> None:
    code = (
        "import sys, llamaindex_holysheep; "
        "print(sorted(m for m in ('langchain_core', 'openai', 'llama_index.llms.openai') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_demo_answers_with_a_query_engine_and_prints_the_cost(emulator, capsys) -> None:
    emulator.script("A relay call costs about a seventh of the direct price.")
    run_llamaindex_demo(FAKE_KEY, emulator.base_url)
    out = capsys.readouterr().out
    assert "A: A relay call costs about a seventh of the direct price." in out
    assert "1 call(s)" in out and "of list price; the relay bills ¥" in out
    prompt = emulator.requests[-1].json["messages"][-1]["content"]
    assert QUESTION in prompt
    assert sum(doc in prompt for doc in DOCUMENTS) == 2  # the retrieved documents reached the LLM


@pytest.mark.parametrize("documented", [HolySheep, HolySheepCostHandler])
def test_docstring_examples_run_against_the_emulator(
    documented, emulator, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("HOLYSHEEP_API_KEY", FAKE_KEY)
    monkeypatch.setenv("HOLYSHEEP_BASE_URL", emulator.base_url)
    (code,) = re.findall(r"```python\n(.*?)```", documented.__doc__, re.S)
    namespace: dict = {}
    exec(compile(textwrap.dedent(code), f"<{documented.__name__} example>", "exec"), namespace)
    namespace["llm"].close()
    assert capsys.readouterr().out.strip()
    assert emulator.requests
