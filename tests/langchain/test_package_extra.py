"""Importing an adapter without its extra names the ``pip install`` that fixes it (issue #11)."""

from __future__ import annotations

import subprocess
import sys

import pytest

_HIDE = (
    "import sys\n"
    "class _Gone:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name == {hidden!r} or name.startswith({hidden!r} + '.'):\n"
    "            raise ModuleNotFoundError(f'No module named {{name!r}}', name=name)\n"
    "sys.meta_path.insert(0, _Gone())\n"
    "import {package}\n"
)


@pytest.mark.parametrize(
    ("package", "hidden", "extra"),
    [
        ("langchain_holysheep", "langchain_core", "langchain"),
        ("llamaindex_holysheep", "llama_index", "llamaindex"),
    ],
)
def test_import_without_the_extra_says_what_to_install(package, hidden, extra) -> None:
    code = _HIDE.format(hidden=hidden, package=package)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("ModuleNotFoundError: ")
    assert f'pip install "holysheep[{extra}]"' in last and hidden in last
