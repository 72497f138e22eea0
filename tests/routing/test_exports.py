"""The routing package's public surface and its independence from the frameworks."""

from __future__ import annotations

import subprocess
import sys

import holysheep.routing as routing


def test_all_is_sorted_and_importable() -> None:
    assert routing.__all__ == sorted(routing.__all__, key=lambda n: (not n.isupper(), n))
    for name in routing.__all__:
        assert getattr(routing, name) is not None


def test_routing_imports_no_framework() -> None:
    code = (
        "import sys, holysheep.routing, holysheep._cli_route\n"
        "bad = [m for m in sys.modules if m.startswith(('langchain', 'llama_index'))]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
